//! Expressions: operators by precedence (1.x's tree shape, left-associative), unary signs folded
//! into literals, calls, casts, regexes and bound parameters.

use super::{Parser, Result, MAX_TREE_DEPTH};
use crate::duration::parse_duration;
use crate::error::ParseError;
use crate::expr::{BinaryOp, DataType, Expr, Regex, WildcardKind};
use crate::token::{Keyword, Tok};

fn binary_op(tok: Tok) -> Option<BinaryOp> {
    Some(match tok {
        Tok::Add => BinaryOp::Add,
        Tok::Sub => BinaryOp::Sub,
        Tok::Mul => BinaryOp::Mul,
        Tok::Div => BinaryOp::Div,
        Tok::Mod => BinaryOp::Mod,
        Tok::BitAnd => BinaryOp::BitAnd,
        Tok::BitOr => BinaryOp::BitOr,
        Tok::BitXor => BinaryOp::BitXor,
        Tok::And => BinaryOp::And,
        Tok::Or => BinaryOp::Or,
        Tok::Eq => BinaryOp::Eq,
        Tok::Neq => BinaryOp::Neq,
        Tok::EqRegex => BinaryOp::EqRegex,
        Tok::NeqRegex => BinaryOp::NeqRegex,
        Tok::Lt => BinaryOp::Lt,
        Tok::Lte => BinaryOp::Lte,
        Tok::Gt => BinaryOp::Gt,
        Tok::Gte => BinaryOp::Gte,
        _ => return None,
    })
}

/// The right-hand spine of the tree being built: for each binary node on it, its operator's
/// precedence and the depth of its left side; `leaf` is the depth of the last right operand.
/// It lets each insertion find its place as 1.x does and know the tree's depth without
/// walking the tree.
struct Spine {
    nodes: Vec<(u8, usize)>,
    leaf: usize,
}

impl Spine {
    /// Depth of the subtree rooted at spine position `from`.
    fn depth_from(&self, from: usize) -> usize {
        self.nodes
            .iter()
            .skip(from)
            .rev()
            .fold(self.leaf, |d, (_, l)| 1 + d.max(*l))
    }
}

/// The `slot`-th right child down the spine of `root`.
fn spine_slot(root: &mut Expr, k: usize) -> &mut Expr {
    let mut slot = root;
    for _ in 0..k {
        slot = match slot {
            Expr::Binary { rhs, .. } => rhs,
            other => return other,
        };
    }
    slot
}

