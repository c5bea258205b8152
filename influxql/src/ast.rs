//! Statement-level AST. Optional clauses are `Option`/empty `Vec`; `LIMIT 0` and `fill(null)`
//! read as absent, as 1.x treats them.

use crate::duration::Duration;
use crate::expr::{Expr, Measurement, Regex, Target};

/// One parsed statement.
#[derive(Debug, Clone, PartialEq)]
#[allow(missing_docs)] // each variant's doc is its syntax, given on the payload types or here
pub enum Statement {
    /// `SELECT …`
    Select(Box<SelectStatement>),
    /// `EXPLAIN [ANALYZE] SELECT …`
    Explain {
        analyze: bool,
        select: Box<SelectStatement>,
    },
    /// `DELETE [FROM …] [WHERE …]`
    Delete(SeriesFilter),
    /// `DROP SERIES [FROM …] [WHERE …]`
    DropSeries(SeriesFilter),
    /// `SHOW DATABASES`
    ShowDatabases,
    /// `SHOW RETENTION POLICIES [ON db]`
    ShowRetentionPolicies { database: Option<String> },
    /// `SHOW MEASUREMENTS …`
    ShowMeasurements(ShowMeasurements),
    /// `SHOW TAG KEYS …`
    ShowTagKeys(ShowTagKeys),
    /// `SHOW TAG VALUES … WITH KEY …`
    ShowTagValues(ShowTagValues),
    /// `SHOW FIELD KEYS …`
    ShowFieldKeys(ShowFieldKeys),
    /// `SHOW SERIES …`
    ShowSeries(ShowSeries),
    /// `SHOW SERIES|MEASUREMENT|TAG KEY|TAG VALUES|FIELD KEY [EXACT] CARDINALITY …`
    ShowCardinality(ShowCardinality),
    /// `SHOW CONTINUOUS QUERIES`
    ShowContinuousQueries,
    /// `SHOW DIAGNOSTICS [FOR 'module']`
    ShowDiagnostics { module: Option<String> },
    /// `SHOW GRANTS FOR user`
    ShowGrants { user: String },
    /// `SHOW QUERIES`
    ShowQueries,
    /// `SHOW SHARD GROUPS`
    ShowShardGroups,
    /// `SHOW SHARDS`
    ShowShards,
    /// `SHOW STATS [FOR 'module']`
    ShowStats { module: Option<String> },
    /// `SHOW SUBSCRIPTIONS`
    ShowSubscriptions,
    /// `SHOW USERS`
    ShowUsers,
    /// `CREATE DATABASE name [WITH …]`
    CreateDatabase(CreateDatabase),
    /// `DROP DATABASE name`
    DropDatabase { name: String },
    /// `CREATE RETENTION POLICY …`
    CreateRetentionPolicy(CreateRetentionPolicy),
    /// `ALTER RETENTION POLICY …`
    AlterRetentionPolicy(AlterRetentionPolicy),
    /// `DROP RETENTION POLICY name ON db`
    DropRetentionPolicy { name: String, database: String },
    /// `DROP MEASUREMENT name`
    DropMeasurement { name: String },
    /// `DROP SHARD id`
    DropShard { id: u64 },
    /// `CREATE CONTINUOUS QUERY name ON db [RESAMPLE …] BEGIN SELECT … END`
    CreateContinuousQuery(CreateContinuousQuery),
    /// `DROP CONTINUOUS QUERY name ON db`
    DropContinuousQuery { name: String, database: String },
    /// `CREATE SUBSCRIPTION name ON db.rp DESTINATIONS ALL|ANY 'url', …`
    CreateSubscription(CreateSubscription),
    /// `DROP SUBSCRIPTION name ON db.rp`
    DropSubscription {
        name: String,
        database: String,
        retention_policy: String,
    },
    /// `CREATE USER name WITH PASSWORD 'pw' [WITH ALL PRIVILEGES]`
    CreateUser {
        name: String,
        password: String,
        admin: bool,
    },
    /// `DROP USER name`
    DropUser { name: String },
    /// `SET PASSWORD FOR name = 'pw'`
    SetPassword { name: String, password: String },
    /// `GRANT READ|WRITE|ALL ON db TO user`
    Grant {
        privilege: Privilege,
        database: String,
        user: String,
    },
    /// `GRANT ALL [PRIVILEGES] TO user`
    GrantAdmin { user: String },
    /// `REVOKE READ|WRITE|ALL ON db FROM user`
    Revoke {
        privilege: Privilege,
        database: String,
        user: String,
    },
    /// `REVOKE ALL [PRIVILEGES] FROM user`
    RevokeAdmin { user: String },
    /// `KILL QUERY id [ON host]`
    KillQuery { id: u64, host: Option<String> },
}

