//! `server` is Strata's front door: the `strata` command line, configuration, and the HTTP API
//! (InfluxDB v1 `/write`, `/ping`). It is thin on purpose: it turns HTTP into calls on `catalog`
//! and `engine` and their results back into 1.x-compatible responses.
//!
//! It is not: a parser (`lp`), a storage engine (`engine`), or the authority on names (`catalog`).
//!
//! # Overview
//! - [`Cli`] / [`ServeConfig`]: every flag with its `STRATA_*` environment twin.
//! - [`run`] opens the object store, catalog and engine, serves HTTP until SIGINT/SIGTERM, then
//!   drains in-flight requests and flushes every buffer before returning.
//! - [`ApiError`]: the single place where errors become status codes and JSON bodies.

mod admin;
mod allocator;
mod auth;
mod body;
mod cli;
mod config;
mod error;
mod http;
mod metrics;
mod sql;
mod state;
mod v1_query;

use std::sync::Arc;

use actix_web::dev::Service;
use actix_web::{web, App, HttpServer};
use catalog::Catalog;
use engine::Engine;
use object_store::ObjectStore;

use crate::state::AppState;

pub use config::{apply_config_file, Cli, Command, ServeConfig};
pub use error::ApiError;
pub use http::INFLUXDB_VERSION;

/// Runs a command line.
pub fn run(cli: Cli) -> Result<(), ApiError> {
    match cli.command {
        Command::Serve(config) => serve(config),
        Command::Bucket { target, action } => cli::bucket(&target, action),
        Command::Dbrp { target, action } => cli::dbrp(&target, action),
        Command::Token { target, action } => cli::token(&target, action),
        Command::Query { target, args } => cli::query(&target, args),
    }
}

fn init_logging(filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // A second init (tests calling serve twice in one process) is harmless.
    // Logs go to stderr (stdout carries the one-time token), coloured only on a terminal.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

/// `strata serve`: runs until SIGINT or SIGTERM, then shuts down gracefully.
pub fn serve(config: ServeConfig) -> Result<(), ApiError> {
    init_logging(&config.log);
    let io = |context: String| move |source| ApiError::Io { context, source };
    std::fs::create_dir_all(&config.data_dir).map_err(io(format!(
        "creating data dir {}",
        config.data_dir.display()
    )))?;
    let store: Arc<dyn ObjectStore> = Arc::new(engine::SyncedLocalStore::new(&config.data_dir)?);
    actix_web::rt::System::new().block_on(async move {
        // Installed before anything else and before the server says it is ready: a SIGTERM
        // that arrives while it starts must stop it gracefully, not kill it (the default
        // action), and actix's own handlers only exist once it runs.
        use tokio::signal::unix::{signal, SignalKind};
        let mut terminate =
            signal(SignalKind::terminate()).map_err(io("installing a SIGTERM handler".into()))?;
        let mut interrupt =
            signal(SignalKind::interrupt()).map_err(io("installing a SIGINT handler".into()))?;
        let catalog = Arc::new(Catalog::open(Arc::clone(&store), config.catalog_config()).await?);
        bootstrap_auth(&catalog, &config).await?;
        let engine = Engine::open(config.engine_config(), store, Arc::clone(&catalog)).await?;
        let query =
            query::QueryEngine::new(engine.clone(), Arc::clone(&catalog), config.query_config())?;
        let state = web::Data::new(AppState {
            catalog,
            engine: engine.clone(),
            query,
            max_body_bytes: config.max_body_bytes,
            metrics: metrics::Metrics::default(),
            write_permits: tokio::sync::Semaphore::new(config.max_concurrent_writes.max(1)),
            auth_enabled: !config.without_auth,
        });
        let workers = config.http_workers();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .wrap_fn(|req, srv| {
                    let (method, path) = (req.method().clone(), req.path().to_owned());
                    let state = req.app_data::<web::Data<AppState>>().cloned();
                    http::common_headers(method, path, state, srv.call(req))
                })
                .configure(http::routes)
                .default_service(web::to(http::not_found))
        })
        .workers(workers)
        .disable_signals()
        .shutdown_timeout(30)
        .bind(config.http_bind)
        .map_err(io(format!("binding {}", config.http_bind)))?;
        let addrs = server.addrs();
        let shown: Vec<String> = addrs.iter().map(ToString::to_string).collect();
        tracing::info!(
            listen = %shown.join(","),
            data_dir = %config.data_dir.display(),
            workers,
            flush_interval_ms = config.flush_interval_ms,
            flush_table_bytes = config.flush_table_bytes,
            max_body_bytes = config.max_body_bytes,
            "strata is ready"
        );
        if let (Some(path), Some(addr)) = (&config.listener_file, addrs.first()) {
            // Write then rename, so a reader never sees a half-written address.
            let tmp = path.with_extension("tmp");
            std::fs::write(&tmp, addr.to_string())
                .and_then(|()| std::fs::rename(&tmp, path))
                .map_err(io(format!("writing listener file {}", path.display())))?;
        }
        actix_web::rt::spawn(allocator::purge_when_idle(engine.clone()));
        if config.max_buffer_bytes != 0 {
            match allocator::bound_free_pages(allocator::BOUNDED_DECAY_MS) {
                Ok(()) => tracing::info!(
                    decay_ms = allocator::BOUNDED_DECAY_MS,
                    "--max-buffer-bytes is set: freed memory goes back to the kernel"
                ),
                Err((control, rc)) => {
                    tracing::warn!(control, rc, "could not bound the allocator's free pages")
                }
            }
        }
        let running = server.run();
        let handle = running.handle();
        actix_web::rt::spawn(async move {
            tokio::select! {
                _ = terminate.recv() => {}
                _ = interrupt.recv() => {}
            }
            tracing::info!("stop signal received: finishing requests in flight");
            handle.stop(true).await;
        });
        let served = running.await;
        tracing::info!("HTTP server stopped; flushing buffers");
        let flushed = engine.shutdown();
        served.map_err(io("serving HTTP".into()))?;
        flushed?;
        tracing::info!("shutdown complete");
        Ok(())
    })
}

/// First start: make sure an operator token exists. `--admin-token` names it (scripts, CI);
/// otherwise one is generated and printed once. `--without-auth` skips all of this, loudly.
async fn bootstrap_auth(catalog: &Catalog, config: &ServeConfig) -> Result<(), ApiError> {
    if config.without_auth {
        tracing::warn!("AUTHENTICATION IS DISABLED (--without-auth): anyone who can reach this port can write, create and delete data");
        return Ok(());
    }
    if let Some(token) = config.admin_token.as_deref() {
        if catalog.authenticate(token).is_none() {
            catalog
                .create_token(
                    "operator (--admin-token)",
                    vec![catalog::Permission::All],
                    Some(token),
                )
                .await?;
            tracing::info!("created the operator token given by --admin-token");
        }
        return Ok(());
    }
    if catalog.tokens().is_empty() {
        let (_, secret) = catalog
            .create_token("operator (bootstrap)", vec![catalog::Permission::All], None)
            .await?;
        // Printed, not logged: it must reach the person who started the server, once, and
        // never a log aggregator. Only its hash is stored.
        println!("\nStrata operator token (shown once; store it now):\n\n    {secret}\n\nUse it as 'Authorization: Token {secret}'.\n");
    }
    Ok(())
}
