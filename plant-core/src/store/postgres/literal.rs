//! SQL literals for the one statement sent as text: the batch's append, sent in the same message
//! as its `COMMIT` (see `group::Appended::statement`).
//!
//! Everywhere else values travel as bind parameters. The append cannot: the extended protocol
//! answers a statement before the client may send the next, and sqlx does not pipeline, so a
//! bound append costs one more round trip while the chain's head is held. Neither sqlx nor
//! another maintained crate writes PostgreSQL literals, hence these few functions.
//!
//! Text is written as an escape string, `E'…'`, with every backslash and quote doubled, so it
//! reads the same whatever `standard_conforming_strings` says; bytes as `decode('<hex>', 'hex')`.
//! PostgreSQL text cannot hold NUL, and a NUL would end the protocol message early: text with
//! one is refused before anything is sent.

use std::fmt::Write as _;

use crate::error::Cause;
use crate::store::StoreError;

/// Appends `value` as an escape-string literal.
pub(super) fn text(out: &mut String, value: &str) -> Result<(), StoreError> {
    if value.contains('\0') {
        return Err(StoreError::InvalidChange(Cause::from(
            "text holds a NUL character, which PostgreSQL text cannot store",
        )));
    }
    out.reserve(value.len() + 3);
    out.push_str("E'");
    let mut rest = value;
    while let Some(at) = rest.find(['\'', '\\']) {
        out.push_str(&rest[..at]);
        // Both are ASCII: doubled, each reads as itself inside E'…'.
        let special = &rest[at..=at];
        out.push_str(special);
        out.push_str(special);
        rest = &rest[at + 1..];
    }
    out.push_str(rest);
    out.push('\'');
    Ok(())
}

/// Appends `value` as a `bytea` expression.
pub(super) fn bytes(out: &mut String, value: &[u8]) {
    out.reserve(value.len() * 2 + 20);
    out.push_str("decode('");
    for byte in value {
        // Writing to a String cannot fail.
        let _ = write!(out, "{byte:02x}");
    }
    out.push_str("', 'hex')");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lit(value: &str) -> String {
        let mut out = String::new();
        text(&mut out, value).unwrap();
        out
    }

    #[test]
    fn quotes_and_backslashes_are_doubled_and_nothing_else_changes() {
        assert_eq!(lit(""), "E''");
        assert_eq!(lit("plain"), "E'plain'");
        assert_eq!(lit("it's"), "E'it''s'");
        assert_eq!(lit(r#"{"a":"\"x\\"}"#), r#"E'{"a":"\\"x\\\\"}'"#);
        assert_eq!(
            lit("'); drop table audit_log; --"),
            "E'''); drop table audit_log; --'"
        );
        assert_eq!(lit("naïve — ü"), "E'naïve — ü'");
    }

    #[test]
    fn nul_is_refused() {
        let mut out = String::new();
        assert!(matches!(
            text(&mut out, "a\0b"),
            Err(StoreError::InvalidChange(_))
        ));
        assert!(out.is_empty());
    }

    #[test]
    fn bytes_are_hex() {
        let mut out = String::new();
        bytes(&mut out, &[0x00, 0xab, 0xff]);
        assert_eq!(out, "decode('00abff', 'hex')");
    }
}