/// A SELECT statement.
#[derive(Debug, Clone, PartialEq)]
pub struct SelectStatement {
    /// The selected expressions (at least one).
    pub fields: Vec<Field>,
    /// `INTO …`
    pub into: Option<Target>,
    /// `FROM …` (at least one).
    pub sources: Vec<Source>,
    /// `WHERE …`
    pub condition: Option<Expr>,
    /// `GROUP BY …`
    pub dimensions: Vec<Dimension>,
    /// `fill(…)`; [`Fill::Null`] when absent.
    pub fill: Fill,
    /// `ORDER BY time ASC|DESC`
    pub order: Option<Order>,
    /// `LIMIT n` (points per series).
    pub limit: Option<u64>,
    /// `OFFSET n`
    pub offset: Option<u64>,
    /// `SLIMIT n` (series).
    pub slimit: Option<u64>,
    /// `SOFFSET n`
    pub soffset: Option<u64>,
    /// `tz('America/Chicago')`: the name as written, not checked against a time-zone database.
    pub timezone: Option<String>,
}

/// One selected expression with its `AS` alias.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    /// The expression.
    pub expr: Expr,
    /// `AS alias`
    pub alias: Option<String>,
}

/// A `FROM` source.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// A measurement or measurement regex.
    Measurement(Measurement),
    /// `(SELECT …)`
    Subquery(Box<SelectStatement>),
}

/// A `GROUP BY` term: `time(10s[, offset])`, a tag, `*`, or `/regex/` (any expression 1.x
/// accepts; the planner checks which).
#[derive(Debug, Clone, PartialEq)]
pub struct Dimension {
    /// The expression.
    pub expr: Expr,
}

/// `fill(…)`
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Fill {
    /// `fill(null)`, the default.
    #[default]
    Null,
    /// `fill(none)`
    None,
    /// `fill(previous)`
    Previous,
    /// `fill(linear)`
    Linear,
    /// `fill(0)`
    Integer(i64),
    /// `fill(0.5)`
    Number(f64),
}

/// `ORDER BY time ASC|DESC` (1.x orders by nothing but time).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// `ASC` (also `ORDER BY time`).
    Ascending,
    /// `DESC`
    Descending,
}

/// The `FROM`/`WHERE` of DELETE and DROP SERIES (at least one of them is present).
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesFilter {
    /// `FROM …`; unqualified measurements or regexes.
    pub sources: Vec<Measurement>,
    /// `WHERE …`
    pub condition: Option<Expr>,
}

/// `SHOW MEASUREMENTS [ON db] [WITH MEASUREMENT =|=~ m] [WHERE] [ORDER BY] [LIMIT] [OFFSET]`
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ShowMeasurements {
    /// `ON db`
    pub database: Option<String>,
    /// `WITH MEASUREMENT = name` or `=~ /re/` (1.x keeps the measurement, not the operator).
    pub measurement: Option<Measurement>,
    /// `WHERE …`
    pub condition: Option<Expr>,
    /// `ORDER BY …`
    pub order: Option<Order>,
    /// `LIMIT n`
    pub limit: Option<u64>,
    /// `OFFSET n`
    pub offset: Option<u64>,
}

/// `SHOW TAG KEYS [ON db] [FROM …] [WHERE] [ORDER BY] [LIMIT] [OFFSET] [SLIMIT] [SOFFSET]`
#[derive(Debug, Clone, PartialEq, Default)]
#[allow(missing_docs)]
pub struct ShowTagKeys {
    pub database: Option<String>,
    pub sources: Vec<Measurement>,
    pub condition: Option<Expr>,
    pub order: Option<Order>,
    pub limit: Option<u64>,
    pub offset: Option<u64>,
    pub slimit: Option<u64>,
    pub soffset: Option<u64>,
}

/// `WITH KEY …` of SHOW TAG VALUES.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TagKeyMatch {
    /// `= key`
    Eq(String),
    /// `!= key`
    NotEq(String),
    /// `IN (a, b)`
    In(Vec<String>),
    /// `=~ /re/`
    EqRegex(Regex),
    /// `!~ /re/`
    NotEqRegex(Regex),
}

/// `SHOW TAG VALUES [ON db] [FROM …] WITH KEY … [WHERE] [ORDER BY] [LIMIT] [OFFSET]`
#[derive(Debug, Clone, PartialEq)]
#[allow(missing_docs)]
pub struct ShowTagValues {
    pub database: Option<String>,
    pub sources: Vec<Measurement>,
    pub key: TagKeyMatch,
    pub condition: Option<Expr>,
    pub order: Option<Order>,
    pub limit: Option<u64>,
    pub offset: Option<u64>,
}

