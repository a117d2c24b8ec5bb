//! Valid manifests: expansion order, labels, merging, overrides and hashes.

use super::tests::{patched, temp_dir, write_safetensors};
use super::{Manifest, PlanOverrides, config_hash};
use crate::activation::Activation;
use crate::config::{Init, Loss, RunSpec, Target};
use serde_json::json;
use std::path::PathBuf;

const DESIGN_EXAMPLE: &str = r#"{
  "name": "init-impact",
  "description": "How the init scale drives signal and gradient through 10 tanh layers",
  "seed": 42,
  "repeats": 1,
  "network": { "input_dim": 512, "width": 512, "depth": 10,
               "activation": "tanh", "final_activation": "identity", "bias": true },
  "init": { "scheme": "xavier_uniform", "gain": 1.0 },
  "bias_init": { "scheme": "zeros" },
  "layers": [ { "index": 0, "init": { "scheme": "constant", "value": 42.0 } } ],
  "input": { "batch": 64, "dist": { "scheme": "normal", "mean": 0.0, "std": 1.0 } },
  "loss": "mean",
  "variants": [ { "label": "Too small (0.01)", "init": { "scheme": "normal", "std": 0.01 } },
                { "label": "Xavier", "init": { "scheme": "xavier_uniform" } } ],
  "sweep": { "network.activation": ["tanh", "relu"] },
  "stats": { "saturation_threshold": 0.9, "histogram_bins": 64 }
}"#;

/// An init from its manifest form, defaults filled.
fn init(v: serde_json::Value) -> Init {
    Init::from_json(v).unwrap()
}

fn plan(text: &str) -> Vec<RunSpec> {
    let m = Manifest::from_str(text, "t.json").unwrap_or_else(|e| panic!("{e}"));
    m.plan(&PlanOverrides::default()).unwrap()
}

#[test]
fn the_design_example_expands_to_four_labelled_runs() {
    let m = Manifest::from_str(DESIGN_EXAMPLE, "experiments/init-impact.json").unwrap();
    assert_eq!((m.name.as_str(), m.seed, m.repeats), ("init-impact", 42, 1));
    assert_eq!(m.raw["variants"][1]["label"], "Xavier");
    let runs = m.plan(&PlanOverrides::default()).unwrap();
    let labels: Vec<&str> = runs.iter().map(|r| r.label.as_str()).collect();
    assert_eq!(
        labels,
        [
            "Too small (0.01), activation=tanh",
            "Too small (0.01), activation=relu",
            "Xavier, activation=tanh",
            "Xavier, activation=relu"
        ]
    );
    let ids: Vec<&str> = runs.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["r000", "r001", "r002", "r003"]);
    assert_eq!(
        runs[0].config.init,
        init(json!({"scheme": "normal", "mean": 0.0, "std": 0.01}))
    );
    assert_eq!(
        runs[3].config.init,
        init(json!({"scheme": "xavier_uniform"}))
    );
    assert_eq!(runs[3].config.network.activation, Activation::Relu);
    assert_eq!(runs[1].params["variant"], "Too small (0.01)");
    assert_eq!(runs[1].params["network.activation"], "relu");
    assert_eq!(
        (runs[2].variant.as_deref(), runs[2].seed, runs[2].repeat),
        (Some("Xavier"), 42, 0)
    );
    assert_eq!(
        runs[0].config.layer_specs()[0].init,
        init(json!({"scheme": "constant", "value": 42.0}))
    );
}

#[test]
fn plan_is_variants_times_sweep_times_repeats_in_order() {
    let text = patched(
        r#"{"repeats": 2, "variants": [{"label": "A"}, {"label": "B"}, {"label": "C"}],
            "sweep": {"network.depth": [1, 2], "input.batch": [3, 4, 5]}}"#,
    );
    let runs = plan(&text);
    assert_eq!(runs.len(), 3 * 2 * 3 * 2);
    assert_eq!(runs[0].label, "A, depth=1, batch=3 #0");
    assert_eq!(runs[1].label, "A, depth=1, batch=3 #1");
    assert_eq!(runs[2].label, "A, depth=1, batch=4 #0");
    assert_eq!(runs[6].label, "A, depth=2, batch=3 #0");
    assert_eq!(runs[12].group, "B, depth=1, batch=3");
    assert_eq!((runs[13].repeat, runs[13].config.input.batch), (1, 3));
    assert_eq!(runs[35].id, "r035");
    assert_eq!(runs[35].config.network.depth, Some(2));
    assert_eq!(runs[35].params["input.batch"], 5);
}

