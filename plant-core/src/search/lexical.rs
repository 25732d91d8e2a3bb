//! Lexical (full-text) ranking and its fusion with the vector ranking.
//!
//! PostgreSQL ranks with a generated `tsvector` column per searched table (`migrations/0007`):
//! `setweight(to_tsvector('simple', name), 'A') || setweight(to_tsvector('simple', description),
//! 'B')`, matched by a query that ORs the [`query_terms`] ([`tsquery`]) and ranked by
//! `ts_rank` with its default weights and no length normalisation. This module computes the same
//! for the memory store:
//!
//! - [`query_terms`] splits the query text on every character that is not a letter or digit,
//!   lowercases, drops PostgreSQL's English stop words ([`STOP_WORDS`]) and duplicates. Both
//!   stores use these terms, so the query side is identical.
//! - [`LexicalDoc`] splits a record's name and description the same way and [`LexicalDoc::rank`]
//!   is `ts_rank`'s formula for an OR query (`calc_rank_or` in PostgreSQL's `tsrank.c`), in
//!   `f32` as there.
//!
//! Where the two can differ: PostgreSQL's parser keeps some tokens whole that are split here —
//! host names (`example.com`), e-mail addresses, URLs, file paths, decimal numbers (`3.5`) — so
//! a query term such as `example` matches such a document here and not there; ordinary words,
//! hyphenated words (their parts) and apostrophes agree. PostgreSQL keeps at most 256 positions
//! of a word per document; the count here is unbounded. Ranks that tie in one store can differ
//! in the last bit in the other (summation order), so the order among equal scores can differ;
//! both break exact ties by id.
//!
//! The `simple` configuration (no stemming) rather than `english`: the lexical half is there for
//! what embeddings blur — exact names, product words, acronyms and rare words, which stemming
//! can conflate (`SDR`, `Excel`, `organic`/`organ`); inflections and synonyms are the vector
//! half's job. It also keeps the memory store's ranking exact without carrying a Snowball
//! stemmer. Stop words are dropped on the query side only (the OR query would otherwise match
//! nearly every description on "for" or "with"); documents keep them, which changes nothing since
//! no query term is a stop word.

use std::collections::HashMap;

/// PostgreSQL's English stop words (`tsearch_data/english.stop`), dropped from queries.
pub const STOP_WORDS: &[&str] = &[
    "i",
    "me",
    "my",
    "myself",
    "we",
    "our",
    "ours",
    "ourselves",
    "you",
    "your",
    "yours",
    "yourself",
    "yourselves",
    "he",
    "him",
    "his",
    "himself",
    "she",
    "her",
    "hers",
    "herself",
    "it",
    "its",
    "itself",
    "they",
    "them",
    "their",
    "theirs",
    "themselves",
    "what",
    "which",
    "who",
    "whom",
    "this",
    "that",
    "these",
    "those",
    "am",
    "is",
    "are",
    "was",
    "were",
    "be",
    "been",
    "being",
    "have",
    "has",
    "had",
    "having",
    "do",
    "does",
    "did",
    "doing",
    "a",
    "an",
    "the",
    "and",
    "but",
    "if",
    "or",
    "because",
    "as",
    "until",
    "while",
    "of",
    "at",
    "by",
    "for",
    "with",
    "about",
    "against",
    "between",
    "into",
    "through",
    "during",
    "before",
    "after",
    "above",
    "below",
    "to",
    "from",
    "up",
    "down",
    "in",
    "out",
    "on",
    "off",
    "over",
    "under",
    "again",
    "further",
    "then",
    "once",
    "here",
    "there",
    "when",
    "where",
    "why",
    "how",
    "all",
    "any",
    "both",
    "each",
    "few",
    "more",
    "most",
    "other",
    "some",
    "such",
    "no",
    "nor",
    "not",
    "only",
    "own",
    "same",
    "so",
    "than",
    "too",
    "very",
    "s",
    "t",
    "can",
    "will",
    "just",
    "don",
    "should",
    "now",
];

/// The most terms a query keeps (the rest are ignored).
pub const MAX_TERMS: usize = 32;

/// The `k` of reciprocal rank fusion: an entry ranked `r` (from 1) in a list scores
/// `1 / (RRF_K + r)`, summed over the lists it is in.
pub const RRF_K: f64 = 60.0;

/// How deep each ranking goes before fusion, at least: entries below this rank in a list get
/// nothing from it. Fusion uses `max(k, FUSION_DEPTH)`.
pub const FUSION_DEPTH: usize = 100;

/// `ts_rank`'s default weights for A and B (D 0.1 and C 0.2 are unused).
const WEIGHT_A: f32 = 1.0;
const WEIGHT_B: f32 = 0.4;

/// Lowercased words of a text: maximal runs of letters and digits.
fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
}

/// The lexical terms of a query: its words, lowercased, without stop words and duplicates, in
/// order, at most [`MAX_TERMS`].
///
/// ```
/// use plant_core::search::query_terms;
///
/// assert_eq!(query_terms("Help my kid with FRACTIONS, fractions!"), ["help", "kid", "fractions"]);
/// assert!(query_terms("what is it?").is_empty());
/// ```
pub fn query_terms(text: &str) -> Vec<String> {
    let mut terms: Vec<String> = Vec::new();
    for word in words(text) {
        if terms.len() == MAX_TERMS {
            break;
        }
        if !STOP_WORDS.contains(&word.as_str()) && !terms.contains(&word) {
            terms.push(word);
        }
    }
    terms
}

