//! `Display` for expressions, sources and their parts: valid InfluxQL that parses back to the
//! same AST. 1.x's own printer is lossy (floats to three decimals), so this one is ours.

use std::fmt;

use crate::ast::{Dimension, Field, Source};
use crate::expr::{DataType, Expr, Measurement, MeasurementName, Regex, Target, WildcardKind};
use crate::quote::{quote_ident, quote_string};
use crate::scanner::is_ident_char;

impl fmt::Display for Regex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "/{}/", self.0.replace('/', "\\/"))
    }
}

impl fmt::Display for DataType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DataType::Float => "float",
            DataType::Integer => "integer",
            DataType::Unsigned => "unsigned",
            DataType::String => "string",
            DataType::Boolean => "boolean",
            DataType::Field => "field",
            DataType::Tag => "tag",
        })
    }
}

/// A float that scans back as a float: Rust prints the shortest exact digits and never an
/// exponent, so only a missing decimal point needs adding (`1` would scan as an integer).
pub(crate) fn write_number(f: &mut fmt::Formatter<'_>, v: f64) -> fmt::Result {
    let s = v.to_string();
    if s.contains('.') {
        f.write_str(&s)
    } else {
        write!(f, "{s}.0")
    }
}

/// `-x` is parsed as `-1 * x` when `x` is a reference, call or parenthesis; printing it back as
/// `-x` keeps the tree (a printed `-1 * x` would nest differently on the right of an operator).
fn negated(e: &Expr) -> Option<&Expr> {
    match e {
        Expr::Binary {
            op: crate::expr::BinaryOp::Mul,
            lhs,
            rhs,
        } => match (&**lhs, &**rhs) {
            (Expr::Integer(-1), r @ (Expr::VarRef { .. } | Expr::Call { .. } | Expr::Paren(_))) => {
                Some(r)
            }
            _ => None,
        },
        _ => None,
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::VarRef { name, data_type } => {
                f.write_str(&quote_ident(name))?;
                if let Some(t) = data_type {
                    write!(f, "::{t}")?;
                }
                Ok(())
            }
            Expr::Call { name, args } => {
                if name == "distinct" {
                    f.write_str(name)?;
                } else {
                    f.write_str(&quote_ident(name))?;
                }
                f.write_str("(")?;
                for (i, a) in args.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{a}")?;
                }
                f.write_str(")")
            }
            Expr::Distinct(name) => write!(f, "DISTINCT {}", quote_ident(name)),
            Expr::Binary { op, lhs, rhs } => match negated(self) {
                Some(inner) => write!(f, "-{inner}"),
                None => write!(f, "{lhs} {} {rhs}", op.as_str()),
            },
            Expr::Paren(e) => write!(f, "({e})"),
            Expr::Integer(v) => write!(f, "{v}"),
            Expr::Unsigned(v) => write!(f, "{v}"),
            Expr::Number(v) => write_number(f, *v),
            Expr::String(s) => f.write_str(&quote_string(s)),
            Expr::Boolean(b) => f.write_str(if *b { "true" } else { "false" }),
            Expr::Duration(d) => write!(f, "{d}"),
            Expr::Regex(r) => write!(f, "{r}"),
            Expr::Wildcard(WildcardKind::All) => f.write_str("*"),
            Expr::Wildcard(WildcardKind::Fields) => f.write_str("*::field"),
            Expr::Wildcard(WildcardKind::Tags) => f.write_str("*::tag"),
            Expr::BoundParameter(name) => {
                if !name.is_empty() && name.chars().all(is_ident_char) {
                    write!(f, "${name}")
                } else {
                    write!(f, "${}", quote_ident(name))
                }
            }
        }
    }
}

fn write_qualifiers(
    f: &mut fmt::Formatter<'_>,
    database: &Option<String>,
    retention_policy: &Option<String>,
) -> fmt::Result {
    if let Some(db) = database {
        write!(f, "{}.", quote_ident(db))?;
    }
    if let Some(rp) = retention_policy {
        f.write_str(&quote_ident(rp))?;
    }
    if database.is_some() || retention_policy.is_some() {
        f.write_str(".")?;
    }
    Ok(())
}

impl fmt::Display for Measurement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_qualifiers(f, &self.database, &self.retention_policy)?;
        match &self.name {
            MeasurementName::Name(n) => f.write_str(&quote_ident(n)),
            MeasurementName::Regex(r) => write!(f, "{r}"),
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_qualifiers(f, &self.database, &self.retention_policy)?;
        match &self.measurement {
            Some(m) => f.write_str(&quote_ident(m)),
            None => f.write_str(":MEASUREMENT"),
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Measurement(m) => write!(f, "{m}"),
            Source::Subquery(s) => write!(f, "({s})"),
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.expr)?;
        if let Some(a) = &self.alias {
            write!(f, " AS {}", quote_ident(a))?;
        }
        Ok(())
    }
}

impl fmt::Display for Dimension {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.expr)
    }
}

/// Writes `items` separated by `, `.
pub(crate) fn write_list<T: fmt::Display>(f: &mut fmt::Formatter<'_>, items: &[T]) -> fmt::Result {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{item}")?;
    }
    Ok(())
}