#[test]
fn without_variants_or_sweep_there_is_one_run_named_after_the_manifest() {
    let runs = plan(&patched("{}"));
    assert_eq!(runs.len(), 1);
    assert_eq!(
        (
            runs[0].id.as_str(),
            runs[0].label.as_str(),
            runs[0].group.as_str()
        ),
        ("r000", "t", "t")
    );
    assert!(runs[0].params.is_empty() && runs[0].variant.is_none());
}

#[test]
fn init_objects_replace_wholesale_and_other_objects_deep_merge() {
    let text = patched(
        r#"{"init": {"scheme": "xavier_uniform", "gain": 2},
            "loss": {"name": "mse", "target": "teacher"},
            "variants": [{"label": "N", "init": {"scheme": "normal", "std": 0.01},
                          "network": {"depth": 5}, "loss": {"name": "mse"}}]}"#,
    );
    let runs = plan(&text);
    let cfg = &runs[0].config;
    assert_eq!(
        cfg.init,
        init(json!({"scheme": "normal", "mean": 0.0, "std": 0.01}))
    );
    assert_eq!((cfg.network.width, cfg.network.depth), (Some(8), Some(5)));
    assert_eq!(
        cfg.loss,
        Loss::Mse {
            target: Target::Gaussian
        }
    );
}

#[test]
fn sweep_values_set_fields_inside_the_merged_object() {
    let text = patched(
        r#"{"loss": "mse", "variants": [{"label": "N", "init": {"scheme": "normal", "mean": 1}}],
            "sweep": {"init.std": [0.5, 2], "loss.target": ["teacher"],
                      "bias_init": [{"scheme": "constant", "value": 0.1}]}}"#,
    );
    let runs = plan(&text);
    assert_eq!(
        runs[1].config.init,
        init(json!({"scheme": "normal", "mean": 1.0, "std": 2.0}))
    );
    assert_eq!(
        runs[1].config.loss,
        Loss::Mse {
            target: Target::Teacher
        }
    );
    assert_eq!(
        runs[1].config.bias_init,
        init(json!({"scheme": "constant", "value": 0.1}))
    );
    assert_eq!(
        runs[1].label,
        "N, std=2, target=teacher, bias_init=constant"
    );
}

#[test]
fn sweep_labels_disambiguate_keys_and_values() {
    let text = patched(
        r#"{"init": {"scheme": "normal"}, "bias_init": {"scheme": "normal"},
            "sweep": {"init.std": [1], "bias_init.std": [2],
                      "init": [{"scheme": "normal", "std": 1}, {"scheme": "normal", "std": 3}],
                      "network.activation": [{"name": "leaky_relu", "slope": 0.2}]}}"#,
    );
    let runs = plan(&text);
    assert_eq!(
        runs[1].label,
        r#"init.std=1, bias_init.std=2, init={"scheme":"normal","std":3}, activation=leaky_relu"#
    );
    assert_eq!(
        runs[1].config.init,
        init(json!({"scheme": "normal", "mean": 0.0, "std": 3.0}))
    );
    assert_eq!(
        runs[0].config.network.activation,
        Activation::LeakyRelu { slope: 0.2 }
    );
}

