//! The MiniLM embedder against the real model files (`PLANT_EMBED_MODEL_DIR`).
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![cfg(feature = "minilm")]

mod search_support;

use std::path::Path;
use std::sync::OnceLock;

use plant_core::search::{DIM, EmbedError, Embedder, Embedding, MiniLm};
use serde::Deserialize;

fn model() -> Option<&'static MiniLm> {
    static MODEL: OnceLock<Option<MiniLm>> = OnceLock::new();
    MODEL
        .get_or_init(|| {
            let dir = search_support::model_dir("search_minilm")?;
            Some(MiniLm::load(&dir).unwrap())
        })
        .as_ref()
}

fn norm(e: &Embedding) -> f32 {
    e.as_slice().iter().map(|x| x * x).sum::<f32>().sqrt()
}

#[test]
fn output_has_dim_384_and_unit_norm() {
    let Some(m) = model() else { return };
    assert_eq!(m.model_id(), "all-MiniLM-L6-v2");
    let out = m
        .embed(&[
            "math tutoring for kids",
            "",
            "a much longer text ".repeat(200).as_str(),
        ])
        .unwrap();
    assert_eq!(out.len(), 3);
    for e in &out {
        assert_eq!(e.as_slice().len(), DIM);
        assert!((norm(e) - 1.0).abs() < 1e-4, "norm {}", norm(e));
    }
}

#[test]
fn near_synonyms_score_above_unrelated_sentences() {
    let Some(m) = model() else { return };
    let [child, tutoring, instagram] = <[Embedding; 3]>::try_from(
        m.embed(&[
            "help my child with fractions",
            "math tutoring for kids",
            "increase instagram followers",
        ])
        .unwrap(),
    )
    .unwrap();
    let near = child.cosine(&tutoring);
    assert!(near > 0.35, "near-synonyms only {near}");
    assert!(near > child.cosine(&instagram) + 0.2);
    assert!(near > tutoring.cosine(&instagram) + 0.2);
}

#[test]
fn batch_equals_one_by_one() {
    let Some(m) = model() else { return };
    // Different lengths, so the batch pads and sorts.
    let texts = [
        "SEO",
        "grow our instagram following with reels and stories every week",
        "someone to help my kid with fractions",
        "",
        "close a big enterprise deal",
    ];
    let batch = m.embed(&texts).unwrap();
    for (text, b) in texts.iter().zip(&batch) {
        let single = m.embed_one(text).unwrap();
        let max_diff = single
            .as_slice()
            .iter()
            .zip(b.as_slice())
            .map(|(x, y)| (x - y).abs())
            .fold(0.0f32, f32::max);
        assert!(max_diff < 1e-4, "{text:?}: batch differs by {max_diff}");
    }
}

#[derive(Deserialize)]
struct Reference {
    text: String,
    embedding: Vec<f32>,
}

/// `tests/data/search/minilm_reference.json` was computed by `minilm_reference.py` beside it, an
/// independent numpy implementation of the same model (float64 throughout).
#[test]
fn matches_the_independent_numpy_reference() {
    let Some(m) = model() else { return };
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/search/minilm_reference.json");
    let refs: Vec<Reference> = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    assert!(!refs.is_empty());
    for r in refs {
        let got = m.embed_one(&r.text).unwrap();
        let expected = Embedding::from_vec(r.embedding).unwrap();
        let cos = got.cosine(&expected);
        assert!(cos > 0.9999, "{:?}: cosine to reference {cos}", r.text);
        for (i, (a, b)) in got.as_slice().iter().zip(expected.as_slice()).enumerate() {
            assert!((a - b).abs() < 1e-4, "{:?}[{i}]: {a} vs {b}", r.text);
        }
    }
}

/// A regression pin in case the reference file and the code ever change together.
#[test]
fn first_components_are_pinned() {
    let Some(m) = model() else { return };
    let e = m.embed_one("help my child with fractions").unwrap();
    let pinned = [0.033662, 0.094458, 0.004343, 0.052714, -0.041236];
    for (i, (a, b)) in e.as_slice().iter().zip(pinned).enumerate() {
        assert!((a - b).abs() < 1e-4, "component {i}: {a} vs {b}");
    }
}

#[test]
fn missing_model_dir_names_the_file_and_the_fix() {
    let err = MiniLm::load(Path::new("/nonexistent/minilm")).unwrap_err();
    assert!(matches!(err, EmbedError::ModelFile { .. }));
    let msg = err.to_string();
    assert!(msg.contains("/nonexistent/minilm/config.json"), "{msg}");
    assert!(msg.contains("scripts/fetch-model.sh"), "{msg}");
}
