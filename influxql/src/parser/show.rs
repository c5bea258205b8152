//! The SHOW family, dispatched on the words after SHOW in 1.x's order.

use super::{Parser, Result};
use crate::ast::*;
use crate::error::ParseError;
use crate::expr::Measurement;
use crate::token::{Keyword, Tok};

impl Parser<'_> {
    pub(crate) fn parse_show(&mut self) -> Result<Statement> {
        use Keyword::*;
        let k = self.choose(&[
            Continuous,
            Databases,
            Diagnostics,
            Field,
            Grants,
            Measurement,
            Measurements,
            Queries,
            Retention,
            Series,
            Shard,
            Shards,
            Stats,
            Subscriptions,
            Tag,
            Users,
        ])?;
        Ok(match k {
            Continuous => {
                self.choose(&[Queries])?;
                Statement::ShowContinuousQueries
            }
            Databases => Statement::ShowDatabases,
            Diagnostics => Statement::ShowDiagnostics {
                module: self.parse_for_module()?,
            },
            Stats => Statement::ShowStats {
                module: self.parse_for_module()?,
            },
            Field => match self.choose(&[Key, Keys])? {
                Key => self.parse_key_cardinality(CardinalityOf::FieldKeys)?,
                _ => self.parse_show_field_keys()?,
            },
            Grants => {
                self.choose(&[For])?;
                Statement::ShowGrants {
                    user: self.parse_ident()?,
                }
            }
            Measurement => {
                let exact = self.choose(&[Exact, Cardinality])? == Exact;
                if exact {
                    self.expect(&[Cardinality])?;
                }
                self.parse_cardinality(CardinalityOf::Measurements, exact)?
            }
            Measurements => self.parse_show_measurements()?,
            Queries => Statement::ShowQueries,
            Retention => {
                self.choose(&[Policies])?;
                Statement::ShowRetentionPolicies {
                    database: self.parse_on()?,
                }
            }
            Series => self.parse_show_series()?,
            Shard => {
                self.choose(&[Groups])?;
                Statement::ShowShardGroups
            }
            Shards => Statement::ShowShards,
            Subscriptions => Statement::ShowSubscriptions,
            Tag => match self.choose(&[Key, Keys, Values])? {
                Key => self.parse_key_cardinality(CardinalityOf::TagKeys)?,
                Keys => self.parse_show_tag_keys()?,
                _ => self.parse_show_tag_values()?,
            },
            _ => Statement::ShowUsers,
        })
    }

    fn parse_on(&mut self) -> Result<Option<String>> {
        if self.accept(Keyword::On) {
            Ok(Some(self.parse_ident()?))
        } else {
            Ok(None)
        }
    }

    fn parse_from(&mut self) -> Result<Vec<Measurement>> {
        if self.accept(Keyword::From) {
            self.parse_measurements()
        } else {
            Ok(Vec::new())
        }
    }

    fn parse_for_module(&mut self) -> Result<Option<String>> {
        if self.accept(Keyword::For) {
            Ok(Some(self.parse_string()?))
        } else {
            Ok(None)
        }
    }

    fn parse_show_measurements(&mut self) -> Result<Statement> {
        let database = self.parse_on()?;
        let mut measurement = None;
        if self.accept(Keyword::With) {
            self.expect(&[Keyword::Measurement])?;
            let t = self.scan_ws();
            if !matches!(t.tok, Tok::Eq | Tok::EqRegex) {
                return Err(ParseError::unexpected(&t, &["=", "=~"]));
            }
            measurement = match self.parse_source(false)? {
                crate::ast::Source::Measurement(m) => Some(m),
                crate::ast::Source::Subquery(_) => None,
            };
        }
        Ok(Statement::ShowMeasurements(ShowMeasurements {
            database,
            measurement,
            condition: self.parse_condition()?,
            order: self.parse_order_by()?,
            limit: self.parse_optional_int(Keyword::Limit)?,
            offset: self.parse_optional_int(Keyword::Offset)?,
        }))
    }

    fn parse_show_series(&mut self) -> Result<Statement> {
        // `SHOW SERIES EXACT` without CARDINALITY is plain SHOW SERIES in 1.x.
        let exact = self.accept(Keyword::Exact);
        if self.accept(Keyword::Cardinality) {
            return self.parse_cardinality(CardinalityOf::Series, exact);
        }
        Ok(Statement::ShowSeries(ShowSeries {
            database: self.parse_on()?,
            sources: self.parse_from()?,
            condition: self.parse_condition()?,
            order: self.parse_order_by()?,
            limit: self.parse_optional_int(Keyword::Limit)?,
            offset: self.parse_optional_int(Keyword::Offset)?,
        }))
    }

    fn parse_show_tag_keys(&mut self) -> Result<Statement> {
        Ok(Statement::ShowTagKeys(ShowTagKeys {
            database: self.parse_on()?,
            sources: self.parse_from()?,
            condition: self.parse_condition()?,
            order: self.parse_order_by()?,
            limit: self.parse_optional_int(Keyword::Limit)?,
            offset: self.parse_optional_int(Keyword::Offset)?,
            slimit: self.parse_optional_int(Keyword::Slimit)?,
            soffset: self.parse_optional_int(Keyword::Soffset)?,
        }))
    }

    fn parse_show_tag_values(&mut self) -> Result<Statement> {
        let t = self.scan_ws();
        match t.tok {
            Tok::Kw(Keyword::Exact) => {
                self.expect(&[Keyword::Cardinality])?;
                return self.parse_tag_values_cardinality(true);
            }
            Tok::Kw(Keyword::Cardinality) => return self.parse_tag_values_cardinality(false),
            _ => self.unscan(),
        }
        let database = self.parse_on()?;
        let sources = self.parse_from()?;
        let key = self.parse_tag_key_match()?;
        Ok(Statement::ShowTagValues(ShowTagValues {
            database,
            sources,
            key,
            condition: self.parse_condition()?,
            order: self.parse_order_by()?,
            limit: self.parse_optional_int(Keyword::Limit)?,
            offset: self.parse_optional_int(Keyword::Offset)?,
        }))
    }

    fn parse_show_field_keys(&mut self) -> Result<Statement> {
        Ok(Statement::ShowFieldKeys(ShowFieldKeys {
            database: self.parse_on()?,
            sources: self.parse_from()?,
            order: self.parse_order_by()?,
            limit: self.parse_optional_int(Keyword::Limit)?,
            offset: self.parse_optional_int(Keyword::Offset)?,
        }))
    }

    /// `WITH KEY = k | != k | IN (a, b) | =~ /re/ | !~ /re/`
    fn parse_tag_key_match(&mut self) -> Result<TagKeyMatch> {
        self.expect(&[Keyword::With, Keyword::Key])?;
        let t = self.scan_ws();
        match t.tok {
            Tok::Kw(Keyword::In) => {
                let open = self.scan_ws();
                if open.tok != Tok::LParen {
                    return Err(ParseError::unexpected(&open, &["("]));
                }
                let keys = self.parse_ident_list()?;
                let close = self.scan_ws();
                if close.tok != Tok::RParen {
                    return Err(ParseError::unexpected(&close, &[")"]));
                }
                Ok(TagKeyMatch::In(keys))
            }
            Tok::Eq => Ok(TagKeyMatch::Eq(self.parse_ident()?)),
            Tok::Neq => Ok(TagKeyMatch::NotEq(self.parse_ident()?)),
            Tok::EqRegex | Tok::NeqRegex => {
                let Some(re) = self.parse_regex()? else {
                    let t = self.scan_ws();
                    return Err(ParseError::unexpected(&t, &["regex"]));
                };
                Ok(if t.tok == Tok::EqRegex {
                    TagKeyMatch::EqRegex(re)
                } else {
                    TagKeyMatch::NotEqRegex(re)
                })
            }
            _ => Err(ParseError::unexpected(&t, &["IN", "=", "=~"])),
        }
    }

    /// `SHOW TAG KEY` / `SHOW FIELD KEY` then `[EXACT] CARDINALITY`.
    fn parse_key_cardinality(&mut self, of: CardinalityOf) -> Result<Statement> {
        let exact = self.accept(Keyword::Exact);
        let t = self.scan_ws();
        if !t.tok.is(Keyword::Cardinality) {
            let expected: &[&str] = if exact {
                &["CARDINALITY"]
            } else {
                &["EXACT", "CARDINALITY"]
            };
            return Err(ParseError::unexpected(&t, expected));
        }
        self.parse_cardinality(of, exact)
    }

    fn parse_tag_values_cardinality(&mut self, exact: bool) -> Result<Statement> {
        let database = self.parse_on()?;
        let sources = self.parse_from()?;
        let key = self.parse_tag_key_match()?;
        self.parse_cardinality_rest(CardinalityOf::TagValues(key), exact, database, sources)
    }

    /// The `[ON] [FROM] [WHERE] [GROUP BY] [LIMIT] [OFFSET]` after `CARDINALITY`.
    fn parse_cardinality(&mut self, of: CardinalityOf, exact: bool) -> Result<Statement> {
        let database = self.parse_on()?;
        let sources = self.parse_from()?;
        self.parse_cardinality_rest(of, exact, database, sources)
    }

    fn parse_cardinality_rest(
        &mut self,
        of: CardinalityOf,
        exact: bool,
        database: Option<String>,
        sources: Vec<Measurement>,
    ) -> Result<Statement> {
        Ok(Statement::ShowCardinality(ShowCardinality {
            of,
            exact,
            database,
            sources,
            condition: self.parse_condition()?,
            dimensions: self.parse_dimensions()?,
            limit: self.parse_optional_int(Keyword::Limit)?,
            offset: self.parse_optional_int(Keyword::Offset)?,
        }))
    }
}
