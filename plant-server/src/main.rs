//! The plant-server binary: configuration from the environment, logs, listener, run until SIGTERM.

use plant_server::{Config, logging, run, startup};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let config = Config::from_env()?;
    logging::init(config.log_format, config.gcp_project.clone())?;
    let state = startup::build_state(&config).await.inspect_err(|err| {
        tracing::error!(error = %startup::cause_chain(err), "cannot start");
    })?;
    if let Some(port) = config.metrics_port {
        let metrics = tokio::net::TcpListener::bind(("0.0.0.0", port)).await?;
        tokio::spawn(plant_server::metrics::serve(metrics, state.clone()));
    }
    let listener = tokio::net::TcpListener::bind(("0.0.0.0", config.port)).await?;
    run(listener, state, plant_server::shutdown_signal()).await?;
    Ok(())
}
