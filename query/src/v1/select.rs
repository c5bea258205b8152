//! A SELECT planned onto DataFusion, one measurement at a time: the WHERE clause becomes a
//! filter (time, tags and fields alike), raw fields a projection sorted by series and time,
//! aggregates a grouping by `date_bin` window and tags. What DataFusion returns is then shaped
//! into 1.x's series ([`super::series`]): windows filled, rows limited per series.

use catalog::{ColumnType, TableSchema};
use datafusion::common::ScalarValue;
use datafusion::functions_aggregate::expr_fn as agg;
use datafusion::logical_expr::{binary_expr, ident, lit, ExprFunctionExt, Operator, SortExpr};
use datafusion::prelude::{DataFrame, Expr as DfExpr, SessionContext};
use influxql::{BinaryOp, Expr, SelectStatement};

use super::fields::{self, AGGREGATES};
use super::time::{self, Range};

/// What one measurement's part of a SELECT needs besides its plan.
#[derive(Debug)]
pub(super) struct Shape {
    /// Output columns after `time`.
    pub(super) columns: Vec<String>,
    /// Tags the series are grouped by, in key order.
    pub(super) tags: Vec<String>,
    /// `GROUP BY time(interval, offset)` (ns).
    pub(super) window: Option<(i64, i64)>,
    /// Whether the fields are aggregates (one row per series and window).
    pub(super) aggregate: bool,
    /// Without `GROUP BY time`, a lone selector reports its point's time (an extra column
    /// after the fields); other aggregates the range's start.
    pub(super) selector_time: bool,
}

/// The statement's `GROUP BY time(…)`, if any: interval and offset in ns.
pub(super) fn window(stmt: &SelectStatement, now: i64) -> Result<Option<(i64, i64)>, String> {
    for d in &stmt.dimensions {
        if let Expr::Call { name, args } = &d.expr {
            if name == "time" {
                let interval = match args.first() {
                    Some(Expr::Duration(d)) if d.0 > 0 => d.0,
                    _ => return Err("time dimension must have duration argument".into()),
                };
                let offset = match args.get(1) {
                    None => 0,
                    Some(Expr::Duration(d)) => d.0,
                    Some(Expr::Call { name, .. }) if name == "now" => now,
                    Some(_) => return Err("time dimension offset must be duration or now()".into()),
                };
                return Ok(Some((interval, offset.rem_euclid(interval))));
            }
        }
    }
    Ok(None)
}

