//! The `tariff` application: configuration ([`settings`]), telemetry, the command line
//! and the wiring of adapters to services. The binary in `main.rs` is a thin shell over
//! this library, which black-box tests also use to start the service on port 0.

pub mod cli;
pub mod import;
pub mod settings;
pub mod telemetry;
pub mod wiring;

use std::net::{SocketAddr, TcpListener};

use anyhow::Context;

use crate::settings::Settings;

/// A started server: where it listens and the future that runs it until shutdown.
pub struct Running {
    pub address: SocketAddr,
    pub server: actix_web::dev::Server,
    pub wired: wiring::Wired,
    /// The settings poll and the lifecycle sweep; they end with the runtime.
    pub workers: Vec<tokio::task::JoinHandle<()>>,
    /// The webhook delivery worker; stop it after the server for a graceful shutdown.
    pub webhooks: wiring::WebhookWorkerTask,
}

/// Migrates, wires and binds the service; the caller awaits (or spawns) `server`.
pub async fn launch(settings: &Settings) -> anyhow::Result<Running> {
    let wired = wiring::wire(settings).await?;
    let listener = TcpListener::bind(settings.server.bind)
        .with_context(|| format!("server.bind: cannot listen on {}", settings.server.bind))?;
    let address = listener.local_addr()?;
    let server = tariff_http_api::server(
        listener,
        wired.state.clone(),
        &wiring::server_options(settings),
    )?;
    let mut workers = wiring::spawn_workers(&wired, settings);
    workers.push(wiring::spawn_pollers(&wired));
    let webhooks = wiring::start_webhook_worker(&wired);
    tracing::info!(%address, backend = wired.db.backend().name(), "tariff listening");
    Ok(Running {
        address,
        server,
        wired,
        workers,
        webhooks,
    })
}
