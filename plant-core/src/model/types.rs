//! Newtypes for values that are parsed once at the edge: names, descriptions, e-mail addresses,
//! phone numbers. Inside the crate an invalid one cannot be represented.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};
use unicode_normalization::UnicodeNormalization;

use super::Kind;

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
    /// Contains a character that is invisible or changes the text's direction (a zero-width
    /// space, a soft hyphen, a right-to-left override, …): such a name can look like another.
    #[error(
        "must not contain invisible or direction-control characters (found U+{:04X})",
        u32::from(*.0)
    )]
    Invisible(char),
}

fn has_control(s: &str) -> bool {
    s.chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t' && c != '\r')
}

/// A display name: NFC-normalised, trimmed, non-blank, at most 255 characters, no control,
/// invisible or direction-control characters.
///
/// Names of a kind are unique by [`Name::unique_key`], which folds case and compatibility forms
/// (and, for agents, look-alike letters), so a name cannot impersonate another by spelling.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Name(String);

impl Name {
    /// Normalises (NFC), trims and checks a name.
    ///
    /// ```
    /// use plant_core::model::Name;
    /// assert_eq!(Name::parse("  Ava Flux ").unwrap().as_str(), "Ava Flux");
    /// assert!(Name::parse("   ").is_err());
    /// // A combining accent (NFD) becomes the precomposed letter (NFC).
    /// assert_eq!(Name::parse("Cafe\u{301}").unwrap().as_str(), "Caf\u{e9}");
    /// assert!(Name::parse("Copy\u{200b}writing").is_err());
    /// ```
    pub fn parse(raw: &str) -> Result<Self, TextError> {
        let normal: String = raw.nfc().collect();
        let t = normal.trim();
        if t.is_empty() {
            return Err(TextError::Blank);
        }
        if has_control(t) {
            return Err(TextError::Control);
        }
        if let Some(c) = t.chars().find(|c| refused_in_names(*c)) {
            return Err(TextError::Invisible(c));
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

    /// The key names of `kind` are unique by: see [`unique_key`].
    pub fn unique_key(&self, kind: Kind) -> String {
        unique_key(kind, &self.0)
    }
}

/// The key names of `kind` are unique by, for any text (also names stored before the rules of
/// [`Name::parse`] existed): compatibility-normalised (NFKC), case-folded, invisible characters
/// dropped and white space collapsed; for agents, whose names customers pick from, also reduced
/// to the confusable skeleton of Unicode TS #39, so a Cyrillic "а" counts as a Latin "a".
///
/// ```
/// use plant_core::model::{Kind, unique_key};
/// assert_eq!(unique_key(Kind::Skill, "Caf\u{e9}"), unique_key(Kind::Skill, "CAFE\u{301}"));
/// assert_eq!(unique_key(Kind::Skill, "\u{ff23}opy"), unique_key(Kind::Skill, "copy"));
/// assert_eq!(unique_key(Kind::Agent, "\u{410}va"), unique_key(Kind::Agent, "Ava"));
/// assert_ne!(unique_key(Kind::Skill, "\u{410}va"), unique_key(Kind::Skill, "Ava"));
/// ```
pub fn unique_key(kind: Kind, text: &str) -> String {
    let folded = fold(text);
    if kind == Kind::Agent {
        // The skeleton maps to prototypes of either case ("0" -> "O"), so fold case again.
        fold(&unicode_security::skeleton(&folded).collect::<String>())
    } else {
        folded
    }
}

/// NFKC, lowercase, NFKC again (lowercasing can denormalise), default-ignorable code points
/// dropped, runs of white space collapsed to one space.
fn fold(text: &str) -> String {
    let lowered: String = text
        .nfkc()
        .filter(|c| !default_ignorable(*c))
        .flat_map(char::to_lowercase)
        .collect();
    let normal: String = lowered.nfkc().collect();
    normal.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Unicode's Default_Ignorable_Code_Point ranges (DerivedCoreProperties.txt, Unicode 16):
/// characters that render as nothing.
const DEFAULT_IGNORABLE: &[(char, char)] = &[
    ('\u{ad}', '\u{ad}'),
    ('\u{34f}', '\u{34f}'),
    ('\u{61c}', '\u{61c}'),
    ('\u{115f}', '\u{1160}'),
    ('\u{17b4}', '\u{17b5}'),
    ('\u{180b}', '\u{180f}'),
    ('\u{200b}', '\u{200f}'),
    ('\u{202a}', '\u{202e}'),
    ('\u{2060}', '\u{206f}'),
    ('\u{3164}', '\u{3164}'),
    ('\u{fe00}', '\u{fe0f}'),
    ('\u{feff}', '\u{feff}'),
    ('\u{ffa0}', '\u{ffa0}'),
    ('\u{fff0}', '\u{fff8}'),
    ('\u{1bca0}', '\u{1bca3}'),
    ('\u{1d173}', '\u{1d17a}'),
    ('\u{e0000}', '\u{e0fff}'),
];

fn default_ignorable(c: char) -> bool {
    DEFAULT_IGNORABLE
        .iter()
        .any(|(lo, hi)| (*lo..=*hi).contains(&c))
}

/// Refused in names: every default-ignorable character (zero-width spaces, soft hyphens, fillers,
/// tags) and every bidi control, except the joiners some scripts need to spell words (ZWNJ in
/// Persian, ZWJ in Indic scripts and emoji) and variation selectors. Those few are allowed and
/// dropped from the [`unique_key`], so they cannot make a name distinct either.
fn refused_in_names(c: char) -> bool {
    let allowed =
        matches!(c, '\u{200c}' | '\u{200d}' | '\u{fe00}'..='\u{fe0f}' | '\u{e0100}'..='\u{e01ef}');
    default_ignorable(c) && !allowed
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
    fn names_are_nfc_and_refuse_invisible_and_bidi_characters() {
        let nfd = Name::parse("Cafe\u{301}").unwrap();
        assert_eq!(nfd, Name::parse("Caf\u{e9}").unwrap());
        for (raw, c) in [
            ("Content Marketing\u{200b}", '\u{200b}'),
            ("Copy\u{ad}writing", '\u{ad}'),
            ("Ava \u{202e}xulF", '\u{202e}'),
            ("\u{2066}Ava\u{2069}", '\u{2066}'),
            ("A\u{2060}va", '\u{2060}'),
            ("A\u{feff}va", '\u{feff}'),
        ] {
            assert_eq!(Name::parse(raw), Err(TextError::Invisible(c)), "{raw:?}");
        }
        let err = Name::parse("x\u{200b}").unwrap_err().to_string();
        assert!(err.contains("U+200B"), "{err}");
        // Joiners that scripts need are allowed, and fold away in the key.
        let persian = Name::parse("\u{645}\u{200c}\u{634}").unwrap();
        assert_eq!(
            persian.unique_key(Kind::Skill),
            unique_key(Kind::Skill, "\u{645}\u{634}")
        );
    }

    #[test]
    fn unique_keys_fold_what_looks_alike() {
        let same = |kind, a: &str, b: &str| {
            let (a, b) = (Name::parse(a).unwrap(), Name::parse(b).unwrap());
            a.unique_key(kind) == b.unique_key(kind)
        };
        assert!(same(Kind::Skill, "Copywriting", "  copyWRITING "));
        assert!(same(Kind::Skill, "Caf\u{e9}", "CAFE\u{301}"));
        assert!(same(
            Kind::Skill,
            "Content Marketing",
            "\u{ff23}\u{ff4f}\u{ff4e}\u{ff54}\u{ff45}\u{ff4e}\u{ff54} Marketing"
        ));
        assert!(same(
            Kind::Skill,
            "Content  Marketing",
            "Content\u{a0}Marketing"
        ));
        // Cyrillic а (U+0430) and о (U+043E) for Latin a and o: the same agent, not the same skill.
        assert!(same(Kind::Agent, "Ava Flux", "\u{410}v\u{430} Flux"));
        assert!(same(Kind::Agent, "Nova", "N\u{43e}va"));
        assert!(same(Kind::Agent, "Agent0", "AgentO"));
        assert!(!same(Kind::Skill, "Nova", "N\u{43e}va"));
        assert!(!same(Kind::Agent, "Ava Flux", "Ava Flex"));
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
                prop_assert!(!n.as_str().chars().any(refused_in_names));
                // The key is a function of what the name looks like, not of how it was typed.
                let nfd: String = n.as_str().nfd().collect();
                let again = Name::parse(&nfd).unwrap();
                prop_assert_eq!(again.unique_key(Kind::Agent), n.unique_key(Kind::Agent));
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
