//! The search benchmark driver. Every subcommand prints one JSON object per result on stdout
//! and progress on stderr; `bench/search/run.sh` strings them together.

mod http;
mod load;
mod recall;
mod stats;
mod synth;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use clap::{Parser, Subcommand, ValueEnum};
use plant_core::search::{Embedder, HashingEmbedder, MiniLm};
use plant_core::seed::SeedCatalog;

use crate::stats::Summary;
use crate::synth::Synth;

pub type BoxResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// Progress for the operator, on stderr.
pub fn log(line: &str) {
    eprintln!("search-bench: {line}");
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Which {
    Minilm,
    Hashing,
}

#[derive(Debug, Parser)]
#[command(about = "Search benchmark: synthetic catalogs, HNSW recall, search latency")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Args)]
struct EmbedArgs {
    /// Embedder for the catalog and the queries (must match the server's).
    #[arg(long, value_enum, default_value = "minilm")]
    embedder: Which,
    /// all-MiniLM-L6-v2 directory (scripts/fetch-model.sh prints it).
    #[arg(long, env = "PLANT_EMBED_MODEL_DIR")]
    model_dir: Option<PathBuf>,
}

impl EmbedArgs {
    fn embedder(&self) -> BoxResult<Arc<dyn Embedder>> {
        Ok(match self.embedder {
            Which::Hashing => Arc::new(HashingEmbedder),
            Which::Minilm => {
                let dir = self
                    .model_dir
                    .as_ref()
                    .ok_or("--model-dir (or PLANT_EMBED_MODEL_DIR) is required for minilm")?;
                Arc::new(MiniLm::load(dir)?)
            }
        })
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Migrate, seed, and bring the synthetic agents up to `--agents`; rebuild the HNSW index.
    Load {
        #[arg(long, env = "DATABASE_URL")]
        database_url: String,
        #[arg(long)]
        agents: usize,
        #[command(flatten)]
        embed: EmbedArgs,
        /// Where agent vectors are cached between runs.
        #[arg(long, default_value = ".cache/search-bench")]
        cache_dir: PathBuf,
        /// HNSW `m` (32, as migrations/0006; pgvector's default is 16).
        #[arg(long, default_value_t = 32)]
        m: u32,
        /// HNSW `ef_construction` (128, as migrations/0006; pgvector's default is 64).
        #[arg(long, default_value_t = 128)]
        ef_construction: u32,
        /// Rebuild the index even when no rows were added.
        #[arg(long)]
        reindex: bool,
    },
    /// Recall@k of the store's HNSW search against exact search, per `hnsw.ef_search`.
    Recall {
        #[arg(long, env = "DATABASE_URL")]
        database_url: String,
        #[command(flatten)]
        embed: EmbedArgs,
        #[arg(long, default_value_t = 200)]
        queries: usize,
        #[arg(long, default_value_t = 10)]
        k: usize,
        /// Comma-separated `hnsw.ef_search` values.
        #[arg(long, default_value = "40,100,200", value_delimiter = ',')]
        ef_search: Vec<u32>,
        /// Queries whose exact answer is also checked with a PostgreSQL sequential scan.
        #[arg(long, default_value_t = 5)]
        sql_checks: usize,
        /// Label copied into the report.
        #[arg(long, default_value = "")]
        label: String,
    },
    /// Closed-loop load on GET /api/v1/search.
    Http {
        #[arg(long)]
        addr: SocketAddr,
        #[arg(long, default_value_t = 1)]
        concurrency: usize,
        /// Measured requests (at most).
        #[arg(long, default_value_t = 1000)]
        requests: u64,
        /// Unmeasured requests first.
        #[arg(long, default_value_t = 20)]
        warmup: u64,
        /// Stop after this many seconds even if fewer requests were sent.
        #[arg(long, default_value_t = 120.0)]
        max_secs: f64,
        /// `kind=` filter; empty for none.
        #[arg(long, default_value = "agent")]
        kind: String,
        #[arg(long, default_value_t = 10)]
        k: u32,
        /// `mode=`: semantic, hybrid or lexical; empty for the server's default (hybrid).
        #[arg(long, default_value = "")]
        mode: String,
        #[arg(long, default_value_t = 200)]
        queries: usize,
        #[arg(long, default_value = "")]
        label: String,
    },
    /// Latency of embedding one query at a time (the work the server does per search).
    EmbedLatency {
        #[command(flatten)]
        embed: EmbedArgs,
        #[arg(long, default_value_t = 200)]
        queries: usize,
    },
    /// Creates a database (no error when it exists).
    CreateDb {
        /// URL of an existing database on the server, as a role allowed to create databases.
        #[arg(long, env = "PLANT_TEST_ADMIN_URL")]
        admin_url: String,
        /// Letters, digits and underscores.
        #[arg(long)]
        name: String,
    },
    /// Prints sample agent texts and queries.
    Sample {
        #[arg(long, default_value_t = 5)]
        n: usize,
    },
}

async fn run(cli: Cli) -> BoxResult<()> {
    let print = |v: &serde_json::Value| println!("{v}");
    match cli.command {
        Command::Load {
            database_url,
            agents,
            embed,
            cache_dir,
            m,
            ef_construction,
            reindex,
        } => {
            let embedder = embed.embedder()?;
            let report = load::load(
                &database_url,
                agents,
                embedder,
                &cache_dir,
                m,
                ef_construction,
                reindex,
            )
            .await?;
            print(&report);
        }
        Command::Recall {
            database_url,
            embed,
            queries,
            k,
            ef_search,
            sql_checks,
            label,
        } => {
            let embedder = embed.embedder()?;
            for mut r in
                recall::recall(&database_url, embedder, queries, k, &ef_search, sql_checks).await?
            {
                r["label"] = label.clone().into();
                print(&r);
            }
        }
        Command::Http {
            addr,
            concurrency,
            requests,
            warmup,
            max_secs,
            kind,
            k,
            mode,
            queries,
            label,
        } => {
            let texts = Synth::new(&SeedCatalog::builtin()?).queries(queries);
            let spec = http::LoadSpec {
                addr,
                concurrency: concurrency.clamp(1, 256),
                requests: requests.min(1_000_000),
                warmup: warmup.min(10_000),
                max_secs: max_secs.clamp(1.0, 3600.0),
                kind: (!kind.is_empty()).then_some(kind),
                k,
                mode,
                label,
            };
            print(&http::run(&spec, &texts).await?);
        }
        Command::EmbedLatency { embed, queries } => {
            let embedder = embed.embedder()?;
            let texts = Synth::new(&SeedCatalog::builtin()?).queries(queries);
            for t in texts.iter().take(5) {
                embedder.embed_one(t)?;
            }
            let mut lat = Vec::with_capacity(texts.len());
            for t in &texts {
                let start = Instant::now();
                embedder.embed_one(t)?;
                lat.push(start.elapsed().as_secs_f64() * 1e3);
            }
            let s = Summary::of(&mut lat);
            log(&format!(
                "{} single-query embedding: p50 {:.2} ms, p99 {:.2} ms",
                embedder.model_id(),
                s.p50,
                s.p99
            ));
            print(&serde_json::json!({
                "step": "embed_latency",
                "embedder": embedder.model_id(),
                "latency_ms": s.json(),
            }));
        }
        Command::CreateDb { admin_url, name } => {
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(format!("invalid database name {name:?}").into());
            }
            let pool = sqlx::PgPool::connect(&admin_url).await?;
            let exists: bool =
                sqlx::query_scalar("select exists (select 1 from pg_database where datname = $1)")
                    .bind(&name)
                    .fetch_one(&pool)
                    .await?;
            if !exists {
                sqlx::query(sqlx::AssertSqlSafe(format!("create database {name}")))
                    .execute(&pool)
                    .await?;
            }
            pool.close().await;
        }
        Command::Sample { n } => {
            let synth = Synth::new(&SeedCatalog::builtin()?);
            for i in 0..n as u64 {
                println!("agent {i}: {}", synth.text(&synth.agent(i)));
            }
            for q in synth.queries(n) {
                println!("query: {q}");
            }
        }
    }
    Ok(())
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            log(&format!("error: cannot start the runtime: {e}"));
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            let mut msg = e.to_string();
            let mut source = e.source();
            while let Some(s) = source {
                msg.push_str(": ");
                msg.push_str(&s.to_string());
                source = s.source();
            }
            log(&format!("error: {msg}"));
            std::process::ExitCode::FAILURE
        }
    }
}
