//! The plant-server binary: configuration from the environment, logs, listener, run until SIGTERM.
//!
//! A configuration or start-up error is printed as a sentence naming the variable and what it
//! needs, and the process exits with status 2 (as plant-cli does for a usage error).

use std::process::ExitCode;
use std::sync::Arc;

use plant_server::console::{Console, ConsoleConfig};
use plant_server::{Config, logging, run, startup};

/// The allocator (see Cargo.toml for why).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The exit status of a configuration or start-up error.
const EXIT_CONFIG: u8 = 2;

#[tokio::main]
async fn main() -> ExitCode {
    // Held to the end of `main`: dropping it writes out the log lines still queued.
    let mut log = None;
    let status = match serve(&mut log).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            let text = startup::cause_chain(err.as_ref());
            tracing::error!(error = %text, "cannot start");
            eprintln!("plant-server: cannot start: {text}");
            ExitCode::from(EXIT_CONFIG)
        }
    };
    drop(log);
    status
}

async fn serve(log: &mut Option<logging::LogGuard>) -> Result<(), Box<dyn std::error::Error>> {
    let mut config = Config::from_env()?;
    *log = Some(logging::init(
        config.log_format,
        config.gcp_project.clone(),
    )?);
    let development = startup::development_credentials(&mut config)?;
    // A console configuration that cannot be used stops start-up; the router takes this one.
    let console = Console::new(&ConsoleConfig::from_env()?)?;
    let state = startup::build_state(&config).await?;
    if let Some(port) = config.metrics_port {
        let metrics = tokio::net::TcpListener::bind(("0.0.0.0", port))
            .await
            .map_err(|source| startup::StartupError::Bind {
                var: "PLANT_METRICS_PORT",
                port,
                source,
            })?;
        tokio::spawn(plant_server::metrics::serve(metrics, state.clone()));
    }
    let listener = tokio::net::TcpListener::bind(("0.0.0.0", config.port))
        .await
        .map_err(|source| startup::StartupError::Bind {
            var: "PORT",
            port: config.port,
            source,
        })?;
    if let Some(development) = development {
        // On stderr, not in the log: tokens never reach a log line.
        eprintln!("{}", development.announcement());
    }
    run(
        listener,
        state,
        Arc::new(console),
        plant_server::shutdown_signal(),
    )
    .await;
    Ok(())
}
