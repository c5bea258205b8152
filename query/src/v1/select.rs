//! A SELECT planned onto DataFusion, one measurement at a time: the WHERE clause becomes a
//! filter (time, tags and fields alike), raw fields a projection sorted by series and time,
//! aggregates a grouping by `date_bin` window and tags. What DataFusion returns is then shaped
//! into 1.x's series ([`super::series`]): windows filled, rows limited per series.

use catalog::{ColumnType, FieldType, TableSchema};
use datafusion::common::ScalarValue;
use datafusion::functions_aggregate::expr_fn as agg;
use datafusion::logical_expr::{binary_expr, ident, lit, ExprFunctionExt, Operator, SortExpr};
use datafusion::prelude::{DataFrame, Expr as DfExpr, SessionContext};
use influxql::{BinaryOp, Expr, SelectStatement};

use super::calls;
use super::fields::{self, AGGREGATES};
use super::time::{self, Range};
use super::zone;

/// What one measurement's part of a SELECT needs besides its plan.
#[derive(Debug)]
pub(super) struct Shape {
    /// Output columns after `time`.
    pub(super) columns: Vec<String>,
    /// Tags the series are grouped by, in key order.
    pub(super) tags: Vec<String>,
    /// `GROUP BY time(interval, offset)` (ns).
    pub(super) window: Option<zone::Windows>,
    /// `tz('…')`: times are shown on this zone's clock.
    pub(super) tz: Option<chrono_tz::Tz>,
    /// Whether the fields are aggregates (one row per series and window).
    pub(super) aggregate: bool,
    /// Without `GROUP BY time`, a lone selector reports its point's time (an extra column
    /// after the fields); other aggregates the range's start.
    pub(super) selector_time: bool,
    /// Per column: a bare `count`, whose empty windows `fill(null)` makes 0 as 1.x does.
    pub(super) counts: Vec<bool>,
    /// Per column: the transformation applied once its series is complete.
    pub(super) transforms: Vec<Option<calls::Transform>>,
    /// A reducer over the raw points of each window (DataFusion returns those points).
    pub(super) reducer: Option<calls::Reducer>,
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

/// Plans `stmt` over one measurement of `ctx`, its fields already expanded into `columns`;
/// `None` when it selects nothing there.
pub(super) async fn plan(
    ctx: &SessionContext,
    measurement: &str,
    schema: &TableSchema,
    stmt: &SelectStatement,
    columns: &[fields::Column],
    range: Range,
    now: i64,
) -> Result<Option<(DataFrame, Shape)>, String> {
    let window = window(stmt, now)?;
    let tz = stmt.timezone.as_deref().map(zone::parse).transpose()?;
    let windows = window.map(|(interval, offset)| zone::Windows {
        interval,
        offset,
        tz,
    });
    let tags = group_tags(stmt, schema)?;
    if let Some(undefined) = columns
        .iter()
        .find_map(|c| fields::undefined_function(&c.expr))
    {
        return Err(undefined);
    }
    let mut transforms = Vec::with_capacity(columns.len());
    let mut exprs = Vec::with_capacity(columns.len());
    for c in columns {
        let (t, inner) = calls::transform(&c.expr, window.map(|w| w.0))?;
        transforms.push(t);
        exprs.push(inner);
    }
    let reducers = exprs
        .iter()
        .map(calls::reducer)
        .collect::<Result<Vec<_>, String>>()?;
    let aggregate = exprs.iter().any(fields::has_call);
    // One selector may carry other fields and tags of its point.
    let selector = match exprs.as_slice() {
        [_] => None,
        _ => {
            let bare: Vec<usize> = (0..exprs.len())
                .filter(|&i| is_selector(&exprs[i]))
                .collect();
            let rest_raw = (0..exprs.len())
                .filter(|i| !bare.contains(i))
                .all(|i| matches!(exprs[i], Expr::VarRef { .. }));
            match (bare.as_slice(), rest_raw) {
                ([one], true) => Some(*one),
                _ => None,
            }
        }
    };
    if aggregate && selector.is_none() && exprs.iter().any(|e| !fields::has_call(e)) {
        return Err("mixing aggregate and non-aggregate queries is not supported".into());
    }
    if !aggregate && window.is_some() {
        return Err("GROUP BY requires at least one aggregate function".into());
    }
    for e in &exprs {
        check_types(e, schema)?;
    }
    if !exprs.iter().any(|e| refs_a_field(e, schema)) {
        return Ok(None);
    }
    let df = ctx
        .table(datafusion::common::TableReference::bare(measurement))
        .await
        .map_err(|e| e.to_string())?;
    let df = match filter(stmt, schema, range, now)? {
        Some(f) => df.filter(f).map_err(|e| e.to_string())?,
        None => df,
    };
    let tag_exprs: Vec<DfExpr> = tags.iter().map(|t| tag_or_empty(t, schema)).collect();
    let mut names: Vec<String> = columns.iter().map(|c| c.name.clone()).collect();
    let mut shape = Shape {
        columns: Vec::new(),
        tags: tags.clone(),
        window: windows,
        tz,
        aggregate,
        selector_time: false,
        counts: exprs.iter().map(is_count).collect(),
        transforms,
        reducer: None,
    };
    let df = if reducers.iter().any(Option::is_some) {
        let [Some((reducer, field))] = reducers.as_slice() else {
            return Err(
                "percentile, mode, distinct, top, bottom and integral are supported by Strata only as the one field of a SELECT"
                    .into(),
            );
        };
        let mut select = vec![ident("time")];
        for (t, e) in tags.iter().zip(&tag_exprs) {
            select.push(e.clone().alias(format!("_g_{t}")));
        }
        select.push(column(field, schema).alias("_f0"));
        if let calls::Reducer::Top { tags: carried, .. } = reducer {
            for (i, t) in carried.iter().enumerate() {
                select.push(raw_expr(&Expr::var(t), schema)?.alias(format!("_x{i}")));
                names.push(t.clone());
            }
        }
        shape.reducer = Some(reducer.clone());
        sorted_by_series(df.select(select), &tags)?
    } else if aggregate {
        let mut inner: Vec<DfExpr> = Vec::new();
        let mut outer: Vec<DfExpr> = Vec::new();
        let picked = selector.or((exprs.len() == 1).then_some(0));
        let order = picked.and_then(|i| match &exprs[i] {
            Expr::Call { name, args } => selector_order(name, field_of(args)),
            _ => None,
        });
        for (i, e) in exprs.iter().enumerate() {
            let out = match (e, &order) {
                (Expr::VarRef { name, .. }, Some((order, field))) => {
                    pick(raw_expr(&Expr::var(name), schema)?, order.clone(), field)?
                        .alias(format!("_a{}", inner.len()))
                }
                _ => {
                    outer.push(aggregate_expr(e, schema, &mut inner)?.alias(format!("_f{i}")));
                    continue;
                }
            };
            outer.push(ident(format!("_a{}", inner.len())).alias(format!("_f{i}")));
            inner.push(out);
        }
        if let (None, Some((order, field))) = (window, &order) {
            inner.push(pick(ident("time"), order.clone(), field)?.alias("_st"));
            outer.push(ident("_st"));
            shape.selector_time = true;
        }
        let mut group: Vec<DfExpr> = Vec::new();
        let mut head: Vec<DfExpr> = Vec::new();
        if let Some(w) = windows {
            let start = match w.tz {
                // A zone's offset changes with DST: no fixed origin aligns its windows.
                Some(_) => zone::window_udf(w).call(vec![ident("time")]),
                None => datafusion::functions::expr_fn::date_bin(
                    interval_lit(w.interval),
                    ident("time"),
                    timestamp(w.offset),
                ),
            };
            group.push(start.alias("_t"));
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
        for (i, e) in exprs.iter().enumerate() {
            select.push(raw_expr(e, schema)?.alias(format!("_f{i}")));
        }
        // 1.x gives a row for a point where any field the SELECT reads has a value, even when
        // every expression over them is null.
        let mut read = Vec::new();
        for e in &exprs {
            field_refs(e, schema, &mut read);
        }
        let any = read
            .iter()
            .map(|f| ident(f.as_str()).is_not_null())
            .reduce(DfExpr::or)
            .unwrap_or(lit(false));
        select.push(any.alias("_any"));
        sorted_by_series(df.select(select), &tags)?
    };
    shape.columns = names;
    Ok(Some((df, shape)))
}

/// Rows sorted by series (grouped tags) and time.
fn sorted_by_series(
    df: datafusion::error::Result<DataFrame>,
    tags: &[String],
) -> Result<DataFrame, String> {
    let mut sort: Vec<SortExpr> = tags
        .iter()
        .map(|t| ident(format!("_g_{t}")).sort(true, true))
        .collect();
    sort.push(ident("time").sort(true, true));
    df.and_then(|df| df.sort(sort)).map_err(|e| e.to_string())
}

/// The WHERE clause and the time bounds (which are what prunes files) as one predicate.
fn filter(
    stmt: &SelectStatement,
    schema: &TableSchema,
    range: Range,
    now: i64,
) -> Result<Option<DfExpr>, String> {
    let mut filter: Option<DfExpr> = match &stmt.condition {
        Some(c) => Some(condition(c, schema, now)?),
        None => None,
    };
    let bounds = [
        range.min.map(|m| (BinaryOp::Gte, m)),
        range.max.map(|m| (BinaryOp::Lte, m)),
    ];
    for (op, t) in bounds.into_iter().flatten() {
        let term = binary_expr(ident("time"), operator(op)?, timestamp(t));
        filter = Some(match filter {
            Some(f) => f.and(term),
            None => term,
        });
    }
    Ok(filter)
}

fn is_selector(e: &Expr) -> bool {
    matches!(e, Expr::Call { name, .. } if fields::SELECTORS.contains(&name.as_str()))
}

fn is_count(e: &Expr) -> bool {
    matches!(e, Expr::Call { name, .. } if name == "count")
}

/// The fields of `schema` that `e` reads.
fn field_refs(e: &Expr, schema: &TableSchema, out: &mut Vec<String>) {
    match e {
        Expr::VarRef { name, .. }
            if matches!(schema.column(name), Some(ColumnType::Field(_))) && !out.contains(name) =>
        {
            out.push(name.clone());
        }
        Expr::Call { args, .. } => args.iter().for_each(|a| field_refs(a, schema, out)),
        Expr::Binary { lhs, rhs, .. } => {
            field_refs(lhs, schema, out);
            field_refs(rhs, schema, out);
        }
        Expr::Paren(e) => field_refs(e, schema, out),
        _ => {}
    }
}

/// Functions that take numbers only: over a string or boolean field they fail, as in 1.x.
fn check_types(e: &Expr, schema: &TableSchema) -> Result<(), String> {
    match e {
        Expr::Call { name, args } => {
            let numeric = !matches!(
                name.as_str(),
                "count" | "first" | "last" | "distinct" | "mode" | "min" | "max" | "top" | "bottom"
            );
            if let Some(Expr::VarRef { name: field, .. }) = args.first() {
                if let Some(ColumnType::Field(ty)) = schema.column(field) {
                    let kind = match ty {
                        FieldType::String => Some("string"),
                        FieldType::Boolean => Some("boolean"),
                        _ => None,
                    };
                    let refused = match name.as_str() {
                        "min" | "max" | "top" | "bottom" => kind == Some("string"),
                        _ => numeric && kind.is_some(),
                    };
                    if let (true, Some(kind)) = (refused, kind) {
                        return Err(format!(
                            "unsupported {name} iterator type: {kind} field \"{field}\""
                        ));
                    }
                }
            }
            args.iter().try_for_each(|a| check_types(a, schema))
        }
        Expr::Binary { lhs, rhs, .. } => {
            check_types(lhs, schema)?;
            check_types(rhs, schema)
        }
        Expr::Paren(e) => check_types(e, schema),
        _ => Ok(()),
    }
}

fn field_of(args: &[Expr]) -> Option<&str> {
    match args.first() {
        Some(Expr::VarRef { name, .. }) => Some(name),
        _ => None,
    }
}

/// How a selector picks its point: the order whose first row it is (the earliest among ties),
/// and the field that must be present.
fn selector_order(func: &str, field: Option<&str>) -> Option<(Vec<SortExpr>, String)> {
    let field = field?;
    let time_asc = ident("time").sort(true, false);
    let order = match func {
        "min" => vec![ident(field).sort(true, false), time_asc],
        "max" => vec![ident(field).sort(false, false), time_asc],
        "first" => vec![time_asc],
        "last" => vec![ident("time").sort(false, false)],
        _ => return None,
    };
    Some((order, field.to_owned()))
}

/// `target` of the point a selector picks.
fn pick(target: DfExpr, order: Vec<SortExpr>, field: &str) -> Result<DfExpr, String> {
    datafusion::functions_aggregate::first_last::first_value_udaf()
        .call(vec![target])
        .order_by(order)
        .filter(ident(field).is_not_null())
        .build()
        .map_err(|e| e.to_string())
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
        Expr::Binary { op, lhs, rhs } => Ok(arithmetic(
            *op,
            raw_expr(lhs, schema)?,
            raw_expr(rhs, schema)?,
        )?),
        Expr::Call { name, args } if fields::MATH.contains(&name.as_str()) => {
            let args = args
                .iter()
                .map(|a| raw_expr(a, schema))
                .collect::<Result<Vec<_>, _>>()?;
            math(name, args)
        }
        other => literal(other).ok_or_else(|| format!("unsupported expression: {other}")),
    }
}

/// `lhs op rhs`; a division is in floats (1.x divides integers so).
fn arithmetic(op: BinaryOp, lhs: DfExpr, rhs: DfExpr) -> Result<DfExpr, String> {
    let lhs = match op {
        BinaryOp::Div => datafusion::logical_expr::cast(lhs, arrow::datatypes::DataType::Float64),
        _ => lhs,
    };
    Ok(binary_expr(lhs, operator(op)?, rhs))
}

/// A math function of InfluxQL as DataFusion's.
fn math(name: &str, mut args: Vec<DfExpr>) -> Result<DfExpr, String> {
    use datafusion::functions::math::expr_fn as m;
    let want = match name {
        "atan2" | "log" | "pow" => 2,
        _ => 1,
    };
    if args.len() != want {
        return Err(format!(
            "invalid number of arguments for {name}, expected {want}, got {}",
            args.len()
        ));
    }
    let float = |e: DfExpr| datafusion::logical_expr::cast(e, arrow::datatypes::DataType::Float64);
    let x = args.remove(0);
    let y = args.pop();
    Ok(match (name, y) {
        ("abs", _) => m::abs(x),
        ("floor", _) => m::floor(x),
        ("ceil", _) => m::ceil(x),
        ("round", _) => m::round(vec![x]),
        ("sin", _) => m::sin(float(x)),
        ("cos", _) => m::cos(float(x)),
        ("tan", _) => m::tan(float(x)),
        ("asin", _) => m::asin(float(x)),
        ("acos", _) => m::acos(float(x)),
        ("atan", _) => m::atan(float(x)),
        ("exp", _) => m::exp(float(x)),
        ("ln", _) => m::ln(float(x)),
        ("log2", _) => m::log2(float(x)),
        ("log10", _) => m::log10(float(x)),
        ("sqrt", _) => m::sqrt(float(x)),
        ("atan2", Some(y)) => m::atan2(float(x), float(y)),
        ("pow", Some(y)) => m::power(float(x), float(y)),
        // InfluxQL's log(x, base); DataFusion's log(base, x).
        ("log", Some(base)) => m::log(float(base), float(x)),
        _ => return Err(format!("undefined function {name}()")),
    })
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
        Expr::Binary { op, lhs, rhs } => arithmetic(
            *op,
            aggregate_expr(lhs, schema, inner)?,
            aggregate_expr(rhs, schema, inner)?,
        ),
        Expr::Call { name, args } if fields::MATH.contains(&name.as_str()) => {
            let args = args
                .iter()
                .map(|a| aggregate_expr(a, schema, inner))
                .collect::<Result<Vec<_>, _>>()?;
            math(name, args)
        }
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
        [Expr::Call { name: d, args }] if name == "count" && d == "distinct" => match args
            .as_slice()
        {
            [Expr::VarRef { name: f, .. }] => return Ok(agg::count_distinct(column(f, schema))),
            _ => return Err("expected field argument in distinct()".into()),
        },
        _ => {
            return Err(format!(
                "invalid number of arguments for {name}, expected 1, got {}",
                args.len()
            ))
        }
    };
    // A field this measurement lacks (a `*` over several) aggregates to null, even its count.
    if schema.column(field).is_none() {
        return Ok(agg::max(lit(ScalarValue::Float64(None))));
    }
    let x = column(field, schema);
    let by_time = |asc: bool| vec![ident("time").sort(asc, false)];
    let pick = |asc: bool| pick(x.clone(), by_time(asc), field);
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
