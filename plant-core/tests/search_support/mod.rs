//! Shared by the search integration tests: where the MiniLM model is, and whether its absence
//! is fatal.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

/// The MiniLM model directory from `PLANT_EMBED_MODEL_DIR`.
///
/// Returns `None` (after printing why) when it is unset so that local runs without the model
/// skip; under `CI=true` a missing model fails the test instead, so CI cannot go green without
/// exercising the real model.
pub fn model_dir(test: &str) -> Option<PathBuf> {
    match std::env::var_os("PLANT_EMBED_MODEL_DIR") {
        Some(dir) if !dir.is_empty() => Some(PathBuf::from(dir)),
        _ => {
            let ci = std::env::var("CI").is_ok_and(|v| v == "true");
            assert!(
                !ci,
                "{test}: PLANT_EMBED_MODEL_DIR is unset under CI=true; \
                 run PLANT_EMBED_MODEL_DIR=$(scripts/fetch-model.sh)"
            );
            eprintln!(
                "{test}: skipped, PLANT_EMBED_MODEL_DIR is unset \
                 (PLANT_EMBED_MODEL_DIR=$(scripts/fetch-model.sh) to run it)"
            );
            None
        }
    }
}
