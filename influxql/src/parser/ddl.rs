//! Everything that changes the catalog or users: CREATE/DROP/ALTER, GRANT/REVOKE, SET PASSWORD,
//! KILL QUERY, DELETE and DROP SERIES.

use super::{Parser, Result};
use crate::ast::*;
use crate::error::ParseError;
use crate::token::{Keyword, Pos, Tok};

impl Parser<'_> {
    pub(crate) fn parse_create(&mut self) -> Result<Statement> {
        use Keyword::*;
        match self.choose(&[Continuous, Database, User, Retention, Subscription])? {
            Continuous => {
                self.choose(&[Query])?;
                self.parse_create_continuous_query()
            }
            Database => self.parse_create_database(),
            User => self.parse_create_user(),
            Retention => {
                self.choose(&[Policy])?;
                self.parse_create_retention_policy()
            }
            _ => self.parse_create_subscription(),
        }
    }

    pub(crate) fn parse_drop(&mut self) -> Result<Statement> {
        use Keyword::*;
        let k = self.choose(&[
            Continuous,
            Database,
            Measurement,
            Retention,
            Series,
            Shard,
            Subscription,
            User,
        ])?;
        Ok(match k {
            Continuous => {
                self.choose(&[Query])?;
                let name = self.parse_ident()?;
                let database = self.parse_on_required()?;
                Statement::DropContinuousQuery { name, database }
            }
            Database => Statement::DropDatabase {
                name: self.parse_ident()?,
            },
            Measurement => Statement::DropMeasurement {
                name: self.parse_ident()?,
            },
            Retention => {
                self.choose(&[Policy])?;
                let name = self.parse_ident()?;
                let database = self.parse_on_required()?;
                Statement::DropRetentionPolicy { name, database }
            }
            Series => Statement::DropSeries(self.parse_series_filter()?),
            Shard => Statement::DropShard {
                id: self.parse_u64()?,
            },
            Subscription => {
                let name = self.parse_ident()?;
                let (database, retention_policy) = self.parse_on_db_rp()?;
                Statement::DropSubscription {
                    name,
                    database,
                    retention_policy,
                }
            }
            _ => Statement::DropUser {
                name: self.parse_ident()?,
            },
        })
    }

    pub(crate) fn parse_delete(&mut self) -> Result<Statement> {
        Ok(Statement::Delete(self.parse_series_filter()?))
    }

    fn parse_on_required(&mut self) -> Result<String> {
        let t = self.scan_ws();
        if !t.tok.is(Keyword::On) {
            return Err(ParseError::unexpected(&t, &["ON"]));
        }
        self.parse_ident()
    }

    /// `ON db.rp`, with no space around the dot (1.x scans it without skipping whitespace).
    fn parse_on_db_rp(&mut self) -> Result<(String, String)> {
        let db = self.parse_on_required()?;
        let t = self.scan();
        if t.tok != Tok::Dot {
            return Err(ParseError::unexpected(&t, &["."]));
        }
        Ok((db, self.parse_ident()?))
    }

    /// `[FROM m, …] [WHERE …]`, at least one; measurements may not be qualified.
    fn parse_series_filter(&mut self) -> Result<SeriesFilter> {
        let t = self.scan_ws();
        let mut sources = Vec::new();
        if t.tok.is(Keyword::From) {
            sources = self.parse_measurements()?;
            let mut err = None;
            for m in &sources {
                if m.database.is_some() {
                    err = Some("database not supported");
                }
                if m.retention_policy.is_some() {
                    err = Some("retention policy not supported");
                }
            }
            if let Some(msg) = err {
                return Err(ParseError::at(msg, Pos::default()));
            }
        } else {
            self.unscan();
        }
        let condition = self.parse_condition()?;
        if condition.is_none() && sources.is_empty() {
            return Err(ParseError::unexpected(&t, &["FROM", "WHERE"]));
        }
        Ok(SeriesFilter { sources, condition })
    }

    fn parse_create_database(&mut self) -> Result<Statement> {
        use Keyword::*;
        let name = self.parse_ident()?;
        let mut spec = None;
        if self.accept(With) {
            let t = self.scan_ws();
            if ![Duration, Name, Replication, Shard]
                .iter()
                .any(|k| t.tok.is(*k))
            {
                return Err(ParseError::unexpected(
                    &t,
                    &["DURATION", "NAME", "REPLICATION", "SHARD"],
                ));
            }
            self.unscan();
            let mut rp = RetentionPolicySpec::default();
            if self.accept(Duration) {
                rp.duration = Some(self.parse_duration()?);
            }
            if self.accept(Replication) {
                rp.replication = Some(self.parse_replication()?);
            }
            if self.accept(Shard) {
                let t = self.scan_ws();
                if !t.tok.is(Duration) {
                    return Err(ParseError::unexpected(&t, &["DURATION"]));
                }
                rp.shard_duration = Some(self.parse_duration()?);
            }
            if self.accept(Name) {
                rp.name = Some(self.parse_ident()?);
            }
            spec = Some(rp);
        }
        Ok(Statement::CreateDatabase(CreateDatabase {
            name,
            retention_policy: spec,
        }))
    }

    fn parse_create_retention_policy(&mut self) -> Result<Statement> {
        let name = self.parse_ident()?;
        let database = self.parse_on_required()?;
        self.expect(&[Keyword::Duration])?;
        let duration = self.parse_duration()?;
        self.expect(&[Keyword::Replication])?;
        let replication = self.parse_replication()?;
        let shard_duration = if self.accept(Keyword::Shard) {
            Some(self.parse_shard_duration()?)
        } else {
            None
        };
        let default = self.accept(Keyword::Default);
        Ok(Statement::CreateRetentionPolicy(CreateRetentionPolicy {
            name,
            database,
            duration,
            replication,
            shard_duration,
            default,
        }))
    }

    pub(crate) fn parse_alter_retention_policy(&mut self) -> Result<Statement> {
        use Keyword::*;
        let t = self.scan_ws();
        let name = match t.tok {
            Tok::Kw(Default) => "default".to_string(),
            Tok::Ident => t.lit,
            _ => return Err(ParseError::unexpected(&t, &["identifier"])),
        };
        let database = self.parse_on_required()?;
        let mut stmt = AlterRetentionPolicy {
            name,
            database,
            duration: None,
            replication: None,
            shard_duration: None,
            default: false,
        };
        let mut seen: Vec<Tok> = Vec::new();
        loop {
            let t = self.scan_ws();
            if seen.contains(&t.tok) {
                return Err(ParseError::at(
                    format!("found duplicate {} option", t.tok.name()),
                    t.pos,
                ));
            }
            match t.tok {
                Tok::Kw(Duration) => stmt.duration = Some(self.parse_duration()?),
                Tok::Kw(Replication) => stmt.replication = Some(self.parse_replication()?),
                Tok::Kw(Shard) => stmt.shard_duration = Some(self.parse_shard_duration()?),
                Tok::Kw(Default) => stmt.default = true,
                _ => {
                    if seen.is_empty() {
                        return Err(ParseError::unexpected(
                            &t,
                            &["DURATION", "REPLICATION", "SHARD", "DEFAULT"],
                        ));
                    }
                    self.unscan();
                    return Ok(Statement::AlterRetentionPolicy(stmt));
                }
            }
            seen.push(t.tok);
        }
    }

    fn parse_create_user(&mut self) -> Result<Statement> {
        let name = self.parse_ident()?;
        self.expect(&[Keyword::With, Keyword::Password])?;
        let password = self.parse_string()?;
        let mut admin = false;
        if self.accept(Keyword::With) {
            self.expect(&[Keyword::All, Keyword::Privileges])?;
            admin = true;
        }
        Ok(Statement::CreateUser {
            name,
            password,
            admin,
        })
    }

    pub(crate) fn parse_set_password(&mut self) -> Result<Statement> {
        let name = self.parse_ident()?;
        let t = self.scan_ws();
        if t.tok != Tok::Eq {
            return Err(ParseError::unexpected(&t, &["="]));
        }
        Ok(Statement::SetPassword {
            name,
            password: self.parse_string()?,
        })
    }

    pub(crate) fn parse_kill_query(&mut self) -> Result<Statement> {
        let id = self.parse_u64()?;
        let host = if self.accept(Keyword::On) {
            Some(self.parse_ident()?)
        } else {
            None
        };
        Ok(Statement::KillQuery { id, host })
    }

    fn parse_privilege(&mut self) -> Result<Privilege> {
        let t = self.scan_ws();
        match t.tok {
            Tok::Kw(Keyword::Read) => Ok(Privilege::Read),
            Tok::Kw(Keyword::Write) => Ok(Privilege::Write),
            Tok::Kw(Keyword::All) => {
                self.accept(Keyword::Privileges);
                Ok(Privilege::All)
            }
            _ => Err(ParseError::unexpected(
                &t,
                &["READ", "WRITE", "ALL [PRIVILEGES]"],
            )),
        }
    }

    /// GRANT and REVOKE differ only in `TO` / `FROM`.
    fn parse_grant_or_revoke(&mut self, to: Keyword) -> Result<Statement> {
        let privilege = self.parse_privilege()?;
        let t = self.scan_ws();
        let revoke = to == Keyword::From;
        if t.tok.is(Keyword::On) {
            let database = self.parse_ident()?;
            let t2 = self.scan_ws();
            if !t2.tok.is(to) {
                return Err(ParseError::unexpected(&t2, &[to.as_str()]));
            }
            let user = self.parse_ident()?;
            return Ok(if revoke {
                Statement::Revoke {
                    privilege,
                    database,
                    user,
                }
            } else {
                Statement::Grant {
                    privilege,
                    database,
                    user,
                }
            });
        }
        if t.tok.is(to) {
            if privilege != Privilege::All {
                return Err(ParseError::unexpected(&t, &["ON"]));
            }
            let user = self.parse_ident()?;
            return Ok(if revoke {
                Statement::RevokeAdmin { user }
            } else {
                Statement::GrantAdmin { user }
            });
        }
        if privilege == Privilege::All {
            return Err(ParseError::unexpected(&t, &["ON", to.as_str()]));
        }
        Err(ParseError::unexpected(&t, &["ON"]))
    }

    pub(crate) fn parse_grant(&mut self) -> Result<Statement> {
        self.parse_grant_or_revoke(Keyword::To)
    }

    pub(crate) fn parse_revoke(&mut self) -> Result<Statement> {
        self.parse_grant_or_revoke(Keyword::From)
    }

    fn parse_create_subscription(&mut self) -> Result<Statement> {
        let name = self.parse_ident()?;
        let (database, retention_policy) = self.parse_on_db_rp()?;
        self.expect(&[Keyword::Destinations])?;
        let t = self.scan_ws();
        let all = match t.tok {
            Tok::Kw(Keyword::All) => true,
            Tok::Kw(Keyword::Any) => false,
            _ => return Err(ParseError::unexpected(&t, &["ALL", "ANY"])),
        };
        let destinations = self.parse_string_list()?;
        Ok(Statement::CreateSubscription(CreateSubscription {
            name,
            database,
            retention_policy,
            all,
            destinations,
        }))
    }

    fn parse_create_continuous_query(&mut self) -> Result<Statement> {
        let name = self.parse_ident()?;
        let database = self.parse_on_required()?;
        let (mut resample_every, mut resample_for) = (None, None);
        if self.accept(Keyword::Resample) {
            if self.accept(Keyword::Every) {
                resample_every = Some(self.parse_resample_duration()?);
            }
            if self.accept(Keyword::For) {
                resample_for = Some(self.parse_resample_duration()?);
            }
            if resample_every.is_none_or(|d| d.0 == 0) && resample_for.is_none_or(|d| d.0 == 0) {
                let t = self.scan_ws();
                return Err(ParseError::unexpected(&t, &["EVERY", "FOR"]));
            }
        }
        self.expect(&[Keyword::Begin, Keyword::Select])?;
        let select = self.parse_select(true)?;
        let interval = group_by_interval(&select);
        let aggregate = select.fields.iter().any(|f| has_call(&f.expr));
        if aggregate && !matches!(interval, Ok(d) if d != 0) {
            self.unscan();
            self.unscan();
            let t = self.scan_ws();
            let mut expected = vec!["GROUP BY time(...)"];
            if let Err(e) = interval {
                expected.push(e);
            }
            return Err(ParseError::unexpected(&t, &expected));
        }
        let t = self.scan_ws();
        if !t.tok.is(Keyword::End) {
            return Err(ParseError::unexpected(&t, &["END"]));
        }
        let interval = interval.map_err(ParseError::bare)?;
        if let Some(every_for) = resample_for.filter(|d| d.0 != 0) {
            let mut need = interval;
            if let Some(e) = resample_every.filter(|e| e.0 != 0 && e.0 > interval) {
                need = e.0;
            }
            if need > every_for.0 {
                return Err(ParseError::bare(format!(
                    "FOR duration must be >= GROUP BY time duration: must be a minimum of {}, got {}",
                    crate::duration::Duration(need),
                    every_for
                )));
            }
        }
        Ok(Statement::CreateContinuousQuery(CreateContinuousQuery {
            name,
            database,
            resample_every,
            resample_for,
            select: Box::new(select),
        }))
    }

    fn parse_resample_duration(&mut self) -> Result<crate::duration::Duration> {
        let t = self.scan_ws();
        if t.tok != Tok::DurationVal {
            return Err(ParseError::unexpected(&t, &["duration"]));
        }
        crate::duration::parse_duration(&t.lit).map_err(|e| ParseError::at(e.to_string(), t.pos))
    }
}

fn has_call(e: &crate::expr::Expr) -> bool {
    use crate::expr::Expr;
    match e {
        Expr::Call { .. } => true,
        Expr::Binary { lhs, rhs, .. } => has_call(lhs) || has_call(rhs),
        Expr::Paren(inner) => has_call(inner),
        _ => false,
    }
}

/// The `GROUP BY time(d)` interval in nanoseconds (0 without one), with 1.x's complaints.
fn group_by_interval(s: &SelectStatement) -> std::result::Result<i64, &'static str> {
    use crate::expr::Expr;
    for d in &s.dimensions {
        if let Expr::Call { name, args } = &d.expr {
            if name == "time" {
                if args.is_empty() || args.len() > 2 {
                    return Err("time dimension expected 1 or 2 arguments");
                }
                return match args.first() {
                    Some(Expr::Duration(d)) => Ok(d.0),
                    _ => Err("time dimension must have duration argument"),
                };
            }
        }
    }
    Ok(0)
}
