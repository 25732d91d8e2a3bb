//! The command line `bench/run.sh` drives.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use plant_core::search::default_embedder;

use crate::load::{self, LoadSpec};
use crate::report::{Recorded, markdown};
use crate::store_ops::{Op, Target};
use crate::{serve, startup, svg, wrk};

/// Ceilings and reporting for plant's benchmarks.
#[derive(Debug, Parser)]
#[command(name = "plant-bench", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve fixed bytes per path with a bare hyper handler (the HTTP ceiling).
    Serve {
        /// Port on 127.0.0.1.
        #[arg(long)]
        port: u16,
        /// `PATH=FILE`: answer GET PATH with the file's bytes (repeat).
        #[arg(long = "route", required = true)]
        routes: Vec<String>,
        /// Stop after this many seconds even if nobody stops us.
        #[arg(long, default_value_t = 1800)]
        max_seconds: u64,
    },
    /// Run one store operation in a closed loop without HTTP (the database ceiling); prints
    /// `rps p50_ms p99_ms ops errors`.
    Db {
        /// agents, agents-served, agents-columns, agents-jsonb, agent, skills, job-roles,
        /// audit-export, audit-export-served, search, search-embedded, post-skill, post-trial.
        #[arg(long)]
        op: Op,
        #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
        database_url: String,
        /// Operations in flight (wrk's connections).
        #[arg(long, default_value_t = 32)]
        concurrency: usize,
        /// Pool size (the server's).
        #[arg(long, default_value_t = 10)]
        pool: u32,
        #[arg(long, default_value_t = 5)]
        seconds: u64,
        /// Upper bound on operations, beside the time.
        #[arg(long, default_value_t = 5_000_000)]
        max_ops: u64,
        /// The text searched by `search` and `search-embedded`.
        #[arg(long, default_value = "data pipeline engineer")]
        search_text: String,
        /// The all-MiniLM-L6-v2 directory; unset means the hashing embedder (as the server).
        #[arg(long, env = "PLANT_EMBED_MODEL_DIR")]
        embed_model_dir: Option<PathBuf>,
    },
    /// Time from spawning a program to its first 200 on a path; prints milliseconds.
    Startup {
        #[arg(long)]
        addr: SocketAddr,
        #[arg(long, default_value = "/health")]
        path: String,
        #[arg(long, default_value_t = 60_000)]
        timeout_ms: u64,
        /// The program and its arguments (its environment is ours).
        #[arg(last = true, required = true)]
        command: Vec<String>,
    },
    /// Read wrk's `--latency` output on stdin; prints `rps p50_ms p99_ms requests errors`.
    WrkParse,
    /// Write the markdown table and the SVG chart from the recorded lines.
    Report {
        #[arg(long)]
        recorded: PathBuf,
        #[arg(long)]
        markdown: PathBuf,
        #[arg(long)]
        svg: PathBuf,
        /// How the markdown links the chart.
        #[arg(long)]
        svg_link: String,
    },
}

/// Parses the arguments, runs, and maps failures to exit code 1 with a message.
pub fn main_from_env() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("plant-bench: {message}");
            ExitCode::FAILURE
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))
}

fn run(cli: Cli) -> Result<(), String> {
    match cli.command {
        Command::Serve {
            port,
            routes,
            max_seconds,
        } => {
            let routes = serve::load_routes(&routes).map_err(|e| e.to_string())?;
            runtime()?.block_on(async {
                let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
                    .await
                    .map_err(|e| format!("cannot listen on 127.0.0.1:{port}: {e}"))?;
                serve::run(listener, routes, Duration::from_secs(max_seconds)).await;
                Ok(())
            })
        }
        Command::Db {
            op,
            database_url,
            concurrency,
            pool,
            seconds,
            max_ops,
            search_text,
            embed_model_dir,
        } => runtime()?.block_on(async {
            let (embedder, warning) = default_embedder(embed_model_dir.as_deref());
            if let (Some(dir), Some(warning)) = (&embed_model_dir, warning) {
                return Err(format!("{}: {warning}", dir.display()));
            }
            let target = Target::connect(&database_url, pool, &search_text, embedder)
                .await
                .map_err(|e| e.to_string())?;
            // One untimed pass warms the pool and the plan cache.
            target.run(op, u64::MAX).await.map_err(|e| e.to_string())?;
            let spec = LoadSpec {
                concurrency,
                duration: Duration::from_secs(seconds),
                max_ops,
            };
            let loaded = target.clone();
            let summary = load::run(spec, move |n| {
                let target = loaded.clone();
                async move { target.run(op, n).await }
            })
            .await;
            println!("{summary}");
            // Vectors follow the commit: the loop's records get theirs before the process
            // (and its indexer) ends, untimed.
            target.vectors_settled().await;
            Ok(())
        }),
        Command::Startup {
            addr,
            path,
            timeout_ms,
            command,
        } => {
            let (program, args) = command.split_first().ok_or("no program given")?;
            let took = startup::measure(
                program,
                args,
                addr,
                &path,
                Duration::from_millis(timeout_ms),
            )
            .map_err(|e| e.to_string())?;
            println!("{:.1}", took.as_secs_f64() * 1000.0);
            Ok(())
        }
        Command::WrkParse => {
            let mut text = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
                .map_err(|e| e.to_string())?;
            let summary = wrk::parse(&text).ok_or("wrk's output has no summary")?;
            println!("{summary}");
            Ok(())
        }
        Command::Report {
            recorded,
            markdown: md_path,
            svg: svg_path,
            svg_link,
        } => {
            let text = std::fs::read_to_string(&recorded)
                .map_err(|e| format!("cannot read {}: {e}", recorded.display()))?;
            let rec = Recorded::parse(&text);
            std::fs::write(&md_path, markdown(&rec, &svg_link))
                .map_err(|e| format!("cannot write {}: {e}", md_path.display()))?;
            std::fs::write(&svg_path, svg::chart(&rec))
                .map_err(|e| format!("cannot write {}: {e}", svg_path.display()))?;
            Ok(())
        }
    }
}
