//! The HTTP answers of a poisoned engine, over the real routes and engine.

use std::sync::Arc;

use actix_web::{test, web, App};
use clap::Parser;
use engine::test_helpers::Faulty;

use crate::state::AppState;

/// A flush thread that panics poisons the engine, and the server says so: the next write gets
/// 503 (not a 204 into buffers nobody flushes) and `/health` 503.
#[actix_web::test]
async fn a_panicking_flush_gives_503_to_writes_and_health() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data_dir = dir.path().to_str().expect("utf-8 path");
    let crate::Cli {
        command: crate::Command::Serve(config),
    } = crate::Cli::parse_from(["strata", "serve", "--data-dir", data_dir, "--without-auth"])
    else {
        panic!("not a serve command");
    };
    let store = Arc::new(Faulty::over(Arc::new(
        engine::SyncedLocalStore::new(dir.path()).expect("store"),
    )));
    let catalog = Arc::new(
        catalog::Catalog::open(Arc::clone(&store) as _, config.catalog_config())
            .await
            .expect("catalog"),
    );
    catalog.resolve_v1("db", "", true).await.expect("database");
    let engine = engine::Engine::open(
        config.engine_config(),
        Arc::clone(&store) as _,
        Arc::clone(&catalog),
    )
    .await
    .expect("engine");
    let query =
        query::QueryEngine::new(engine.clone(), Arc::clone(&catalog), config.query_config())
            .expect("query engine");
    let state = web::Data::new(AppState {
        catalog,
        engine: engine.clone(),
        query,
        max_body_bytes: config.max_body_bytes,
        metrics: crate::metrics::Metrics::default(),
        write_permits: tokio::sync::Semaphore::new(4),
        auth_enabled: false,
    });
    let app = test::init_service(App::new().app_data(state).configure(super::routes)).await;
    let write = |body: &'static str| {
        test::TestRequest::post()
            .uri("/write?db=db")
            .set_payload(body)
            .to_request()
    };
    let health = || test::TestRequest::get().uri("/health").to_request();

    assert_eq!(
        test::call_service(&app, write("m v=1i 1\n")).await.status(),
        204
    );
    assert_eq!(test::call_service(&app, health()).await.status(), 200);
    // Writing a Parquet file panics: a bug in the flush, as far as its thread can tell.
    *store.fail.lock() = Some("panic:.parquet".into());
    assert!(engine.flush_now().await.is_err(), "the flush thread died");
    let refused = test::call_service(&app, write("m v=2i 2\n")).await;
    assert_eq!(refused.status(), 503);
    assert_eq!(test::call_service(&app, health()).await.status(), 503);
}
