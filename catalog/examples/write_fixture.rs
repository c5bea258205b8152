//! Writes the old-format catalog fixture that `old_format_fixture_loads` reads. Run only when a
//! new fixture generation is wanted (never to "fix" a failing test: old fixtures are frozen):
//! `cargo run -p catalog --example write_fixture -- catalog/tests/fixtures/v1`

use std::sync::Arc;

use catalog::{Catalog, CatalogConfig, ColumnType, FieldType, Permission};
use object_store::local::LocalFileSystem;
use object_store::path::Path;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args().nth(1).ok_or("usage: write_fixture DIR")?;
    std::fs::create_dir_all(&dir)?;
    let store = Arc::new(LocalFileSystem::new_with_prefix(&dir)?);
    let cat = Catalog::open(
        store,
        CatalogConfig {
            prefix: Path::from("catalog"),
            snapshot_every: 256,
        },
    )
    .await?;
    let b = cat.resolve_v1("telegraf", "", true).await?;
    cat.add_columns(
        b.id,
        "cpu",
        vec![
            ("host".into(), ColumnType::Tag),
            ("usage_idle".into(), ColumnType::Field(FieldType::Float)),
        ],
    )
    .await?;
    cat.create_token(
        "fixture",
        vec![Permission::All],
        Some("fixture-operator-token"),
    )
    .await?;
    Ok(())
}
