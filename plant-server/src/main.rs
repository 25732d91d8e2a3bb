//! The plant-server binary: configuration from the environment, logs, listener, run until SIGTERM.

use std::sync::Arc;

use plant_server::state::AlwaysReady;
use plant_server::{AppState, Config, logging, run};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let config = Config::from_env()?;
    logging::init(config.log_format, config.gcp_project.clone())?;
    let state = AppState::from_config(&config, Arc::new(AlwaysReady))?;
    let listener = tokio::net::TcpListener::bind(("0.0.0.0", config.port)).await?;
    run(listener, state, plant_server::shutdown_signal()).await?;
    Ok(())
}
