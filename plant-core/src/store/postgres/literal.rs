//! SQL literals for the one statement sent as text: the batch's append, sent in the same message
//! as its `COMMIT` (see `group::Appended::statement`).
//!
//! Everywhere else values travel as bind parameters. The append cannot: the extended protocol
//! answers a statement before the client may send the next, and sqlx does not pipeline, so a
//! bound append costs one more round trip while the chain's head is held. Neither sqlx nor
//! another maintained crate writes PostgreSQL literals, hence these few functions.
//!
//! Text is written as an escape string, `E'…'`, with every backslash and quote doubled, so it
//! reads the same whatever `standard_conforming_strings` says; bytes as `decode('<hex>', 'hex')`;
//! instants in UTC to the microsecond, years before 1 as PostgreSQL's `BC` years.
//! PostgreSQL text cannot hold NUL, and a NUL would end the protocol message early: text with
//! one is refused before anything is sent.

use std::fmt::Write as _;

use chrono::{DateTime, Datelike, Timelike, Utc};

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

/// Appends `at` as a `timestamptz` literal, to the microsecond. ISO year 0 is 1 BC, as
/// PostgreSQL counts (it has no year 0).
pub(super) fn timestamp(out: &mut String, at: DateTime<Utc>) {
    let (year, era) = match at.year() {
        y if y >= 1 => (y, ""),
        y => (1 - y, " BC"),
    };
    // chrono marks a leap second with nanoseconds past 10^9; PostgreSQL has none.
    let micros = at.nanosecond() % 1_000_000_000 / 1_000;
    let _ = write!(
        out,
        "'{year:04}-{:02}-{:02} {:02}:{:02}:{:02}.{micros:06}+00{era}'::timestamptz",
        at.month(),
        at.day(),
        at.hour(),
        at.minute(),
        at.second(),
    );
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
    fn instants_are_utc_to_the_microsecond_and_early_years_bc() {
        let at = |s: &str| {
            let mut out = String::new();
            timestamp(&mut out, s.parse::<DateTime<Utc>>().unwrap());
            out
        };
        assert_eq!(
            at("2026-12-06T16:14:06.315280Z"),
            "'2026-12-06 16:14:06.315280+00'::timestamptz"
        );
        assert_eq!(
            at("2026-12-06T17:14:06.000007+01:00"),
            "'2026-12-06 16:14:06.000007+00'::timestamptz"
        );
        assert_eq!(
            at("0000-03-01T00:00:00Z"),
            "'0001-03-01 00:00:00.000000+00 BC'::timestamptz"
        );
        assert_eq!(
            at("0001-01-01T00:00:00Z"),
            "'0001-01-01 00:00:00.000000+00'::timestamptz"
        );
    }

    #[test]
    fn bytes_are_hex() {
        let mut out = String::new();
        bytes(&mut out, &[0x00, 0xab, 0xff]);
        assert_eq!(out, "decode('00abff', 'hex')");
    }
}
