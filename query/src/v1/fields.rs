//! What a SELECT's fields are: raw values (a field, a tag, arithmetic over them) or aggregates
//! (a function over a field, arithmetic over functions), their column names, and their
//! expansion over the measurement's schema (`*`, `mean(*)`, `/regex/`).

use catalog::{ColumnType, FieldType, TableSchema};
use influxql::{Expr, WildcardKind};

use super::cond::regex;

/// The aggregate and selector functions planned onto DataFusion's.
pub(super) const AGGREGATES: &[&str] = &[
    "count", "sum", "mean", "median", "min", "max", "first", "last", "spread", "stddev",
];

/// The selectors: an aggregate whose value is one point's, which reports that point's time and
/// may carry other fields and tags of that point.
pub(super) const SELECTORS: &[&str] = &["min", "max", "first", "last"];

/// Math functions: applied to each value, in raw and aggregate fields alike.
pub(super) const MATH: &[&str] = &[
    "abs", "sin", "cos", "tan", "asin", "acos", "atan", "atan2", "exp", "log", "ln", "log2",
    "log10", "sqrt", "pow", "floor", "ceil", "round",
];

/// Whether `e` holds an aggregate or selector call (math functions are not).
pub(super) fn has_call(e: &Expr) -> bool {
    match e {
        Expr::Call { name, args } if MATH.contains(&name.as_str()) => args.iter().any(has_call),
        Expr::Call { name, .. } => name != "now",
        Expr::Binary { lhs, rhs, .. } => has_call(lhs) || has_call(rhs),
        Expr::Paren(e) => has_call(e),
        _ => false,
    }
}

/// The first function `e` calls that Strata does not know, as 1.x reports it.
pub(super) fn undefined_function(e: &Expr) -> Option<String> {
    match e {
        Expr::Call { name, args } => {
            let known = AGGREGATES.contains(&name.as_str())
                || MATH.contains(&name.as_str())
                || super::calls::is_known(name);
            match known {
                true => args.iter().find_map(undefined_function),
                false => Some(format!("undefined function {name}()")),
            }
        }
        Expr::Binary { lhs, rhs, .. } => {
            undefined_function(lhs).or_else(|| undefined_function(rhs))
        }
        Expr::Paren(e) => undefined_function(e),
        _ => None,
    }
}

/// The column name 1.x gives a field without `AS`: a variable's name, a function's name, and
/// for arithmetic the names of its parts joined by `_`.
pub(super) fn column_name(e: &Expr) -> String {
    let mut parts = Vec::new();
    name_parts(e, &mut parts);
    parts.join("_")
}

fn name_parts(e: &Expr, out: &mut Vec<String>) {
    match e {
        Expr::VarRef { name, .. } => out.push(name.clone()),
        Expr::Call { name, .. } => out.push(name.clone()),
        Expr::Binary { lhs, rhs, .. } => {
            name_parts(lhs, out);
            name_parts(rhs, out);
        }
        Expr::Paren(e) => name_parts(e, out),
        _ => {}
    }
}

/// One output column: its expression (wildcards expanded) and name.
#[derive(Debug, Clone)]
pub(super) struct Column {
    pub(super) expr: Expr,
    pub(super) name: String,
}

