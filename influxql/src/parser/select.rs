//! SELECT: fields, INTO, FROM (measurements, regexes, subqueries), WHERE, GROUP BY, fill,
//! ORDER BY, LIMIT/OFFSET/SLIMIT/SOFFSET and tz().

use super::{Parser, Result};
use crate::ast::{Field, Fill, SelectStatement, Source, Statement};
use crate::error::ParseError;
use crate::expr::{BinaryOp, Expr, Measurement, MeasurementName, Target};
use crate::token::{Keyword, Tok};

/// The first comparison or logical operator 1.x's field check reports: walking in pre-order, not
/// descending below an offending node, and keeping the last one found.
fn invalid_field_op(e: &Expr, found: &mut Option<BinaryOp>) {
    match e {
        Expr::Binary { op, lhs, rhs } => {
            if op.is_condition() {
                *found = Some(*op);
                return;
            }
            invalid_field_op(lhs, found);
            invalid_field_op(rhs, found);
        }
        Expr::Paren(inner) => invalid_field_op(inner, found),
        Expr::Call { args, .. } => args.iter().for_each(|a| invalid_field_op(a, found)),
        _ => {}
    }
}

fn non_empty(s: String) -> Option<String> {
    if s.is_empty() {
        None
    } else {
        Some(s)
    }
}

