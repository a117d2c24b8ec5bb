//! The stream-variance recursion (`theory::of_residual`) against measured
//! per-block stream and branch stds at width 256 (mean-field predictions;
//! one draw of the weights scatters around them by O(1/√width) per block).

mod common;

use common::gpu;
use common::residual::*;
use initscope::activation::Activation;
use initscope::exec::Session;
use initscope::model::NormKind;
use initscope::model::build::residual::build_residual;
use initscope::model::residual::{NormPosition, ResidualScale, ResidualSpec};
use initscope::theory::of_residual;

fn wide() -> ResidualSpec {
    ResidualSpec {
        input_dim: 256,
        width: 256,
        ff_width: 512,
        depth: 6,
        batch: 256,
        bias_init: init(serde_json::json!({"scheme": "zeros"})),
        ..small()
    }
}

/// (label, spec, relative tolerance on every block's stream and branch std).
fn cases() -> Vec<(&'static str, ResidualSpec, f64)> {
    let mut v = Vec::new();
    let mut s = wide();
    s.norm = None;
    s.activation = Activation::Relu;
    s.residual_scale = ResidualScale::Value(0.8);
    s.init = init(serde_json::json!({"scheme": "kaiming_normal", "nonlinearity": "relu"}));
    v.push(("no norm, relu: multiplicative growth", s, 0.15));
    v.push(("pre-layernorm, gelu: linear growth", wide(), 0.05));
    let mut s = wide();
    s.norm = Some(NormKind::RmsNorm);
    s.position = NormPosition::Post;
    s.activation = Activation::Tanh;
    v.push(("post-rmsnorm, tanh: unit stream", s, 0.05));
    let mut s = wide();
    s.residual_scale = ResidualScale::DeepNorm;
    v.push(("deepnorm", s, 0.05));
    v
}

#[test]
fn measured_streams_follow_the_recursion() {
    let g = gpu();
    for (what, spec, tol) in cases() {
        let m = build_residual(&spec, None).unwrap();
        let p = of_residual(&m).expect("a prediction");
        let out = Session::new(&g, &m, 4, 0).unwrap().step().unwrap();
        let close = |a: f64, b: f64| (a - b).abs() <= tol * b;
        let first = out.stream_in.as_ref().unwrap().std;
        assert!(
            close(first, p.stream_in_std),
            "{what}: stream in {first} vs {}",
            p.stream_in_std
        );
        for (b, (s, f)) in out
            .blocks
            .iter()
            .zip(p.stream_std.iter().zip(&p.branch_std))
        {
            eprintln!(
                "{what} block {}: stream {:.4} vs {s:.4}, branch {:.4} vs {f:.4}",
                b.index, b.stream.std, b.ff_branch.std
            );
            assert!(
                close(b.stream.std, *s),
                "{what}: block {} stream {} vs {s}",
                b.index,
                b.stream.std
            );
            assert!(
                close(b.ff_branch.std, *f),
                "{what}: block {} branch {} vs {f}",
                b.index,
                b.ff_branch.std
            );
        }
    }
}