/// The fields of a SELECT over `schema`, with `*`, `func(*)` and `func(/re/)` expanded and
/// `grouped` tags left out of a `*` and a `/regex/` (they are the series' tags; `None` when the
/// dimensions hold `*` or a regex, which leaves every tag out, as 1.x). Names are made unique as
/// 1.x does (`mean`, `mean_1`).
pub(super) fn expand(
    fields: &[influxql::Field],
    schema: &TableSchema,
    grouped: Option<&[String]>,
) -> Result<Vec<Column>, String> {
    let ungrouped = |tag: &str| grouped.is_some_and(|g| !g.iter().any(|g| g == tag));
    let mut out: Vec<Column> = Vec::new();
    for f in fields {
        let every = match &f.expr {
            Expr::Wildcard(kind) => Some((*kind, None)),
            Expr::Regex(r) => Some((WildcardKind::All, Some(regex(&r.0)?))),
            _ => None,
        };
        if let Some((kind, pattern)) = every {
            for (name, ty) in schema.columns() {
                let keep = match (kind, ty) {
                    (WildcardKind::Tags, ColumnType::Field(_)) => false,
                    (WildcardKind::Fields, ColumnType::Tag) => false,
                    (_, ColumnType::Tag) => ungrouped(name),
                    _ => true,
                } && pattern.as_ref().is_none_or(|p| p.is_match(name));
                if keep {
                    out.push(Column {
                        expr: Expr::var(name),
                        name: name.to_owned(),
                    });
                }
            }
            continue;
        }
        match &f.expr {
            Expr::Call { name, args }
                if matches!(args.first(), Some(Expr::Wildcard(_) | Expr::Regex(_))) =>
            {
                let pattern = match args.first() {
                    Some(Expr::Regex(r)) => Some(regex(&r.0)?),
                    _ => None,
                };
                for (field, ty) in schema.columns() {
                    let ColumnType::Field(ty) = ty else { continue };
                    if pattern.as_ref().is_some_and(|p| !p.is_match(field)) {
                        continue;
                    }
                    if !takes(name, ty) {
                        continue;
                    }
                    let mut call_args = args.clone();
                    call_args[0] = Expr::var(field);
                    out.push(Column {
                        expr: Expr::Call {
                            name: name.clone(),
                            args: call_args,
                        },
                        name: format!("{}_{field}", f.alias.as_deref().unwrap_or(name)),
                    });
                }
            }
            e => out.push(Column {
                expr: e.clone(),
                name: f.alias.clone().unwrap_or_else(|| column_name(e)),
            }),
        }
    }
    let mut seen: std::collections::HashMap<String, usize> = Default::default();
    for c in &mut out {
        let n = seen.entry(c.name.clone()).or_insert(0);
        if *n > 0 {
            c.name = format!("{}_{}", c.name, n);
        }
        *n += 1;
    }
    Ok(out)
}

/// Whether function `name` applies to fields of type `ty` (a wildcard skips the others).
fn takes(name: &str, ty: FieldType) -> bool {
    match name {
        "count" | "first" | "last" | "distinct" | "mode" => true,
        "min" | "max" => !matches!(ty, FieldType::String),
        _ => matches!(
            ty,
            FieldType::Float | FieldType::Integer | FieldType::Unsigned
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(text: &str) -> Vec<influxql::Field> {
        match influxql::parse_statement(text).expect("parses") {
            influxql::Statement::Select(s) => s.fields,
            _ => unreachable!(),
        }
    }

    #[test]
    fn wildcards_expand_and_names_are_unique() {
        let schema = TableSchema::new([
            ("host".to_owned(), ColumnType::Tag),
            ("region".to_owned(), ColumnType::Tag),
            ("a".to_owned(), ColumnType::Field(FieldType::Float)),
            ("s".to_owned(), ColumnType::Field(FieldType::String)),
        ]);
        let names = |q: &str, g: &[&str]| {
            let g: Vec<String> = g.iter().map(|s| (*s).to_owned()).collect();
            expand(&fields(q), &schema, Some(&g))
                .expect("expands")
                .into_iter()
                .map(|c| c.name)
                .collect::<Vec<_>>()
        };
        assert_eq!(names("SELECT * FROM m", &[]), ["a", "host", "region", "s"]);
        assert_eq!(
            names("SELECT * FROM m GROUP BY host", &["host"]),
            ["a", "region", "s"]
        );
        assert_eq!(names("SELECT *::field FROM m", &[]), ["a", "s"]);
        assert_eq!(names("SELECT /^[ar]/ FROM m", &[]), ["a", "region"]);
        assert_eq!(
            expand(&fields("SELECT * FROM m"), &schema, None)
                .expect("expands")
                .into_iter()
                .map(|c| c.name)
                .collect::<Vec<_>>(),
            ["a", "s"]
        );
        assert_eq!(names("SELECT mean(*) FROM m", &[]), ["mean_a"]);
        assert_eq!(names("SELECT count(*) FROM m", &[]), ["count_a", "count_s"]);
        assert_eq!(
            names("SELECT mean(a), mean(a) * 2, a + a FROM m", &[]),
            ["mean", "mean_1", "a_a"]
        );
        assert_eq!(names("SELECT max(a) AS top FROM m", &[]), ["top"]);
    }
}
