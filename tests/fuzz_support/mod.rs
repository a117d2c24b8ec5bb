//! Shared pieces of the fuzz tests: a JSON mutator (deleted keys, wrong
//! types, extreme numbers, huge lists, deep nesting, odd strings, renamed
//! keys, cut or spliced text) as proptest strategies, and the run
//! configuration (`INITSCOPE_FUZZ_CASES`, `INITSCOPE_FUZZ_SEED`).
#![allow(dead_code)]

use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, RngSeed, TestRunner};
use serde_json::{Value, json};

/// A runner for `default_cases` cases (`INITSCOPE_FUZZ_CASES` overrides it;
/// a million is `INITSCOPE_FUZZ_CASES=1000000`), with a fixed seed so a CI
/// failure replays (`INITSCOPE_FUZZ_SEED=N`, or `random`). No regression
/// files are written into the repository.
pub fn runner(default_cases: u32) -> TestRunner {
    let cases = std::env::var("INITSCOPE_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default_cases);
    let seed = match std::env::var("INITSCOPE_FUZZ_SEED").as_deref() {
        Ok("random") => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64),
        Ok(v) => v.parse().unwrap_or(1),
        Err(_) => 1,
    };
    eprintln!("fuzz: {cases} cases, INITSCOPE_FUZZ_SEED={seed}");
    TestRunner::new(Config {
        cases,
        rng_seed: RngSeed::Fixed(seed),
        failure_persistence: None,
        // Shrinking a counterexample of a fuzz case is rarely worth minutes.
        max_shrink_iters: 256,
        ..Config::default()
    })
}

/// One change to a JSON document, at the node (pre-order) `at` picks.
#[derive(Debug, Clone)]
pub enum Mutation {
    Delete(Index),
    Replace(Index, Value),
    RenameKey(Index, String),
    /// The node repeated n times in a list.
    HugeList(Index, usize),
    /// The node wrapped in n levels of lists or objects.
    Nest(Index, usize, bool),
    /// The serialized text cut at a point.
    Cut(Index),
    /// A character spliced into the serialized text.
    Splice(Index, char),
}

/// Odd values: wrong types, extreme and special numbers, odd strings.
pub fn odd_value() -> impl Strategy<Value = Value> {
    let numbers = vec![
        0.0,
        -0.0,
        -1.0,
        0.5,
        1e-320,
        1e-30,
        1e9,
        4294967296.0,
        1.8e19,
        1e308,
        -1e308,
    ];
    let strings = vec![
        "",
        "\0",
        " ",
        "../../etc/passwd",
        "/dev/zero",
        "xavier_uniform",
        "relu",
        "from_file",
        "NaN",
        "-inf",
        "1e999",
        "ℵ₀ 🙂 \u{202e}txt",
        "a\"b\\c",
        "*",
        "1/sqrt(2L)",
        "layers.0.weight",
    ];
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        prop::sample::select(numbers).prop_map(|x| json!(x)),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (0u64..70).prop_map(Value::from),
        prop::sample::select(strings).prop_map(Value::from),
        "\\PC{0,24}".prop_map(Value::from),
        Just(json!([])),
        Just(json!({})),
        Just(json!([1, "a", null, {}])),
        Just(json!({"scheme": "normal", "std": -1})),
    ]
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "",
            "Width",
            "widht",
            "scheme",
            "__proto__",
            "index",
            "label",
            "💥",
        ])
        .prop_map(str::to_string),
        "[a-z_]{1,12}",
    ]
}

/// One mutation.
pub fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        3 => any::<Index>().prop_map(Mutation::Delete),
        5 => (any::<Index>(), odd_value()).prop_map(|(i, v)| Mutation::Replace(i, v)),
        2 => (any::<Index>(), key()).prop_map(|(i, k)| Mutation::RenameKey(i, k)),
        1 => (any::<Index>(), 2usize..120).prop_map(|(i, n)| Mutation::HugeList(i, n)),
        1 => (any::<Index>(), 1usize..140, any::<bool>()).prop_map(|(i, n, l)| Mutation::Nest(i, n, l)),
        1 => any::<Index>().prop_map(Mutation::Cut),
        1 => (any::<Index>(), any::<char>()).prop_map(|(i, c)| Mutation::Splice(i, c)),
    ]
}

