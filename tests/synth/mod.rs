#![allow(dead_code)]
//! Synthetic results documents for tests: small deep stacks simulated in
//! f64 on the CPU, so every statistic is the real thing for its setting.

use initscope::activation::Activation;

pub mod train;
use initscope::results::*;
use serde_json::{Map, Value, json};

/// The weight init of a synthetic run.
#[derive(Debug, Clone, Copy)]
pub enum Init {
    Normal(f64),
    Xavier,
    Kaiming,
}

impl Init {
    fn std(self, fan_in: usize, fan_out: usize) -> f64 {
        match self {
            Init::Normal(s) => s,
            Init::Xavier => (2.0 / (fan_in + fan_out) as f64).sqrt(),
            Init::Kaiming => (2.0 / fan_in as f64).sqrt(),
        }
    }
    fn name(self) -> &'static str {
        match self {
            Init::Normal(_) => "normal",
            Init::Xavier => "xavier_normal",
            Init::Kaiming => "kaiming_normal",
        }
    }
}

/// One synthetic run to simulate.
#[derive(Debug, Clone)]
pub struct Net {
    pub depth: usize,
    pub width: usize,
    pub batch: usize,
    pub act: Activation,
    pub init: Init,
    pub seed: u64,
    pub histograms: bool,
}

impl Net {
    pub fn new(act: Activation, init: Init) -> Net {
        Net {
            depth: 10,
            width: 64,
            batch: 32,
            act,
            init,
            seed: 1,
            histograms: true,
        }
    }
}

/// splitmix64 + Box–Muller: deterministic normals.
struct Rng(u64);
impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
    fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

/// Statistics of a tensor, as the GPU reduction defines them.
pub fn stats(v: &[f64], act: bool, histogram: bool) -> TensorStats {
    let finite: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
    let n = finite.len() as f64;
    let mean = if n > 0.0 {
        finite.iter().sum::<f64>() / n
    } else {
        0.0
    };
    let var = if n > 1.0 {
        finite.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)
    } else {
        0.0
    };
    let min = finite.iter().copied().fold(f64::INFINITY, f64::min);
    let max = finite.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let (min, max) = if n > 0.0 { (min, max) } else { (0.0, 0.0) };
    let hist = histogram.then(|| {
        let bins = 48;
        let mut counts = vec![0u64; bins];
        let w = (max - min) / bins as f64;
        for x in &finite {
            let i = if w > 0.0 {
                (((x - min) / w) as usize).min(bins - 1)
            } else {
                0
            };
            counts[i] += 1;
        }
        Histogram {
            lo: min,
            hi: max,
            counts,
        }
    });
    let frac = |f: &dyn Fn(f64) -> bool| {
        Some(v.iter().filter(|x| f(**x)).count() as f64 / v.len().max(1) as f64)
    };
    TensorStats {
        count: v.len() as u64,
        mean,
        std: var.sqrt(),
        min,
        max,
        norm: finite.iter().map(|x| x * x).sum::<f64>().sqrt(),
        nan_count: v.iter().filter(|x| x.is_nan()).count() as u64,
        inf_count: v.iter().filter(|x| x.is_infinite()).count() as u64,
        zero_fraction: if act { frac(&|x| x == 0.0) } else { None },
        dead_unit_fraction: None,
        saturated_fraction: if act { frac(&|x| x.abs() > 0.9) } else { None },
        histogram: hist,
    }
}

