//! The schemes against torch's formulas and the table against itself.

use super::sampler::trunc_normal_moments;
use super::*;
use serde_json::json;

fn init(v: serde_json::Value) -> Init {
    Init::from_json(v).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn gains_follow_torch_table() {
    assert_eq!(calculate_gain("tanh", None), Some(5.0 / 3.0));
    assert_eq!(calculate_gain("relu", None), Some(2f64.sqrt()));
    assert!(
        (calculate_gain("leaky_relu", Some(0.2)).unwrap() - (2.0 / 1.04f64).sqrt()).abs() < 1e-15
    );
    assert_eq!(calculate_gain("selu", None), Some(0.75));
    assert_eq!(calculate_gain("sigmoid", None), Some(1.0));
    assert_eq!(calculate_gain("conv2d", None), Some(1.0));
    assert_eq!(calculate_gain("linear", Some(0.3)), Some(1.0));
    assert_eq!(calculate_gain("swish", None), None);
    assert_eq!(
        resolve_gain(&Gain::Name("auto".into()), Activation::Tanh),
        Ok(5.0 / 3.0)
    );
    assert!(resolve_gain(&Gain::Name("auto".into()), Activation::Gelu).is_err());
}

#[test]
fn schemes_resolve_to_torch_formulas() {
    let s = Shape::weight(512, 256);
    let a = Activation::Relu;
    let bound = |i: serde_json::Value| match sampler(&init(i), s, a, None).unwrap() {
        Sampler::Elementwise(v) => match v[0].1 {
            Component::Uniform { hi, .. } => hi,
            Component::Normal { std, .. } => std,
            _ => f64::NAN,
        },
        _ => f64::NAN,
    };
    let close = |x: f64, y: f64| assert!((x - y).abs() < 1e-15, "{x} vs {y}");
    close(
        bound(json!({"scheme": "xavier_uniform", "gain": 2.0})),
        2.0 * (6.0f64 / 768.0).sqrt(),
    );
    let ku = json!({"scheme": "kaiming_uniform", "nonlinearity": "relu"});
    close(bound(ku), (6.0f64 / 512.0).sqrt());
    let kn = json!({"scheme": "kaiming_normal", "mode": "fan_out", "nonlinearity": "relu"});
    close(bound(kn), (2.0f64 / 256.0).sqrt());
    // torch passes kaiming's a (default 0) as the leaky_relu slope: gain √2.
    close(
        bound(json!({"scheme": "kaiming_normal"})),
        (2.0f64 / 512.0).sqrt(),
    );
    close(
        bound(json!({"scheme": "torch_default"})),
        1.0 / 512f64.sqrt(),
    );
    let sp = init(json!({"scheme": "sparse", "sparsity": 0.1}));
    assert_eq!(
        sampler(&sp, s, a, None).unwrap(),
        Sampler::Sparse {
            num_zeros: 26,
            std: 0.01
        }
    );
}

#[test]
fn trunc_normal_moments_match_closed_form() {
    // Against Simpson integration of the truncated density on [-1, 1.5], mean 0.3, std 0.8.
    let (mean, std, a, b) = (0.3, 0.8, -1.0, 1.5);
    let pdf = |x: f64| crate::activation::norm_pdf((x - mean) / std);
    let n = 20_000;
    let h = (b - a) / n as f64;
    let simpson = |f: &dyn Fn(f64) -> f64| {
        (0..=n)
            .map(|i| {
                let w = if i == 0 || i == n {
                    1.0
                } else if i % 2 == 1 {
                    4.0
                } else {
                    2.0
                };
                w * f(a + i as f64 * h)
            })
            .sum::<f64>()
            * h
            / 3.0
    };
    let z = simpson(&pdf);
    let m1 = simpson(&|x| x * pdf(x)) / z;
    let m2 = simpson(&|x| x * x * pdf(x)) / z;
    let (m, v) = trunc_normal_moments(mean, std, a, b);
    assert!((m - m1).abs() < 1e-10, "{m} vs {m1}");
    assert!(
        (v - (m2 - m1 * m1)).abs() < 1e-10,
        "{v} vs {}",
        m2 - m1 * m1
    );
}

#[test]
fn every_scheme_resolves_with_its_defaults_and_echoes_in_table_order() {
    let shape = Shape::weight(6, 4);
    for scheme in SCHEMES {
        let name = scheme.case.name;
        let mut v = json!({ "scheme": name });
        // The required parameters, with values every scheme accepts.
        for f in scheme
            .case
            .fields
            .iter()
            .filter(|f| f.default_value().is_none())
        {
            v[f.name] = match f.name {
                "components" => json!([{"weight": 1, "dist": {"scheme": "normal"}}]),
                "path" | "tensor" => json!("x"),
                _ => json!(0.5),
            };
        }
        let i = init(v);
        let j = i.to_json();
        let echoed: Vec<&str> = j.as_object().unwrap().keys().map(String::as_str).collect();
        let want: Vec<&str> = std::iter::once("scheme")
            .chain(scheme.case.fields.iter().map(|f| f.name))
            .collect();
        assert_eq!(echoed, want, "{name}");
        assert_eq!(Init::from_json(i.to_json()).unwrap(), i);
        assert_eq!(i.needs_matrix(), scheme.needs_matrix());
        // Every sampler arm reads only declared parameters (from_file needs a file).
        if name != "from_file" {
            sampler(&i, shape, Activation::Tanh, None).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }
}

#[test]
fn defaults_are_filled_and_numbers_echo_as_floats() {
    let i = init(json!({"scheme": "lsuv"}));
    let pre = json!({"scheme": "orthogonal", "gain": 1.0});
    assert_eq!(
        i.to_json(),
        json!({"scheme": "lsuv", "tol": 0.1, "max_iter": 10, "pre": pre})
    );
    assert_eq!(i.lsuv(), Some((0.1, 10)));
    assert!(i.needs_orthogonal_scratch() && !i.has_theory() && i.needs_matrix());
    let c = init(json!({"scheme": "constant", "value": 42}));
    assert_eq!(
        serde_json::to_string(&c).unwrap(),
        r#"{"scheme":"constant","value":42.0}"#
    );
    let e = Init::from_json(json!({"scheme": "normal", "stdev": 1})).unwrap_err();
    assert!(e.contains("did you mean \"std\""), "{e}");
}
