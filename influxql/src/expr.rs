//! Expression-level AST: what appears in fields, conditions, dimensions and sources.

use crate::duration::Duration;

/// A regular expression's source text, as written between the slashes (with `\/` already
/// turned into `/`). It is not compiled here: the planner compiles it with its own engine.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Regex(pub String);

/// A `::type` cast on a variable reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DataType {
    /// `::float`
    Float,
    /// `::integer`
    Integer,
    /// `::unsigned`
    Unsigned,
    /// `::string`
    String,
    /// `::boolean`
    Boolean,
    /// `::field`: any field, not a tag.
    Field,
    /// `::tag`
    Tag,
}

/// What a `*` selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WildcardKind {
    /// `*`: fields and tags.
    All,
    /// `*::field`
    Fields,
    /// `*::tag`
    Tags,
}

/// A binary operator, by precedence from loosest (`OR`) to tightest (`*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BinaryOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `%`
    Mod,
    /// `&`
    BitAnd,
    /// `|`
    BitOr,
    /// `^`
    BitXor,
    /// `AND`
    And,
    /// `OR`
    Or,
    /// `=`
    Eq,
    /// `!=` (also written `<>`)
    Neq,
    /// `=~`
    EqRegex,
    /// `!~`
    NeqRegex,
    /// `<`
    Lt,
    /// `<=`
    Lte,
    /// `>`
    Gt,
    /// `>=`
    Gte,
}

impl BinaryOp {
    /// Binding strength, 1 (`OR`) to 5 (`* / % &`), as 1.x.
    pub fn precedence(self) -> u8 {
        match self {
            BinaryOp::Or => 1,
            BinaryOp::And => 2,
            BinaryOp::Eq
            | BinaryOp::Neq
            | BinaryOp::EqRegex
            | BinaryOp::NeqRegex
            | BinaryOp::Lt
            | BinaryOp::Lte
            | BinaryOp::Gt
            | BinaryOp::Gte => 3,
            BinaryOp::Add | BinaryOp::Sub | BinaryOp::BitOr | BinaryOp::BitXor => 4,
            BinaryOp::Mul | BinaryOp::Div | BinaryOp::Mod | BinaryOp::BitAnd => 5,
        }
    }

    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::Mod => "%",
            BinaryOp::BitAnd => "&",
            BinaryOp::BitOr => "|",
            BinaryOp::BitXor => "^",
            BinaryOp::And => "AND",
            BinaryOp::Or => "OR",
            BinaryOp::Eq => "=",
            BinaryOp::Neq => "!=",
            BinaryOp::EqRegex => "=~",
            BinaryOp::NeqRegex => "!~",
            BinaryOp::Lt => "<",
            BinaryOp::Lte => "<=",
            BinaryOp::Gt => ">",
            BinaryOp::Gte => ">=",
        }
    }

    /// A comparison or logical operator: the ones 1.x refuses in a SELECT field.
    pub fn is_condition(self) -> bool {
        self.precedence() <= 3
    }
}

/// An expression. Literals stay as written (a time string is a [`Expr::String`]; the planner
/// decides what it means), and the tree is exactly the one 1.x builds, parentheses included.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// A field or tag reference; dotted segments (`"cpu"."host"`) are joined with `.` as 1.x.
    VarRef {
        /// The name.
        name: String,
        /// The `::type` cast, if any.
        data_type: Option<DataType>,
    },
    /// `name(args)`; the name is lower-cased as 1.x does.
    Call {
        /// Function name.
        name: String,
        /// Arguments (a `/regex/` or `*` may appear here).
        args: Vec<Expr>,
    },
    /// `DISTINCT field`, as in `count(DISTINCT v)`.
    Distinct(String),
    /// `lhs op rhs`.
    Binary {
        /// The operator.
        op: BinaryOp,
        /// Left operand.
        lhs: Box<Expr>,
        /// Right operand.
        rhs: Box<Expr>,
    },
    /// `( expr )`, kept so printing preserves the grouping.
    Paren(Box<Expr>),
    /// `42`, `-7`
    Integer(i64),
    /// An integer above `i64::MAX`.
    Unsigned(u64),
    /// `1.5`
    Number(f64),
    /// `'text'`
    String(String),
    /// `true` / `false`
    Boolean(bool),
    /// `10s`, `-1h`
    Duration(Duration),
    /// `/re/`
    Regex(Regex),
    /// `*`, `*::field`, `*::tag`
    Wildcard(WildcardKind),
    /// `$name`, left in place when parsing without parameters; see [`crate::bind_parameters`].
    BoundParameter(String),
}

impl Expr {
    /// A plain reference to `name`.
    pub fn var(name: impl Into<String>) -> Self {
        Expr::VarRef {
            name: name.into(),
            data_type: None,
        }
    }

    /// `lhs op rhs`.
    pub fn binary(op: BinaryOp, lhs: Expr, rhs: Expr) -> Self {
        Expr::Binary {
            op,
            lhs: Box::new(lhs),
            rhs: Box::new(rhs),
        }
    }

    /// `name(args)`.
    pub fn call(name: impl Into<String>, args: Vec<Expr>) -> Self {
        Expr::Call {
            name: name.into(),
            args,
        }
    }
}

/// A measurement name, or a regex over measurement names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MeasurementName {
    /// `cpu`, `"my measurement"`
    Name(String),
    /// `/cpu.*/`
    Regex(Regex),
}

/// A measurement, optionally qualified: `m`, `rp.m`, `db.rp.m`, `db..m`, `/re/`, `db.rp./re/`.
/// An empty qualifier counts as absent, as in 1.x.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Measurement {
    /// `db` in `db.rp.m`.
    pub database: Option<String>,
    /// `rp` in `db.rp.m` or `rp.m`.
    pub retention_policy: Option<String>,
    /// The name or regex.
    pub name: MeasurementName,
}

impl Measurement {
    /// An unqualified measurement.
    pub fn named(name: impl Into<String>) -> Self {
        Measurement {
            database: None,
            retention_policy: None,
            name: MeasurementName::Name(name.into()),
        }
    }
}

/// The `INTO` target of a SELECT (parsed, never executed by Strata).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Database, if given.
    pub database: Option<String>,
    /// Retention policy, if given.
    pub retention_policy: Option<String>,
    /// Measurement; `None` is the `:MEASUREMENT` back-reference.
    pub measurement: Option<String>,
}
