//! Bound parameters (`$name`): the values a client sends in `params=` and how 1.x binds them.
//!
//! 1.x binds while scanning: a `$name` token becomes the token its value scans as, so an
//! identifier-valued parameter works in `FROM $m` and an integer in `LIMIT $n`.
//! [`crate::parse_query_with_params`] does exactly that. [`bind_parameters`] is the after-the-fact
//! form for a query parsed without parameters, where `$name` in an expression was kept as
//! [`Expr::BoundParameter`]; it gives 1.x's errors, but only expression positions can be bound.

use std::collections::HashMap;

use crate::ast::*;
use crate::duration::{parse_duration, Duration};
use crate::error::ParseError;
use crate::expr::{Expr, Regex};
use crate::token::Tok;

/// A parameter value, shaped like the JSON of `params=`.
#[derive(Debug, Clone, PartialEq)]
pub enum ParamValue {
    /// JSON `null` (1.x cannot bind it).
    Null,
    /// `true` / `false`
    Bool(bool),
    /// An integer.
    Integer(i64),
    /// A float.
    Float(f64),
    /// A JSON number as written. 1.x's handler decodes numbers this way and reads one with a `.`
    /// as a float, any other as an `int64`.
    Number(String),
    /// A string (binds as a string literal).
    String(String),
    /// An array (1.x cannot bind it).
    Array(Vec<ParamValue>),
    /// 1.x's typed form: exactly one of `{"identifier"|"ident": "…"}`, `{"regex": "…"}`,
    /// `{"string": "…"}`, `{"float"|"number": n}`, `{"integer"|"int": n}`,
    /// `{"duration": "10s" | n}`.
    Object(Vec<(String, ParamValue)>),
}

/// Parameters by name (without the `$`).
pub type Params = HashMap<String, ParamValue>;

/// What a parameter binds as; `Error` carries 1.x's reason it cannot be bound.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Bound {
    Ident(String),
    Str(String),
    Regex(String),
    Number(f64),
    Integer(i64),
    Bool(bool),
    Duration(String),
    Error(String),
}

fn go_type_name(v: &ParamValue) -> &'static str {
    match v {
        ParamValue::Null => "<nil>",
        ParamValue::Array(_) => "[]interface {}",
        ParamValue::Bool(_) => "bool",
        ParamValue::Integer(_) => "int64",
        ParamValue::Float(_) => "float64",
        ParamValue::Number(_) => "json.Number",
        ParamValue::String(_) => "string",
        ParamValue::Object(_) => "map[string]interface {}",
    }
}

/// A JSON number's text to an integer or float, with Go's `strconv` messages on failure.
fn number(text: &str) -> Result<ParamValue, String> {
    if text.contains('.') {
        match text.parse::<f64>() {
            Ok(v) if v.is_finite() => Ok(ParamValue::Float(v)),
            Ok(_) => Err(format!(
                "strconv.ParseFloat: parsing {text:?}: value out of range"
            )),
            Err(_) => Err(format!(
                "strconv.ParseFloat: parsing {text:?}: invalid syntax"
            )),
        }
    } else {
        text.parse::<i64>().map(ParamValue::Integer).map_err(|e| {
            let why = match e.kind() {
                std::num::IntErrorKind::PosOverflow | std::num::IntErrorKind::NegOverflow => {
                    "value out of range"
                }
                _ => "invalid syntax",
            };
            format!("strconv.ParseInt: parsing {text:?}: {why}")
        })
    }
}

fn resolve_number(v: &ParamValue) -> Result<ParamValue, String> {
    match v {
        ParamValue::Number(text) => number(text),
        other => Ok(other.clone()),
    }
}

