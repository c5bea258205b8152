//! The statements' lexer and parser: one `Result` per `;`-separated statement.

use catalog::DEFAULT_RP;

use super::parse_duration;

/// A parsed statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Statement {
    /// `CREATE DATABASE name [WITH [DURATION d] [REPLICATION n] [SHARD DURATION d] [NAME rp]]`
    CreateDatabase {
        /// Database.
        name: String,
        /// Retention policy name (`autogen` unless `NAME`).
        rp: String,
        /// Retention in ns; `None` is infinite.
        duration_ns: Option<i64>,
    },
    /// `DROP DATABASE name`
    DropDatabase {
        /// Database.
        name: String,
    },
    /// `SHOW DATABASES`
    ShowDatabases,
    /// `CREATE RETENTION POLICY rp ON db DURATION d REPLICATION n [SHARD DURATION d] [DEFAULT]`
    CreateRetentionPolicy {
        /// Retention policy.
        name: String,
        /// Database.
        db: String,
        /// Retention in ns; `None` is infinite.
        duration_ns: Option<i64>,
        /// Make it the default.
        default: bool,
    },
    /// `ALTER RETENTION POLICY rp ON db [DURATION d] [REPLICATION n] [SHARD DURATION d] [DEFAULT]`
    AlterRetentionPolicy {
        /// Retention policy.
        name: String,
        /// Database.
        db: String,
        /// New retention, if given (`Some(None)` is infinite).
        duration_ns: Option<Option<i64>>,
        /// Make it the default.
        default: bool,
    },
    /// `DROP RETENTION POLICY rp ON db`
    DropRetentionPolicy {
        /// Retention policy.
        name: String,
        /// Database.
        db: String,
    },
    /// `SHOW RETENTION POLICIES [ON db]`
    ShowRetentionPolicies {
        /// Database (else the request's `db`).
        db: Option<String>,
    },
}

impl Statement {
    /// Whether it only reads.
    pub(crate) fn is_read_only(&self) -> bool {
        matches!(
            self,
            Statement::ShowDatabases | Statement::ShowRetentionPolicies { .. }
        )
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Quoted(String),
    Number(String),
    Semicolon,
    Comma,
    Other(char),
}

fn lex(q: &str) -> Result<Vec<Tok>, String> {
    let mut out = Vec::new();
    let mut chars = q.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == ';' {
            chars.next();
            out.push(Tok::Semicolon);
        } else if c == ',' {
            chars.next();
            out.push(Tok::Comma);
        } else if c == '"' || c == '\'' {
            chars.next();
            let mut s = String::new();
            loop {
                match chars.next() {
                    None => return Err(format!("unterminated {c}")),
                    Some('\\') => {
                        if let Some(n) = chars.next() {
                            s.push(n);
                        }
                    }
                    Some(x) if x == c => break,
                    Some(x) => s.push(x),
                }
            }
            out.push(Tok::Quoted(s));
        } else if c.is_ascii_digit() {
            let mut s = String::new();
            while let Some(&d) = chars.peek() {
                if d.is_ascii_alphanumeric() || d == 'µ' || d == '.' {
                    s.push(d);
                    chars.next();
                } else {
                    break;
                }
            }
            out.push(Tok::Number(s));
        } else if c.is_alphabetic() || c == '_' {
            let mut s = String::new();
            while let Some(&d) = chars.peek() {
                if d.is_alphanumeric() || d == '_' {
                    s.push(d);
                    chars.next();
                } else {
                    break;
                }
            }
            out.push(Tok::Word(s));
        } else {
            chars.next();
            out.push(Tok::Other(c));
        }
    }
    Ok(out)
}

/// Parses `q` into statements (separated by `;`); each is parsed independently so one bad
/// statement does not hide the others.
pub(crate) fn parse_query(q: &str) -> Vec<Result<Statement, String>> {
    let toks = match lex(q) {
        Ok(t) => t,
        Err(e) => return vec![Err(format!("error parsing query: {e}"))],
    };
    toks.split(|t| *t == Tok::Semicolon)
        .filter(|s| !s.is_empty())
        .map(|s| Parser { toks: s, pos: 0 }.statement())
        .collect()
}

struct Parser<'t> {
    toks: &'t [Tok],
    pos: usize,
}

