//! Residual models as data (no GPU): export keys and shapes, Philox streams,
//! override resolution and its errors, the DeepNorm preset, scratch slots.

mod common;

use common::residual::*;
use initscope::init::{Component, Sampler};
use initscope::model::build::residual::build_residual;
use initscope::model::residual::{NormPosition, ResidualScale};
use initscope::model::{GradStore, NormKind, Op};
use initscope::rng::{Role, layer_word, module};
use serde_json::json;
use std::collections::HashSet;

#[test]
fn export_keys_and_shapes_are_the_torch_state_dict() {
    let mut s = small();
    s.final_norm = true;
    let m = build_residual(&s, None).unwrap();
    let keys: Vec<(&str, Vec<usize>)> = m
        .params
        .iter()
        .map(|p| (p.name.as_str(), p.shape()))
        .collect();
    let want = vec![
        ("input_proj.weight", vec![13, 11]),
        ("input_proj.bias", vec![13]),
        ("blocks.0.ff_norm.weight", vec![13]),
        ("blocks.0.ff_norm.bias", vec![13]),
        ("blocks.0.fc1.weight", vec![29, 13]),
        ("blocks.0.fc1.bias", vec![29]),
        ("blocks.0.fc2.weight", vec![13, 29]),
        ("blocks.0.fc2.bias", vec![13]),
        ("blocks.1.ff_norm.weight", vec![13]),
        ("blocks.1.ff_norm.bias", vec![13]),
        ("blocks.1.fc1.weight", vec![29, 13]),
        ("blocks.1.fc1.bias", vec![29]),
        ("blocks.1.fc2.weight", vec![13, 29]),
        ("blocks.1.fc2.bias", vec![13]),
        ("final_norm.weight", vec![13]),
        ("final_norm.bias", vec![13]),
    ];
    assert_eq!(keys, want);
    // RMSNorm has no bias; "none" has no norm at all; equal dims, no input_proj.
    s.norm = Some(NormKind::RmsNorm);
    s.input_dim = s.width;
    let names: Vec<String> = build_residual(&s, None)
        .unwrap()
        .params
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert!(names.contains(&"blocks.1.ff_norm.weight".to_string()));
    assert!(
        !names
            .iter()
            .any(|n| n.ends_with("norm.bias") || n.starts_with("input_proj")),
        "{names:?}"
    );
    s.norm = None;
    let names: Vec<String> = build_residual(&s, None)
        .unwrap()
        .params
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert!(!names.iter().any(|n| n.contains("norm")), "{names:?}");
}

#[test]
fn every_parameter_has_its_own_philox_stream() {
    let mut s = small();
    s.final_norm = true;
    s.depth = 5;
    let m = build_residual(&s, None).unwrap();
    let mut seen: HashSet<(u32, Role)> =
        [(0, Role::Input), (0, Role::Target), (0, Role::Teacher)].into();
    for p in &m.params {
        assert!(
            seen.insert((p.layer, p.role)),
            "{} reuses stream ({}, {:?})",
            p.name,
            p.layer,
            p.role
        );
    }
    let fc2 = m
        .params
        .iter()
        .find(|p| p.name == "blocks.3.fc2.weight")
        .unwrap();
    assert_eq!(
        (fc2.layer, fc2.role),
        (layer_word(module::FC2, 3), Role::Weight)
    );
    let b = m
        .params
        .iter()
        .find(|p| p.name == "final_norm.bias")
        .unwrap();
    assert_eq!(
        (b.layer, b.role),
        (layer_word(module::FINAL_NORM, 0), Role::Bias)
    );
}

#[test]
fn overrides_apply_in_order_and_scale_after_the_draw() {
    let mut s = small();
    s.overrides = vec![
        over(
            0,
            "blocks.*.fc2.weight",
            Some(json!({"scheme": "normal", "std": 0.02})),
            Some(0.5),
        ),
        over(
            1,
            "blocks.1.*.weight",
            Some(json!({"scheme": "zeros"})),
            None,
        ),
        over(2, "blocks.0.fc1.weight", None, Some(3.0)),
    ];
    let m = build_residual(&s, None).unwrap();
    let p = |n: &str| m.params.iter().find(|p| p.name == n).unwrap();
    let normal = |std| Sampler::Elementwise(vec![(1.0, Component::Normal { mean: 0.0, std })]);
    let zero = Sampler::Elementwise(vec![(1.0, Component::Constant(0.0))]);
    assert_eq!(
        (
            &p("blocks.0.fc2.weight").sampler,
            p("blocks.0.fc2.weight").scale
        ),
        (&normal(0.02), Some(0.5))
    );
    // A later init replaces the earlier one and its scale.
    assert_eq!(
        (
            &p("blocks.1.fc2.weight").sampler,
            p("blocks.1.fc2.weight").scale
        ),
        (&zero, None)
    );
    assert_eq!(p("blocks.1.ff_norm.weight").sampler, zero);
    // A scale alone keeps the scheme (xavier_uniform).
    let fc1 = p("blocks.0.fc1.weight");
    assert!(
        matches!(&fc1.sampler, Sampler::Elementwise(v) if matches!(v[0].1, Component::Uniform { .. }))
    );
    assert_eq!(fc1.scale, Some(3.0));
    // Norms default to ones and zeros whatever `init` says.
    let one = Sampler::Elementwise(vec![(1.0, Component::Constant(1.0))]);
    assert_eq!(p("blocks.0.ff_norm.weight").sampler, one);
}

