//! InfluxQL on the v1 `/query` endpoint: statements parsed by the `influxql` crate run as
//! catalog operations (databases, retention policies), lookups in the engine's metadata (SHOW)
//! or DataFusion plans over the same tables as SQL (SELECT), each answered in 1.x's series
//! model ([`Series`]).

mod calls;
mod cond;
mod ddl;
mod fields;
mod result;
mod select;
mod series;
mod show;
mod subquery;
mod time;
mod zone;

use std::sync::Arc;

use catalog::{Bucket, BucketId};
use influxql::{SelectStatement, Source, Statement};

pub use result::{Series, StatementResult, Value};

use crate::{QueryEngine, QueryError, Result};

/// Who asks, and what the request names.
pub struct V1Request<'a> {
    /// The `db` parameter.
    pub db: Option<&'a str>,
    /// The `rp` parameter.
    pub rp: Option<&'a str>,
    /// Whether the caller may change the catalog (an operator).
    pub operator: bool,
    /// Whether the caller may read a bucket.
    pub can_read: &'a (dyn Fn(BucketId) -> bool + Send + Sync),
    /// `now()` for every statement of the request (ns).
    pub now_ns: i64,
}

impl std::fmt::Debug for V1Request<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("V1Request")
            .field("db", &self.db)
            .field("rp", &self.rp)
            .field("operator", &self.operator)
            .finish_non_exhaustive()
    }
}

impl QueryEngine {
    /// Runs `statements` in order, one result each. Every statement is authorized first, as
    /// 1.x does: a statement the caller may not run fails the whole request
    /// ([`QueryError::Unauthorized`]); any other failure is that statement's error.
    pub async fn influxql(
        &self,
        statements: &[Statement],
        req: &V1Request<'_>,
    ) -> Result<Vec<StatementResult>> {
        for stmt in statements {
            self.authorize(stmt, req).await?;
        }
        let mut out = Vec::with_capacity(statements.len());
        for stmt in statements {
            out.push(self.statement(stmt, req).await);
        }
        Ok(out)
    }

    async fn authorize(&self, stmt: &Statement, req: &V1Request<'_>) -> Result<()> {
        let denied = |what: &str| {
            QueryError::Unauthorized(format!(
                "error authorizing query: not authorized to execute statement '{stmt}', requires {what}"
            ))
        };
        if ddl::is_ddl(stmt) || !reads(stmt) {
            return match req.operator || !ddl::is_ddl(stmt) {
                true => Ok(()),
                false => Err(denied("admin privilege")),
            };
        }
        // A database that does not resolve is the statement's own error, not a denial.
        for (db, rp) in databases(stmt, req) {
            if let Ok(bucket) = self.resolve(&db, &rp).await {
                if !(req.can_read)(bucket.id) {
                    return Err(denied(&format!("READ on {db}")));
                }
            }
        }
        Ok(())
    }

    async fn resolve(&self, db: &str, rp: &str) -> std::result::Result<Bucket, String> {
        if db.is_empty() {
            return Err("database name required".into());
        }
        self.catalog
            .resolve_v1(db, rp, false)
            .await
            .map_err(|e| match e {
                catalog::CatalogError::DatabaseNotFound { .. } => {
                    format!("database not found: {db}")
                }
                other => other.to_string(),
            })
    }

    async fn statement(&self, stmt: &Statement, req: &V1Request<'_>) -> StatementResult {
        if let Some(done) = ddl::execute(&self.catalog, stmt, req.db).await {
            return done;
        }
        let on = |database: &Option<String>| {
            database
                .clone()
                .or(req.db.map(str::to_owned))
                .unwrap_or_default()
        };
        let rp = req.rp.unwrap_or_default();
        match stmt {
            Statement::ShowMeasurements(s) => match self.resolve(&on(&s.database), rp).await {
                Ok(bucket) => show::measurements(&self.engine, &bucket, s),
                // 1.x lists no measurements of a database that does not exist.
                Err(e) if e.starts_with("database not found") => Ok(Vec::new()),
                Err(e) => Err(e),
            },
            Statement::ShowTagKeys(s) => {
                let bucket = self.resolve(&on(&s.database), rp).await?;
                show::tag_keys(&self.engine, &bucket, s)
            }
            Statement::ShowTagValues(s) => {
                let bucket = self.resolve(&on(&s.database), rp).await?;
                show::tag_values(&self.engine, &bucket, s)
            }
            Statement::ShowFieldKeys(s) => {
                let bucket = self.resolve(&on(&s.database), rp).await?;
                show::field_keys(&self.catalog, &bucket, s)
            }
            Statement::ShowSeries(s) => {
                let bucket = self.resolve(&on(&s.database), rp).await?;
                show::series(&self.engine, &bucket, s)
            }
            Statement::ShowCardinality(s) => {
                let bucket = self.resolve(&on(&s.database), rp).await?;
                show::cardinality(&self.engine, &self.catalog, &bucket, s)
            }
            Statement::Select(s) => self.select(s, req).await,
            other => Err(format!("statement not supported by Strata: {other}")),
        }
    }

    async fn select(&self, stmt: &SelectStatement, req: &V1Request<'_>) -> StatementResult {
        let everything = time::Range {
            min: None,
            max: None,
        };
        self.select_within(stmt, req, everything).await
    }

