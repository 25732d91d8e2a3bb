//! Properties of canonical JSON v1.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use plant_core::audit::{EncodeError, canonical_value, to_canonical};
use proptest::prelude::*;
use serde_json::{Map, Value};

/// JSON without floats: what audited payloads are made of.
fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        "\\PC{0,16}".prop_map(Value::String),
        "[\\u{0}-\\u{1f}\"\\\\/é漢😀\\u{2028}]{0,8}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map("\\PC{0,8}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// Writes an object's members in the given order, keys escaped by serde_json.
fn object_text(members: &[(String, Value)]) -> String {
    let parts: Vec<String> = members
        .iter()
        .map(|(k, v)| {
            format!(
                "{} : {}",
                serde_json::to_string(k).expect("key"),
                serde_json::to_string_pretty(v).expect("value")
            )
        })
        .collect();
    format!("{{ {} }}", parts.join(" ,\n "))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn parsing_and_re_encoding_gives_the_same_bytes(value in arb_json()) {
        let text = canonical_value(&value).expect("no floats");
        let parsed: Value = serde_json::from_str(&text).expect("canonical text is JSON");
        prop_assert_eq!(&parsed, &value);
        prop_assert_eq!(canonical_value(&parsed).expect("no floats"), text.clone());
        prop_assert_eq!(to_canonical(&value).expect("no floats"), text);
    }

    #[test]
    fn the_encoding_does_not_depend_on_input_key_order_or_whitespace(
        members in prop::collection::btree_map("\\PC{0,8}", arb_json(), 0..8),
        order in any::<u64>(),
    ) {
        let sorted: Vec<(String, Value)> = members.into_iter().collect();
        let mut shuffled = sorted.clone();
        // A deterministic permutation driven by `order`.
        let mut state = order | 1;
        for i in (1..shuffled.len()).rev() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            shuffled.swap(i, (state % (i as u64 + 1)) as usize);
        }
        let a: Value = serde_json::from_str(&object_text(&sorted)).expect("json");
        let b: Value = serde_json::from_str(&object_text(&shuffled)).expect("json");
        let text = canonical_value(&a).expect("no floats");
        prop_assert_eq!(canonical_value(&b).expect("no floats"), text.clone());
        let keys: Vec<String> = match serde_json::from_str::<Value>(&text).expect("json") {
            Value::Object(map) => map.keys().cloned().collect(),
            _ => unreachable!("an object"),
        };
        prop_assert_eq!(keys.len(), sorted.len());
    }

    #[test]
    fn any_float_is_refused(value in arb_json(), f in any::<f64>().prop_filter("fractional", |f| f.is_finite() && f.fract() != 0.0)) {
        let wrapped = Value::Array(vec![value, serde_json::json!({"x": f})]);
        prop_assert_eq!(
            canonical_value(&wrapped),
            Err(EncodeError::Float { path: "$[1].x".to_owned() })
        );
    }
}
