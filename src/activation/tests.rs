//! The activation table against finite differences, known values, serde
//! and the shader.

use super::*;

#[test]
fn derivatives_match_finite_differences() {
    let mut acts = Activation::all();
    acts.push(Activation::LeakyRelu { slope: 0.2 });
    acts.push(Activation::Elu { alpha: 0.7 });
    for a in acts {
        for &x in &[-3.1, -1.2, -0.3, 0.25, 0.9, 2.7] {
            let h = 1e-6;
            let fd = (a.forward(x + h) - a.forward(x - h)) / (2.0 * h);
            let d = a.derivative(x);
            assert!(
                (fd - d).abs() < 1e-7 * (1.0 + d.abs()),
                "{a} at {x}: fd {fd} vs {d}"
            );
        }
    }
}

#[test]
fn erf_known_values() {
    assert!((erf(0.5) - 0.520_499_877_813_046_5).abs() < 1e-15);
    assert!((erf(1.0) - 0.842_700_792_949_714_9).abs() < 1e-15);
    assert!((erfc(3.0) - 2.209_049_699_858_544e-5).abs() < 1e-18);
    assert!((erfc(-3.0) - (2.0 - 2.209_049_699_858_544e-5)).abs() < 1e-15);
    assert!((norm_cdf(1.959_963_984_540_054) - 0.975).abs() < 1e-14);
}

#[test]
fn serde_round_trip_and_errors() {
    let a: Activation = serde_json::from_str("\"tanh\"").unwrap();
    assert_eq!(a, Activation::Tanh);
    let a: Activation = serde_json::from_str(r#"{"name":"leaky_relu","slope":0.2}"#).unwrap();
    assert_eq!(a, Activation::LeakyRelu { slope: 0.2 });
    assert_eq!(
        serde_json::to_string(&a).unwrap(),
        r#"{"name":"leaky_relu","slope":0.2}"#
    );
    let e = serde_json::from_str::<Activation>("\"tahn\"")
        .unwrap_err()
        .to_string();
    assert!(e.contains("did you mean \"tanh\""), "{e}");
}

#[test]
fn rows_round_trip_through_names_opcodes_and_serde() {
    for (i, a) in Activation::all().into_iter().enumerate() {
        assert_eq!(a.opcode() as usize, i);
        assert_eq!(a.def().case.name, ACTIVATIONS[i].case.name);
        assert_eq!(Activation::from_name(a.name()), Some(a));
        let echoed = serde_json::to_value(a).unwrap();
        assert_eq!(serde_json::from_value::<Activation>(echoed).unwrap(), a);
    }
    assert_eq!(Activation::from_name("linear"), Some(Activation::Identity));
    let e = serde_json::from_str::<Activation>(r#"{"name": "tanh", "slope": 1}"#)
        .unwrap_err()
        .to_string();
    assert!(e.contains("has no parameter \"slope\""), "{e}");
    assert_eq!(
        Activation::LeakyRelu { slope: 0.2 }.to_string(),
        "leaky_relu(0.2)"
    );
    assert_eq!(Activation::Tanh.gain(), Some(5.0 / 3.0));
    assert!(Activation::Gelu.gain().is_none());
    assert!(gain_names().contains(&"linear") && gain_names().contains(&"conv2d"));
}

/// The shader source with the generated opcode constants, as the GPU gets it.
fn shader() -> String {
    wgsl_constants() + include_str!("../../shaders/activation.wgsl")
}

#[test]
fn the_shader_has_a_forward_and_a_derivative_case_for_every_row() {
    let src = shader();
    for a in ACTIVATIONS {
        let name = a.wgsl_const();
        let case = format!("case {name}");
        let cases = (src.match_indices(&case))
            .filter(|(i, _)| src[i + case.len()..].starts_with([':', ',']))
            .count();
        assert_eq!(
            cases, 2,
            "{name}: add its forward and derivative cases to shaders/activation.wgsl"
        );
    }
}

#[test]
fn the_shader_compiles_with_the_generated_constants() {
    use wgpu::naga;
    let module = naga::front::wgsl::parse_str(&shader()).unwrap_or_else(|e| panic!("{e}"));
    let mut v = naga::valid::Validator::new(
        naga::valid::ValidationFlags::all(),
        naga::valid::Capabilities::empty(),
    );
    v.validate(&module).unwrap_or_else(|e| panic!("{e:?}"));
}