/// The `to_tsquery` text that matches any of `terms` (`'a' | 'b'`); `None` when there are none.
/// Terms are letters and digits only, so quoting cannot break.
pub fn tsquery(terms: &[String]) -> Option<String> {
    if terms.is_empty() {
        return None;
    }
    Some(
        terms
            .iter()
            .map(|t| format!("'{}'", t.replace('\'', "''")))
            .collect::<Vec<_>>()
            .join(" | "),
    )
}

/// A record's words with their `ts_rank` weights, in position order (name first, weight A; then
/// the description, weight B).
#[derive(Debug, Clone, Default)]
pub struct LexicalDoc {
    weights: HashMap<String, Vec<f32>>,
}

impl LexicalDoc {
    /// The document of a name and a description.
    pub fn new(name: &str, description: &str) -> Self {
        let mut weights: HashMap<String, Vec<f32>> = HashMap::new();
        for (text, weight) in [(name, WEIGHT_A), (description, WEIGHT_B)] {
            for word in words(text) {
                weights.entry(word).or_default().push(weight);
            }
        }
        Self { weights }
    }

    /// PostgreSQL's `ts_rank(doc, query)` for a query ORing `terms` (distinct): 0 when none
    /// occurs (the document does not match).
    pub fn rank(&self, terms: &[String]) -> f32 {
        if terms.is_empty() {
            return 0.0;
        }
        let mut res: f32 = 0.0;
        for term in terms {
            let Some(positions) = self.weights.get(term) else {
                continue;
            };
            let mut resj: f32 = 0.0;
            let mut wjm: f32 = -1.0;
            let mut jm: usize = 0;
            for (j, &w) in positions.iter().enumerate() {
                let n = (j + 1) as f32;
                resj += w / (n * n);
                if w > wjm {
                    wjm = w;
                    jm = j;
                }
            }
            let m = (jm + 1) as f32;
            // As in C: the float expression divided by a double constant, stored as float.
            res =
                (f64::from(res) + f64::from(wjm + resj - wjm / (m * m)) / 1.644_934_066_85) as f32;
        }
        res / terms.len() as f32
    }
}

/// Reciprocal rank fusion of rankings (best first): each entry's `Σ 1 / (RRF_K + rank)`, best
/// first, exact ties by key.
pub fn fuse<K: Ord + Clone>(rankings: &[&[K]]) -> Vec<(K, f64)> {
    let mut scores: Vec<(K, f64)> = Vec::new();
    for ranking in rankings {
        for (i, key) in ranking.iter().enumerate() {
            let part = 1.0 / (RRF_K + (i + 1) as f64);
            match scores.iter_mut().find(|(k, _)| k == key) {
                Some((_, s)) => *s += part,
                None => scores.push((key.clone(), part)),
            }
        }
    }
    scores.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    scores
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn terms(t: &[&str]) -> Vec<String> {
        t.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn query_terms_split_like_the_parser_and_drop_stop_words() {
        assert_eq!(
            query_terms("a full-time SDR, for B2B; don't wait"),
            ["full", "time", "sdr", "b2b", "wait"]
        );
        assert_eq!(query_terms(""), Vec::<String>::new());
        let long = (0..40)
            .map(|i| format!("w{i}"))
            .collect::<Vec<_>>()
            .join(" ");
        assert_eq!(query_terms(&long).len(), MAX_TERMS);
    }

    #[test]
    fn tsquery_ors_quoted_terms() {
        assert_eq!(
            tsquery(&terms(&["math", "tutor"])).unwrap(),
            "'math' | 'tutor'"
        );
        assert_eq!(tsquery(&[]), None);
    }

    #[test]
    fn rank_matches_postgres_figures() {
        // Figures from PostgreSQL 16: ts_rank(setweight(to_tsvector('simple', name), 'A') ||
        // setweight(to_tsvector('simple', description), 'B'), to_tsquery('simple', query)).
        let doc = LexicalDoc::new("Math Tutor", "Helps with math homework and math exams");
        assert!((doc.rank(&terms(&["math"])) - 0.695_738_8).abs() < 1e-6);
        assert!((doc.rank(&terms(&["math", "exams"])) - 0.469_454_8).abs() < 1e-6);
        assert_eq!(doc.rank(&terms(&["chemistry"])), 0.0);
        let desc_only = LexicalDoc::new("Tutor", "fractions");
        assert!((desc_only.rank(&terms(&["fractions"])) - 0.243_170_8).abs() < 1e-6);
    }

    #[test]
    fn a_name_match_outranks_a_description_match() {
        let named = LexicalDoc::new("Excel Wizard", "spreadsheets");
        let described = LexicalDoc::new("Wizard", "excel spreadsheets");
        let q = terms(&["excel"]);
        assert!(named.rank(&q) > described.rank(&q));
    }

    #[test]
    fn fusion_sums_reciprocal_ranks_and_breaks_ties_by_key() {
        let fused = fuse(&[&[1, 2, 3][..], &[3, 2][..]]);
        let keys: Vec<i32> = fused.iter().map(|(k, _)| *k).collect();
        // 2: 1/62 + 1/62; 3: 1/63 + 1/61; 1: 1/61.
        assert_eq!(keys, [3, 2, 1]);
        assert!((fused[1].1 - 2.0 / 62.0).abs() < 1e-12);
        let tied = fuse(&[&[5, 4][..], &[4, 5][..]]);
        assert_eq!(tied[0].0, 4);
    }
}
