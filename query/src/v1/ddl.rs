//! The statements that manage databases and retention policies, as bucket and DBRP operations
//! on the catalog: a database + retention policy is the bucket `db/rp` with an explicit
//! mapping, and the policy's duration is the bucket's retention.

use catalog::{Catalog, CatalogError, DEFAULT_RP};
use influxql::{Duration, Statement};

use super::result::{Series, StatementResult, Value};

/// A retention of 0 (`INF`) keeps data forever.
fn retention(d: Duration) -> Option<i64> {
    (d.0 > 0).then_some(d.0)
}

/// Runs a DDL or `SHOW DATABASES|RETENTION POLICIES` statement; `None` if `stmt` is not one.
pub(super) async fn execute(
    catalog: &Catalog,
    stmt: &Statement,
    default_db: Option<&str>,
) -> Option<StatementResult> {
    let result = match stmt {
        Statement::CreateDatabase(c) => {
            let spec = c.retention_policy.clone().unwrap_or_default();
            let rp = spec.name.unwrap_or_else(|| DEFAULT_RP.to_owned());
            create_database(catalog, &c.name, &rp, spec.duration.and_then(retention)).await
        }
        Statement::DropDatabase { name } => drop_where(catalog, |d| d.database == *name).await,
        Statement::ShowDatabases => Ok(show_databases(catalog)),
        Statement::CreateRetentionPolicy(c) => {
            create_rp(
                catalog,
                &c.database,
                &c.name,
                retention(c.duration),
                c.default,
            )
            .await
        }
        Statement::AlterRetentionPolicy(a) => {
            alter_rp(
                catalog,
                &a.database,
                &a.name,
                a.duration.map(retention),
                a.default,
            )
            .await
        }
        Statement::DropRetentionPolicy { name, database } => {
            drop_where(catalog, |d| {
                d.database == *database && d.retention_policy == *name
            })
            .await
        }
        Statement::ShowRetentionPolicies { database } => {
            show_rps(catalog, database.as_deref().or(default_db))
        }
        _ => return None,
    };
    Some(result)
}

fn text(e: CatalogError) -> String {
    e.to_string()
}

/// Whether `stmt` changes the catalog (only an operator may run it).
pub(super) fn is_ddl(stmt: &Statement) -> bool {
    matches!(
        stmt,
        Statement::CreateDatabase(_)
            | Statement::DropDatabase { .. }
            | Statement::CreateRetentionPolicy(_)
            | Statement::AlterRetentionPolicy(_)
            | Statement::DropRetentionPolicy { .. }
    )
}

async fn create_database(
    catalog: &Catalog,
    name: &str,
    rp: &str,
    retention_ns: Option<i64>,
) -> StatementResult {
    // 1.x: creating an existing database succeeds and changes nothing.
    if catalog.resolve_v1(name, rp, false).await.is_ok() {
        return Ok(Vec::new());
    }
    let bucket = catalog
        .create_bucket(&format!("{name}/{rp}"), retention_ns)
        .await
        .map_err(text)?;
    let mapped = catalog
        .dbrps()
        .iter()
        .any(|d| !d.is_virtual && d.database == name && d.retention_policy == rp);
    if !mapped {
        catalog
            .create_dbrp(name, rp, bucket.id, true)
            .await
            .map_err(text)?;
    }
    Ok(Vec::new())
}

/// Drops the mappings `which` selects and their buckets.
async fn drop_where(catalog: &Catalog, which: impl Fn(&catalog::Dbrp) -> bool) -> StatementResult {
    for d in catalog.dbrps().into_iter().filter(|d| which(d)) {
        if let Some(id) = d.id {
            catalog.delete_dbrp(id).await.map_err(text)?;
        }
        if catalog.bucket(d.bucket).is_some() {
            catalog.delete_bucket(d.bucket).await.map_err(text)?;
        }
    }
    Ok(Vec::new())
}