#[test]
fn overrides_change_seed_and_repeats() {
    let m = Manifest::from_str(
        &patched(r#"{"seed": 5, "sweep": {"network.depth": [1, 2]}}"#),
        "t.json",
    )
    .unwrap();
    let runs = m
        .plan(&PlanOverrides {
            seed: Some(7),
            repeats: Some(3),
        })
        .unwrap();
    assert_eq!(runs.len(), 6);
    assert!(runs.iter().all(|r| r.seed == 7));
    assert_eq!(
        runs.iter().map(|r| r.repeat).collect::<Vec<_>>(),
        [0, 1, 2, 0, 1, 2]
    );
    assert_eq!(runs[4].label, "depth=2 #1");
    assert!(
        m.plan(&PlanOverrides {
            seed: None,
            repeats: Some(0)
        })
        .is_err()
    );
    let big = m
        .plan(&PlanOverrides {
            seed: None,
            repeats: Some(60_000),
        })
        .unwrap_err();
    assert!(big.problems[0].message.contains("120000 runs"), "{big}");
    assert_eq!(m.plan(&PlanOverrides::default()).unwrap()[1].seed, 5);
}

#[test]
fn run_ids_widen_to_keep_their_order() {
    let m = Manifest::from_str(&patched("{}"), "t.json").unwrap();
    let runs = m
        .plan(&PlanOverrides {
            seed: None,
            repeats: Some(1001),
        })
        .unwrap();
    assert_eq!(
        (runs[0].id.as_str(), runs[1000].id.as_str()),
        ("r0000", "r1000")
    );
    assert_eq!(runs[7].label, "t #7");
}

#[test]
fn config_hash_is_stable_and_sensitive() {
    let runs = plan(&patched(
        r#"{"repeats": 2, "sweep": {"network.depth": [1, 2]}}"#,
    ));
    let again = plan(&patched(
        r#"{"repeats": 2, "sweep": {"network.depth": [1, 2]}}"#,
    ));
    let h = config_hash(&runs[0]);
    assert_eq!(h.len(), 64);
    assert!(h.chars().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(h, config_hash(&again[0]));
    assert_ne!(h, config_hash(&runs[1]), "repeat must change the hash");
    assert_ne!(h, config_hash(&runs[2]), "config must change the hash");
    let mut reseeded = runs[0].clone();
    reseeded.seed += 1;
    assert_ne!(h, config_hash(&reseeded), "seed must change the hash");
    let mut relabelled = runs[0].clone();
    relabelled.label = "other".into();
    assert_eq!(h, config_hash(&relabelled), "labels do not change the hash");
}

#[test]
fn from_file_paths_resolve_against_the_manifest_folder() {
    let dir = temp_dir("resolve");
    write_safetensors(
        &dir.join("w.safetensors"),
        &[("w0", "F32", &[8, 4]), ("b", "F32", &[8])],
    );
    let text = patched(
        r#"{"network": {"depth": 1}, "bias_init": {"scheme": "from_file", "path": "w.safetensors", "tensor": "b"},
            "layers": [{"index": 0, "init": {"scheme": "lsuv",
                        "pre": {"scheme": "from_file", "path": "w.safetensors", "tensor": "w0"}}}]}"#,
    );
    let path = dir.join("exp.json");
    std::fs::write(&path, &text).unwrap();
    let runs = Manifest::from_path(&path)
        .unwrap()
        .plan(&PlanOverrides::default())
        .unwrap();
    let want = dir.join("w.safetensors");
    let file = |i: &Init| i.file_tensor().map(|(p, _)| p.to_path_buf());
    assert_eq!(file(&runs[0].config.bias_init), Some(want.clone()));
    let lsuv = runs[0].config.layers[0].init.as_ref().unwrap();
    assert_eq!(lsuv.name(), "lsuv");
    assert_eq!(file(lsuv), Some(want));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn unreadable_manifest_file_is_a_problem_not_a_panic() {
    let e = Manifest::from_path(&PathBuf::from("/nonexistent/initscope/x.json")).unwrap_err();
    assert!(e.to_string().contains("cannot read the manifest"), "{e}");
}

#[test]
fn a_problem_in_some_runs_only_names_the_first_of_them() {
    let text = patched(
        r#"{"layers": [{"index": 2, "init": {"scheme": "zeros"}}],
            "sweep": {"network.depth": [3, 2], "input.batch": [1, 2]}}"#,
    );
    let e = Manifest::from_str(&text, "t.json").unwrap_err();
    assert_eq!(e.problems.len(), 1, "{e}");
    assert_eq!(e.problems[0].path, "layers[0].index");
    let tail = "has 2 layers (indices 0 to 1) (in run r002 \"depth=2, batch=1\"; also 1 other run)";
    assert!(e.problems[0].message.ends_with(tail), "{e}");
}

#[test]
fn null_unsets_a_field() {
    let text = patched(
        r#"{"variants": [{"label": "W", "network": {"width": null, "depth": null, "widths": [4, 2]}},
                         {"label": "D"}]}"#,
    );
    let runs = plan(&text);
    assert_eq!(runs[0].config.network.layer_widths(), [4, 2]);
    assert_eq!(runs[1].config.network.layer_widths(), [8, 8, 8]);
}