/// The tags `GROUP BY` names for a measurement of `schema` (`*`: all; `/re/`: those matching).
pub(super) fn group_tags(
    stmt: &SelectStatement,
    schema: &TableSchema,
) -> Result<Vec<String>, String> {
    let tags: Vec<&str> = schema
        .columns()
        .filter(|(_, t)| *t == ColumnType::Tag)
        .map(|(n, _)| n)
        .collect();
    let mut out: Vec<String> = Vec::new();
    for d in &stmt.dimensions {
        match &d.expr {
            Expr::Call { name, .. } if name == "time" => {}
            Expr::Wildcard(_) => out.extend(tags.iter().map(|t| (*t).to_owned())),
            Expr::Regex(r) => {
                let re = super::cond::regex(&r.0)?;
                out.extend(
                    tags.iter()
                        .filter(|t| re.is_match(t))
                        .map(|t| (*t).to_owned()),
                );
            }
            // A tag the measurement lacks still groups (every series has it empty).
            Expr::VarRef { name, .. } => out.push(name.clone()),
            other => return Err(format!("only time and tag dimensions allowed: {other}")),
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// Plans `stmt` over one measurement of `ctx`; `None` when it selects nothing there.
pub(super) async fn plan(
    ctx: &SessionContext,
    measurement: &str,
    schema: &TableSchema,
    stmt: &SelectStatement,
    range: Range,
    now: i64,
) -> Result<Option<(DataFrame, Shape)>, String> {
    let window = window(stmt, now)?;
    let tags = group_tags(stmt, schema)?;
    let columns = fields::expand(&stmt.fields, schema, &tags)?;
    let aggregate = columns.iter().any(|c| fields::has_call(&c.expr));
    if aggregate && columns.iter().any(|c| !fields::has_call(&c.expr)) {
        return Err("mixing aggregate and non-aggregate queries is not supported".into());
    }
    if !aggregate && window.is_some() {
        return Err("GROUP BY requires at least one aggregate function".into());
    }
    let has_field = |e: &Expr| refs_a_field(e, schema);
    if !columns.iter().any(|c| has_field(&c.expr)) {
        return Ok(None);
    }
    let df = ctx
        .table(datafusion::common::TableReference::bare(measurement))
        .await
        .map_err(|e| e.to_string())?;
    let mut cond = stmt.condition.clone();
    // The time bounds, also as a filter: they are what prunes files.
    let bounds = [
        range.min.map(|m| (BinaryOp::Gte, m)),
        range.max.map(|m| (BinaryOp::Lte, m)),
    ];
    let mut filter: Option<DfExpr> = match cond.take() {
        Some(c) => Some(condition(&c, schema, now)?),
        None => None,
    };
    for (op, t) in bounds.into_iter().flatten() {
        let term = binary_expr(ident("time"), operator(op)?, timestamp(t));
        filter = Some(match filter {
            Some(f) => f.and(term),
            None => term,
        });
    }
    let df = match filter {
        Some(f) => df.filter(f).map_err(|e| e.to_string())?,
        None => df,
    };
    let tag_exprs: Vec<DfExpr> = tags.iter().map(|t| tag_or_empty(t, schema)).collect();
    let mut selector_time = false;
    let df = if aggregate {
        let mut inner: Vec<DfExpr> = Vec::new();
        let mut outer: Vec<DfExpr> = Vec::new();
        for (i, c) in columns.iter().enumerate() {
            outer.push(aggregate_expr(&c.expr, schema, &mut inner)?.alias(format!("_f{i}")));
        }
        if window.is_none() && columns.len() == 1 {
            if let Expr::Call { name, args } = &columns[0].expr {
                if let Some(t) = selected_time(name, field_of(args)) {
                    inner.push(t.alias("_st"));
                    outer.push(ident("_st"));
                    selector_time = true;
                }
            }
        }
        let mut group: Vec<DfExpr> = Vec::new();
        let mut head: Vec<DfExpr> = Vec::new();
        if let Some((interval, offset)) = window {
            group.push(
                datafusion::functions::expr_fn::date_bin(
                    interval_lit(interval),
                    ident("time"),
                    timestamp(offset),
                )
                .alias("_t"),
            );
            head.push(ident("_t"));
        }
        for (t, e) in tags.iter().zip(&tag_exprs) {
            group.push(e.clone().alias(format!("_g_{t}")));
            head.push(ident(format!("_g_{t}")));
        }
        head.extend(outer);
        df.aggregate(group, inner)
            .and_then(|df| df.select(head))
            .map_err(|e| e.to_string())?
    } else {
        let mut select = vec![ident("time")];
        for (t, e) in tags.iter().zip(&tag_exprs) {
            select.push(e.clone().alias(format!("_g_{t}")));
        }
        for (i, c) in columns.iter().enumerate() {
            select.push(raw_expr(&c.expr, schema)?.alias(format!("_f{i}")));
        }
        let mut sort: Vec<SortExpr> = tags
            .iter()
            .map(|t| ident(format!("_g_{t}")).sort(true, true))
            .collect();
        sort.push(ident("time").sort(true, true));
        df.select(select)
            .and_then(|df| df.sort(sort))
            .map_err(|e| e.to_string())?
    };
    Ok(Some((
        df,
        Shape {
            columns: columns.into_iter().map(|c| c.name).collect(),
            tags,
            window,
            aggregate,
            selector_time,
        },
    )))
}

fn field_of(args: &[Expr]) -> Option<&str> {
    match args.first() {
        Some(Expr::VarRef { name, .. }) => Some(name),
        _ => None,
    }
}

/// A selector's point time: the time of the row it picks (the earliest among ties).
fn selected_time(func: &str, field: Option<&str>) -> Option<DfExpr> {
    let field = field?;
    let time_asc = ident("time").sort(true, false);
    let order = match func {
        "min" => vec![ident(field).sort(true, false), time_asc],
        "max" => vec![ident(field).sort(false, false), time_asc],
        "first" => vec![time_asc],
        "last" => vec![ident("time").sort(false, false)],
        _ => return None,
    };
    datafusion::functions_aggregate::first_last::first_value_udaf()
        .call(vec![ident("time")])
        .order_by(order)
        .filter(ident(field).is_not_null())
        .build()
        .ok()
}

/// Whether `e` reads at least one field of `schema` (a SELECT of tags alone returns nothing).
fn refs_a_field(e: &Expr, schema: &TableSchema) -> bool {
    match e {
        Expr::VarRef { name, .. } => matches!(schema.column(name), Some(ColumnType::Field(_))),
        Expr::Call { args, .. } => args.iter().any(|a| refs_a_field(a, schema)),
        Expr::Distinct(name) => matches!(schema.column(name), Some(ColumnType::Field(_))),
        Expr::Binary { lhs, rhs, .. } => refs_a_field(lhs, schema) || refs_a_field(rhs, schema),
        Expr::Paren(e) => refs_a_field(e, schema),
        _ => false,
    }
}

/// A tag column, or the empty string for a tag the measurement lacks (1.x groups it so).
fn tag_or_empty(tag: &str, schema: &TableSchema) -> DfExpr {
    match schema.column(tag) {
        Some(ColumnType::Tag) => datafusion::functions::expr_fn::coalesce(vec![
            datafusion::logical_expr::cast(ident(tag), arrow::datatypes::DataType::Utf8),
            lit(""),
        ]),
        _ => lit(""),
    }
}

/// A timestamp literal of the time column's type.
fn timestamp(ns: i64) -> DfExpr {
    lit(ScalarValue::TimestampNanosecond(
        Some(ns),
        Some("UTC".into()),
    ))
}

fn interval_lit(ns: i64) -> DfExpr {
    lit(ScalarValue::IntervalMonthDayNano(Some(
        arrow::datatypes::IntervalMonthDayNano::new(0, 0, ns),
    )))
}

/// A column of `schema` (`time` included), or null for a name it lacks (1.x reads a missing
/// field or tag as null).
fn column(name: &str, schema: &TableSchema) -> DfExpr {
    if name == "time" || schema.column(name).is_some() {
        ident(name)
    } else {
        lit(ScalarValue::Null)
    }
}

fn operator(op: BinaryOp) -> Result<Operator, String> {
    Ok(match op {
        BinaryOp::Add => Operator::Plus,
        BinaryOp::Sub => Operator::Minus,
        BinaryOp::Mul => Operator::Multiply,
        BinaryOp::Div => Operator::Divide,
        BinaryOp::Mod => Operator::Modulo,
        BinaryOp::BitAnd => Operator::BitwiseAnd,
        BinaryOp::BitOr => Operator::BitwiseOr,
        BinaryOp::BitXor => Operator::BitwiseXor,
        BinaryOp::And => Operator::And,
        BinaryOp::Or => Operator::Or,
        BinaryOp::Eq => Operator::Eq,
        BinaryOp::Neq => Operator::NotEq,
        BinaryOp::EqRegex => Operator::RegexMatch,
        BinaryOp::NeqRegex => Operator::RegexNotMatch,
        BinaryOp::Lt => Operator::Lt,
        BinaryOp::Lte => Operator::LtEq,
        BinaryOp::Gt => Operator::Gt,
        BinaryOp::Gte => Operator::GtEq,
    })
}

fn literal(e: &Expr) -> Option<DfExpr> {
    Some(match e {
        Expr::Integer(i) => lit(*i),
        Expr::Unsigned(u) => lit(*u),
        Expr::Number(f) => lit(*f),
        Expr::String(s) => lit(s.clone()),
        Expr::Boolean(b) => lit(*b),
        Expr::Regex(r) => lit(r.0.clone()),
        _ => return None,
    })
}

/// The WHERE clause as a DataFusion predicate.
fn condition(e: &Expr, schema: &TableSchema, now: i64) -> Result<DfExpr, String> {
    match e {
        Expr::Paren(inner) => condition(inner, schema, now),
        Expr::Binary { op, lhs, rhs } if matches!(op, BinaryOp::And | BinaryOp::Or) => {
            Ok(binary_expr(
                condition(lhs, schema, now)?,
                operator(*op)?,
                condition(rhs, schema, now)?,
            ))
        }
        Expr::Binary { op, lhs, rhs } if time::is_time(lhs) || time::is_time(rhs) => {
            let (op, other) = match time::is_time(lhs) {
                true => (*op, rhs),
                false => (time::flip(*op), lhs),
            };
            Ok(binary_expr(
                ident("time"),
                operator(op)?,
                timestamp(time::instant(other, now)?),
            ))
        }
        Expr::Binary { op, lhs, rhs } => {
            let side = |x: &Expr| match x {
                Expr::VarRef { name, .. } => Ok(column(name, schema)),
                other => literal(other)
                    .or_else(|| raw_expr(other, schema).ok())
                    .ok_or_else(|| format!("invalid condition: {e}")),
            };
            let (l, r) = (side(lhs)?, side(rhs)?);
            // A tag compares as a string (its dictionary is not a type a literal casts to).
            let cast_tag = |x: DfExpr, side: &Expr| match side {
                Expr::VarRef { name, .. } if schema.column(name) == Some(ColumnType::Tag) => {
                    datafusion::logical_expr::cast(x, arrow::datatypes::DataType::Utf8)
                }
                _ => x,
            };
            let (l, r) = (cast_tag(l, lhs), cast_tag(r, rhs));
            // A missing tag reads as '' in comparisons with strings (1.x), not null.
            let empty_if_missing = |x: DfExpr, side: &Expr| match side {
                Expr::VarRef { name, .. }
                    if schema.column(name).is_none_or(|t| t == ColumnType::Tag)
                        && matches!(&**rhs, Expr::String(_) | Expr::Regex(_)) =>
                {
                    datafusion::functions::expr_fn::coalesce(vec![x, lit("")])
                }
                _ => x,
            };
            Ok(binary_expr(empty_if_missing(l, lhs), operator(*op)?, r))
        }
        Expr::Boolean(b) => Ok(lit(*b)),
        other => Err(format!("invalid condition: {other}")),
    }
}

/// A raw field expression: columns, literals and arithmetic.
fn raw_expr(e: &Expr, schema: &TableSchema) -> Result<DfExpr, String> {
    match e {
        Expr::VarRef { name, .. } => Ok(match schema.column(name) {
            Some(ColumnType::Tag) => {
                datafusion::logical_expr::cast(ident(name), arrow::datatypes::DataType::Utf8)
            }
            _ => column(name, schema),
        }),
        Expr::Paren(e) => raw_expr(e, schema),
        Expr::Binary { op, lhs, rhs } => Ok(binary_expr(
            raw_expr(lhs, schema)?,
            operator(*op)?,
            raw_expr(rhs, schema)?,
        )),
        other => literal(other).ok_or_else(|| format!("unsupported expression: {other}")),
    }
}

/// An aggregate field: each function call becomes an inner aggregate (`_a{n}`), the arithmetic
/// around them an expression over those columns.
fn aggregate_expr(
    e: &Expr,
    schema: &TableSchema,
    inner: &mut Vec<DfExpr>,
) -> Result<DfExpr, String> {
    match e {
        Expr::Paren(e) => aggregate_expr(e, schema, inner),
        Expr::Binary { op, lhs, rhs } => Ok(binary_expr(
            aggregate_expr(lhs, schema, inner)?,
            operator(*op)?,
            aggregate_expr(rhs, schema, inner)?,
        )),
        Expr::Call { name, args } if name == "spread" => {
            let max = Expr::Call {
                name: "max".into(),
                args: args.clone(),
            };
            let min = Expr::Call {
                name: "min".into(),
                args: args.clone(),
            };
            Ok(binary_expr(
                aggregate_expr(&max, schema, inner)?,
                Operator::Minus,
                aggregate_expr(&min, schema, inner)?,
            ))
        }
        Expr::Call { name, args } => {
            let call = function(name, args, schema)?;
            let alias = format!("_a{}", inner.len());
            inner.push(call.alias(&alias));
            Ok(ident(alias))
        }
        other => literal(other).ok_or_else(|| format!("unsupported expression: {other}")),
    }
}

fn function(name: &str, args: &[Expr], schema: &TableSchema) -> Result<DfExpr, String> {
    if !AGGREGATES.contains(&name) {
        return Err(format!("unsupported function: {name}()"));
    }
    let field = match args {
        [Expr::VarRef { name: f, .. }] => f.as_str(),
        [Expr::Distinct(f)] if name == "count" => {
            return Ok(agg::count_distinct(column(f, schema)));
        }
        _ => {
            return Err(format!(
                "invalid number of arguments for {name}, expected 1, got {}",
                args.len()
            ))
        }
    };
    let x = column(field, schema);
    let by_time = |asc: bool| vec![ident("time").sort(asc, false)];
    let pick = |asc: bool| {
        datafusion::functions_aggregate::first_last::first_value_udaf()
            .call(vec![x.clone()])
            .order_by(by_time(asc))
            .filter(x.clone().is_not_null())
            .build()
            .map_err(|e| e.to_string())
    };
    Ok(match name {
        "count" => agg::count(x),
        "sum" => agg::sum(x),
        "mean" => agg::avg(x),
        "median" => agg::median(x),
        "min" => agg::min(x),
        "max" => agg::max(x),
        "stddev" => agg::stddev(x),
        "first" => pick(true)?,
        "last" => pick(false)?,
        _ => return Err(format!("unsupported function: {name}()")),
    })
}

/// A plan's batches, collected.
pub(super) async fn collect(df: DataFrame) -> crate::Result<Vec<arrow::record_batch::RecordBatch>> {
    Ok(df.collect().await?)
}
