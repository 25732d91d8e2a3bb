//! A lexical embedder by feature hashing: no model files, fully deterministic.

use super::embedding::{DIM, EmbedError, Embedder, Embedding};

/// Words too common to say anything about what a customer is looking for.
const STOPWORDS: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "by", "can", "do", "for", "from", "get", "i", "in",
    "is", "it", "me", "my", "of", "on", "or", "our", "so", "that", "the", "their", "this", "to",
    "us", "we", "who", "with", "you", "your",
];

const UNIGRAM_WEIGHT: f32 = 1.0;
const BIGRAM_WEIGHT: f32 = 0.7;
/// Total weight of one word's character trigrams; they let "tutor" and "tutoring" overlap.
const TRIGRAM_WEIGHT: f32 = 0.6;

/// Deterministic feature-hashing embedder (`"hashing-v1"`).
///
/// Each text is lowercased and split into words; stopwords are dropped. Word unigrams, word
/// bigrams and the character trigrams of each word are hashed (64-bit FNV-1a, then a bit mixer)
/// into [`DIM`] signed buckets, and the sum is L2-normalised. A text with no words gets one
/// fixed vector.
///
/// It matches words, not meaning ("kid" and "child" are unrelated to it), so it serves tests
/// and deployments without the model files. The output is part of the stored data: any change to
/// the features or the hash must come with a new [`model_id`](Embedder::model_id).
///
/// ```
/// use plant_core::search::{Embedder, HashingEmbedder};
///
/// let e = HashingEmbedder.embed(&["math tutor", "math tutoring", "cold calling"])?;
/// assert!(e[0].cosine(&e[1]) > e[0].cosine(&e[2]));
/// # Ok::<(), plant_core::search::EmbedError>(())
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct HashingEmbedder;

impl HashingEmbedder {
    /// The id stored beside vectors from this embedder.
    pub const MODEL_ID: &'static str = "hashing-v1";

    fn embed_text(text: &str) -> Result<Embedding, EmbedError> {
        let lowered = text.to_lowercase();
        let words: Vec<&str> = lowered
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty() && !STOPWORDS.contains(w))
            .collect();

        let mut v = vec![0.0f32; DIM];
        if words.is_empty() {
            add(&mut v, b"empty", &[], 1.0);
            return Embedding::from_vec(v);
        }
        for w in &words {
            add(&mut v, b"w", w.as_bytes(), UNIGRAM_WEIGHT);
            let padded: Vec<char> = std::iter::once('<')
                .chain(w.chars())
                .chain(std::iter::once('>'))
                .collect();
            let trigrams = padded.windows(3).count().max(1);
            let weight = TRIGRAM_WEIGHT / (trigrams as f32).sqrt();
            let mut buf = String::new();
            for t in padded.windows(3) {
                buf.clear();
                buf.extend(t);
                add(&mut v, b"t", buf.as_bytes(), weight);
            }
        }
        for pair in words.windows(2) {
            let bigram = format!("{} {}", pair[0], pair[1]);
            add(&mut v, b"b", bigram.as_bytes(), BIGRAM_WEIGHT);
        }
        Embedding::from_vec(v)
    }
}

impl Embedder for HashingEmbedder {
    fn model_id(&self) -> &str {
        Self::MODEL_ID
    }

    fn embed(&self, texts: &[&str]) -> Result<Vec<Embedding>, EmbedError> {
        texts.iter().map(|t| Self::embed_text(t)).collect()
    }

    fn is_cheap(&self) -> bool {
        true
    }
}

/// Adds `weight` with a hashed sign to the bucket of the feature `kind:bytes`.
fn add(v: &mut [f32], kind: &[u8], bytes: &[u8], weight: f32) {
    let h = mix(fnv1a(kind.iter().chain(b":").chain(bytes)));
    let bucket = (h % DIM as u64) as usize;
    let sign = if h >> 63 == 0 { 1.0 } else { -1.0 };
    v[bucket] += sign * weight;
}

fn fnv1a<'a>(bytes: impl Iterator<Item = &'a u8>) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The splitmix64 finaliser: FNV's low bits are weak, and both the bucket and the sign need
/// well-spread bits.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn one(text: &str) -> Embedding {
        HashingEmbedder.embed_one(text).unwrap()
    }

    fn norm(e: &Embedding) -> f32 {
        e.as_slice().iter().map(|x| x * x).sum::<f32>().sqrt()
    }

    #[test]
    fn model_id_is_hashing_v1() {
        assert_eq!(HashingEmbedder.model_id(), "hashing-v1");
    }

    #[test]
    fn same_text_gives_the_same_vector() {
        let a = HashingEmbedder
            .embed(&["grow our instagram following"])
            .unwrap();
        let b = HashingEmbedder
            .embed(&["grow our instagram following"])
            .unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn output_has_dim_384_and_unit_norm() {
        let e = one("SEO audit for my online store");
        assert_eq!(e.as_slice().len(), 384);
        assert!((norm(&e) - 1.0).abs() < 1e-5);
    }

    #[test]
    fn case_and_punctuation_do_not_matter() {
        assert_eq!(one("Math Tutor!"), one("math   tutor"));
    }

    #[test]
    fn texts_sharing_words_score_above_unrelated_ones() {
        let query = one("math tutoring for my kids");
        let related = one("a math tutor who helps kids with fractions");
        let unrelated = one("increase instagram followers with reels");
        assert!(query.cosine(&related) > query.cosine(&unrelated) + 0.2);
    }

    #[test]
    fn word_forms_overlap_through_trigrams() {
        let tutoring = one("tutoring");
        assert!(tutoring.cosine(&one("tutor")) > tutoring.cosine(&one("marketing")));
    }

    #[test]
    fn text_without_words_gets_a_fixed_unit_vector() {
        let empty = one("");
        assert_eq!(one("   ?! "), empty);
        assert_eq!(one("the and of"), empty);
        assert!((norm(&empty) - 1.0).abs() < 1e-6);
    }

    #[test]
    fn empty_batch_gives_no_vectors() {
        assert!(HashingEmbedder.embed(&[]).unwrap().is_empty());
    }

    /// Stored vectors depend on these exact numbers: a change here needs a new model id.
    #[test]
    fn golden_vector_is_stable() {
        let e = one("help my child with fractions");
        let nonzero: Vec<(usize, f32)> = e
            .as_slice()
            .iter()
            .copied()
            .enumerate()
            .filter(|(_, x)| *x != 0.0)
            .take(5)
            .collect();
        let expected: &[(usize, f32)] = &GOLDEN;
        assert_eq!(nonzero.len(), expected.len());
        for ((i, x), (j, y)) in nonzero.iter().zip(expected) {
            assert_eq!(i, j);
            assert!((x - y).abs() < 1e-6, "component {i}: {x} != {y}");
        }
    }

    const GOLDEN: [(usize, f32); 5] = [
        (34, -0.119_286_42),
        (45, -0.133_366_27),
        (49, -0.444_554_2),
        (57, 0.088_910_85),
        (90, -0.119_286_42),
    ];

    proptest! {
        #[test]
        fn any_text_embeds_to_a_unit_vector(text in "\\PC{0,200}") {
            let e = one(&text);
            prop_assert_eq!(e.as_slice().len(), DIM);
            prop_assert!((norm(&e) - 1.0).abs() < 1e-5);
        }
    }
}
