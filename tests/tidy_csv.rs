//! `layers.csv` round-trips every per-layer statistic of `results.json`:
//! each cell parses back to exactly the JSON value (NaN where JSON has
//! null), and nothing is missing or extra.

mod synth;

use initscope::results::ResultsDoc;
use initscope::results::tidy::layers_csv;
use serde_json::Value;
use std::collections::BTreeMap;

/// Splits CSV text into records (RFC 4180 quoting).
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let (mut rows, mut row, mut cell) = (Vec::new(), Vec::new(), String::new());
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cell.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => row.push(std::mem::take(&mut cell)),
            ('\n', false) => {
                row.push(std::mem::take(&mut cell));
                rows.push(std::mem::take(&mut row));
            }
            _ => cell.push(c),
        }
    }
    rows
}

/// (run id, layer, tensor, stat) → the value in results.json, NaN for null
/// (JSON cannot hold NaN or ±inf).
fn expected(doc: &ResultsDoc) -> BTreeMap<(String, String, String, String), f64> {
    let json = serde_json::to_value(doc).unwrap();
    let mut out = BTreeMap::new();
    for run in json["runs"].as_array().unwrap() {
        let id = run["id"].as_str().unwrap().to_string();
        for layer in run["layers"].as_array().unwrap() {
            let index = layer["index"].to_string();
            for (tensor, stats) in layer.as_object().unwrap() {
                let Some(obj) = stats.as_object().filter(|o| o.contains_key("norm")) else {
                    continue;
                };
                for (stat, v) in obj {
                    if matches!(v, Value::Object(_)) {
                        continue; // the histogram
                    }
                    let key = (id.clone(), index.clone(), tensor.clone(), stat.clone());
                    out.insert(key, v.as_f64().unwrap_or(f64::NAN));
                }
            }
        }
    }
    out
}

fn round_trips(doc: &ResultsDoc) {
    let rows = parse_csv(&layers_csv(doc));
    let header = &rows[0];
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let (id, layer, tensor, stat, value) = (
        col("run_id"),
        col("layer"),
        col("tensor"),
        col("stat"),
        col("value"),
    );
    let mut want = expected(doc);
    for r in &rows[1..] {
        assert_eq!(r.len(), header.len(), "ragged row {r:?}");
        let key = (
            r[id].clone(),
            r[layer].clone(),
            r[tensor].clone(),
            r[stat].clone(),
        );
        let got: f64 = r[value].parse().unwrap();
        let w = want
            .remove(&key)
            .unwrap_or_else(|| panic!("{key:?} is not in results.json"));
        // JSON writes every non-finite value as null (NaN here).
        assert!(
            got.to_bits() == w.to_bits() || (!got.is_finite() && w.is_nan()),
            "{key:?}: csv {got} vs json {w}"
        );
    }
    assert!(
        want.is_empty(),
        "missing from layers.csv: {:?}",
        want.keys().take(5).collect::<Vec<_>>()
    );
}

#[test]
fn every_per_layer_statistic_round_trips() {
    for doc in [
        synth::init_impact(),
        synth::sweep_2d(),
        synth::repeats(),
        synth::pathological(),
    ] {
        round_trips(&doc);
    }
}

#[test]
fn swept_parameters_and_identity_are_columns() {
    let doc = synth::sweep_2d();
    let rows = parse_csv(&layers_csv(&doc));
    let header = &rows[0];
    assert_eq!(
        &header[..5],
        ["run_id", "label", "group", "variant", "repeat"]
    );
    for k in doc.runs[0].params.keys() {
        assert!(header.contains(k), "no column for swept {k}: {header:?}");
    }
    assert_eq!(
        &header[header.len() - 4..],
        ["layer", "tensor", "stat", "value"]
    );
    // A label with a comma survives quoting.
    let mut d = synth::single_run();
    d.runs[0].label = "a, \"quoted\" label".into();
    let rows = parse_csv(&layers_csv(&d));
    assert_eq!(rows[1][1], "a, \"quoted\" label");
}

/// (run id, step, layer, tensor, stat) → the value in results.json's
/// `train.steps[]`, NaN for null.
fn expected_steps(doc: &ResultsDoc) -> BTreeMap<[String; 5], f64> {
    let json = serde_json::to_value(doc).unwrap();
    let mut out = BTreeMap::new();
    for run in json["runs"].as_array().unwrap() {
        let id = run["id"].as_str().unwrap().to_string();
        let Some(steps) = run["train"]["steps"].as_array() else {
            continue;
        };
        for s in steps {
            let step = s["step"].to_string();
            let key = |l: &str, t: &str, st: &str| {
                [id.clone(), step.clone(), l.into(), t.into(), st.into()]
            };
            out.insert(
                key("", "loss", "value"),
                s["loss"].as_f64().unwrap_or(f64::NAN),
            );
            if let Some(lr) = s["lr"].as_f64() {
                out.insert(key("", "lr", "value"), lr);
            }
            expected_blocks(s, &mut |l, t, st, v| {
                out.insert(key(l, t, st), v);
            });
            for l in s["layers"].as_array().into_iter().flatten() {
                let i = l["index"].to_string();
                for (tensor, v) in l.as_object().unwrap() {
                    match v {
                        Value::Object(o) => {
                            for (stat, x) in o {
                                out.insert(key(&i, tensor, stat), x.as_f64().unwrap_or(f64::NAN));
                            }
                        }
                        Value::Number(n) if tensor == "symmetry" => {
                            out.insert(key(&i, tensor, "fraction"), n.as_f64().unwrap());
                        }
                        _ => {}
                    }
                }
            }
        }
    }
    out
}