/// Forward and backward of `net` (loss = mean of the output); per-layer records.
pub fn simulate(net: &Net) -> Vec<LayerRecord> {
    let mut rng = Rng(net.seed.wrapping_mul(0x2545_F491_4F6C_DD1D) ^ 0xA5A5);
    let (b, w) = (net.batch, net.width);
    let mut x: Vec<f64> = (0..b * w).map(|_| rng.normal()).collect();
    let mut weights = Vec::new();
    let mut inputs = Vec::new();
    let mut preacts = Vec::new();
    let mut layers = Vec::new();
    for l in 0..net.depth {
        let s = net.init.std(w, w);
        let wt: Vec<f64> = (0..w * w).map(|_| s * rng.normal()).collect();
        let mut z = vec![0.0; b * w];
        for i in 0..b {
            for o in 0..w {
                z[i * w + o] = (0..w).map(|k| x[i * w + k] * wt[o * w + k]).sum();
            }
        }
        let a: Vec<f64> = z.iter().map(|v| net.act.forward(*v)).collect();
        let mut act = stats(&a, true, net.histograms);
        let dead = (0..w)
            .filter(|&o| (0..b).all(|i| a[i * w + o] == 0.0))
            .count();
        act.dead_unit_fraction = Some(dead as f64 / w as f64);
        layers.push((
            l,
            stats(&wt, false, net.histograms),
            stats(&z, false, false),
            act,
        ));
        inputs.push(std::mem::replace(&mut x, a));
        weights.push(wt);
        preacts.push(z);
    }
    let mut da = vec![1.0 / (b * w) as f64; b * w];
    let mut out = Vec::with_capacity(net.depth);
    for l in (0..net.depth).rev() {
        let dz: Vec<f64> = da
            .iter()
            .zip(&preacts[l])
            .map(|(g, z)| g * net.act.derivative(*z))
            .collect();
        let mut dw = vec![0.0; w * w];
        let mut dx = vec![0.0; b * w];
        for o in 0..w {
            for k in 0..w {
                dw[o * w + k] = (0..b).map(|i| dz[i * w + o] * inputs[l][i * w + k]).sum();
            }
        }
        for i in 0..b {
            for k in 0..w {
                dx[i * w + k] = (0..w).map(|o| dz[i * w + o] * weights[l][o * w + k]).sum();
            }
        }
        let db: Vec<f64> = (0..w)
            .map(|o| (0..b).map(|i| dz[i * w + o]).sum())
            .collect();
        let (index, weight, preact, act) = layers[l].clone();
        out.push(LayerRecord {
            index,
            fan_in: w,
            fan_out: w,
            activation: net.act.name().into(),
            init: net.init.name().into(),
            weight,
            bias: None,
            preact,
            act,
            grad_weight: stats(&dw, false, false),
            grad_bias: Some(stats(&db, false, false)),
            grad_act: stats(&da, false, false),
            lsuv: None,
        });
        da = dx;
    }
    out.reverse();
    out
}

/// Mean-field predictions by numerical integration over z ~ N(0, 1).
fn theory(net: &Net) -> Prediction {
    let gauss = |f: &dyn Fn(f64) -> f64| -> f64 {
        let n = 400;
        let h = 12.0 / n as f64;
        (0..=n)
            .map(|i| -6.0 + i as f64 * h)
            .map(|z| f(z) * (-z * z / 2.0).exp() * h)
            .sum::<f64>()
            / (std::f64::consts::TAU).sqrt()
    };
    let sw2 = net.init.std(net.width, net.width).powi(2) * net.width as f64;
    let mut second = 1.0; // E[x²] of the input
    let mut p = Prediction {
        method: "mean_field".into(),
        ..Default::default()
    };
    for _ in 0..net.depth {
        let q: f64 = sw2 * second;
        let m = gauss(&|z| net.act.forward(q.sqrt() * z));
        let m2 = gauss(&|z| net.act.forward(q.sqrt() * z).powi(2));
        let d2 = gauss(&|z| net.act.derivative(q.sqrt() * z).powi(2));
        p.preact_var.push(q);
        p.act_std.push((m2 - m * m).max(0.0).sqrt());
        p.act_mean_abs.push(m.abs());
        p.chi1.push(sw2 * d2);
        second = m2;
    }
    let mut rel = vec![1.0; net.depth];
    for l in (0..net.depth.saturating_sub(1)).rev() {
        rel[l] = rel[l + 1] * p.chi1[l + 1].sqrt();
    }
    p.grad_act_norm_rel = rel;
    p
}

