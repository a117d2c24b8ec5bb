//! Checks that need a whole deserialized run: tensor sizes against hard
//! limits, and `from_file` tensors against the layers they fill. Relative
//! `from_file` paths are resolved here against the manifest's folder.

use super::checker::Checker;
use super::path::JPath;
use super::safetensors::{TensorInfo, read_header};
use crate::config::{Init, LayerOverride, RunConfig};
use crate::suggest;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

/// The most elements one tensor may hold (GPU bindings and u32 indexing).
const MAX_ELEMENTS: u128 = 1 << 31;

type Header = Result<BTreeMap<String, TensorInfo>, String>;

/// Safetensors headers read so far, so that a file used by many runs is read once.
#[derive(Debug)]
pub(crate) struct FileCache {
    dir: PathBuf,
    headers: HashMap<PathBuf, Header>,
}

impl FileCache {
    /// `dir` is the manifest's folder, where relative paths start.
    pub fn new(dir: &Path) -> FileCache {
        FileCache {
            dir: dir.to_path_buf(),
            headers: HashMap::new(),
        }
    }

    fn resolve(&self, p: &Path) -> PathBuf {
        let joined = self.dir.join(p);
        std::path::absolute(&joined).unwrap_or(joined)
    }

    fn header(&mut self, p: &Path) -> &Header {
        self.headers
            .entry(p.to_path_buf())
            .or_insert_with(|| read_header(p))
    }
}

/// Checks a deserialized run, rewriting `from_file` paths to absolute ones.
pub(crate) fn check_config(cfg: &mut RunConfig, files: &mut FileCache) -> Vec<(JPath, String)> {
    let mut c = Checker::default();
    check_sizes(&mut c, cfg);
    check_auto_gains(&mut c, cfg);
    let mut uses_files = false;
    for_each_slot(cfg, |init, p| {
        uses_files |= resolve_file(&mut c, init, p, files)
    });
    // Most runs read no file; skip the per-layer walk for them.
    if uses_files && c.problems.is_empty() {
        check_shapes(&mut c, cfg, files);
    }
    c.problems
}

fn check_sizes(c: &mut Checker, cfg: &RunConfig) {
    let net = JPath::root().key("network");
    let width_path = |i: usize| {
        if cfg.network.widths.is_some() {
            net.key("widths").idx(i)
        } else {
            net.key("width")
        }
    };
    let limit = format!("one tensor may hold at most 2^31 = {MAX_ELEMENTS} elements");
    let fans = cfg.network.layer_fans();
    let too_big = |a: usize, b: usize| (a as u128) * (b as u128) > MAX_ELEMENTS;
    if let Some((i, (fi, fo))) = fans
        .iter()
        .enumerate()
        .find(|(_, (fi, fo))| too_big(*fi, *fo))
    {
        let n = (*fi as u128) * (*fo as u128);
        c.push(
            &width_path(i),
            format!("layer {i}'s weight is {fo} x {fi} = {n} elements; {limit}"),
        );
    }
    let (batch, input_dim) = (cfg.input.batch, cfg.network.input_dim);
    let batch_path = JPath::root().key("input").key("batch");
    if too_big(batch, input_dim) {
        let n = (batch as u128) * (input_dim as u128);
        c.push(
            &batch_path,
            format!("the input is {batch} x {input_dim} = {n} elements; {limit}"),
        );
    } else if let Some((i, (_, fo))) = fans
        .iter()
        .enumerate()
        .find(|(_, (_, fo))| too_big(batch, *fo))
    {
        let n = (batch as u128) * (*fo as u128);
        c.push(
            &batch_path,
            format!("layer {i}'s activations are {batch} x {fo} = {n} elements; {limit}"),
        );
    }
}

/// Calls `f` on every init of the run with its path.
fn for_each_slot(cfg: &mut RunConfig, mut f: impl FnMut(&mut Init, JPath)) {
    let r = JPath::root();
    f(&mut cfg.init, r.key("init"));
    f(&mut cfg.bias_init, r.key("bias_init"));
    for (k, o) in cfg.layers.iter_mut().enumerate() {
        let p = r.key("layers").idx(k);
        if let Some(x) = &mut o.init {
            f(x, p.key("init"));
        }
        if let Some(x) = &mut o.bias_init {
            f(x, p.key("bias_init"));
        }
    }
    f(&mut cfg.input.dist, r.key("input").key("dist"));
}

