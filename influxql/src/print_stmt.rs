//! `Display` for statements: InfluxQL that parses back to the same AST.

use std::fmt;

use crate::ast::*;
use crate::duration::Duration;
use crate::expr::{Expr, Measurement, MeasurementName};
use crate::print_expr::{write_list, write_number};
use crate::quote::{quote_ident, quote_string};

fn on(f: &mut fmt::Formatter<'_>, db: &Option<String>) -> fmt::Result {
    match db {
        Some(db) => write!(f, " ON {}", quote_ident(db)),
        None => Ok(()),
    }
}

fn from(f: &mut fmt::Formatter<'_>, sources: &[Measurement]) -> fmt::Result {
    if sources.is_empty() {
        return Ok(());
    }
    f.write_str(" FROM ")?;
    write_list(f, sources)
}

fn condition(f: &mut fmt::Formatter<'_>, c: &Option<Expr>) -> fmt::Result {
    match c {
        Some(c) => write!(f, " WHERE {c}"),
        None => Ok(()),
    }
}

fn group_by(f: &mut fmt::Formatter<'_>, dims: &[Dimension]) -> fmt::Result {
    if dims.is_empty() {
        return Ok(());
    }
    f.write_str(" GROUP BY ")?;
    write_list(f, dims)
}

fn order(f: &mut fmt::Formatter<'_>, o: &Option<Order>) -> fmt::Result {
    match o {
        Some(Order::Ascending) => f.write_str(" ORDER BY time ASC"),
        Some(Order::Descending) => f.write_str(" ORDER BY time DESC"),
        None => Ok(()),
    }
}

fn int(f: &mut fmt::Formatter<'_>, keyword: &str, n: &Option<u64>) -> fmt::Result {
    match n {
        Some(n) => write!(f, " {keyword} {n}"),
        None => Ok(()),
    }
}

fn rp_duration(d: Duration) -> String {
    if d.0 == 0 {
        "INF".to_string()
    } else {
        d.to_string()
    }
}

impl fmt::Display for SelectStatement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SELECT ")?;
        write_list(f, &self.fields)?;
        if let Some(t) = &self.into {
            write!(f, " INTO {t}")?;
        }
        f.write_str(" FROM ")?;
        write_list(f, &self.sources)?;
        condition(f, &self.condition)?;
        group_by(f, &self.dimensions)?;
        match self.fill {
            Fill::Null => {}
            Fill::None => f.write_str(" fill(none)")?,
            Fill::Previous => f.write_str(" fill(previous)")?,
            Fill::Linear => f.write_str(" fill(linear)")?,
            Fill::Integer(n) => write!(f, " fill({n})")?,
            Fill::Number(v) => {
                f.write_str(" fill(")?;
                write_number(f, v)?;
                f.write_str(")")?;
            }
        }
        order(f, &self.order)?;
        int(f, "LIMIT", &self.limit)?;
        int(f, "OFFSET", &self.offset)?;
        int(f, "SLIMIT", &self.slimit)?;
        int(f, "SOFFSET", &self.soffset)?;
        if let Some(tz) = &self.timezone {
            write!(f, " tz({})", quote_string(tz))?;
        }
        Ok(())
    }
}

impl fmt::Display for TagKeyMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TagKeyMatch::Eq(k) => write!(f, "= {}", quote_ident(k)),
            TagKeyMatch::NotEq(k) => write!(f, "!= {}", quote_ident(k)),
            TagKeyMatch::In(keys) => {
                let keys: Vec<String> = keys.iter().map(|k| quote_ident(k)).collect();
                write!(f, "IN ({})", keys.join(", "))
            }
            TagKeyMatch::EqRegex(r) => write!(f, "=~ {r}"),
            TagKeyMatch::NotEqRegex(r) => write!(f, "!~ {r}"),
        }
    }
}

impl fmt::Display for Privilege {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Privilege::Read => "READ",
            Privilege::Write => "WRITE",
            Privilege::All => "ALL PRIVILEGES",
        })
    }
}

fn show_cardinality(f: &mut fmt::Formatter<'_>, s: &ShowCardinality) -> fmt::Result {
    let what = match &s.of {
        CardinalityOf::Series => "SERIES",
        CardinalityOf::Measurements => "MEASUREMENT",
        CardinalityOf::TagKeys => "TAG KEY",
        CardinalityOf::TagValues(_) => "TAG VALUES",
        CardinalityOf::FieldKeys => "FIELD KEY",
    };
    write!(
        f,
        "SHOW {what} {}CARDINALITY",
        if s.exact { "EXACT " } else { "" }
    )?;
    on(f, &s.database)?;
    from(f, &s.sources)?;
    if let CardinalityOf::TagValues(k) = &s.of {
        write!(f, " WITH KEY {k}")?;
    }
    condition(f, &s.condition)?;
    group_by(f, &s.dimensions)?;
    int(f, "LIMIT", &s.limit)?;
    int(f, "OFFSET", &s.offset)
}