impl Parser<'_> {
    fn peek_kw(&self, kw: &str) -> bool {
        matches!(self.toks.get(self.pos), Some(Tok::Word(w)) if w.eq_ignore_ascii_case(kw))
    }

    fn kw(&mut self, kw: &str) -> bool {
        let yes = self.peek_kw(kw);
        self.pos += usize::from(yes);
        yes
    }

    fn expect(&mut self, kw: &str) -> Result<(), String> {
        if self.kw(kw) {
            Ok(())
        } else {
            Err(self.err(&format!("expected {kw}")))
        }
    }

    fn err(&self, what: &str) -> String {
        let found = match self.toks.get(self.pos) {
            None => "end of statement".to_owned(),
            Some(Tok::Word(w) | Tok::Quoted(w) | Tok::Number(w)) => w.clone(),
            Some(Tok::Comma) => ",".into(),
            Some(Tok::Semicolon) => ";".into(),
            Some(Tok::Other(c)) => c.to_string(),
        };
        format!("error parsing query: {what}, found {found}")
    }

    fn ident(&mut self) -> Result<String, String> {
        match self.toks.get(self.pos) {
            Some(Tok::Word(w) | Tok::Quoted(w)) => {
                self.pos += 1;
                Ok(w.clone())
            }
            _ => Err(self.err("expected identifier")),
        }
    }

    fn duration(&mut self) -> Result<Option<i64>, String> {
        let text = match self.toks.get(self.pos) {
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("inf") => {
                self.pos += 1;
                return Ok(None);
            }
            Some(Tok::Number(n)) => n.clone(),
            _ => return Err(self.err("expected duration")),
        };
        self.pos += 1;
        let ns = parse_duration(&text)
            .ok_or_else(|| format!("error parsing query: invalid duration {text}"))?;
        // 1.x treats a zero duration as infinite.
        Ok((ns != 0).then_some(ns))
    }

    fn number(&mut self) -> Result<(), String> {
        match self.toks.get(self.pos) {
            Some(Tok::Number(_)) => {
                self.pos += 1;
                Ok(())
            }
            _ => Err(self.err("expected number")),
        }
    }

    fn end(&self) -> Result<(), String> {
        if self.pos == self.toks.len() {
            Ok(())
        } else {
            Err(self.err("unexpected token"))
        }
    }

    fn statement(mut self) -> Result<Statement, String> {
        let stmt = if self.kw("CREATE") {
            if self.kw("DATABASE") {
                self.create_database()?
            } else if self.kw("RETENTION") {
                self.expect("POLICY")?;
                self.create_rp()?
            } else {
                return Err(self.unsupported());
            }
        } else if self.kw("DROP") {
            if self.kw("DATABASE") {
                Statement::DropDatabase {
                    name: self.ident()?,
                }
            } else if self.kw("RETENTION") {
                self.expect("POLICY")?;
                let name = self.ident()?;
                self.expect("ON")?;
                Statement::DropRetentionPolicy {
                    name,
                    db: self.ident()?,
                }
            } else {
                return Err(self.unsupported());
            }
        } else if self.kw("ALTER") {
            self.expect("RETENTION")?;
            self.expect("POLICY")?;
            self.alter_rp()?
        } else if self.kw("SHOW") {
            if self.kw("DATABASES") {
                Statement::ShowDatabases
            } else if self.kw("RETENTION") {
                self.expect("POLICIES")?;
                let db = if self.kw("ON") {
                    Some(self.ident()?)
                } else {
                    None
                };
                Statement::ShowRetentionPolicies { db }
            } else {
                return Err(self.unsupported());
            }
        } else {
            return Err(self.unsupported());
        };
        self.end()?;
        Ok(stmt)
    }

    fn unsupported(&self) -> String {
        "statement not supported by Strata: only CREATE/DROP DATABASE, SHOW DATABASES, \
         CREATE/ALTER/DROP RETENTION POLICY and SHOW RETENTION POLICIES are"
            .to_owned()
    }

    /// The retention-policy options in any order: `DURATION d`, `REPLICATION n`,
    /// `SHARD DURATION d`, and, where allowed, `NAME rp` and `DEFAULT`.
    fn rp_options(&mut self, allow_name: bool, allow_default: bool) -> Result<RpOptions, String> {
        let mut o = RpOptions::default();
        loop {
            if self.kw("DURATION") {
                o.duration_ns = Some(self.duration()?);
            } else if self.kw("REPLICATION") {
                self.number()?;
            } else if self.kw("SHARD") {
                self.expect("DURATION")?;
                self.duration()?;
            } else if allow_name && self.kw("NAME") {
                o.name = Some(self.ident()?);
            } else if allow_default && self.kw("DEFAULT") {
                o.default = true;
            } else {
                return Ok(o);
            }
        }
    }

    fn create_database(&mut self) -> Result<Statement, String> {
        let name = self.ident()?;
        let o = if self.kw("WITH") {
            self.rp_options(true, false)?
        } else {
            RpOptions::default()
        };
        Ok(Statement::CreateDatabase {
            name,
            rp: o.name.unwrap_or_else(|| DEFAULT_RP.to_owned()),
            duration_ns: o.duration_ns.flatten(),
        })
    }

    fn create_rp(&mut self) -> Result<Statement, String> {
        let name = self.ident()?;
        self.expect("ON")?;
        let db = self.ident()?;
        let o = self.rp_options(false, true)?;
        let Some(duration_ns) = o.duration_ns else {
            return Err(self.err("expected DURATION"));
        };
        Ok(Statement::CreateRetentionPolicy {
            name,
            db,
            duration_ns,
            default: o.default,
        })
    }

    fn alter_rp(&mut self) -> Result<Statement, String> {
        let name = self.ident()?;
        self.expect("ON")?;
        let db = self.ident()?;
        let o = self.rp_options(false, true)?;
        Ok(Statement::AlterRetentionPolicy {
            name,
            db,
            duration_ns: o.duration_ns,
            default: o.default,
        })
    }
}