#[test]
fn overrides_that_match_nothing_say_why_and_list_similar_keys() {
    let mut s = small();
    s.norm = None;
    s.overrides = vec![over(
        0,
        "blocks.*.ff_norm.weight",
        Some(json!({"scheme": "ones"})),
        None,
    )];
    let e = build_residual(&s, None).unwrap_err().0;
    assert!(
        e.starts_with("overrides[0].match: \"blocks.*.ff_norm.weight\" matches no parameter"),
        "{e}"
    );
    assert!(e.contains("norm is \"none\""), "{e}");
    assert!(e.contains("similar keys: blocks.0.fc"), "{e}");
    let mut s = small();
    s.overrides = vec![
        over(0, "blocks.0.fc2.weight", None, Some(2.0)),
        over(1, "blocks.*.fc3.weight", None, Some(2.0)),
    ];
    let e = build_residual(&s, None).unwrap_err().0;
    assert!(e.starts_with("overrides[1].match"), "{e}");
    assert!(
        e.contains("blocks.0.fc1.weight") || e.contains("blocks.0.fc2.weight"),
        "{e}"
    );
    let mut s = small();
    s.bias = false;
    s.overrides = vec![over(0, "*.bias", Some(json!({"scheme": "ones"})), None)];
    assert!(
        build_residual(&s, None)
            .unwrap_err()
            .0
            .contains("bias is false")
    );
    let mut s = small();
    s.overrides = vec![over(
        0,
        "blocks.0.fc1.bias",
        Some(json!({"scheme": "xavier_uniform"})),
        None,
    )];
    let e = build_residual(&s, None).unwrap_err().0;
    assert!(
        e.contains("overrides[0].init: xavier_uniform needs a weight matrix"),
        "{e}"
    );
}

#[test]
fn deepnorm_is_post_norm_with_scaled_skip_and_branch_gains() {
    let mut s = small();
    s.depth = 8;
    s.residual_scale = ResidualScale::DeepNorm;
    let m = build_residual(&s, None).unwrap();
    let res = m.residual.as_ref().unwrap();
    assert_eq!(res.position, NormPosition::Post);
    assert_eq!((res.scales.skip, res.scales.branch), (2.0, 1.0));
    assert!(
        m.ops
            .iter()
            .any(|op| matches!(op, Op::Add { skip_scale, .. } if *skip_scale == 2.0))
    );
    assert!(
        !m.ops.iter().any(|op| matches!(op, Op::Scale { .. })),
        "a = 1 needs no scale op"
    );
    // xavier_normal with gain (8L)^-1/4 = 1/sqrt(8): std = beta·sqrt(2/(13 + 29)).
    let fc1 = m
        .params
        .iter()
        .find(|p| p.name == "blocks.7.fc1.weight")
        .unwrap();
    let std = (8.0f64 * 8.0).powf(-0.25) * (2.0 / 42.0f64).sqrt();
    assert_eq!(
        fc1.sampler,
        Sampler::Elementwise(vec![(1.0, Component::Normal { mean: 0.0, std })])
    );
}

#[test]
fn neighbours_in_a_block_use_different_scratch_slots() {
    for (pos, a) in [
        (NormPosition::Pre, 1.0),
        (NormPosition::Pre, 0.5),
        (NormPosition::Post, 1.0),
        (NormPosition::Post, 0.5),
    ] {
        let mut s = small();
        s.position = pos;
        s.residual_scale = ResidualScale::Value(a);
        let m = build_residual(&s, None).unwrap();
        assert_eq!(m.scratch_slots(), 2);
        for op in &m.ops {
            let out = m.act(op.output()).grad;
            for x in op.inputs() {
                let g = m.act(x).grad;
                if let (GradStore::Scratch(i), GradStore::Scratch(o)) = (g, out) {
                    assert_ne!(i, o, "{op:?}: input and output gradients share slot {i}");
                }
            }
        }
    }
}