impl Parser<'_> {
    pub(crate) fn parse_expr(&mut self) -> Result<Expr> {
        Ok(self.parse_expr_depth()?.0)
    }

    /// An expression and the depth of its tree.
    fn parse_expr_depth(&mut self) -> Result<(Expr, usize)> {
        let (mut root, d) = self.parse_unary()?;
        let mut spine = Self::spine_of(&root, d);
        loop {
            let t = self.scan_ws();
            let Some(op) = binary_op(t.tok) else {
                self.unscan();
                let depth = spine.depth_from(0);
                return Ok((root, depth));
            };
            let (rhs, rhs_depth) = if matches!(op, BinaryOp::EqRegex | BinaryOp::NeqRegex) {
                match self.parse_regex()? {
                    Some(re) => (Expr::Regex(re), 1),
                    None => {
                        let t = self.scan_ws();
                        return Err(ParseError::unexpected(&t, &["regex"]));
                    }
                }
            } else {
                self.parse_unary()?
            };
            let prec = op.precedence();
            let k = spine
                .nodes
                .iter()
                .position(|(p, _)| *p >= prec)
                .unwrap_or(spine.nodes.len());
            let lhs_depth = spine.depth_from(k);
            let rhs_spine = Self::spine_of(&rhs, rhs_depth);
            let slot = spine_slot(&mut root, k);
            let lhs = std::mem::replace(slot, Expr::Integer(0));
            *slot = Expr::binary(op, lhs, rhs);
            spine.nodes.truncate(k);
            spine.nodes.push((prec, lhs_depth));
            spine.nodes.extend(rhs_spine.nodes);
            spine.leaf = rhs_spine.leaf;
            if self.depth + spine.depth_from(0) > MAX_TREE_DEPTH {
                return Err(ParseError::at("query too deeply nested", t.pos));
            }
        }
    }

    /// The spine of an operand from [`Parser::parse_unary`]: the only binary tree it returns
    /// is a negation `-1 * x`, whose left side is a literal.
    fn spine_of(e: &Expr, depth: usize) -> Spine {
        match e {
            Expr::Binary { op, .. } => Spine {
                nodes: vec![(op.precedence(), 1)],
                leaf: depth.saturating_sub(1),
            },
            _ => Spine {
                nodes: Vec::new(),
                leaf: depth,
            },
        }
    }

    /// An operand and its depth.
    pub(crate) fn parse_unary(&mut self) -> Result<(Expr, usize)> {
        let t = self.scan_ws();
        if t.tok == Tok::LParen {
            self.enter(t.pos)?;
            let (inner, d) = self.parse_expr_depth()?;
            self.leave();
            let close = self.scan_ws();
            if close.tok != Tok::RParen {
                return Err(ParseError::unexpected(&close, &[")"]));
            }
            return Ok((Expr::Paren(Box::new(inner)), d + 1));
        }
        self.unscan();
        let t = self.scan_ws();
        let leaf = |e: Expr| Ok((e, 1));
        match t.tok {
            Tok::Ident => {
                if self.scan().tok == Tok::LParen {
                    self.enter(t.pos)?;
                    let r = self.parse_call(&t.lit);
                    self.leave();
                    return r;
                }
                self.unscan();
                self.unscan();
                leaf(self.parse_var_ref()?)
            }
            Tok::Kw(Keyword::Distinct) => {
                let t0 = self.scan();
                match t0.tok {
                    Tok::LParen => {
                        self.enter(t.pos)?;
                        let r = self.parse_call("distinct");
                        self.leave();
                        r
                    }
                    Tok::Ws => {
                        let t1 = self.scan_ws();
                        if t1.tok != Tok::Ident {
                            return Err(ParseError::unexpected(&t1, &["identifier"]));
                        }
                        leaf(Expr::Distinct(t1.lit))
                    }
                    _ => Err(ParseError::unexpected(&t0, &["(", "identifier"])),
                }
            }
            Tok::Str => leaf(Expr::String(t.lit)),
            Tok::Number => match t.lit.parse::<f64>() {
                Ok(v) if v.is_finite() => leaf(Expr::Number(v)),
                _ => Err(ParseError::at("unable to parse number", t.pos)),
            },
            Tok::Integer => match t.lit.parse::<i64>() {
                Ok(v) => leaf(Expr::Integer(v)),
                Err(_) => match t.lit.parse::<u64>() {
                    Ok(v) => leaf(Expr::Unsigned(v)),
                    Err(_) => Err(ParseError::at("unable to parse integer", t.pos)),
                },
            },
            Tok::True => leaf(Expr::Boolean(true)),
            Tok::False => leaf(Expr::Boolean(false)),
            Tok::DurationVal => match parse_duration(&t.lit) {
                Ok(d) => leaf(Expr::Duration(d)),
                Err(e) => Err(ParseError::bare(e.to_string())),
            },
            Tok::Mul => {
                let mut kind = WildcardKind::All;
                if self.scan().tok == Tok::DoubleColon {
                    let t1 = self.scan();
                    kind = match t1.tok {
                        Tok::Kw(Keyword::Field) => WildcardKind::Fields,
                        Tok::Kw(Keyword::Tag) => WildcardKind::Tags,
                        _ => return Err(ParseError::unexpected(&t1, &["field", "tag"])),
                    };
                } else {
                    self.unscan();
                }
                leaf(Expr::Wildcard(kind))
            }
            // Only a bound parameter of regex type scans as a regex token here.
            Tok::Regex => leaf(Expr::Regex(Regex(t.lit))),
            Tok::BoundParam => {
                let name = t.lit.strip_prefix('$').unwrap_or(&t.lit).to_string();
                if name.is_empty() {
                    return Err(ParseError::bare("empty bound parameter"));
                }
                match self.params {
                    None => leaf(Expr::BoundParameter(name)),
                    // A parameter whose value could not be bound keeps the bound-parameter token
                    // with the reason as its text, and 1.x then reports the reason as missing.
                    Some(params) => match params.get(&name) {
                        Some(v) => Err(ParseError::bare(crate::params::bind_value(v).token().1)),
                        None => Err(ParseError::bare(format!("missing parameter: {name}"))),
                    },
                }
            }
            Tok::Add | Tok::Sub => self.parse_signed(t.tok == Tok::Sub, t.pos),
            _ => Err(ParseError::unexpected(
                &t,
                &["identifier", "string", "number", "bool"],
            )),
        }
    }

    /// `-x` / `+x`: folded into a numeric or duration literal, else `-1 * x`.
    fn parse_signed(&mut self, negative: bool, pos: crate::token::Pos) -> Result<(Expr, usize)> {
        let t0 = self.scan_ws();
        if !matches!(
            t0.tok,
            Tok::Number | Tok::Integer | Tok::DurationVal | Tok::LParen | Tok::Ident
        ) {
            return Err(ParseError::unexpected(
                &t0,
                &["identifier", "number", "duration", "("],
            ));
        }
        self.unscan();
        self.enter(pos)?;
        let r = self.parse_unary();
        self.leave();
        let (e, d) = r?;
        let folded = match e {
            Expr::Number(v) => Expr::Number(if negative { -v } else { v }),
            Expr::Integer(v) => Expr::Integer(if negative { v.wrapping_neg() } else { v }),
            Expr::Unsigned(v) if negative => {
                if v == 1u64 << 63 {
                    Expr::Integer(i64::MIN)
                } else {
                    return Err(ParseError::bare(format!("constant -{v} underflows int64")));
                }
            }
            Expr::Duration(d) => Expr::Duration(crate::duration::Duration(if negative {
                d.0.wrapping_neg()
            } else {
                d.0
            })),
            e @ (Expr::VarRef { .. } | Expr::Call { .. } | Expr::Paren(_)) => {
                let sign = Expr::Integer(if negative { -1 } else { 1 });
                return Ok((Expr::binary(BinaryOp::Mul, sign, e), d + 1));
            }
            other => other,
        };
        Ok((folded, d))
    }

    /// `name(args)` after the `(`; the name is lower-cased.
    fn parse_call(&mut self, name: &str) -> Result<(Expr, usize)> {
        let name = name.to_lowercase();
        let mut args = Vec::new();
        let mut depth = 0;
        match self.parse_regex()? {
            Some(re) => args.push(Expr::Regex(re)),
            None => {
                if self.scan().tok == Tok::RParen {
                    return Ok((Expr::Call { name, args }, 1));
                }
                self.unscan();
                let (a, d) = self.parse_expr_depth()?;
                depth = depth.max(d);
                args.push(a);
            }
        }
        loop {
            if self.scan_ws().tok != Tok::Comma {
                self.unscan();
                break;
            }
            if let Some(re) = self.parse_regex()? {
                args.push(Expr::Regex(re));
                continue;
            }
            let (a, d) = self.parse_expr_depth()?;
            depth = depth.max(d);
            args.push(a);
        }
        let t = self.scan();
        if t.tok != Tok::RParen {
            return Err(ParseError::unexpected(&t, &[")"]));
        }
        Ok((Expr::Call { name, args }, depth.max(1) + 1))
    }

    /// `name`, `a.b.c`, with an optional `::type`.
    fn parse_var_ref(&mut self) -> Result<Expr> {
        let segments = self.parse_segmented_idents()?;
        let mut data_type = None;
        if self.scan().tok == Tok::DoubleColon {
            let t = self.scan();
            data_type = Some(match t.tok {
                Tok::Ident => match t.lit.to_lowercase().as_str() {
                    "float" => DataType::Float,
                    "integer" => DataType::Integer,
                    "unsigned" => DataType::Unsigned,
                    "string" => DataType::String,
                    "boolean" => DataType::Boolean,
                    _ => {
                        return Err(ParseError::unexpected(
                            &t,
                            &[
                                "float", "integer", "unsigned", "string", "boolean", "field", "tag",
                            ],
                        ))
                    }
                },
                Tok::Kw(Keyword::Field) => DataType::Field,
                Tok::Kw(Keyword::Tag) => DataType::Tag,
                _ => {
                    return Err(ParseError::unexpected(
                        &t,
                        &["float", "integer", "string", "boolean", "field", "tag"],
                    ))
                }
            });
        } else {
            self.unscan();
        }
        Ok(Expr::VarRef {
            name: segments.join("."),
            data_type,
        })
    }

    /// A `/regex/` if one comes next (or a bound parameter holding one); `None` otherwise.
    pub(crate) fn parse_regex(&mut self) -> Result<Option<Regex>> {
        if matches!(self.peek_rune(), ' ' | '\t' | '\n') {
            self.consume_ws();
        }
        match self.peek_rune() {
            '$' => {
                let t = self.scan();
                self.unscan();
                if t.tok != Tok::Regex {
                    return Ok(None);
                }
            }
            '/' => {}
            _ => return Ok(None),
        }
        let t = self.scan_regex_token();
        match t.tok {
            Tok::Regex => Ok(Some(Regex(t.lit))),
            Tok::BadRegex => Err(ParseError::at(format!("bad regex: {}", ""), t.pos)),
            _ => Err(ParseError::unexpected(&t, &["regex"])),
        }
    }
}