impl fmt::Display for Statement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let q = |s: &str| quote_ident(s);
        match self {
            Statement::Select(s) => write!(f, "{s}"),
            Statement::Explain { analyze, select } => {
                write!(
                    f,
                    "EXPLAIN {}{select}",
                    if *analyze { "ANALYZE " } else { "" }
                )
            }
            Statement::Delete(s) | Statement::DropSeries(s) => {
                let head = if matches!(self, Statement::Delete(_)) {
                    "DELETE"
                } else {
                    "DROP SERIES"
                };
                f.write_str(head)?;
                from(f, &s.sources)?;
                condition(f, &s.condition)
            }
            Statement::ShowDatabases => f.write_str("SHOW DATABASES"),
            Statement::ShowRetentionPolicies { database } => {
                f.write_str("SHOW RETENTION POLICIES")?;
                on(f, database)
            }
            Statement::ShowMeasurements(s) => {
                f.write_str("SHOW MEASUREMENTS")?;
                on(f, &s.database)?;
                if let Some(m) = &s.measurement {
                    let op = if matches!(m.name, MeasurementName::Regex(_)) {
                        "=~"
                    } else {
                        "="
                    };
                    write!(f, " WITH MEASUREMENT {op} {m}")?;
                }
                condition(f, &s.condition)?;
                order(f, &s.order)?;
                int(f, "LIMIT", &s.limit)?;
                int(f, "OFFSET", &s.offset)
            }
            Statement::ShowTagKeys(s) => {
                f.write_str("SHOW TAG KEYS")?;
                on(f, &s.database)?;
                from(f, &s.sources)?;
                condition(f, &s.condition)?;
                order(f, &s.order)?;
                int(f, "LIMIT", &s.limit)?;
                int(f, "OFFSET", &s.offset)?;
                int(f, "SLIMIT", &s.slimit)?;
                int(f, "SOFFSET", &s.soffset)
            }
            Statement::ShowTagValues(s) => {
                f.write_str("SHOW TAG VALUES")?;
                on(f, &s.database)?;
                from(f, &s.sources)?;
                write!(f, " WITH KEY {}", s.key)?;
                condition(f, &s.condition)?;
                order(f, &s.order)?;
                int(f, "LIMIT", &s.limit)?;
                int(f, "OFFSET", &s.offset)
            }
            Statement::ShowFieldKeys(s) => {
                f.write_str("SHOW FIELD KEYS")?;
                on(f, &s.database)?;
                from(f, &s.sources)?;
                order(f, &s.order)?;
                int(f, "LIMIT", &s.limit)?;
                int(f, "OFFSET", &s.offset)
            }
            Statement::ShowSeries(s) => {
                f.write_str("SHOW SERIES")?;
                on(f, &s.database)?;
                from(f, &s.sources)?;
                condition(f, &s.condition)?;
                order(f, &s.order)?;
                int(f, "LIMIT", &s.limit)?;
                int(f, "OFFSET", &s.offset)
            }
            Statement::ShowCardinality(s) => show_cardinality(f, s),
            Statement::ShowContinuousQueries => f.write_str("SHOW CONTINUOUS QUERIES"),
            Statement::ShowDiagnostics { module } | Statement::ShowStats { module } => {
                let head = if matches!(self, Statement::ShowStats { .. }) {
                    "SHOW STATS"
                } else {
                    "SHOW DIAGNOSTICS"
                };
                f.write_str(head)?;
                match module {
                    Some(m) => write!(f, " FOR {}", quote_string(m)),
                    None => Ok(()),
                }
            }
            Statement::ShowGrants { user } => write!(f, "SHOW GRANTS FOR {}", q(user)),
            Statement::ShowQueries => f.write_str("SHOW QUERIES"),
            Statement::ShowShardGroups => f.write_str("SHOW SHARD GROUPS"),
            Statement::ShowShards => f.write_str("SHOW SHARDS"),
            Statement::ShowSubscriptions => f.write_str("SHOW SUBSCRIPTIONS"),
            Statement::ShowUsers => f.write_str("SHOW USERS"),
            Statement::CreateDatabase(s) => {
                write!(f, "CREATE DATABASE {}", q(&s.name))?;
                if let Some(rp) = &s.retention_policy {
                    f.write_str(" WITH")?;
                    if let Some(d) = rp.duration {
                        write!(f, " DURATION {}", rp_duration(d))?;
                    }
                    if let Some(n) = rp.replication {
                        write!(f, " REPLICATION {n}")?;
                    }
                    if let Some(d) = rp.shard_duration {
                        write!(f, " SHARD DURATION {d}")?;
                    }
                    if let Some(n) = &rp.name {
                        write!(f, " NAME {}", q(n))?;
                    }
                }
                Ok(())
            }
            Statement::DropDatabase { name } => write!(f, "DROP DATABASE {}", q(name)),
            Statement::CreateRetentionPolicy(s) => {
                write!(
                    f,
                    "CREATE RETENTION POLICY {} ON {} DURATION {} REPLICATION {}",
                    q(&s.name),
                    q(&s.database),
                    rp_duration(s.duration),
                    s.replication
                )?;
                if let Some(d) = s.shard_duration {
                    write!(f, " SHARD DURATION {d}")?;
                }
                if s.default {
                    f.write_str(" DEFAULT")?;
                }
                Ok(())
            }
            Statement::AlterRetentionPolicy(s) => {
                write!(
                    f,
                    "ALTER RETENTION POLICY {} ON {}",
                    q(&s.name),
                    q(&s.database)
                )?;
                if let Some(d) = s.duration {
                    write!(f, " DURATION {}", rp_duration(d))?;
                }
                if let Some(n) = s.replication {
                    write!(f, " REPLICATION {n}")?;
                }
                if let Some(d) = s.shard_duration {
                    write!(f, " SHARD DURATION {d}")?;
                }
                if s.default {
                    f.write_str(" DEFAULT")?;
                }
                Ok(())
            }
            Statement::DropRetentionPolicy { name, database } => {
                write!(f, "DROP RETENTION POLICY {} ON {}", q(name), q(database))
            }
            Statement::DropMeasurement { name } => write!(f, "DROP MEASUREMENT {}", q(name)),
            Statement::DropShard { id } => write!(f, "DROP SHARD {id}"),
            Statement::CreateContinuousQuery(s) => {
                write!(
                    f,
                    "CREATE CONTINUOUS QUERY {} ON {}",
                    q(&s.name),
                    q(&s.database)
                )?;
                if s.resample_every.is_some() || s.resample_for.is_some() {
                    f.write_str(" RESAMPLE")?;
                    if let Some(d) = s.resample_every {
                        write!(f, " EVERY {d}")?;
                    }
                    if let Some(d) = s.resample_for {
                        write!(f, " FOR {d}")?;
                    }
                }
                write!(f, " BEGIN {} END", s.select)
            }
            Statement::DropContinuousQuery { name, database } => {
                write!(f, "DROP CONTINUOUS QUERY {} ON {}", q(name), q(database))
            }
            Statement::CreateSubscription(s) => {
                let dests: Vec<String> = s.destinations.iter().map(|d| quote_string(d)).collect();
                write!(
                    f,
                    "CREATE SUBSCRIPTION {} ON {}.{} DESTINATIONS {} {}",
                    q(&s.name),
                    q(&s.database),
                    q(&s.retention_policy),
                    if s.all { "ALL" } else { "ANY" },
                    dests.join(", ")
                )
            }
            Statement::DropSubscription {
                name,
                database,
                retention_policy,
            } => {
                write!(
                    f,
                    "DROP SUBSCRIPTION {} ON {}.{}",
                    q(name),
                    q(database),
                    q(retention_policy)
                )
            }
            Statement::CreateUser {
                name,
                password,
                admin,
            } => {
                write!(
                    f,
                    "CREATE USER {} WITH PASSWORD {}",
                    q(name),
                    quote_string(password)
                )?;
                if *admin {
                    f.write_str(" WITH ALL PRIVILEGES")?;
                }
                Ok(())
            }
            Statement::DropUser { name } => write!(f, "DROP USER {}", q(name)),
            Statement::SetPassword { name, password } => {
                write!(
                    f,
                    "SET PASSWORD FOR {} = {}",
                    q(name),
                    quote_string(password)
                )
            }
            Statement::Grant {
                privilege,
                database,
                user,
            } => {
                write!(f, "GRANT {privilege} ON {} TO {}", q(database), q(user))
            }
            Statement::GrantAdmin { user } => write!(f, "GRANT ALL PRIVILEGES TO {}", q(user)),
            Statement::Revoke {
                privilege,
                database,
                user,
            } => {
                write!(f, "REVOKE {privilege} ON {} FROM {}", q(database), q(user))
            }
            Statement::RevokeAdmin { user } => write!(f, "REVOKE ALL PRIVILEGES FROM {}", q(user)),
            Statement::KillQuery { id, host } => {
                write!(f, "KILL QUERY {id}")?;
                match host {
                    Some(h) => write!(f, " ON {}", q(h)),
                    None => Ok(()),
                }
            }
        }
    }
}
