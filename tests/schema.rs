//! `initscope schema`: the committed `experiments/manifest.schema.json` is
//! what the binary prints, every shipped manifest validates against it (with
//! an independent JSON Schema validator), and mistyped manifests fail it,
//! as they fail initscope's own validator.

#[path = "common/cli.rs"]
mod cli_support;

use cli_support::*;
use initscope::manifest::Manifest;
use serde_json::{Value, json};

const SCHEMA_FILE: &str = "experiments/manifest.schema.json";

fn printed_schema() -> String {
    initscope_ok(&["schema"]).stdout
}

fn validator(schema: &Value) -> jsonschema::Validator {
    jsonschema::draft202012::new(schema).unwrap_or_else(|e| panic!("not a valid schema: {e}"))
}

/// Every problem the schema finds, as `path: message`.
fn schema_errors(v: &jsonschema::Validator, doc: &Value) -> Vec<String> {
    v.iter_errors(doc)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

#[test]
fn the_committed_schema_is_what_initscope_schema_prints() {
    let printed = printed_schema();
    let committed = std::fs::read_to_string(repo().join(SCHEMA_FILE)).unwrap_or_default();
    assert!(
        printed == committed,
        "{SCHEMA_FILE} is stale (the manifest tables changed); regenerate it with\n    \
         cargo run --release -- schema > {SCHEMA_FILE}"
    );
    let schema: Value = serde_json::from_str(&printed).expect("the schema is JSON");
    assert_eq!(
        schema["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    // Editors show descriptions and defaults: the fields carry them.
    let seed = &schema["properties"]["seed"];
    assert!(
        seed["description"].is_string() && seed["default"] == 0,
        "{seed}"
    );
    let normal = &schema["$defs"]["scheme_normal"]["properties"]["std"];
    assert_eq!(
        (
            normal["exclusiveMinimum"].as_f64(),
            normal["default"].as_f64()
        ),
        (Some(0.0), Some(1.0))
    );
}

#[test]
fn every_shipped_manifest_validates_and_points_at_the_schema() {
    let schema: Value = serde_json::from_str(&printed_schema()).unwrap();
    let v = validator(&schema);
    for m in shipped_manifests() {
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(&m).unwrap()).unwrap();
        let errors = schema_errors(&v, &doc);
        assert!(errors.is_empty(), "{}: {errors:#?}", m.display());
        assert_eq!(doc["$schema"], "./manifest.schema.json", "{}", m.display());
    }
}

/// A small manifest that initscope accepts; the cases below break it.
fn base() -> Value {
    json!({
        "$schema": "./manifest.schema.json",
        "name": "t",
        "network": {"input_dim": 4, "width": 8, "depth": 2, "activation": "tanh"},
        "init": {"scheme": "xavier_uniform", "gain": "auto"},
        "input": {"batch": 2, "dist": {"scheme": "uniform", "a": -1}},
        "loss": {"name": "mse"},
        "variants": [
            {"label": "N", "init": {"scheme": "xavier_normal", "gain": 0.5}},
            {"label": "W", "network": {"width": null, "depth": null, "widths": [3, 2]}}
        ],
        "sweep": {"network.final_activation": ["tanh", {"name": "leaky_relu", "slope": 0.1}], "init.gain": [1, "tanh"]}
    })
}

#[test]
fn mistyped_manifests_fail_the_schema_and_the_validator_alike() {
    let schema: Value = serde_json::from_str(&printed_schema()).unwrap();
    let v = validator(&schema);
    let accepted = |doc: &Value| Manifest::from_str(&doc.to_string(), "t.json").map(|_| ());
    let good = base();
    assert_eq!(schema_errors(&v, &good), Vec::<String>::new());
    accepted(&good).unwrap_or_else(|e| panic!("{e}"));
    let cases = [
        ("unknown field", json!({"seeed": 3})),
        ("unknown nested field", json!({"network": {"widht": 8}})),
        ("wrong type", json!({"network": {"width": "8"}})),
        (
            "out of range",
            json!({"init": {"scheme": "normal", "std": -1}}),
        ),
        ("zero width", json!({"network": {"width": 0}})),
        (
            "unknown scheme",
            json!({"init": {"scheme": "xavier_unifrom"}}),
        ),
        (
            "another scheme's parameter",
            json!({"init": {"scheme": "normal", "gain": 2}}),
        ),
        (
            "scheme not for a bias",
            json!({"bias_init": {"scheme": "orthogonal"}}),
        ),
        (
            "unknown activation",
            json!({"network": {"activation": "tanhh"}}),
        ),
        (
            "unknown sweep path",
            json!({"sweep": {"network.depht": [1]}}),
        ),
        (
            "bad sweep value",
            json!({"sweep": {"network.depth": [2, "x"]}}),
        ),
        (
            "variant without a label",
            json!({"variants": [{"init": {"scheme": "zeros"}}]}),
        ),
        ("bad name", json!({"name": "a b"})),
    ];
    for (what, patch) in cases {
        let mut doc = base();
        merge(&mut doc, &patch);
        assert!(
            !schema_errors(&v, &doc).is_empty(),
            "{what}: the schema accepts {doc}"
        );
        assert!(accepted(&doc).is_err(), "{what}: initscope accepts {doc}");
    }
}
