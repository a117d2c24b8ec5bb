//! The table format on small tables of its own: messages, defaults,
//! unions, cross-field checks and the JSON Schema.

use super::*;
use serde_json::json;

static SMALL: IntTy = IntTy {
    min: 1,
    max: 10,
    msg: IntMsg::Size("a width"),
};
static UNIT: NumTy = NumTy {
    min: Some(Bound {
        value: 0.0,
        inclusive: true,
    }),
    max: Some(Bound {
        value: 1.0,
        inclusive: false,
    }),
    why: "a fraction",
};
static SHAPE: Union = Union {
    what: "shape",
    tag: "kind",
    short: true,
    cases: || SHAPES.iter().collect(),
    expect: "a shape such as \"dot\"",
    plural: "shapes",
};
static SHAPES: [Case; 2] = [
    Case::new("dot", &[], "a point"),
    Case {
        check: Some(|c, v| {
            if v.num("lo")
                .zip(v.num("hi"))
                .is_some_and(|(lo, hi)| lo >= hi)
            {
                c.push(&v.at("hi"), "needs lo < hi");
            }
        }),
        ..Case::new(
            "bar",
            &[
                Field::new(
                    "lo",
                    Ty::Num(&UNIT),
                    Presence::Default(Lit::Num(0.0)),
                    "low end",
                ),
                Field::new(
                    "hi",
                    Ty::Num(&UNIT),
                    Presence::Required("give hi"),
                    "high end",
                ),
            ],
            "a bar",
        )
    },
];
static THING: Obj = Obj {
    what: "a thing",
    fields: &[
        Field::new(
            "width",
            Ty::Int(&SMALL),
            Presence::Required("e.g. 3"),
            "how wide",
        ),
        Field::new(
            "on",
            Ty::Bool,
            Presence::Default(Lit::Bool(true)),
            "whether on",
        ),
        Field::new(
            "shape",
            Ty::Union(&SHAPE, None),
            Presence::Default(Lit::Str("dot")),
            "its shape",
        ),
    ],
    check: None,
};
const TY: Ty = Ty::Obj(&THING);

fn problems(v: serde_json::Value) -> Vec<String> {
    let mut c = Checker::default();
    check(&mut c, &TY, &v, &JPath::root());
    c.problems
        .into_iter()
        .map(|(p, m)| format!("{p}: {m}"))
        .collect()
}

#[test]
fn every_problem_has_its_path_and_says_what_was_expected() {
    let found = problems(
        json!({"widht": 3, "on": 1, "shape": {"kind": "bar", "hi": 2, "lo": 0.5, "mid": 0}}),
    );
    let want = [
        "widht: unknown field \"widht\" in a thing (did you mean \"width\"?); known fields: width, on, shape",
        "width: missing required field \"width\"; e.g. 3",
        "on: expected true or false, got 1",
        "shape.mid: unknown field \"mid\" (did you mean \"hi\"?); shape \"bar\" takes lo, hi",
        "shape.hi: must be in [0, 1) (a fraction), got 2",
    ];
    assert_eq!(found, want);
    assert_eq!(
        problems(json!({"width": 0})),
        ["width: 0 is not a width; give a positive integer"]
    );
    assert_eq!(
        problems(json!({"width": 3, "shape": "bra"})),
        ["shape: unknown shape \"bra\" (did you mean \"bar\"?); expected one of dot, bar"]
    );
    assert_eq!(
        problems(json!({"width": 3, "shape": {"kind": "bar", "lo": 0.5, "hi": 0.2}})),
        ["shape.hi: needs lo < hi"]
    );
    assert_eq!(
        problems(json!({"width": 3, "shape": {"kind": "dot", "lo": 0.5}})),
        [
            "shape.lo: shape \"dot\" has no parameter \"lo\"; it takes no parameters (\"lo\" belongs to bar)"
        ]
    );
}

#[test]
fn normalize_fills_defaults_in_table_order_and_writes_short_forms_out() {
    let v = parse(
        &TY,
        json!({"shape": {"hi": 0.5, "kind": "bar"}, "width": 2}),
    )
    .unwrap();
    assert_eq!(
        serde_json::to_string(&v).unwrap(),
        r#"{"width":2,"on":true,"shape":{"kind":"bar","lo":0.0,"hi":0.5}}"#
    );
    let v = parse(&TY, json!({"width": 2})).unwrap();
    assert_eq!(v["shape"], json!({"kind": "dot"}));
    assert_eq!(
        parse(&TY, json!({"width": 11})).unwrap_err(),
        "width: 11 is too large for a width; at most 10 is accepted"
    );
}

#[test]
fn the_json_schema_follows_the_table() {
    let mut w = json_schema::Writer::default();
    let s = w.ty(&TY, false);
    assert_eq!(s["required"], json!(["width"]));
    assert_eq!(s["properties"]["on"]["default"], json!(true));
    assert_eq!(s["properties"]["shape"]["$ref"], "#/$defs/shape");
    let bar = &w.defs["shape_bar"];
    assert_eq!(bar["properties"]["hi"]["exclusiveMaximum"], json!(1.0));
    assert_eq!(bar["required"], json!(["kind", "hi"]));
    assert_eq!(w.defs["shape"]["oneOf"][0]["enum"], json!(["dot", "bar"]));
}