/// The summary and diagnosis, through the runner's own code
/// (`initscope::stats::summarize`) with the default thresholds.
pub fn summarize(layers: &[LayerRecord]) -> RunSummary {
    let config = initscope::config::RunConfig::from_checked(json!({
        "network": {"input_dim": 8, "width": 8, "depth": 1},
        "input": {"batch": 8}
    }))
    .expect("a minimal run configuration");
    let saturating: Vec<bool> = layers
        .iter()
        .map(|l| Activation::from_name(&l.activation).is_some_and(|a| a.saturates()))
        .collect();
    let input = TensorStats {
        std: 1.0,
        ..TensorStats::default()
    };
    initscope::stats::summarize(layers, &input, 0.0, &config.stats.diagnosis, &saturating)
}

/// A run of `net`, labelled.
pub fn run(
    id: usize,
    label: &str,
    group: &str,
    variant: Option<&str>,
    params: Value,
    net: &Net,
) -> RunResult {
    let layers = simulate(net);
    let summary = summarize(&layers);
    let params: Map<String, Value> = params.as_object().cloned().unwrap_or_default();
    RunResult {
        id: format!("r{id:03}"),
        label: label.into(),
        group: group.into(),
        variant: variant.map(str::to_string),
        params,
        seed: net.seed,
        repeat: 0,
        config_hash: format!("{id:016x}"),
        config: json!({"network": {"depth": net.depth, "width": net.width, "activation": net.act.name()}}),
        layers,
        blocks: Vec::new(),
        tensors: Vec::new(),
        summary,
        theory: Some(theory(net)),
        train: None,
        block_theory: None,
        stream_in: None,
        timing_ms: Timing {
            init_ms: 1.0,
            step_ms: 2.0,
            total_ms: 3.0,
            train_ms: None,
        },
        adapter: None,
        jacobian: None,
    }
}

/// A document around `runs`.
pub fn doc(name: &str, description: &str, runs: Vec<RunResult>) -> ResultsDoc {
    ResultsDoc {
        schema_version: SCHEMA_VERSION,
        tool: ToolRecord::default(),
        adapter: AdapterRecord {
            name: "llvmpipe (LLVM 15.0.6, 256 bits)".into(),
            backend: "Vulkan".into(),
            device_type: "Cpu".into(),
            driver: "Mesa 22.3.6".into(),
        },
        manifest: json!({"name": name, "description": description, "seed": 42,
                         "network": {"input_dim": 64, "width": 64, "depth": 10, "activation": "tanh"}}),
        plan_hash: None,
        shard: None,
        runs,
    }
}

const TANH: Activation = Activation::Tanh;

