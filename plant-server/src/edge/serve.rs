//! The accept loop: HTTP/1.1 and h2c on one port, a cap on open connections, a deadline for the
//! first request bytes, and a graceful shutdown that stops accepting and drains within a bound.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::Poll;
use std::time::Duration;

use axum::extract::ConnectInfo;
use futures_util::future::Either;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tower::ServiceExt;
use tower::util::Oneshot;

use crate::console::Console;
use crate::routes;
use crate::service::{App, HttpService};
use crate::state::AppState;

/// Streams served at once on one HTTP/2 connection.
const MAX_H2_STREAMS: u32 = 128;
/// Interval of HTTP/2 keep-alive pings, which also find dead peers.
const H2_PING_INTERVAL: Duration = Duration::from_secs(30);
/// How often each process expires the trials past their end. Expiry is a conditional, audited
/// write, so several processes running it at once append one entry per trial between them.
const TRIAL_EXPIRY_EVERY: Duration = Duration::from_secs(60);

/// Serves `listener` until `shutdown` resolves, then stops accepting and waits up to the drain
/// timeout for in-flight requests to finish. `console` is the operator console's configuration,
/// checked at start-up.
pub async fn run(
    listener: TcpListener,
    state: AppState,
    console: Arc<Console>,
    shutdown: impl Future<Output = ()>,
) {
    let app = Arc::new(App {
        router: routes::router_with(console),
        state,
    });
    run_app(listener, app, shutdown).await;
}

/// [`run`] with a router of the caller's choosing (tests add endpoints of their own).
///
/// The accept loop is kept by hand rather than `axum::serve`: it caps open connections, gives a
/// silent client a deadline before protocol detection, and serves HTTP/1.1 and h2c on one port
/// with hyper-util's auto builder, none of which `axum::serve` configures.
pub async fn run_app(listener: TcpListener, app: Arc<App>, shutdown: impl Future<Output = ()>) {
    let limits = app.state.limits().clone();
    let service = app.service();

    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(MAX_H2_STREAMS)
        .keep_alive_interval(H2_PING_INTERVAL);

    let expiry =
        plant_core::catalog::spawn_trial_expiry(app.state.catalog().clone(), TRIAL_EXPIRY_EVERY);
    let webhooks = crate::webhooks::spawn_worker(
        app.state.catalog().store().clone(),
        &app.state.limits().webhooks,
    );
    let graceful = GracefulShutdown::new();
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let mut shutdown = std::pin::pin!(shutdown);
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "listening");
    }

    loop {
        // Waiting for a permit before accepting leaves extra clients in the kernel's backlog
        // instead of spawning unbounded work for them.
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => (stream, peer),
                Err(err) => {
                    // Running out of file descriptors must not spin the loop.
                    tracing::warn!(error = %err, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        if let Err(err) = stream.set_nodelay(true) {
            tracing::debug!(error = %err, "cannot set TCP_NODELAY");
        }
        let service = service.clone();
        let header_timeout = limits.header_timeout;
        let builder = builder.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let _permit = permit;
            if !first_byte_within(&stream, header_timeout).await {
                return;
            }
            let service = Connection {
                service: Mutex::new(service),
                peer,
            };
            let connection = builder.serve_connection(TokioIo::new(stream), service);
            if let Err(err) = watcher.watch(connection.into_owned()).await {
                tracing::debug!(error = %err, "connection closed with an error");
            }
        });
    }

    drop(listener);
    expiry.abort();
    if let Some(webhooks) = webhooks {
        webhooks.abort();
    }
    // Live feed streams never finish by themselves: end them so the drain can complete.
    app.state.feeds().close_all();
    tracing::info!(
        connections = graceful.count(),
        "shutting down: no longer accepting, draining"
    );
    match tokio::time::timeout(limits.drain_timeout, graceful.shutdown()).await {
        Ok(()) => tracing::info!("drained; stopped"),
        Err(_) => tracing::warn!("drain deadline passed; remaining connections are cut"),
    }
}

/// One connection's service: its own copy of the pipeline, called in place.
///
/// hyper calls a service through `&self`, and hyper-util's `TowerToHyperService` bridges to a
/// tower service (`&mut self`) by cloning the whole layer stack for every request (a tenth of the
/// work of answering `/health`). The stack here is always ready (no layer in it applies
/// back-pressure), so each request is handed to the connection's one copy; a copy that ever
/// reports not ready is cloned and driven to readiness as before. The lock is never contended:
/// hyper calls a connection's service from that connection's task, one request at a time.
struct Connection {
    service: Mutex<HttpService>,
    peer: SocketAddr,
}

impl hyper::service::Service<http::Request<Incoming>> for Connection {
    type Response = axum::response::Response;
    type Error = Infallible;
    type Future = Either<
        <HttpService as tower::Service<http::Request<Incoming>>>::Future,
        Oneshot<HttpService, http::Request<Incoming>>,
    >;

    fn call(&self, mut request: http::Request<Incoming>) -> Self::Future {
        request.extensions_mut().insert(ConnectInfo(self.peer));
        let mut service = self.service.lock().unwrap_or_else(PoisonError::into_inner);
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        match tower::Service::poll_ready(&mut *service, &mut cx) {
            Poll::Ready(Ok(())) => Either::Left(tower::Service::call(&mut *service, request)),
            Poll::Pending => Either::Right(service.clone().oneshot(request)),
        }
    }
}

/// A client that connects and sends nothing would otherwise hold a connection slot forever:
/// protocol detection waits for bytes before hyper's own header timeout starts.
async fn first_byte_within(stream: &TcpStream, deadline: Duration) -> bool {
    let mut byte = [0_u8; 1];
    matches!(tokio::time::timeout(deadline, stream.peek(&mut byte)).await, Ok(Ok(n)) if n > 0)
}

/// Resolves on SIGTERM (what Cloud Run sends) or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::warn!(error = %err, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(err) => {
                tracing::warn!(error = %err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!("Ctrl-C received"),
        () = terminate => tracing::info!("SIGTERM received"),
    }
}