/// Options of a retention-policy clause.
#[derive(Default)]
struct RpOptions {
    /// `Some(None)` is `DURATION INF`.
    duration_ns: Option<Option<i64>>,
    name: Option<String>,
    default: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_clients_send() {
        assert_eq!(
            parse_query(r#"CREATE DATABASE "telegraf""#),
            vec![Ok(Statement::CreateDatabase {
                name: "telegraf".into(),
                rp: "autogen".into(),
                duration_ns: None
            })]
        );
        assert_eq!(
            parse_query("create database mydb with duration 7d replication 1 shard duration 1h name week; SHOW DATABASES"),
            vec![
                Ok(Statement::CreateDatabase { name: "mydb".into(), rp: "week".into(), duration_ns: Some(7 * 86_400_000_000_000) }),
                Ok(Statement::ShowDatabases),
            ]
        );
        assert_eq!(
            parse_query(
                r#"CREATE RETENTION POLICY "1h" ON "db" DURATION 1h REPLICATION 1 DEFAULT"#
            ),
            vec![Ok(Statement::CreateRetentionPolicy {
                name: "1h".into(),
                db: "db".into(),
                duration_ns: Some(3_600_000_000_000),
                default: true
            })]
        );
        assert_eq!(
            parse_query("ALTER RETENTION POLICY autogen ON db DURATION INF DEFAULT"),
            vec![Ok(Statement::AlterRetentionPolicy {
                name: "autogen".into(),
                db: "db".into(),
                duration_ns: Some(None),
                default: true
            })]
        );
        assert_eq!(
            parse_query("show retention policies on \"db\""),
            vec![Ok(Statement::ShowRetentionPolicies {
                db: Some("db".into())
            })]
        );
        assert_eq!(
            parse_query("DROP RETENTION POLICY rp ON db"),
            vec![Ok(Statement::DropRetentionPolicy {
                name: "rp".into(),
                db: "db".into()
            })]
        );
        assert_eq!(
            parse_query("DROP DATABASE db"),
            vec![Ok(Statement::DropDatabase { name: "db".into() })]
        );
    }

    #[test]
    fn bad_statements_are_errors_for_themselves_only() {
        let r = parse_query("SELECT * FROM cpu; CREATE DATABASE x; CREATE DATABASE");
        assert_eq!(r.len(), 3);
        assert!(r[0].as_ref().is_err_and(|e| e.contains("not supported")));
        assert!(r[1].is_ok());
        assert!(r[2]
            .as_ref()
            .is_err_and(|e| e.contains("expected identifier")));
        assert!(parse_query("CREATE RETENTION POLICY rp ON db REPLICATION 1")[0].is_err());
    }
}