fn show_databases(catalog: &Catalog) -> Vec<Series> {
    let mut names: Vec<String> = catalog.dbrps().into_iter().map(|d| d.database).collect();
    names.sort();
    names.dedup();
    let mut s = Series::new(Some("databases"), &["name"]);
    s.values = names.into_iter().map(|n| vec![Value::String(n)]).collect();
    vec![s]
}

async fn create_rp(
    catalog: &Catalog,
    db: &str,
    name: &str,
    retention_ns: Option<i64>,
    default: bool,
) -> StatementResult {
    if !catalog.dbrps().iter().any(|d| d.database == db) {
        return Err(text(CatalogError::DatabaseNotFound { db: db.to_owned() }));
    }
    if catalog
        .dbrps()
        .iter()
        .any(|d| d.database == db && d.retention_policy == name)
    {
        return Err("retention policy already exists".into());
    }
    let bucket = catalog
        .create_bucket(&format!("{db}/{name}"), retention_ns)
        .await
        .map_err(text)?;
    catalog
        .create_dbrp(db, name, bucket.id, default)
        .await
        .map_err(text)?;
    Ok(Vec::new())
}

async fn alter_rp(
    catalog: &Catalog,
    db: &str,
    name: &str,
    retention_ns: Option<Option<i64>>,
    default: bool,
) -> StatementResult {
    let dbrp = catalog
        .dbrps()
        .into_iter()
        .find(|d| d.database == db && d.retention_policy == name)
        .ok_or("retention policy not found")?;
    if let Some(retention) = retention_ns {
        catalog
            .update_bucket_retention(dbrp.bucket, retention)
            .await
            .map_err(text)?;
    }
    if default {
        let id = match dbrp.id {
            Some(id) => Some(id),
            None => {
                catalog
                    .create_dbrp(db, name, dbrp.bucket, true)
                    .await
                    .map_err(text)?
                    .id
            }
        };
        if let Some(id) = id {
            catalog.set_dbrp_default(id, true).await.map_err(text)?;
        }
    }
    Ok(Vec::new())
}

fn show_rps(catalog: &Catalog, db: Option<&str>) -> StatementResult {
    let db = db
        .filter(|d| !d.is_empty())
        .ok_or("database name required")?;
    let rps: Vec<_> = catalog
        .dbrps()
        .into_iter()
        .filter(|d| d.database == db)
        .collect();
    if rps.is_empty() {
        return Err(text(CatalogError::DatabaseNotFound { db: db.to_owned() }));
    }
    let mut s = Series::new(
        None,
        &[
            "name",
            "duration",
            "shardGroupDuration",
            "replicaN",
            "default",
        ],
    );
    s.values = rps
        .into_iter()
        .map(|d| {
            let retention = catalog.bucket(d.bucket).and_then(|b| b.retention_ns);
            vec![
                Value::String(d.retention_policy),
                Value::String(format_duration(retention)),
                Value::String("168h0m0s".into()),
                Value::Integer(1),
                Value::Boolean(d.default),
            ]
        })
        .collect();
    Ok(vec![s])
}

/// A retention as 1.x prints it (`168h0m0s`; `0s` for forever).
pub(super) fn format_duration(ns: Option<i64>) -> String {
    let Some(ns) = ns else { return "0s".into() };
    let secs = ns / 1_000_000_000;
    let (h, m, s) = (secs / 3600, (secs % 3600) / 60, secs % 60);
    if h > 0 {
        format!("{h}h{m}m{s}s")
    } else if m > 0 {
        format!("{m}m{s}s")
    } else {
        format!("{s}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_print_as_1x() {
        assert_eq!(format_duration(None), "0s");
        assert_eq!(format_duration(Some(7 * 86_400_000_000_000)), "168h0m0s");
        assert_eq!(format_duration(Some(90 * 1_000_000_000)), "1m30s");
    }
}
