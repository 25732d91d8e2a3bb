//! JSON written by hand where a response is mostly long strings: the audit export carries each
//! entry's canonical payload as a JSON string, so nearly every byte of its body goes through
//! string escaping.
//!
//! [`escape_into`] produces exactly what `serde_json` produces for a `&str` (property-tested
//! against it), skipping eight bytes at a time while none of them needs escaping.

/// Appends `s` as a JSON string literal (quotes included), escaped as `serde_json` escapes it:
/// `\"`, `\\`, `\b`, `\f`, `\n`, `\r`, `\t`, other control characters as `\u00xx`; everything
/// else, `/` and non-ASCII included, as it is.
///
/// ```
/// let mut out = Vec::new();
/// plant_core::json::escape_into(&mut out, "a \"b\"\n");
/// assert_eq!(out, br#""a \"b\"\n""#);
/// ```
pub fn escape_into(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    out.reserve(bytes.len() + bytes.len() / 8 + 2);
    out.push(b'"');
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        if let Some(chunk) = bytes.get(i..i + 8)
            && let Ok(word) = <[u8; 8]>::try_from(chunk)
        {
            match escape_mask(u64::from_le_bytes(word)) {
                0 => {
                    i += 8;
                    continue;
                }
                // The lowest flagged byte is exactly the first that needs escaping.
                mask => i += (mask.trailing_zeros() / 8) as usize,
            }
        }
        let b = bytes[i];
        if let Some(escape) = escape_of(b) {
            out.extend_from_slice(&bytes[start..i]);
            match escape {
                Escape::Short(c) => out.extend_from_slice(&[b'\\', c]),
                Escape::Unicode => {
                    const HEX: &[u8; 16] = b"0123456789abcdef";
                    out.extend_from_slice(b"\\u00");
                    out.extend_from_slice(&[HEX[usize::from(b >> 4)], HEX[usize::from(b & 0xf)]]);
                }
            }
            start = i + 1;
        }
        i += 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

enum Escape {
    Short(u8),
    Unicode,
}

fn escape_of(b: u8) -> Option<Escape> {
    Some(match b {
        b'"' => Escape::Short(b'"'),
        b'\\' => Escape::Short(b'\\'),
        0x08 => Escape::Short(b'b'),
        0x0c => Escape::Short(b'f'),
        b'\n' => Escape::Short(b'n'),
        b'\r' => Escape::Short(b'r'),
        b'\t' => Escape::Short(b't'),
        0x00..=0x1f => Escape::Unicode,
        _ => return None,
    })
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// The high bit of each byte (little-endian order) of `word` that is `"`, `\` or below 0x20,
/// by the classic "has a zero byte" / "has a byte less than n" tests. Zero exactly when no byte
/// needs escaping, and the lowest set bit always marks a byte that does (a borrow can only flag
/// bytes above a true match, never below it).
fn escape_mask(word: u64) -> u64 {
    let zero_bytes = |v: u64| v.wrapping_sub(ONES) & !v & HIGHS;
    let below_space = word.wrapping_sub(ONES * 0x20) & !word & HIGHS;
    below_space
        | zero_bytes(word ^ (ONES * u64::from(b'"')))
        | zero_bytes(word ^ (ONES * u64::from(b'\\')))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ours(s: &str) -> String {
        let mut out = Vec::new();
        escape_into(&mut out, s);
        String::from_utf8(out).expect("escaping keeps UTF-8")
    }

    #[test]
    fn every_byte_that_needs_escaping_is_found_in_every_position_of_a_word() {
        for b in 0u8..=0x7f {
            for at in 0..8 {
                let mut word = [b'a'; 8];
                word[at] = b;
                let expected = b < 0x20 || b == b'"' || b == b'\\';
                let mask = escape_mask(u64::from_le_bytes(word));
                assert_eq!(mask != 0, expected, "{b:#x} at {at}");
                if expected {
                    assert_eq!(mask.trailing_zeros() / 8, at as u32, "{b:#x} at {at}");
                }
            }
        }
        // The first of several is the one found, whatever follows it.
        assert_eq!(
            escape_mask(u64::from_le_bytes(*b"ab\"\x01\\\"\n\"")).trailing_zeros() / 8,
            2
        );
        // Bytes of multi-byte UTF-8 characters never need escaping.
        assert_eq!(
            escape_mask(u64::from_le_bytes(*b"\xc3\xbc\xf0\x9f\x98\x80\xe2\x80")),
            0
        );
    }

    #[test]
    fn matches_serde_json_on_a_canonical_payload() {
        let payload = r#"{"a":"x\"y","b":[1,2],"c":"tab\tnl\n","d":"ü😀"}"#;
        assert_eq!(
            ours(payload),
            serde_json::to_string(payload).expect("serializes")
        );
    }

    proptest! {
        #[test]
        fn equals_serde_json_for_any_string(s in any::<String>()) {
            prop_assert_eq!(ours(&s), serde_json::to_string(&s).expect("serializes"));
        }

        #[test]
        fn equals_serde_json_for_json_like_text(
            s in proptest::string::string_regex("[a-z\"\\\\{}:,\\[\\] \\x00-\\x1f\\x7fü😀]{0,80}").expect("regex")
        ) {
            prop_assert_eq!(ours(&s), serde_json::to_string(&s).expect("serializes"));
        }
    }
}