impl Parser<'_> {
    /// `SELECT …` after the keyword. `into_required` is for continuous queries.
    pub(crate) fn parse_select(&mut self, into_required: bool) -> Result<SelectStatement> {
        let fields = self.parse_fields()?;
        let into = self.parse_target(into_required)?;
        let t = self.scan_ws();
        if !t.tok.is(Keyword::From) {
            return Err(ParseError::unexpected(&t, &["FROM"]));
        }
        let sources = self.parse_sources(true)?;
        let condition = self.parse_condition()?;
        let dimensions = self.parse_dimensions()?;
        let fill = self.parse_fill()?;
        let order = self.parse_order_by()?;
        let limit = self.parse_optional_int(Keyword::Limit)?;
        let offset = self.parse_optional_int(Keyword::Offset)?;
        let slimit = self.parse_optional_int(Keyword::Slimit)?;
        let soffset = self.parse_optional_int(Keyword::Soffset)?;
        let timezone = self.parse_location()?;
        Ok(SelectStatement {
            fields,
            into,
            sources,
            condition,
            dimensions,
            fill,
            order,
            limit,
            offset,
            slimit,
            soffset,
            timezone,
        })
    }

    pub(crate) fn parse_explain(&mut self) -> Result<Statement> {
        let analyze = self.accept(Keyword::Analyze);
        let t = self.scan_ws();
        if !t.tok.is(Keyword::Select) {
            return Err(ParseError::unexpected(&t, &["SELECT"]));
        }
        Ok(Statement::Explain {
            analyze,
            select: Box::new(self.parse_select(false)?),
        })
    }

    fn parse_fields(&mut self) -> Result<Vec<Field>> {
        let mut fields = Vec::new();
        loop {
            fields.push(self.parse_field()?);
            if self.scan().tok != Tok::Comma {
                self.unscan();
                return Ok(fields);
            }
        }
    }

    fn parse_field(&mut self) -> Result<Field> {
        let expr = match self.parse_regex()? {
            Some(re) => Expr::Regex(re),
            None => {
                let pos = self.scan_ws().pos;
                self.unscan();
                let expr = self.parse_expr()?;
                let mut bad = None;
                invalid_field_op(&expr, &mut bad);
                if let Some(op) = bad {
                    return Err(ParseError::bare(format!(
                        "invalid operator {} in SELECT clause at line {}, char {}; operator is intended for WHERE clause",
                        op.as_str(),
                        u64::from(pos.line) + 1,
                        u64::from(pos.char) + 1
                    )));
                }
                expr
            }
        };
        let alias = if self.accept(Keyword::As) {
            Some(self.parse_ident()?)
        } else {
            None
        };
        self.consume_ws();
        Ok(Field { expr, alias })
    }

    fn parse_target(&mut self, required: bool) -> Result<Option<Target>> {
        let t = self.scan_ws();
        if !t.tok.is(Keyword::Into) {
            if required {
                return Err(ParseError::unexpected(&t, &["INTO"]));
            }
            self.unscan();
            return Ok(None);
        }
        let mut idents = self.parse_segmented_idents()?;
        let mut back_reference = false;
        if idents.len() < 3 && self.peek_rune() == ':' {
            self.expect_tok(Tok::Colon)?;
            self.expect(&[Keyword::Measurement])?;
            back_reference = true;
            idents.push(String::new());
        }
        let mut it = idents.into_iter().rev();
        let name = it.next().unwrap_or_default();
        let rp = it.next().and_then(non_empty);
        let db = it.next().and_then(non_empty);
        let measurement = if back_reference { None } else { Some(name) };
        Ok(Some(Target {
            database: db,
            retention_policy: rp,
            measurement,
        }))
    }

    pub(crate) fn parse_sources(&mut self, subqueries: bool) -> Result<Vec<Source>> {
        let mut out = Vec::new();
        loop {
            out.push(self.parse_source(subqueries)?);
            if self.scan_ws().tok != Tok::Comma {
                self.unscan();
                return Ok(out);
            }
        }
    }

    /// Sources where subqueries are not allowed (SHOW, DELETE, DROP SERIES).
    pub(crate) fn parse_measurements(&mut self) -> Result<Vec<Measurement>> {
        Ok(self
            .parse_sources(false)?
            .into_iter()
            .filter_map(|s| match s {
                Source::Measurement(m) => Some(m),
                Source::Subquery(_) => None,
            })
            .collect())
    }

    pub(crate) fn parse_source(&mut self, subqueries: bool) -> Result<Source> {
        if let Some(re) = self.parse_regex()? {
            return Ok(Source::Measurement(Measurement {
                database: None,
                retention_policy: None,
                name: MeasurementName::Regex(re),
            }));
        }
        if subqueries {
            let t = self.scan_ws();
            if t.tok == Tok::LParen {
                self.expect(&[Keyword::Select])?;
                self.enter_by(super::SUBQUERY_COST, t.pos)?;
                let r = self.parse_select(false);
                self.leave_by(super::SUBQUERY_COST);
                let stmt = r?;
                self.expect_tok(Tok::RParen)?;
                return Ok(Source::Subquery(Box::new(stmt)));
            }
            self.unscan();
        }
        let idents = self.parse_segmented_idents()?;
        let mut it = idents.into_iter();
        let (a, b, c) = (it.next(), it.next(), it.next());
        if let Some(name) = c {
            return Ok(Source::Measurement(Measurement {
                database: a.and_then(non_empty),
                retention_policy: b.and_then(non_empty),
                name: MeasurementName::Name(name),
            }));
        }
        let m = match (self.parse_regex()?, a, b) {
            (Some(re), rp, None) => Measurement {
                database: None,
                retention_policy: rp.and_then(non_empty),
                name: MeasurementName::Regex(re),
            },
            (Some(re), db, Some(rp)) => Measurement {
                database: db.and_then(non_empty),
                retention_policy: non_empty(rp),
                name: MeasurementName::Regex(re),
            },
            (None, name, None) => Measurement {
                database: None,
                retention_policy: None,
                name: MeasurementName::Name(name.unwrap_or_default()),
            },
            (None, rp, Some(name)) => Measurement {
                database: None,
                retention_policy: rp.and_then(non_empty),
                name: MeasurementName::Name(name),
            },
        };
        Ok(Source::Measurement(m))
    }

    fn parse_fill(&mut self) -> Result<Fill> {
        let t = self.scan_ws();
        self.unscan();
        if t.tok != Tok::Ident || !t.lit.eq_ignore_ascii_case("fill") {
            return Ok(Fill::Null);
        }
        let Expr::Call { args, .. } = self.parse_expr()? else {
            return Err(ParseError::bare("fill must be a function call"));
        };
        let [arg] = args.as_slice() else {
            return Err(ParseError::bare(
                "fill requires an argument, e.g.: 0, null, none, previous, linear",
            ));
        };
        Ok(match arg {
            Expr::VarRef {
                name,
                data_type: None,
            } if name == "null" => Fill::Null,
            Expr::VarRef {
                name,
                data_type: None,
            } if name == "none" => Fill::None,
            Expr::VarRef {
                name,
                data_type: None,
            } if name == "previous" => Fill::Previous,
            Expr::VarRef {
                name,
                data_type: None,
            } if name == "linear" => Fill::Linear,
            Expr::Integer(n) => Fill::Integer(*n),
            Expr::Number(v) => Fill::Number(*v),
            _ => return Err(ParseError::bare("expected number argument in fill()")),
        })
    }

    fn parse_location(&mut self) -> Result<Option<String>> {
        let t = self.scan_ws();
        self.unscan();
        if t.tok != Tok::Ident || !t.lit.eq_ignore_ascii_case("tz") {
            return Ok(None);
        }
        let Expr::Call { args, .. } = self.parse_expr()? else {
            return Err(ParseError::bare("tz must be a function call"));
        };
        let [arg] = args.as_slice() else {
            return Err(ParseError::bare("tz requires exactly one argument"));
        };
        match arg {
            Expr::String(s) => Ok(Some(s.clone())),
            _ => Err(ParseError::bare("expected string argument in tz()")),
        }
    }
}
