//! Run configs from JSON: defaults from the table, overrides, errors.

use super::*;
use serde_json::json;

#[test]
fn layer_specs_apply_overrides_and_final_activation() {
    let cfg: RunConfig = serde_json::from_str(
        r#"{"network": {"input_dim": 8, "widths": [16, 4, 2], "activation": "relu"},
            "layers": [{"index": 1, "init": {"scheme": "constant", "value": 42}},
                       {"range": [2, 3], "bias_init": {"scheme": "ones"}}],
            "input": {"batch": 3}, "loss": {"name": "mse", "target": "teacher"}}"#,
    )
    .unwrap();
    let l = cfg.layer_specs();
    assert_eq!(l.len(), 3);
    assert_eq!(
        (l[0].fan_in, l[0].fan_out, l[2].fan_in, l[2].fan_out),
        (8, 16, 4, 2)
    );
    let init = |v| Init::from_json(v).unwrap();
    assert_eq!(l[1].init, init(json!({"scheme": "constant", "value": 42})));
    assert_eq!(
        l[0].init,
        init(json!({"scheme": "xavier_uniform", "gain": 1.0}))
    );
    assert_eq!(l[2].bias_init, Some(init(json!({"scheme": "ones"}))));
    assert_eq!(
        cfg.bias_init_of(2),
        (&init(json!({"scheme": "ones"})), Some(1))
    );
    assert_eq!(cfg.weight_init(2).1, None);
    assert_eq!(l[1].activation, Activation::Relu);
    assert_eq!(l[2].activation, Activation::Identity);
    assert_eq!(
        cfg.loss,
        Loss::Mse {
            target: Target::Teacher
        }
    );
}

#[test]
fn defaults_come_from_the_table_and_echo_as_before() {
    let cfg: RunConfig = serde_json::from_value(json!({
        "network": {"input_dim": 2, "width": 3, "depth": 1},
        "input": {"batch": 4}, "loss": "mse"
    }))
    .unwrap();
    let echo = serde_json::to_string(&cfg).unwrap();
    let want = concat!(
        r#"{"network":{"input_dim":2,"width":3,"depth":1,"activation":"tanh","final_activation":"identity","bias":true},"#,
        r#""init":{"scheme":"xavier_uniform","gain":1.0},"bias_init":{"scheme":"zeros"},"#,
        r#""input":{"batch":4,"dist":{"scheme":"normal","mean":0.0,"std":1.0}},"#,
        r#""loss":{"name":"mse","target":"gaussian"},"#,
        r#""stats":{"saturation_threshold":0.9,"histogram_bins":64,"diagnosis":{"vanishing_act_std":0.1,"#,
        r#""exploding_act_std":10.0,"vanishing_grad_norm":1e-6,"exploding_grad_norm":10.0,"#,
        r#""dead_fraction":0.5,"saturated_fraction":0.3}}}"#
    );
    assert_eq!(echo, want);
    assert_eq!(serde_json::from_str::<RunConfig>(&echo).unwrap(), cfg);
}

#[test]
fn unknown_fields_and_schemes_are_rejected_with_their_path() {
    let e = serde_json::from_str::<Init>(r#"{"scheme": "normal", "stdev": 1}"#).unwrap_err();
    assert!(e.to_string().contains("stdev"), "{e}");
    assert!(serde_json::from_str::<Init>(r#"{"scheme": "nope"}"#).is_err());
    let e = serde_json::from_value::<RunConfig>(json!({
        "network": {"input_dim": 2, "width": 0, "depth": 1}, "input": {"batch": 4}
    }))
    .unwrap_err();
    assert!(
        e.to_string().starts_with("network.width: 0 is not a width"),
        "{e}"
    );
}