pub(crate) fn bind_value(v: &ParamValue) -> Bound {
    let v = match resolve_number(v) {
        Ok(v) => v,
        Err(e) => return Bound::Error(e),
    };
    match v {
        ParamValue::Float(f) => Bound::Number(f),
        ParamValue::Integer(i) => Bound::Integer(i),
        ParamValue::String(s) => Bound::Str(s),
        ParamValue::Bool(b) => Bound::Bool(b),
        ParamValue::Object(entries) => bind_object(&entries),
        other => Bound::Error(format!(
            "unable to bind parameter with type {}",
            go_type_name(&other)
        )),
    }
}

fn bind_object(entries: &[(String, ParamValue)]) -> Bound {
    let [(kind, v)] = entries else {
        return Bound::Error(
            "bound object parameter value must have exactly one entry".to_string(),
        );
    };
    let v = match resolve_number(v) {
        Ok(v) => v,
        Err(e) => return Bound::Error(e),
    };
    let err = |s: &str| Bound::Error(s.to_string());
    match (kind.as_str(), v) {
        ("ident" | "identifier", ParamValue::String(s)) => Bound::Ident(s),
        ("ident" | "identifier", _) => err("identifier must be a string value"),
        ("regex", ParamValue::String(s)) => Bound::Regex(s),
        ("regex", _) => err("regex literal must be a string value"),
        ("string", ParamValue::String(s)) => Bound::Str(s),
        ("string", _) => err("string literal must be a string value"),
        ("float" | "number", ParamValue::Float(f)) => Bound::Number(f),
        ("float" | "number", ParamValue::Integer(i)) => Bound::Number(i as f64),
        ("float" | "number", _) => err("number literal must be a float value"),
        ("int" | "integer", ParamValue::Integer(i)) => Bound::Integer(i),
        ("int" | "integer", _) => err("integer literal must be an integer value"),
        ("duration", ParamValue::String(s)) => Bound::Duration(s),
        ("duration", ParamValue::Integer(i)) => Bound::Duration(Duration(i).to_string()),
        ("duration", _) => err("duration literal must be a string or integer value"),
        (other, _) => Bound::Error(format!("unknown bind object type: {other}")),
    }
}

impl Bound {
    /// The token this value scans as, and its text.
    pub(crate) fn token(&self) -> (Tok, String) {
        match self {
            Bound::Ident(s) => (Tok::Ident, s.clone()),
            Bound::Str(s) => (Tok::Str, s.clone()),
            Bound::Regex(s) => (Tok::Regex, s.clone()),
            // Rust prints the shortest exact digits with no exponent, as Go's 'f', -1.
            Bound::Number(f) => (Tok::Number, f.to_string()),
            Bound::Integer(i) => (Tok::Integer, i.to_string()),
            Bound::Bool(true) => (Tok::True, String::new()),
            Bound::Bool(false) => (Tok::False, String::new()),
            Bound::Duration(s) => (Tok::DurationVal, s.clone()),
            Bound::Error(e) => (Tok::BoundParam, e.clone()),
        }
    }

    fn into_expr(self) -> Result<Expr, ParseError> {
        Ok(match self {
            Bound::Ident(s) => Expr::var(s),
            Bound::Str(s) => Expr::String(s),
            Bound::Regex(s) => Expr::Regex(Regex(s)),
            Bound::Number(f) => Expr::Number(f),
            Bound::Integer(i) => Expr::Integer(i),
            Bound::Bool(b) => Expr::Boolean(b),
            Bound::Duration(s) => {
                Expr::Duration(parse_duration(&s).map_err(|e| ParseError::bare(e.to_string()))?)
            }
            Bound::Error(e) => return Err(ParseError::bare(format!("missing parameter: {e}"))),
        })
    }
}

/// Replaces every [`Expr::BoundParameter`] in `statements` with its value from `params`.
///
/// Errors are 1.x's: `missing parameter: x` for a name with no value, and for a value 1.x cannot
/// bind, `missing parameter: <reason>` (1.x really says that).
pub fn bind_parameters(statements: &mut [Statement], params: &Params) -> Result<(), ParseError> {
    let mut f = |e: &mut Expr| bind_expr(e, params);
    for s in statements {
        visit_statement(s, &mut f)?;
    }
    Ok(())
}