/// Up to `n` mutations.
pub fn mutations(n: usize) -> impl Strategy<Value = Vec<Mutation>> {
    prop::collection::vec(mutation(), 1..=n)
}

/// Path steps to a node: object key or array index.
#[derive(Debug, Clone)]
enum Step {
    Key(String),
    Item(usize),
}

fn paths(v: &Value, here: &mut Vec<Step>, out: &mut Vec<Vec<Step>>) {
    out.push(here.clone());
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                here.push(Step::Key(k.clone()));
                paths(x, here, out);
                here.pop();
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                here.push(Step::Item(i));
                paths(x, here, out);
                here.pop();
            }
        }
        _ => {}
    }
}

fn node<'v>(v: &'v mut Value, path: &[Step]) -> &'v mut Value {
    path.iter().fold(v, |v, s| match s {
        Step::Key(k) => &mut v[k.as_str()],
        Step::Item(i) => &mut v[*i],
    })
}

/// Applies `ms` to `doc` and returns the text to feed the reader.
pub fn apply(doc: &Value, ms: &[Mutation]) -> String {
    let mut v = doc.clone();
    let mut text_edits = Vec::new();
    for m in ms {
        let mut all = Vec::new();
        paths(&v, &mut Vec::new(), &mut all);
        let pick = |i: &Index| all[i.index(all.len())].clone();
        match m {
            Mutation::Delete(i) | Mutation::RenameKey(i, _) => {
                let p = pick(i);
                if let Some((Step::Key(k), parent)) = p.split_last() {
                    let parent = node(&mut v, parent);
                    if let Some(obj) = parent.as_object_mut() {
                        let old = obj.remove(k);
                        if let (Mutation::RenameKey(_, new), Some(old)) = (m, old) {
                            obj.insert(new.clone(), old);
                        }
                    }
                } else if let Some((Step::Item(k), parent)) = p.split_last()
                    && let Some(a) = node(&mut v, parent).as_array_mut()
                {
                    a.remove(*k);
                }
            }
            Mutation::Replace(i, x) => *node(&mut v, &pick(i)) = x.clone(),
            Mutation::HugeList(i, n) => {
                let slot = node(&mut v, &pick(i));
                *slot = Value::Array(vec![slot.clone(); *n]);
            }
            Mutation::Nest(i, n, list) => {
                let slot = node(&mut v, &pick(i));
                let mut x = slot.take();
                for _ in 0..*n {
                    x = if *list { json!([x]) } else { json!({ "x": x }) };
                }
                *slot = x;
            }
            Mutation::Cut(_) | Mutation::Splice(..) => text_edits.push(m.clone()),
        }
    }
    let mut text = serde_json::to_string_pretty(&v).unwrap_or_default();
    for m in text_edits {
        let at = |i: &Index, t: &str| {
            let mut k = i.index(t.len() + 1);
            while !t.is_char_boundary(k) {
                k -= 1;
            }
            k
        };
        match m {
            Mutation::Cut(i) => text.truncate(at(&i, &text)),
            Mutation::Splice(i, c) => {
                let k = at(&i, &text);
                text.insert(k, c);
            }
            _ => {}
        }
    }
    text
}

/// Runs `f`, turning a panic into an error that names the input.
pub fn no_panic<T>(what: &str, input: &str, f: impl FnOnce() -> T) -> Result<T, TestCaseError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|p| {
        let msg = p
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        let shown: String = input.chars().take(2000).collect();
        TestCaseError::fail(format!("{what} panicked: {msg}\ninput:\n{shown}"))
    })
}