/// Resolves and checks a `from_file` init (or lsuv's `pre`); true if it is one.
fn resolve_file(c: &mut Checker, init: &mut Init, p: JPath, files: &mut FileCache) -> bool {
    let (path, tensor) = match init {
        Init::FromFile { path, tensor } => (path, tensor),
        Init::Lsuv { pre, .. } => return resolve_file(c, pre, p.key("pre"), files),
        _ => return false,
    };
    let relative = path.is_relative();
    *path = files.resolve(path);
    let dir = files.dir.display().to_string();
    match files.header(path) {
        Err(e) if relative => c.push(
            &p.key("path"),
            format!("{e} (relative paths start at the manifest's folder {dir})"),
        ),
        Err(e) => c.push(&p.key("path"), e.clone()),
        Ok(h) => match h.get(tensor.as_str()) {
            None => {
                let names: Vec<&str> = h.keys().map(String::as_str).collect();
                let hint = suggest::did_you_mean(tensor, &names);
                let shown = names
                    .iter()
                    .take(12)
                    .copied()
                    .collect::<Vec<_>>()
                    .join(", ");
                c.push(
                    &p.key("tensor"),
                    format!("no tensor \"{tensor}\" in the file{hint}; it holds: {shown}"),
                );
            }
            Some(t) if t.dtype != "F32" => c.push(
                &p.key("tensor"),
                format!(
                    "tensor \"{tensor}\" is {}; only F32 is supported, so save it as float32",
                    t.dtype
                ),
            ),
            Some(_) => {}
        },
    }
    true
}

/// `"gain": "auto"` takes the layer's activation, which must have a torch gain.
fn check_auto_gains(c: &mut Checker, cfg: &RunConfig) {
    use crate::config::Gain;
    let depth = cfg.network.layer_fans().len();
    let mut reported = HashSet::new();
    for i in 0..depth {
        let (p, init) = weight_slot(cfg, i);
        let (p, gain) = match init {
            Init::XavierUniform { gain }
            | Init::XavierNormal { gain }
            | Init::Orthogonal { gain } => (p.key("gain"), gain),
            Init::Lsuv { pre, .. } => match pre.as_ref() {
                Init::XavierUniform { gain }
                | Init::XavierNormal { gain }
                | Init::Orthogonal { gain } => (p.key("pre").key("gain"), gain),
                _ => continue,
            },
            _ => continue,
        };
        if !matches!(gain, Gain::Name(n) if n == "auto") {
            continue;
        }
        let act = cfg.network.activation_of(i, depth);
        if let Err(e) = crate::init::gain_of_activation(act)
            && reported.insert((p.to_string(), act.name()))
        {
            c.push(&p, format!("layer {i}: {}", e.0));
        }
    }
}

/// The init of layer `i` chosen by `pick` (weight or bias) and its path:
/// the last override covering the layer wins, else the top-level `key`.
fn slot<'c>(
    cfg: &'c RunConfig,
    i: usize,
    key: &str,
    pick: impl Fn(&'c LayerOverride) -> Option<&'c Init>,
    default: &'c Init,
) -> (JPath, &'c Init) {
    let r = JPath::root();
    cfg.layers
        .iter()
        .enumerate()
        .rev()
        .filter(|(_, o)| o.covers(i))
        .find_map(|(k, o)| pick(o).map(|x| (r.key("layers").idx(k).key(key), x)))
        .unwrap_or((r.key(key), default))
}

/// The weight init of layer `i` and its path.
fn weight_slot(cfg: &RunConfig, i: usize) -> (JPath, &Init) {
    slot(cfg, i, "init", |o| o.init.as_ref(), &cfg.init)
}

/// The bias init of layer `i` and its path.
fn bias_slot(cfg: &RunConfig, i: usize) -> (JPath, &Init) {
    slot(
        cfg,
        i,
        "bias_init",
        |o| o.bias_init.as_ref(),
        &cfg.bias_init,
    )
}

fn check_shapes(c: &mut Checker, cfg: &RunConfig, files: &FileCache) {
    let mut done = HashSet::new();
    for (i, (fan_in, fan_out)) in cfg.network.layer_fans().into_iter().enumerate() {
        let (p, init) = weight_slot(cfg, i);
        let what = || format!("layer {i}'s weight (fan_out, fan_in)");
        expect_shape(c, files, init, p, &[fan_out, fan_in], &what, &mut done);
        if cfg.network.bias {
            let (p, init) = bias_slot(cfg, i);
            expect_shape(
                c,
                files,
                init,
                p,
                &[fan_out],
                &|| format!("layer {i}'s bias"),
                &mut done,
            );
        }
    }
    let (p, shape) = (
        JPath::root().key("input").key("dist"),
        [cfg.input.batch, cfg.network.input_dim],
    );
    let what = || "the input (batch, input_dim)".to_string();
    expect_shape(c, files, &cfg.input.dist, p, &shape, &what, &mut done);
}

/// Reports once per init when its file tensor does not have `shape`.
fn expect_shape(
    c: &mut Checker,
    files: &FileCache,
    init: &Init,
    p: JPath,
    shape: &[usize],
    what: &dyn Fn() -> String,
    done: &mut HashSet<JPath>,
) {
    let (init, p) = match init {
        Init::Lsuv { pre, .. } => (&**pre, p.key("pre")),
        _ => (init, p),
    };
    let Init::FromFile { path, tensor } = init else {
        return;
    };
    let Some(Ok(header)) = files.headers.get(path) else {
        return;
    };
    let Some(t) = header.get(tensor) else { return };
    let want: Vec<u64> = shape.iter().map(|&d| d as u64).collect();
    if t.shape != want && done.insert(p.clone()) {
        c.push(
            &p.key("tensor"),
            format!(
                "tensor \"{tensor}\" has shape {:?} but {} needs {want:?}",
                t.shape,
                what()
            ),
        );
    }
}
