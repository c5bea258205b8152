//! WHERE conditions on tags, evaluated against a series' tags (SHOW statements; a SELECT's
//! tag filters become DataFusion predicates instead), and the regexes InfluxQL writes.

use influxql::{BinaryOp, Expr, MeasurementName};
use regex::Regex;

/// Compiles an InfluxQL `/regex/` with 1.x's error text.
pub(super) fn regex(source: &str) -> Result<Regex, String> {
    Regex::new(source).map_err(|e| format!("error parsing regexp: {e}"))
}

/// Whether a measurement name matches a `FROM` source's name or regex.
pub(super) fn name_matches(name: &MeasurementName, measurement: &str) -> Result<bool, String> {
    Ok(match name {
        MeasurementName::Name(n) => n == measurement,
        MeasurementName::Regex(r) => regex(&r.0)?.is_match(measurement),
    })
}

/// Whether a series with `tags` (key order) satisfies `cond`. Terms on `time` hold (the time
/// range is applied separately); a tag a series lacks reads as the empty string, as in 1.x.
pub(super) fn tags_match(
    cond: &Expr,
    tags: &[(impl AsRef<str>, impl AsRef<str>)],
) -> Result<bool, String> {
    match cond {
        Expr::Paren(e) => tags_match(e, tags),
        Expr::Binary {
            op: BinaryOp::And,
            lhs,
            rhs,
        } => Ok(tags_match(lhs, tags)? && tags_match(rhs, tags)?),
        Expr::Binary {
            op: BinaryOp::Or,
            lhs,
            rhs,
        } => Ok(tags_match(lhs, tags)? || tags_match(rhs, tags)?),
        Expr::Binary { op, lhs, rhs } => {
            let (key, other) = match (&**lhs, &**rhs) {
                (Expr::VarRef { name, .. }, other) => (name, other),
                (other, Expr::VarRef { name, .. }) => (name, other),
                _ => return Err(format!("invalid condition: {cond}")),
            };
            if key.eq_ignore_ascii_case("time") {
                return Ok(true);
            }
            let value = tags
                .iter()
                .find(|(k, _)| k.as_ref() == key)
                .map_or("", |(_, v)| v.as_ref());
            match (op, other) {
                (BinaryOp::Eq, Expr::String(s)) => Ok(value == s),
                (BinaryOp::Neq, Expr::String(s)) => Ok(value != s),
                (BinaryOp::EqRegex, Expr::Regex(r)) => Ok(regex(&r.0)?.is_match(value)),
                (BinaryOp::NeqRegex, Expr::Regex(r)) => Ok(!regex(&r.0)?.is_match(value)),
                _ => Err(format!("invalid tag condition: {cond}")),
            }
        }
        Expr::Boolean(b) => Ok(*b),
        _ => Err(format!("invalid condition: {cond}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cond(text: &str) -> Expr {
        let stmt =
            influxql::parse_statement(&format!("SELECT v FROM m WHERE {text}")).expect("parses");
        match stmt {
            influxql::Statement::Select(s) => s.condition.expect("condition"),
            _ => unreachable!(),
        }
    }

    #[test]
    fn tag_conditions() {
        let tags = [("host", "a"), ("region", "eu-west")];
        for (text, want) in [
            ("host = 'a'", true),
            ("host = 'b'", false),
            ("host != 'b' AND region =~ /^eu/", true),
            ("(host = 'b' OR region !~ /us/) AND time > now() - 1h", true),
            ("missing = ''", true),
            ("missing != ''", false),
            ("region =~ /^us/", false),
        ] {
            assert_eq!(tags_match(&cond(text), &tags), Ok(want), "{text}");
        }
        assert!(tags_match(&cond("host > 3"), &tags).is_err());
    }
}