/// The four classic arms: too small, too large, Xavier and Kaiming (tanh).
fn arms() -> [(&'static str, Init); 4] {
    [
        ("Too small (std 0.01)", Init::Normal(0.01)),
        ("Too large (std 1.0)", Init::Normal(1.0)),
        ("Xavier", Init::Xavier),
        ("Kaiming", Init::Kaiming),
    ]
}

/// 4 arms × 10 tanh layers, like the "init-impact" experiment.
pub fn init_impact() -> ResultsDoc {
    let runs = arms()
        .iter()
        .enumerate()
        .map(|(i, (label, init))| {
            run(
                i,
                label,
                label,
                Some(label),
                json!({"variant": label}),
                &Net::new(TANH, *init),
            )
        })
        .collect();
    doc(
        "init-impact",
        "How the init scale drives signal and gradient through 10 tanh layers <b>&</b> \"quotes\"",
        runs,
    )
}

/// 50 values of the init std (log-spaced 1e-3 … 10), tanh, depth 10.
pub fn sweep_1d() -> ResultsDoc {
    let runs = (0..50)
        .map(|i| {
            let std = 10f64.powf(-3.0 + 4.0 * i as f64 / 49.0);
            let label = format!("init.std={std:.3e}");
            let mut net = Net::new(TANH, Init::Normal(std));
            net.width = 32;
            net.seed = i as u64;
            run(i, &label, &label, None, json!({"init.std": std}), &net)
        })
        .collect();
    doc("std-sweep", "Final statistics against the init std", runs)
}

/// depth × width with a fixed std, ReLU: an order/chaos phase diagram.
pub fn sweep_2d() -> ResultsDoc {
    let mut runs = Vec::new();
    for depth in [2, 4, 8, 16, 24] {
        for width in [16, 32, 64, 128] {
            let mut net = Net::new(Activation::Relu, Init::Normal(0.18));
            (net.depth, net.width, net.batch, net.seed) = (depth, width, 16, runs.len() as u64);
            let label = format!("depth={depth}, width={width}");
            let id = runs.len();
            runs.push(run(
                id,
                &label,
                &label,
                None,
                json!({"network.depth": depth, "network.width": width}),
                &net,
            ));
        }
    }
    doc(
        "depth-width",
        "Final act std over depth × width (ReLU, std 0.18)",
        runs,
    )
}

/// The init-impact arms with 3 repeats each.
pub fn repeats() -> ResultsDoc {
    let mut runs = Vec::new();
    for (label, init) in arms() {
        for r in 0..3u32 {
            let mut net = Net::new(TANH, init);
            net.seed = 100 + r as u64;
            let id = runs.len();
            let mut run = run(
                id,
                &format!("{label} #{r}"),
                label,
                Some(label),
                json!({}),
                &net,
            );
            run.repeat = r;
            runs.push(run);
        }
    }
    doc("init-impact-repeats", "Three repeats per arm", runs)
}

/// 4 activations × 2 inits (Xavier, He), swept by dotted path.
pub fn act_init() -> ResultsDoc {
    let mut runs = Vec::new();
    let acts = [
        ("tanh", TANH),
        ("relu", Activation::Relu),
        ("sigmoid", Activation::Sigmoid),
        ("selu", Activation::Selu),
    ];
    for (name, act) in acts {
        for (scheme, init) in [
            ("xavier_normal", Init::Xavier),
            ("kaiming_normal", Init::Kaiming),
        ] {
            let label = format!("activation={name}, init={scheme}");
            let id = runs.len();
            let params = json!({"network.activation": name, "init": {"scheme": scheme}});
            runs.push(run(id, &label, &label, None, params, &Net::new(act, init)));
        }
    }
    doc("act-x-init", "Xavier vs He per activation", runs)
}

/// init-impact with zeros, NaN and Inf poked into statistics and summaries.
pub fn pathological() -> ResultsDoc {
    let mut d = init_impact();
    let nan = f64::NAN;
    for l in &mut d.runs[0].layers[6..] {
        l.act.std = 0.0;
        l.act.mean = 0.0;
        l.grad_weight.norm = 0.0;
        l.act.histogram = Some(Histogram {
            lo: 0.0,
            hi: 0.0,
            counts: vec![2048, 0, 0],
        });
    }
    let r1 = &mut d.runs[1];
    r1.layers[4].act.std = nan;
    r1.layers[5].act.std = f64::INFINITY;
    r1.layers[5].grad_weight.norm = f64::INFINITY;
    r1.layers[5].grad_act.norm = nan;
    r1.layers[7].act.histogram = Some(Histogram {
        lo: 0.0,
        hi: 1.0,
        counts: vec![0; 8],
    });
    r1.summary.final_act_std = nan;
    d.runs[0].summary.final_act_std = 0.0;
    d.runs[2].summary.grad_norm_ratio = f64::INFINITY;
    if let Some(t) = d.runs[3].theory.as_mut() {
        t.act_std[3] = f64::INFINITY;
    }
    d
}

/// One run only.
pub fn single_run() -> ResultsDoc {
    let r = run(
        0,
        "Xavier",
        "Xavier",
        None,
        json!({}),
        &Net::new(TANH, Init::Xavier),
    );
    doc("single", "One run", vec![r])
}

/// Arms with one layer each, no histograms.
pub fn single_layer() -> ResultsDoc {
    let runs = arms()
        .iter()
        .enumerate()
        .map(|(i, (label, init))| {
            let mut net = Net::new(TANH, *init);
            (net.depth, net.histograms) = (1, false);
            run(i, label, label, Some(label), json!({}), &net)
        })
        .collect();
    doc("single-layer", "One layer per run", runs)
}
