//! Canonical JSON, encoding v1: the exact bytes an audit entry's payload hashes over.
//!
//! Rules:
//! - UTF-8 JSON with no insignificant whitespace;
//! - object keys sorted by their UTF-8 bytes (the encoder sorts them itself, so the result does
//!   not depend on whether serde_json's `preserve_order` feature is enabled anywhere in the build);
//! - numbers must be integers that fit `i64` or `u64`; any other number (a fraction, an exponent,
//!   `-0`, or an integer too large for 64 bits) is refused with [`EncodeError::Float`], because
//!   floating-point text has more than one spelling;
//! - strings are escaped exactly as serde_json escapes them (`"`, `\`, and control characters;
//!   everything else, including non-ASCII text, is written as UTF-8).
//!
//! Parsing a canonical text and encoding it again gives the same bytes. Any change to these rules
//! is a new encoding version: golden vectors in `tests/data/golden/` pin v1.

use std::fmt::Write as _;

use serde::Serialize;
use serde_json::Value;

/// Why a value has no canonical encoding.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// A number that is not an integer fitting 64 bits, at this JSON path (`$.a.b[2]`).
    #[error("non-integer number at {path}: audited payloads carry no floats")]
    Float {
        /// Where the number is, as a JSON path from the root `$`.
        path: String,
    },
    /// The value could not be turned into JSON at all.
    #[error("value cannot be serialized as JSON: {0}")]
    Serialize(String),
}

/// Encodes any serializable value as canonical JSON v1.
///
/// ```
/// use plant_core::audit::canonical::to_canonical;
/// use serde_json::json;
///
/// let text = to_canonical(&json!({"name": "Zoë", "id": 7, "tags": ["b", "a"]})).unwrap();
/// assert_eq!(text, r#"{"id":7,"name":"Zoë","tags":["b","a"]}"#);
/// assert!(to_canonical(&json!({"price": 1.5})).is_err());
/// ```
pub fn to_canonical<T: Serialize + ?Sized>(value: &T) -> Result<String, EncodeError> {
    let value = serde_json::to_value(value).map_err(|e| EncodeError::Serialize(e.to_string()))?;
    canonical_value(&value)
}

/// Encodes a JSON value as canonical JSON v1.
pub fn canonical_value(value: &Value) -> Result<String, EncodeError> {
    let mut out = String::new();
    let mut path = String::from("$");
    write_value(&mut out, &mut path, value)?;
    Ok(out)
}

fn write_value(out: &mut String, path: &mut String, value: &Value) -> Result<(), EncodeError> {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                let _ = write!(out, "{i}");
            } else if let Some(u) = n.as_u64() {
                let _ = write!(out, "{u}");
            } else {
                return Err(EncodeError::Float { path: path.clone() });
            }
        }
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                let len = path.len();
                let _ = write!(path, "[{i}]");
                write_value(out, path, item)?;
                path.truncate(len);
            }
            out.push(']');
        }
        Value::Object(map) => {
            // Sort here rather than trust the map's order: with `preserve_order` the map keeps
            // insertion order. `str` ordering is byte ordering.
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push('{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(out, key);
                out.push(':');
                let len = path.len();
                push_key(path, key);
                write_value(out, path, item)?;
                path.truncate(len);
            }
            out.push('}');
        }
    }
    Ok(())
}

fn write_string(out: &mut String, s: &str) {
    // serde_json's string escaping is the definition of v1's; serializing a &str cannot fail.
    match serde_json::to_string(s) {
        Ok(escaped) => out.push_str(&escaped),
        Err(_) => escape_fallback(out, s),
    }
}

// Serializing a `&str` to a `String` has no failure path in serde_json; this keeps the encoder
// total without a panic should that ever change.
fn escape_fallback(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn push_key(path: &mut String, key: &str) {
    let simple = !key.is_empty()
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !key.starts_with(|c: char| c.is_ascii_digit());
    if simple {
        path.push('.');
        path.push_str(key);
    } else {
        path.push('[');
        write_string(path, key);
        path.push(']');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_are_sorted_by_bytes_at_every_depth_and_whitespace_is_dropped() {
        let value: Value = serde_json::from_str(
            r#"{ "b": {"z": 1, "a": [ {"y": null, "x": true} ]}, "a": "", "B": false }"#,
        )
        .expect("parses");
        assert_eq!(
            canonical_value(&value).expect("encodes"),
            r#"{"B":false,"a":"","b":{"a":[{"x":true,"y":null}],"z":1}}"#
        );
    }

    #[test]
    fn byte_order_puts_uppercase_before_lowercase_and_ascii_before_non_ascii() {
        let value = json!({"é": 1, "z": 2, "Z": 3, "_": 4});
        assert_eq!(
            canonical_value(&value).expect("encodes"),
            r#"{"Z":3,"_":4,"z":2,"é":1}"#
        );
    }

    #[test]
    fn floats_are_refused_with_their_path() {
        let value = json!({"a": [1, {"b c": 2.5}]});
        assert_eq!(
            canonical_value(&value),
            Err(EncodeError::Float {
                path: r#"$.a[1]["b c"]"#.to_owned()
            })
        );
        let parsed: Value = serde_json::from_str(r#"{"n": 1e3}"#).expect("parses");
        assert!(matches!(
            canonical_value(&parsed),
            Err(EncodeError::Float { .. })
        ));
    }

    #[test]
    fn extreme_integers_are_kept_exactly() {
        let value = json!([i64::MIN, u64::MAX, 0, -1]);
        assert_eq!(
            canonical_value(&value).expect("encodes"),
            format!("[{},{},0,-1]", i64::MIN, u64::MAX)
        );
    }

    #[test]
    fn strings_are_escaped_as_serde_json_escapes_them() {
        let value = json!("quote \" back \\ nl \n tab \t bell \u{7} ü 😀 \u{2028}");
        assert_eq!(
            canonical_value(&value).expect("encodes"),
            serde_json::to_string(&value).expect("serializes")
        );
        let mut fallback = String::new();
        escape_fallback(
            &mut fallback,
            "quote \" back \\ nl \n tab \t bell \u{7} ü 😀 \u{2028}",
        );
        assert_eq!(fallback, serde_json::to_string(&value).expect("serializes"));
    }

    #[test]
    fn maps_that_cannot_be_json_are_a_serialize_error() {
        let mut map = std::collections::BTreeMap::new();
        map.insert(vec![1u8], 1);
        assert!(matches!(to_canonical(&map), Err(EncodeError::Serialize(_))));
    }
}