    /// A SELECT whose time range is narrowed to `outer` (a subquery's by its outer query).
    fn select_within<'a>(
        &'a self,
        stmt: &'a SelectStatement,
        req: &'a V1Request<'_>,
        outer: time::Range,
    ) -> futures::future::BoxFuture<'a, StatementResult> {
        Box::pin(async move {
            if stmt.into.is_some() {
                return Err("SELECT INTO is not supported by Strata".into());
            }
            if let Some(tz) = &stmt.timezone {
                zone::parse(tz)?;
            }
            let range = time::range(stmt.condition.as_ref(), req.now_ns)?.within(outer);
            // Every measurement the sources name (a subquery's answer is read as measurements
            // too), with the session that reads it.
            let mut tables = Vec::new();
            for source in &stmt.sources {
                match source {
                    Source::Measurement(m) => {
                        let db = m
                            .database
                            .clone()
                            .or(req.db.map(str::to_owned))
                            .unwrap_or_default();
                        let rp = m
                            .retention_policy
                            .clone()
                            .or(req.rp.map(str::to_owned))
                            .unwrap_or_default();
                        let bucket = self.resolve(&db, &rp).await?;
                        let ctx = Arc::new(self.context(&bucket).map_err(|e| e.to_string())?);
                        for (measurement, schema) in self.catalog.tables_of(bucket.id) {
                            if cond::name_matches(&m.name, &measurement)? {
                                tables.push((ctx.clone(), measurement, schema));
                            }
                        }
                    }
                    Source::Subquery(inner) => {
                        let answer = self.select_within(inner, req, range).await?;
                        let ctx = Arc::new(datafusion::prelude::SessionContext::new());
                        for t in subquery::tables(answer)? {
                            let mem = datafusion::datasource::MemTable::try_new(
                                t.batch.schema(),
                                vec![vec![t.batch]],
                            )
                            .map_err(|e| e.to_string())?;
                            ctx.register_table(
                                datafusion::common::TableReference::bare(t.name.clone()),
                                Arc::new(mem),
                            )
                            .map_err(|e| e.to_string())?;
                            tables.push((ctx.clone(), t.name, Arc::new(t.schema)));
                        }
                    }
                }
            }
            // `*` and regexes expand over the columns of all of them, as 1.x does.
            let mut union: std::collections::BTreeMap<String, catalog::ColumnType> =
                Default::default();
            for (_, _, schema) in &tables {
                for (name, ty) in schema.columns() {
                    union.entry(name.to_owned()).or_insert(ty);
                }
            }
            let union = catalog::TableSchema::new(union);
            let grouped = match stmt.dimensions.iter().any(|d| {
                matches!(
                    d.expr,
                    influxql::Expr::Wildcard(_) | influxql::Expr::Regex(_)
                )
            }) {
                true => None,
                false => Some(select::group_tags(stmt, &union)?),
            };
            let columns = fields::expand(&stmt.fields, &union, grouped.as_deref())?;
            let mut out = Vec::new();
            for (ctx, measurement, schema) in tables {
                let planned = select::plan(
                    &ctx,
                    &measurement,
                    &schema,
                    stmt,
                    &columns,
                    range,
                    req.now_ns,
                )
                .await?;
                let Some((df, shape)) = planned else {
                    continue;
                };
                let started = std::time::Instant::now();
                let batches = self.run(select::collect(df)).await.and_then(|r| r);
                self.record(started, &batches);
                let batches = batches.map_err(|e| e.to_string())?;
                out.extend(series::shape(
                    &measurement,
                    &batches,
                    &shape,
                    stmt,
                    range,
                    req.now_ns,
                )?);
            }
            // Series in measurement order, then tag order, whatever the order of the sources.
            out.sort_by(|a, b| a.name.cmp(&b.name));
            Ok(out)
        })
    }
}

/// Whether a statement reads data (and so needs read permission on its database).
fn reads(stmt: &Statement) -> bool {
    matches!(
        stmt,
        Statement::Select(_)
            | Statement::Explain { .. }
            | Statement::ShowMeasurements(_)
            | Statement::ShowTagKeys(_)
            | Statement::ShowTagValues(_)
            | Statement::ShowFieldKeys(_)
            | Statement::ShowSeries(_)
            | Statement::ShowCardinality(_)
    )
}

/// The databases (and retention policies) a reading statement names, the request's by default.
fn databases(stmt: &Statement, req: &V1Request<'_>) -> Vec<(String, String)> {
    let default = |db: &Option<String>| {
        (
            db.clone().or(req.db.map(str::to_owned)).unwrap_or_default(),
            req.rp.unwrap_or_default().to_owned(),
        )
    };
    match stmt {
        Statement::Select(s) | Statement::Explain { select: s, .. } => {
            let mut out = Vec::new();
            select_databases(s, req, &mut out);
            out
        }
        Statement::ShowMeasurements(s) => vec![default(&s.database)],
        Statement::ShowTagKeys(s) => vec![default(&s.database)],
        Statement::ShowTagValues(s) => vec![default(&s.database)],
        Statement::ShowFieldKeys(s) => vec![default(&s.database)],
        Statement::ShowSeries(s) => vec![default(&s.database)],
        Statement::ShowCardinality(s) => vec![default(&s.database)],
        _ => Vec::new(),
    }
}

fn select_databases(s: &SelectStatement, req: &V1Request<'_>, out: &mut Vec<(String, String)>) {
    for source in &s.sources {
        match source {
            Source::Measurement(m) => out.push((
                m.database
                    .clone()
                    .or(req.db.map(str::to_owned))
                    .unwrap_or_default(),
                m.retention_policy
                    .clone()
                    .or(req.rp.map(str::to_owned))
                    .unwrap_or_default(),
            )),
            Source::Subquery(inner) => select_databases(inner, req, out),
        }
    }
}
