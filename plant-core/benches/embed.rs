//! Embedding latency and throughput for both embedders.
//!
//! `cargo bench -p plant-core --no-default-features --features minilm --bench embed`
//! (MiniLM runs when PLANT_EMBED_MODEL_DIR points at the model files).

use std::time::{Duration, Instant};

use plant_core::search::{Embedder, HashingEmbedder};

const QUERY: &str = "someone to help my kid with fractions";

/// Agent-description-like texts, 32 of them, cycled from these.
const TEXTS: &[&str] = &[
    "Pax Arden, Math Tutor (Math Tutoring, Education). Helps elementary school kids master addition, times tables, fractions and decimals with patient, step-by-step practice.",
    "Aria North, Social Media Manager (Social Media, Marketing). Grows your Instagram following with a steady posting schedule, reels, stories and hashtag strategy, and answers comments and DMs.",
    "Lara Voss, SDR (CRM Management, Sales). Cleans up your HubSpot or Salesforce data, merges duplicates, sets up pipeline stages and makes sure no lead goes without a follow-up.",
    "Mira Pulse, SEO Specialist (SEO, Marketing). Audits your website, finds the keywords your customers search for and fixes the pages holding back your Google rankings.",
    "Keir Moss, Test Prep Coach (Test Prep, Education). Gets English learners ready for the IELTS and TOEFL with speaking practice, writing feedback and listening drills.",
    "Jade Arden, Account Executive (Account Executive, Sales). Writes proposals, negotiates pricing and terms, and steers enterprise deals with many stakeholders through procurement to close.",
    "Faye Lark, Email Marketer (Email Marketing, Marketing). Builds automated welcome, abandoned-cart and win-back email flows in Klaviyo or Mailchimp for online stores.",
    "Remy Slate, Science Tutor (Science Tutoring, Education). Explains high school chemistry, from the periodic table and balancing equations to moles and stoichiometry.",
];

fn main() {
    let batch: Vec<&str> = TEXTS.iter().copied().cycle().take(32).collect();

    bench(&HashingEmbedder, &batch, 2_000, 200);

    #[cfg(feature = "minilm")]
    match std::env::var_os("PLANT_EMBED_MODEL_DIR") {
        Some(dir) => match plant_core::search::MiniLm::load(std::path::Path::new(&dir)) {
            Ok(model) => bench(&model, &batch, 100, 10),
            Err(e) => eprintln!("all-MiniLM-L6-v2: cannot load from {dir:?}: {e}"),
        },
        None => eprintln!(
            "all-MiniLM-L6-v2: skipped, set PLANT_EMBED_MODEL_DIR=$(scripts/fetch-model.sh)"
        ),
    }
    #[cfg(not(feature = "minilm"))]
    eprintln!("all-MiniLM-L6-v2: skipped, build with --features minilm");
}

fn bench(embedder: &dyn Embedder, batch: &[&str], single_runs: usize, batch_runs: usize) {
    // Warm up caches, allocator and thread pools.
    for _ in 0..3 {
        run(embedder, &[QUERY]);
        run(embedder, batch);
    }

    let mut single: Vec<Duration> = (0..single_runs)
        .map(|_| {
            let start = Instant::now();
            run(embedder, &[QUERY]);
            start.elapsed()
        })
        .collect();
    single.sort();

    let start = Instant::now();
    for _ in 0..batch_runs {
        run(embedder, batch);
    }
    let elapsed = start.elapsed();
    let per_batch = elapsed / batch_runs as u32;
    let texts_per_sec = (batch_runs * batch.len()) as f64 / elapsed.as_secs_f64();

    println!(
        "{:<18} single query: p50 {:>9.3} ms  p99 {:>9.3} ms   batch of {}: {:>9.3} ms/batch, {:>9.0} texts/s",
        embedder.model_id(),
        ms(percentile(&single, 0.50)),
        ms(percentile(&single, 0.99)),
        batch.len(),
        ms(per_batch),
        texts_per_sec,
    );
}

fn run(embedder: &dyn Embedder, texts: &[&str]) {
    match embedder.embed(texts) {
        Ok(v) => {
            std::hint::black_box(v);
        }
        Err(e) => {
            eprintln!("{}: embedding failed: {e}", embedder.model_id());
            std::process::exit(1);
        }
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).copied().unwrap_or_default()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
