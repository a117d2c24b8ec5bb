//! Checks that need a whole deserialized run: tensor sizes against hard
//! limits, and `from_file` tensors against the layers they fill. Relative
//! `from_file` paths are resolved here against the manifest's folder.

use super::safetensors::{TensorInfo, read_header};
use crate::config::{Init, RunConfig};
use crate::registry::{Checker, JPath};
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
    check_overrides(&mut c, cfg);
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

/// Residual overrides whose glob matches no parameter of this run's network
/// (or give a matrix scheme to a vector), reported at `overrides[k].<field>`.
fn check_overrides(c: &mut Checker, cfg: &RunConfig) {
    use crate::model::build::{residual, resolve};
    let spec = match resolve::residual_spec(cfg) {
        Ok(Some(spec)) if !spec.overrides.is_empty() => spec,
        _ => return,
    };
    let Err(e) = residual::check_overrides(&spec) else {
        return;
    };
    // "overrides[K].FIELD: message" (see `ParamOverride::path`).
    let parsed = e.0.strip_prefix("overrides[").and_then(|rest| {
        let (k, rest) = rest.split_once("].")?;
        let (field, msg) = rest.split_once(": ")?;
        Some((k.parse::<usize>().ok()?, field, msg))
    });
    match parsed {
        Some((k, field, msg)) => {
            let p = JPath::root().key("overrides").idx(k).key(field);
            c.push(&p, msg.to_string());
        }
        None => c.push(&JPath::root().key("overrides"), e.0),
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
    for (k, o) in cfg.overrides.iter_mut().enumerate() {
        if let Some(x) = &mut o.init {
            f(x, r.key("overrides").idx(k).key("init"));
        }
    }
    if let Some(e) = &mut cfg.input.embedding {
        f(&mut e.init, r.key("input").key("embedding").key("init"));
    }
}

/// Resolves and checks a `from_file` init (or lsuv's `pre`); true if it is one.
fn resolve_file(c: &mut Checker, init: &mut Init, p: JPath, files: &mut FileCache) -> bool {
    let Some((path, tensor)) = init.file_tensor() else {
        return false;
    };
    let p = if init.name() == "from_file" {
        p
    } else {
        p.key("pre")
    };
    let (relative, tensor) = (path.is_relative(), tensor.to_string());
    let path = files.resolve(path);
    init.set_file_path(&path);
    let dir = files.dir.display().to_string();
    match files.header(&path) {
        Err(e) if relative => c.push(
            &p.key("path"),
            format!("{e} (relative paths start at the manifest's folder {dir})"),
        ),
        Err(e) => c.push(&p.key("path"), e.clone()),
        Ok(h) => match h.get(tensor.as_str()) {
            None => {
                let names: Vec<&str> = h.keys().map(String::as_str).collect();
                let hint = suggest::did_you_mean(&tensor, &names);
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

/// `"gain": "auto"` takes the layer's activation, which must have a torch
/// gain; it may sit in the scheme itself or in lsuv's `pre`.
fn check_auto_gains(c: &mut Checker, cfg: &RunConfig) {
    let depth = cfg.network.layer_fans().len();
    let auto = |i: &Init| i.param("gain").and_then(|g| g.as_str()) == Some("auto");
    let mut reported = HashSet::new();
    for i in 0..depth {
        let (init, from) = cfg.weight_init(i);
        let p = slot_path(from, "init");
        let p = match init.init("pre") {
            _ if auto(init) => p.key("gain"),
            Ok(pre) if auto(&pre) => p.key("pre").key("gain"),
            _ => continue,
        };
        let act = cfg.network.activation_of(i, depth);
        if let Err(e) = crate::init::gain_of_activation(act)
            && reported.insert((p.to_string(), act.name()))
        {
            c.push(&p, format!("layer {i}: {}", e.0));
        }
    }
}

/// The path of a layer's init: `layers[k].<key>` for an override, else `<key>`.
fn slot_path(from: Option<usize>, key: &str) -> JPath {
    let r = JPath::root();
    match from {
        Some(k) => r.key("layers").idx(k).key(key),
        None => r.key(key),
    }
}

fn check_shapes(c: &mut Checker, cfg: &RunConfig, files: &FileCache) {
    let mut done = HashSet::new();
    for (i, (fan_in, fan_out)) in cfg.network.layer_fans().into_iter().enumerate() {
        let (init, from) = cfg.weight_init(i);
        let p = slot_path(from, "init");
        let what = || format!("layer {i}'s weight (fan_out, fan_in)");
        expect_shape(c, files, init, p, &[fan_out, fan_in], &what, &mut done);
        if cfg.network.bias {
            let (init, from) = cfg.bias_init_of(i);
            let p = slot_path(from, "bias_init");
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
    let Some((path, tensor)) = init.file_tensor() else {
        return;
    };
    let p = if init.name() == "from_file" {
        p
    } else {
        p.key("pre")
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
