//! Newtypes for values that are parsed once at the edge: names, descriptions, e-mail addresses,
//! phone numbers. Inside the crate an invalid one cannot be represented.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

/// The longest name the catalog accepts, in characters.
pub const MAX_NAME_CHARS: usize = 255;
/// The longest description the catalog accepts, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 4000;

/// Why a text was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    /// Empty, or only white space.
    #[error("must not be blank")]
    Blank,
    /// Longer than the limit.
    #[error("must be at most {max} characters (got {got})")]
    TooLong {
        /// The limit.
        max: usize,
        /// The length seen.
        got: usize,
    },
    /// Contains a control character (NUL, escape, …) other than a line break or tab.
    #[error("must not contain control characters")]
    Control,
    /// Not of the expected form.
    #[error("{0}")]
    Form(&'static str),
}

fn has_control(s: &str) -> bool {
    s.chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t' && c != '\r')
}

/// A display name: trimmed, non-blank, at most 255 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Name(String);

impl Name {
    /// Trims and checks a name.
    ///
    /// ```
    /// use plant_core::model::Name;
    /// assert_eq!(Name::parse("  Ava Flux ").unwrap().as_str(), "Ava Flux");
    /// assert!(Name::parse("   ").is_err());
    /// ```
    pub fn parse(raw: &str) -> Result<Self, TextError> {
        let t = raw.trim();
        if t.is_empty() {
            return Err(TextError::Blank);
        }
        if has_control(t) {
            return Err(TextError::Control);
        }
        let got = t.chars().count();
        if got > MAX_NAME_CHARS {
            return Err(TextError::TooLong {
                max: MAX_NAME_CHARS,
                got,
            });
        }
        Ok(Self(t.to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The key names are unique by (case-insensitive).
    pub fn key(&self) -> String {
        self.0.to_lowercase()
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Name {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Name::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// A free-text description: trimmed, at most 4000 characters, no control characters other than
/// line breaks and tabs. It may be empty; the rules that need one say so.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
#[serde(transparent)]
pub struct Description(String);

impl Description {
    /// Trims and checks a description.
    pub fn parse(raw: &str) -> Result<Self, TextError> {
        let t = raw.trim();
        if has_control(t) {
            return Err(TextError::Control);
        }
        let got = t.chars().count();
        if got > MAX_DESCRIPTION_CHARS {
            return Err(TextError::TooLong {
                max: MAX_DESCRIPTION_CHARS,
                got,
            });
        }
        Ok(Self(t.to_owned()))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// True when empty.
    pub fn is_blank(&self) -> bool {
        self.0.is_empty()
    }
}

impl<'de> Deserialize<'de> for Description {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Description::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// An e-mail address, lowercased: one `@`, a non-empty local part, a domain with a dot.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Email(String);

impl Email {
    /// Checks the address's form (not its deliverability).
    ///
    /// ```
    /// use plant_core::model::Email;
    /// assert_eq!(Email::parse(" Ana@Example.COM ").unwrap().as_str(), "ana@example.com");
    /// assert!(Email::parse("ana@localhost").is_err());
    /// ```
    pub fn parse(raw: &str) -> Result<Self, TextError> {
        let t = raw.trim().to_lowercase();
        if t.is_empty() {
            return Err(TextError::Blank);
        }
        if t.chars().count() > 254 {
            return Err(TextError::TooLong {
                max: 254,
                got: t.chars().count(),
            });
        }
        let bad = TextError::Form("must be an e-mail address like name@example.com");
        let (local, domain) = t.split_once('@').ok_or(bad.clone())?;
        let ok_chars = |s: &str| {
            !s.chars()
                .any(|c| c.is_whitespace() || c.is_control() || c == '@')
        };
        if local.is_empty()
            || !ok_chars(local)
            || !ok_chars(domain)
            || !domain.contains('.')
            || domain.starts_with('.')
            || domain.ends_with('.')
            || domain.contains("..")
        {
            return Err(bad);
        }
        Ok(Self(t))
    }

    /// The address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for Email {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Email::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// A phone number as people write it: digits with optional `+`, spaces, dots, dashes and
/// parentheses; 7 to 15 digits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Phone(String);

impl Phone {
    /// Checks the number's form.
    pub fn parse(raw: &str) -> Result<Self, TextError> {
        let t = raw.trim();
        if t.is_empty() {
            return Err(TextError::Blank);
        }
        let bad = TextError::Form("must be a phone number of 7 to 15 digits");
        if !t
            .chars()
            .all(|c| c.is_ascii_digit() || " +-.()".contains(c))
        {
            return Err(bad);
        }
        if t.chars().skip(1).any(|c| c == '+') {
            return Err(bad);
        }
        let digits = t.chars().filter(char::is_ascii_digit).count();
        if !(7..=15).contains(&digits) {
            return Err(bad);
        }
        Ok(Self(t.to_owned()))
    }

    /// The number as given (trimmed).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for Phone {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Phone::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(Name::parse("\tSEO \n").map(|n| n.0), Ok("SEO".into()));
        assert_eq!(Name::parse(""), Err(TextError::Blank));
        assert_eq!(Name::parse("a\u{0}b"), Err(TextError::Control));
        let long = "é".repeat(256);
        assert_eq!(
            Name::parse(&long),
            Err(TextError::TooLong { max: 255, got: 256 })
        );
        assert!(Name::parse(&"é".repeat(255)).is_ok());
    }

    #[test]
    fn emails_and_phones() {
        assert!(Email::parse("a@b.co").is_ok());
        for bad in [
            "", "a", "@b.co", "a@b", "a@.b.co", "a b@c.de", "a@b..co", "a@b@c.de",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
        assert!(Phone::parse("+1 (555) 010-2000").is_ok());
        for bad in [
            "",
            "12345",
            "+1 555 CALL NOW",
            "1+5550102000",
            "1234567890123456",
        ] {
            assert!(Phone::parse(bad).is_err(), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn name_parse_is_total_and_idempotent(s in "\\PC{0,300}") {
            if let Ok(n) = Name::parse(&s) {
                prop_assert_eq!(Name::parse(n.as_str()), Ok(n.clone()));
                prop_assert!(n.as_str().chars().count() <= MAX_NAME_CHARS);
            }
        }

        #[test]
        fn name_json_round_trips(s in "[a-zA-Z0-9 éüß漢]{1,40}") {
            if let Ok(n) = Name::parse(&s) {
                let json = serde_json::to_string(&n).unwrap();
                prop_assert_eq!(serde_json::from_str::<Name>(&json).unwrap(), n);
            }
        }
    }
}