/// `SHOW FIELD KEYS [ON db] [FROM …] [ORDER BY] [LIMIT] [OFFSET]`
#[derive(Debug, Clone, PartialEq, Default)]
#[allow(missing_docs)]
pub struct ShowFieldKeys {
    pub database: Option<String>,
    pub sources: Vec<Measurement>,
    pub order: Option<Order>,
    pub limit: Option<u64>,
    pub offset: Option<u64>,
}

/// `SHOW SERIES [ON db] [FROM …] [WHERE] [ORDER BY] [LIMIT] [OFFSET]`
#[derive(Debug, Clone, PartialEq, Default)]
#[allow(missing_docs)]
pub struct ShowSeries {
    pub database: Option<String>,
    pub sources: Vec<Measurement>,
    pub condition: Option<Expr>,
    pub order: Option<Order>,
    pub limit: Option<u64>,
    pub offset: Option<u64>,
}

/// What a cardinality statement counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CardinalityOf {
    /// `SHOW SERIES CARDINALITY`
    Series,
    /// `SHOW MEASUREMENT CARDINALITY`
    Measurements,
    /// `SHOW TAG KEY CARDINALITY`
    TagKeys,
    /// `SHOW TAG VALUES CARDINALITY … WITH KEY …`
    TagValues(TagKeyMatch),
    /// `SHOW FIELD KEY CARDINALITY`
    FieldKeys,
}

/// `SHOW … [EXACT] CARDINALITY [ON db] [FROM …] [WHERE] [GROUP BY] [LIMIT] [OFFSET]`
#[derive(Debug, Clone, PartialEq)]
#[allow(missing_docs)]
pub struct ShowCardinality {
    pub of: CardinalityOf,
    pub exact: bool,
    pub database: Option<String>,
    pub sources: Vec<Measurement>,
    pub condition: Option<Expr>,
    pub dimensions: Vec<Dimension>,
    pub limit: Option<u64>,
    pub offset: Option<u64>,
}

/// `CREATE DATABASE name [WITH [DURATION d] [REPLICATION n] [SHARD DURATION d] [NAME rp]]`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateDatabase {
    /// Database name.
    pub name: String,
    /// The `WITH …` clause, if given.
    pub retention_policy: Option<RetentionPolicySpec>,
}

/// The `WITH …` of CREATE DATABASE.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[allow(missing_docs)]
pub struct RetentionPolicySpec {
    /// `DURATION d` (`INF` is 0).
    pub duration: Option<Duration>,
    pub replication: Option<u32>,
    pub shard_duration: Option<Duration>,
    pub name: Option<String>,
}

/// `CREATE RETENTION POLICY name ON db DURATION d REPLICATION n [SHARD DURATION d] [DEFAULT]`
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct CreateRetentionPolicy {
    pub name: String,
    pub database: String,
    /// `INF` is 0.
    pub duration: Duration,
    pub replication: u32,
    pub shard_duration: Option<Duration>,
    pub default: bool,
}

/// `ALTER RETENTION POLICY name ON db [DURATION d] [REPLICATION n] [SHARD DURATION d] [DEFAULT]`
/// (at least one option, each at most once, any order).
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct AlterRetentionPolicy {
    pub name: String,
    pub database: String,
    pub duration: Option<Duration>,
    pub replication: Option<u32>,
    pub shard_duration: Option<Duration>,
    pub default: bool,
}

/// `CREATE CONTINUOUS QUERY …` (parsed so it can be refused clearly).
#[derive(Debug, Clone, PartialEq)]
#[allow(missing_docs)]
pub struct CreateContinuousQuery {
    pub name: String,
    pub database: String,
    pub resample_every: Option<Duration>,
    pub resample_for: Option<Duration>,
    pub select: Box<SelectStatement>,
}

/// `CREATE SUBSCRIPTION name ON db.rp DESTINATIONS ALL|ANY 'a', …`
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct CreateSubscription {
    pub name: String,
    pub database: String,
    pub retention_policy: String,
    /// `true` for `ALL`, `false` for `ANY`.
    pub all: bool,
    pub destinations: Vec<String>,
}

/// A privilege in GRANT/REVOKE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Privilege {
    /// `READ`
    Read,
    /// `WRITE`
    Write,
    /// `ALL [PRIVILEGES]`
    All,
}