/// The cells of a step's `blocks[]` (residual stacks): (layer = block,
/// tensor, stat, value), weights' parts as `fc1.update`, attention's
/// numbers under `attention`.
fn expected_blocks(s: &Value, put: &mut dyn FnMut(&str, &str, &str, f64)) {
    for b in s["blocks"].as_array().into_iter().flatten() {
        let i = b["index"].to_string();
        for (name, v) in b.as_object().unwrap() {
            let num = |x: &Value| x.as_f64().unwrap_or(f64::NAN);
            match (name.as_str(), v) {
                ("index", _) => {}
                ("attn_logits_std", x) => put(&i, "attention", "logits_std", num(x)),
                ("attn_entropy", Value::Array(hs)) => {
                    for (h, x) in hs.iter().enumerate() {
                        put(&i, "attention", &format!("entropy_head{h}"), num(x));
                    }
                }
                ("fc1" | "fc2" | "in_proj" | "out_proj", Value::Object(w)) => {
                    for (part, x) in w {
                        let tensor = format!("{name}.{part}");
                        match x {
                            Value::Object(o) => {
                                o.iter().for_each(|(st, y)| put(&i, &tensor, st, num(y)))
                            }
                            y => put(&i, &tensor, "fraction", num(y)),
                        }
                    }
                }
                (_, Value::Object(o)) => o.iter().for_each(|(st, y)| put(&i, name, st, num(y))),
                (other, _) => panic!("unexpected block field {other}"),
            }
        }
    }
}

#[test]
fn every_training_value_round_trips_through_steps_csv() {
    use initscope::results::tidy::steps_csv;
    assert!(
        steps_csv(&synth::init_impact()).is_none(),
        "no training, no steps.csv"
    );
    let docs = [
        synth::train::loss_by_init(),
        synth::train::saxe(),
        synth::train::attention_training(),
    ];
    for doc in docs {
        let rows = parse_csv(&steps_csv(&doc).unwrap());
        let header = &rows[0];
        assert_eq!(
            &header[header.len() - 5..],
            ["step", "layer", "tensor", "stat", "value"]
        );
        let col = |name: &str| header.iter().position(|h| h == name).unwrap();
        let cols = ["run_id", "step", "layer", "tensor", "stat"].map(col);
        let mut want = expected_steps(&doc);
        for r in &rows[1..] {
            assert_eq!(r.len(), header.len(), "ragged row {r:?}");
            let key = cols.map(|c| r[c].clone());
            let got: f64 = r[col("value")].parse().unwrap();
            let w = want
                .remove(&key)
                .unwrap_or_else(|| panic!("{key:?} is not in results.json"));
            assert!(
                got.to_bits() == w.to_bits() || (!got.is_finite() && w.is_nan()),
                "{key:?}: csv {got} vs json {w}"
            );
        }
        assert!(
            want.is_empty(),
            "missing from steps.csv: {:?}",
            want.keys().take(5).collect::<Vec<_>>()
        );
    }
}

#[test]
fn results_with_nan_losses_and_infinite_ratios_read_back() {
    let mut doc = synth::train::saxe();
    let step = &mut doc.runs[0].train.as_mut().unwrap().steps[1];
    step.layers[0].update.ratio = f64::INFINITY;
    doc.runs[0].summary.grad_norm_ratio = f64::INFINITY;
    let text = serde_json::to_string(&doc).unwrap();
    let back: ResultsDoc = serde_json::from_str(&text).expect("null reads back as NaN");
    assert!(
        back.runs[0].train.as_ref().unwrap().steps[1].layers[0]
            .update
            .ratio
            .is_nan()
    );
    assert!(back.runs[0].summary.grad_norm_ratio.is_nan());
    let diverged = back
        .runs
        .iter()
        .flat_map(|r| &r.train.as_ref().unwrap().steps);
    assert!(
        diverged.clone().any(|s| s.loss.is_nan()),
        "the synthetic sweep has a diverged run"
    );
    // Learning time: the first recorded step at or below the threshold.
    let t = back.runs[0].train.as_ref().unwrap();
    assert_eq!(t.steps_to(f64::INFINITY), Some(0));
    assert_eq!(t.steps_to(-1.0), None);
}
