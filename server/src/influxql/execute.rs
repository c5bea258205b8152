//! Running a parsed statement as bucket and DBRP operations on the catalog.

use catalog::{Catalog, CatalogError};
use serde_json::{json, Value};

use super::duration::format_duration;
use super::Statement;

fn series(name: &str, columns: &[&str], values: Vec<Vec<Value>>) -> Value {
    if values.is_empty() {
        return json!([{ "name": name, "columns": columns }]);
    }
    json!([{ "name": name, "columns": columns, "values": values }])
}

/// Executes one statement; `default_db` is the request's `db` parameter. Returns the
/// statement's `series` (if any) or a message for its `error`.
pub(crate) async fn execute(
    catalog: &Catalog,
    stmt: &Statement,
    default_db: Option<&str>,
) -> Result<Option<Value>, String> {
    let text = |e: CatalogError| e.to_string();
    match stmt {
        Statement::CreateDatabase {
            name,
            rp,
            duration_ns,
        } => {
            if catalog.resolve_v1(name, rp, false).await.is_ok() {
                return Ok(None);
            }
            let bucket = catalog
                .create_bucket(&format!("{name}/{rp}"), *duration_ns)
                .await
                .map_err(text)?;
            let mapped = catalog
                .dbrps()
                .iter()
                .any(|d| !d.is_virtual && d.database == *name && d.retention_policy == *rp);
            if !mapped {
                catalog
                    .create_dbrp(name, rp, bucket.id, true)
                    .await
                    .map_err(text)?;
            }
            Ok(None)
        }
        Statement::DropDatabase { name } => {
            for d in catalog.dbrps().into_iter().filter(|d| d.database == *name) {
                if let Some(id) = d.id {
                    catalog.delete_dbrp(id).await.map_err(text)?;
                }
                if catalog.bucket(d.bucket).is_some() {
                    catalog.delete_bucket(d.bucket).await.map_err(text)?;
                }
            }
            Ok(None)
        }
        Statement::ShowDatabases => {
            let mut names: Vec<String> = catalog.dbrps().into_iter().map(|d| d.database).collect();
            names.sort();
            names.dedup();
            Ok(Some(series(
                "databases",
                &["name"],
                names.into_iter().map(|n| vec![json!(n)]).collect(),
            )))
        }
        Statement::CreateRetentionPolicy {
            name,
            db,
            duration_ns,
            default,
        } => {
            if !catalog.dbrps().iter().any(|d| d.database == *db) {
                return Err(CatalogError::DatabaseNotFound { db: db.clone() }.to_string());
            }
            if catalog
                .dbrps()
                .iter()
                .any(|d| d.database == *db && d.retention_policy == *name)
            {
                return Err("retention policy already exists".into());
            }
            let bucket = catalog
                .create_bucket(&format!("{db}/{name}"), *duration_ns)
                .await
                .map_err(text)?;
            catalog
                .create_dbrp(db, name, bucket.id, *default)
                .await
                .map_err(text)?;
            Ok(None)
        }
        Statement::AlterRetentionPolicy {
            name,
            db,
            duration_ns,
            default,
        } => {
            let dbrp = catalog
                .dbrps()
                .into_iter()
                .find(|d| d.database == *db && d.retention_policy == *name)
                .ok_or_else(|| "retention policy not found".to_owned())?;
            if let Some(duration) = duration_ns {
                catalog
                    .update_bucket_retention(dbrp.bucket, *duration)
                    .await
                    .map_err(text)?;
            }
            if *default {
                let id = match dbrp.id {
                    Some(id) => id,
                    None => catalog
                        .create_dbrp(db, name, dbrp.bucket, true)
                        .await
                        .map_err(text)?
                        .id
                        .ok_or("mapping without id")?,
                };
                catalog.set_dbrp_default(id, true).await.map_err(text)?;
            }
            Ok(None)
        }
        Statement::DropRetentionPolicy { name, db } => {
            if let Some(d) = catalog
                .dbrps()
                .into_iter()
                .find(|d| d.database == *db && d.retention_policy == *name)
            {
                if let Some(id) = d.id {
                    catalog.delete_dbrp(id).await.map_err(text)?;
                }
                if catalog.bucket(d.bucket).is_some() {
                    catalog.delete_bucket(d.bucket).await.map_err(text)?;
                }
            }
            Ok(None)
        }
        Statement::ShowRetentionPolicies { db } => {
            let db = db
                .as_deref()
                .or(default_db)
                .filter(|d| !d.is_empty())
                .ok_or("database name required")?;
            let rps: Vec<_> = catalog
                .dbrps()
                .into_iter()
                .filter(|d| d.database == db)
                .collect();
            if rps.is_empty() {
                return Err(CatalogError::DatabaseNotFound { db: db.to_owned() }.to_string());
            }
            let values = rps
                .into_iter()
                .map(|d| {
                    let retention = catalog.bucket(d.bucket).and_then(|b| b.retention_ns);
                    vec![
                        json!(d.retention_policy),
                        json!(format_duration(retention)),
                        json!("168h0m0s"),
                        json!(1),
                        json!(d.default),
                    ]
                })
                .collect();
            Ok(Some(series(
                "",
                &[
                    "name",
                    "duration",
                    "shardGroupDuration",
                    "replicaN",
                    "default",
                ],
                values,
            )))
        }
    }
}