fn bind_expr(e: &mut Expr, params: &Params) -> Result<(), ParseError> {
    match e {
        Expr::BoundParameter(name) => {
            let Some(v) = params.get(name.as_str()) else {
                return Err(ParseError::bare(format!("missing parameter: {name}")));
            };
            *e = bind_value(v).into_expr()?;
            Ok(())
        }
        Expr::Binary { lhs, rhs, .. } => {
            bind_expr(lhs, params)?;
            bind_expr(rhs, params)
        }
        Expr::Paren(inner) => bind_expr(inner, params),
        Expr::Call { args, .. } => args.iter_mut().try_for_each(|a| bind_expr(a, params)),
        _ => Ok(()),
    }
}

type Visit<'a> = dyn FnMut(&mut Expr) -> Result<(), ParseError> + 'a;

fn visit_opt(c: &mut Option<Expr>, f: &mut Visit<'_>) -> Result<(), ParseError> {
    match c {
        Some(e) => f(e),
        None => Ok(()),
    }
}

fn visit_dims(d: &mut [Dimension], f: &mut Visit<'_>) -> Result<(), ParseError> {
    d.iter_mut().try_for_each(|d| f(&mut d.expr))
}

fn visit_select(s: &mut SelectStatement, f: &mut Visit<'_>) -> Result<(), ParseError> {
    for field in &mut s.fields {
        f(&mut field.expr)?;
    }
    for src in &mut s.sources {
        if let Source::Subquery(sub) = src {
            visit_select(sub, f)?;
        }
    }
    visit_opt(&mut s.condition, f)?;
    visit_dims(&mut s.dimensions, f)
}

fn visit_statement(s: &mut Statement, f: &mut Visit<'_>) -> Result<(), ParseError> {
    match s {
        Statement::Select(sel) | Statement::Explain { select: sel, .. } => visit_select(sel, f),
        Statement::CreateContinuousQuery(cq) => visit_select(&mut cq.select, f),
        Statement::Delete(s) | Statement::DropSeries(s) => visit_opt(&mut s.condition, f),
        Statement::ShowMeasurements(s) => visit_opt(&mut s.condition, f),
        Statement::ShowTagKeys(s) => visit_opt(&mut s.condition, f),
        Statement::ShowTagValues(s) => visit_opt(&mut s.condition, f),
        Statement::ShowSeries(s) => visit_opt(&mut s.condition, f),
        Statement::ShowCardinality(s) => {
            visit_opt(&mut s.condition, f)?;
            visit_dims(&mut s.dimensions, f)
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_binding_rules() {
        assert_eq!(
            bind_value(&ParamValue::Number("1.5".into())),
            Bound::Number(1.5)
        );
        assert_eq!(
            bind_value(&ParamValue::Number("15".into())),
            Bound::Integer(15)
        );
        assert_eq!(
            bind_value(&ParamValue::Number("1e5".into())),
            Bound::Error("strconv.ParseInt: parsing \"1e5\": invalid syntax".into())
        );
        assert_eq!(
            bind_value(&ParamValue::Null),
            Bound::Error("unable to bind parameter with type <nil>".into())
        );
        let obj = |k: &str, v: ParamValue| ParamValue::Object(vec![(k.to_string(), v)]);
        assert_eq!(
            bind_value(&obj("identifier", ParamValue::String("cpu".into()))),
            Bound::Ident("cpu".into())
        );
        assert_eq!(
            bind_value(&obj("duration", ParamValue::Number("60000000000".into()))),
            Bound::Duration("1m".into())
        );
        assert_eq!(
            bind_value(&obj("bogus", ParamValue::Bool(true))),
            Bound::Error("unknown bind object type: bogus".into())
        );
        assert_eq!(
            bind_value(&ParamValue::Object(vec![])),
            Bound::Error("bound object parameter value must have exactly one entry".into())
        );
    }
}
