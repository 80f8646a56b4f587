//! Fabric's policy strings (`policydsl.FromString`).
//!
//! ```text
//! policy    := gate
//! gate      := ("AND" | "And" | "and" | "OR" | "Or" | "or") "(" arg ("," arg)* ")"
//!            | ("OutOf" | "outof" | "OUTOF") "(" count ("," arg)+ ")"
//! arg       := principal | gate
//! principal := quoted 'MSPID.role', MSPID of [A-Za-z0-9.-]+, role member|admin|client|peer|orderer
//! count     := integer (a fraction is truncated), optionally quoted
//! ```
//!
//! `AND` is `OutOf(#args, …)`, `OR` is `OutOf(1, …)`. As in Fabric, identities are not
//! de-duplicated: every principal occurrence gets its own entry, and a gate numbers the
//! principals of its nested gates (left to right, recursively) before its own direct
//! principals. So `OR('A.member', AND('B.member', 'C.member'))` has identities `[B, C, A]`
//! and rule `OutOf(1, [SignedBy(2), OutOf(2, [SignedBy(0), SignedBy(1)])])`, and the
//! envelope marshals to the same bytes as Fabric's.

use weft_proto::common::signature_policy::{NOutOf, Type};
use weft_proto::common::{MspPrincipal, SignaturePolicy, SignaturePolicyEnvelope};

use crate::msp::{Principal, Role};

/// Deepest gate nesting accepted (keeps recursion bounded on hostile input).
const MAX_DEPTH: usize = 64;

/// A policy string that could not be parsed: where and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid policy string at byte {position}: {kind}")]
pub struct PolicyParseError {
    /// Byte offset in the input where the problem was found.
    pub position: usize,
    /// What is wrong.
    pub kind: ParseErrorKind,
}

/// What is wrong with a policy string.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseErrorKind {
    /// Nothing but whitespace.
    #[error("the policy is empty")]
    Empty,
    /// A character that cannot start a token.
    #[error("unexpected character {0:?}")]
    UnexpectedChar(char),
    /// The input ended inside a gate.
    #[error("unexpected end of input")]
    UnexpectedEnd,
    /// A token other than the one the grammar needs here.
    #[error("expected {expected}, found {found}")]
    Expected {
        /// What the grammar needs.
        expected: &'static str,
        /// What was there.
        found: String,
    },
    /// A gate name other than AND, OR, OutOf (in their accepted spellings).
    #[error("unknown gate {0:?} (expected AND, OR or OutOf)")]
    UnknownGate(String),
    /// A quoted string without its closing quote.
    #[error("unterminated string")]
    UnterminatedString,
    /// A quoted string that is not `MSPID.role`.
    #[error("invalid principal {0:?} (expected 'MSPID.role')")]
    InvalidPrincipal(String),
    /// `MSPID.role` with a role other than member, admin, client, peer, orderer.
    #[error("unknown role {0:?} (expected member, admin, client, peer or orderer)")]
    UnknownRole(String),
    /// The first argument of OutOf is not a number.
    #[error("invalid OutOf count {0:?}")]
    BadCount(String),
    /// The OutOf count is negative or more than one above the number of sub-policies.
    #[error("invalid t-out-of-n predicate: t {count}, n {n}")]
    CountOutOfRange {
        /// The count given.
        count: i64,
        /// The number of sub-policies.
        n: usize,
    },
    /// A gate without sub-policies.
    #[error("{0} needs at least one sub-policy")]
    NoSubPolicies(&'static str),
    /// Gates nested deeper than the parser accepts.
    #[error("gates nested deeper than {MAX_DEPTH} levels")]
    TooDeep,
    /// Text after the complete policy.
    #[error("unexpected input after the policy")]
    TrailingInput,
}

/// Parses a Fabric policy string into a `SignaturePolicyEnvelope` (version 0).
pub fn parse(policy: &str) -> Result<SignaturePolicyEnvelope, PolicyParseError> {
    let mut parser = Parser {
        input: policy,
        pos: 0,
    };
    parser.skip_ws();
    if parser.pos == policy.len() {
        return Err(parser.error(ParseErrorKind::Empty));
    }
    let gate = parser.gate(0)?;
    parser.skip_ws();
    if parser.pos != policy.len() {
        return Err(parser.error(ParseErrorKind::TrailingInput));
    }
    let mut identities = Vec::new();
    let rule = build(&gate, &mut identities);
    Ok(SignaturePolicyEnvelope {
        version: 0,
        rule: Some(rule),
        identities,
    })
}

/// A parsed gate: `OutOf(count, args)`.
#[derive(Debug)]
struct Gate {
    count: i32,
    args: Vec<Arg>,
}

#[derive(Debug)]
enum Arg {
    Principal { mspid: String, role: Role },
    Gate(Gate),
}

/// Builds the rule of `gate`, appending principals in Fabric's order: nested gates first
/// (left to right), then this gate's own principals.
fn build(gate: &Gate, identities: &mut Vec<MspPrincipal>) -> SignaturePolicy {
    let mut rules: Vec<Option<SignaturePolicy>> = gate
        .args
        .iter()
        .map(|arg| match arg {
            Arg::Gate(inner) => Some(build(inner, identities)),
            Arg::Principal { .. } => None,
        })
        .collect();
    for (arg, rule) in gate.args.iter().zip(rules.iter_mut()) {
        if let Arg::Principal { mspid, role } = arg {
            let index = i32::try_from(identities.len()).unwrap_or(i32::MAX);
            identities.push(Principal::encode_role(mspid, *role));
            *rule = Some(SignaturePolicy {
                r#type: Some(Type::SignedBy(index)),
            });
        }
    }
    SignaturePolicy {
        r#type: Some(Type::NOutOf(NOutOf {
            n: gate.count,
            rules: rules.into_iter().flatten().collect(),
        })),
    }
}

#[derive(Debug, PartialEq)]
enum Token<'a> {
    Ident(&'a str),
    Str(&'a str),
    Number(&'a str),
    LParen,
    RParen,
    Comma,
    End,
}

impl Token<'_> {
    fn describe(&self) -> String {
        match self {
            Token::Ident(s) => format!("name {s:?}"),
            Token::Str(s) => format!("string {s:?}"),
            Token::Number(s) => format!("number {s}"),
            Token::LParen => "'('".into(),
            Token::RParen => "')'".into(),
            Token::Comma => "','".into(),
            Token::End => "end of input".into(),
        }
    }
}

struct Parser<'a> {
    input: &'a str,
    pos: usize,
}

impl<'a> Parser<'a> {
    fn error(&self, kind: ParseErrorKind) -> PolicyParseError {
        PolicyParseError {
            position: self.pos,
            kind,
        }
    }

    fn error_at(&self, position: usize, kind: ParseErrorKind) -> PolicyParseError {
        PolicyParseError { position, kind }
    }

    fn skip_ws(&mut self) {
        let rest = &self.input[self.pos..];
        self.pos += rest.len() - rest.trim_start().len();
    }

    /// The next token and its start offset.
    fn next(&mut self) -> Result<(usize, Token<'a>), PolicyParseError> {
        self.skip_ws();
        let start = self.pos;
        let rest = &self.input[start..];
        let Some(c) = rest.chars().next() else {
            return Ok((start, Token::End));
        };
        let token = match c {
            '(' => {
                self.pos += 1;
                Token::LParen
            }
            ')' => {
                self.pos += 1;
                Token::RParen
            }
            ',' => {
                self.pos += 1;
                Token::Comma
            }
            '\'' | '"' => {
                let Some(len) = rest[1..].find(c) else {
                    return Err(self.error(ParseErrorKind::UnterminatedString));
                };
                self.pos += len + 2;
                Token::Str(&rest[1..=len])
            }
            c if c.is_ascii_alphabetic() || c == '_' => {
                let len = rest
                    .find(|ch: char| !(ch.is_ascii_alphanumeric() || ch == '_'))
                    .unwrap_or(rest.len());
                self.pos += len;
                Token::Ident(&rest[..len])
            }
            c if c.is_ascii_digit() || c == '-' => {
                let len = rest[1..]
                    .find(|ch: char| !(ch.is_ascii_digit() || ch == '.'))
                    .map_or(rest.len(), |l| l + 1);
                self.pos += len;
                Token::Number(&rest[..len])
            }
            other => return Err(self.error(ParseErrorKind::UnexpectedChar(other))),
        };
        Ok((start, token))
    }

    fn expect(
        &mut self,
        want: Token<'static>,
        expected: &'static str,
    ) -> Result<(), PolicyParseError> {
        let (at, token) = self.next()?;
        if token == want {
            Ok(())
        } else if token == Token::End {
            Err(self.error_at(at, ParseErrorKind::UnexpectedEnd))
        } else {
            Err(self.error_at(
                at,
                ParseErrorKind::Expected {
                    expected,
                    found: token.describe(),
                },
            ))
        }
    }

    fn gate(&mut self, depth: usize) -> Result<Gate, PolicyParseError> {
        let (at, token) = self.next()?;
        let name = match token {
            Token::Ident(name) => name,
            Token::End => return Err(self.error_at(at, ParseErrorKind::UnexpectedEnd)),
            other => {
                return Err(self.error_at(
                    at,
                    ParseErrorKind::Expected {
                        expected: "AND, OR or OutOf",
                        found: other.describe(),
                    },
                ));
            }
        };
        if depth >= MAX_DEPTH {
            return Err(self.error_at(at, ParseErrorKind::TooDeep));
        }
        enum Kind {
            And,
            Or,
            OutOf,
        }
        let kind = match name {
            "AND" | "And" | "and" => Kind::And,
            "OR" | "Or" | "or" => Kind::Or,
            "OutOf" | "outof" | "OUTOF" => Kind::OutOf,
            _ => return Err(self.error_at(at, ParseErrorKind::UnknownGate(name.to_owned()))),
        };
        self.expect(Token::LParen, "'('")?;

        let count = match kind {
            Kind::OutOf => {
                let (count_at, count) = self.count()?;
                let (comma_at, next) = self.next()?;
                match next {
                    Token::Comma => {}
                    Token::RParen => {
                        return Err(self.error_at(comma_at, ParseErrorKind::NoSubPolicies("OutOf")));
                    }
                    Token::End => {
                        return Err(self.error_at(comma_at, ParseErrorKind::UnexpectedEnd));
                    }
                    other => {
                        return Err(self.error_at(
                            comma_at,
                            ParseErrorKind::Expected {
                                expected: "','",
                                found: other.describe(),
                            },
                        ));
                    }
                }
                Some((count_at, count))
            }
            Kind::And | Kind::Or => None,
        };

        let mut args = Vec::new();
        loop {
            let (arg_at, token) = self.next()?;
            match token {
                Token::Str(text) => {
                    args.push(principal(text).map_err(|kind| self.error_at(arg_at, kind))?)
                }
                Token::Ident(_) => {
                    self.pos = arg_at;
                    args.push(Arg::Gate(self.gate(depth + 1)?));
                }
                Token::RParen if args.is_empty() => {
                    let gate = match kind {
                        Kind::And => "AND",
                        Kind::Or => "OR",
                        Kind::OutOf => "OutOf",
                    };
                    return Err(self.error_at(arg_at, ParseErrorKind::NoSubPolicies(gate)));
                }
                Token::End => return Err(self.error_at(arg_at, ParseErrorKind::UnexpectedEnd)),
                other => {
                    return Err(self.error_at(
                        arg_at,
                        ParseErrorKind::Expected {
                            expected: "a quoted principal or a gate",
                            found: other.describe(),
                        },
                    ));
                }
            }
            let (sep_at, sep) = self.next()?;
            match sep {
                Token::Comma => continue,
                Token::RParen => break,
                Token::End => return Err(self.error_at(sep_at, ParseErrorKind::UnexpectedEnd)),
                other => {
                    return Err(self.error_at(
                        sep_at,
                        ParseErrorKind::Expected {
                            expected: "',' or ')'",
                            found: other.describe(),
                        },
                    ));
                }
            }
        }

        let n = args.len();
        let count = match (kind, count) {
            (Kind::And, _) => n as i64,
            (Kind::Or, _) => 1,
            (Kind::OutOf, Some((count_at, count))) => {
                if count < 0 || count > n as i64 + 1 {
                    return Err(
                        self.error_at(count_at, ParseErrorKind::CountOutOfRange { count, n })
                    );
                }
                count
            }
            (Kind::OutOf, None) => 1,
        };
        Ok(Gate {
            count: i32::try_from(count).unwrap_or(i32::MAX),
            args,
        })
    }

    /// The OutOf count: a number (fraction truncated, as Fabric's float arithmetic does) or
    /// a quoted integer.
    fn count(&mut self) -> Result<(usize, i64), PolicyParseError> {
        let (at, token) = self.next()?;
        let text = match token {
            Token::Number(text) => text,
            Token::Str(text) => text.trim(),
            Token::End => return Err(self.error_at(at, ParseErrorKind::UnexpectedEnd)),
            other => return Err(self.error_at(at, ParseErrorKind::BadCount(other.describe()))),
        };
        let whole = match text.split_once('.') {
            Some((whole, fraction)) if fraction.chars().all(|c| c.is_ascii_digit()) => whole,
            Some(_) => text,
            None => text,
        };
        let count = whole
            .parse::<i64>()
            .map_err(|_| self.error_at(at, ParseErrorKind::BadCount(text.to_owned())))?;
        Ok((at, count))
    }
}

/// `MSPID.role`, with the MSP id made of ASCII letters, digits, '.' and '-'.
fn principal(text: &str) -> Result<Arg, ParseErrorKind> {
    let invalid = || ParseErrorKind::InvalidPrincipal(text.to_owned());
    let (mspid, role) = text.rsplit_once('.').ok_or_else(invalid)?;
    if mspid.is_empty()
        || !mspid
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
    {
        return Err(invalid());
    }
    let role = match role {
        "member" => Role::Member,
        "admin" => Role::Admin,
        "client" => Role::Client,
        "peer" => Role::Peer,
        "orderer" => Role::Orderer,
        other => return Err(ParseErrorKind::UnknownRole(other.to_owned())),
    };
    Ok(Arg::Principal {
        mspid: mspid.to_owned(),
        role,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message as _;

    fn signed_by(i: i32) -> SignaturePolicy {
        SignaturePolicy {
            r#type: Some(Type::SignedBy(i)),
        }
    }

    fn out_of(n: i32, rules: Vec<SignaturePolicy>) -> SignaturePolicy {
        SignaturePolicy {
            r#type: Some(Type::NOutOf(NOutOf { n, rules })),
        }
    }

    fn roles(list: &[(&str, Role)]) -> Vec<MspPrincipal> {
        list.iter()
            .map(|(m, r)| Principal::encode_role(m, *r))
            .collect()
    }

    fn envelope(rule: SignaturePolicy, identities: Vec<MspPrincipal>) -> SignaturePolicyEnvelope {
        SignaturePolicyEnvelope {
            version: 0,
            rule: Some(rule),
            identities,
        }
    }

    #[test]
    fn or_of_two_marshals_like_fabric() {
        let env = parse("OR('A.member', 'B.member')").unwrap();
        // Hand-computed Go marshaling: rule = NOutOf{n:1, rules:[SignedBy(0), SignedBy(1)]},
        // identities = ROLE principals {msp "A"} and {msp "B"} (role MEMBER = 0 omitted).
        let expected = "120c120a08011202080012020801\
                        1a0512030a0141\
                        1a0512030a0142";
        assert_eq!(hex::encode(env.encode_to_vec()), expected);
    }

    #[test]
    fn nested_gates_number_inner_principals_first() {
        assert_eq!(
            parse("OR('A.member', AND('B.member', 'C.member'))").unwrap(),
            envelope(
                out_of(
                    1,
                    vec![signed_by(2), out_of(2, vec![signed_by(0), signed_by(1)])]
                ),
                roles(&[
                    ("B", Role::Member),
                    ("C", Role::Member),
                    ("A", Role::Member)
                ])
            )
        );
        assert_eq!(
            parse("OR(AND('A.member', 'B.member'), OR('C.admin', 'D.member'))").unwrap(),
            envelope(
                out_of(
                    1,
                    vec![
                        out_of(2, vec![signed_by(0), signed_by(1)]),
                        out_of(1, vec![signed_by(2), signed_by(3)])
                    ]
                ),
                roles(&[
                    ("A", Role::Member),
                    ("B", Role::Member),
                    ("C", Role::Admin),
                    ("D", Role::Member)
                ])
            )
        );
    }

    #[test]
    fn repeated_principals_are_not_deduplicated() {
        assert_eq!(
            parse("AND('A.member', 'A.member')").unwrap(),
            envelope(
                out_of(2, vec![signed_by(0), signed_by(1)]),
                roles(&[("A", Role::Member), ("A", Role::Member)])
            )
        );
    }

    #[test]
    fn roles_quotes_spellings_and_msp_ids() {
        assert_eq!(
            parse(r#"or("A.peer", 'B.admin', "C.orderer", 'D.client')"#).unwrap(),
            envelope(
                out_of(1, (0..4).map(signed_by).collect()),
                roles(&[
                    ("A", Role::Peer),
                    ("B", Role::Admin),
                    ("C", Role::Orderer),
                    ("D", Role::Client)
                ])
            )
        );
        assert_eq!(
            parse("Or('MSP.member', 'MSP.WITH.DOTS.member', 'MSP-WITH-DASHES.member')")
                .unwrap()
                .identities,
            roles(&[
                ("MSP", Role::Member),
                ("MSP.WITH.DOTS", Role::Member),
                ("MSP-WITH-DASHES", Role::Member)
            ])
        );
        for s in ["And('A.member')", "AND('A.member')", "and('A.member')"] {
            assert_eq!(
                parse(s).unwrap().rule,
                Some(out_of(1, vec![signed_by(0)])),
                "{s}"
            );
        }
    }

    #[test]
    fn out_of_counts() {
        let two = |n| {
            envelope(
                out_of(n, vec![signed_by(0), signed_by(1)]),
                roles(&[("A", Role::Member), ("B", Role::Member)]),
            )
        };
        assert_eq!(parse("OutOf(1, 'A.member', 'B.member')").unwrap(), two(1));
        assert_eq!(parse("outof(2,'A.member','B.member')").unwrap(), two(2));
        assert_eq!(parse("OUTOF('1', 'A.member', 'B.member')").unwrap(), two(1));
        assert_eq!(parse("OutOf(0, 'A.member', 'B.member')").unwrap(), two(0));
        // n + 1 is allowed: a policy nobody can satisfy.
        assert_eq!(parse("OutOf(3, 'A.member', 'B.member')").unwrap(), two(3));
        assert_eq!(parse("OutOf(1.9, 'A.member', 'B.member')").unwrap(), two(1));
        assert_eq!(
            parse(" OutOf( 2 ,\n\t'A.member', OR('B.peer', 'C.peer') ) ").unwrap(),
            envelope(
                out_of(
                    2,
                    vec![signed_by(2), out_of(1, vec![signed_by(0), signed_by(1)])]
                ),
                roles(&[("B", Role::Peer), ("C", Role::Peer), ("A", Role::Member)])
            )
        );
    }

    #[test]
    fn syntax_errors_are_typed_with_positions() {
        let cases: &[(&str, usize, ParseErrorKind)] = &[
            ("", 0, ParseErrorKind::Empty),
            ("   ", 3, ParseErrorKind::Empty),
            ("OR('A.member'", 13, ParseErrorKind::UnexpectedEnd),
            ("OR('A.member'))", 14, ParseErrorKind::TrailingInput),
            (
                "XOR('A.member')",
                0,
                ParseErrorKind::UnknownGate("XOR".into()),
            ),
            (
                "oR('A.member')",
                0,
                ParseErrorKind::UnknownGate("oR".into()),
            ),
            (
                "OR('A.boss')",
                3,
                ParseErrorKind::UnknownRole("boss".into()),
            ),
            (
                "OR('Amember')",
                3,
                ParseErrorKind::InvalidPrincipal("Amember".into()),
            ),
            (
                "OR('A B.member')",
                3,
                ParseErrorKind::InvalidPrincipal("A B.member".into()),
            ),
            (
                "OR('.member')",
                3,
                ParseErrorKind::InvalidPrincipal(".member".into()),
            ),
            ("OR('A.member)", 3, ParseErrorKind::UnterminatedString),
            ("AND()", 4, ParseErrorKind::NoSubPolicies("AND")),
            ("OutOf(1)", 7, ParseErrorKind::NoSubPolicies("OutOf")),
            (
                "OutOf(-1, 'A.member', 'B.member')",
                6,
                ParseErrorKind::CountOutOfRange { count: -1, n: 2 },
            ),
            (
                "OutOf(4, 'A.member', 'B.member')",
                6,
                ParseErrorKind::CountOutOfRange { count: 4, n: 2 },
            ),
            (
                "OutOf('x', 'A.member')",
                6,
                ParseErrorKind::BadCount("x".into()),
            ),
            (
                "OutOf(true, 'A.member')",
                6,
                ParseErrorKind::BadCount("name \"true\"".into()),
            ),
            (
                "OR('A.member' 'B.member')",
                14,
                ParseErrorKind::Expected {
                    expected: "',' or ')'",
                    found: "string \"B.member\"".into(),
                },
            ),
            (
                "OR(1, 'A.member')",
                3,
                ParseErrorKind::Expected {
                    expected: "a quoted principal or a gate",
                    found: "number 1".into(),
                },
            ),
            (
                "'A.member'",
                0,
                ParseErrorKind::Expected {
                    expected: "AND, OR or OutOf",
                    found: "string \"A.member\"".into(),
                },
            ),
            (
                "OR 'A.member'",
                3,
                ParseErrorKind::Expected {
                    expected: "'('",
                    found: "string \"A.member\"".into(),
                },
            ),
            (
                "OR('A.member', Bmember)",
                15,
                ParseErrorKind::UnknownGate("Bmember".into()),
            ),
            ("OR('A.member') && x", 15, ParseErrorKind::TrailingInput),
            (
                "OR('A.member'; 'B.member')",
                13,
                ParseErrorKind::UnexpectedChar(';'),
            ),
        ];
        for (input, position, kind) in cases {
            assert_eq!(
                parse(input),
                Err(PolicyParseError {
                    position: *position,
                    kind: kind.clone()
                }),
                "{input}"
            );
        }
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        let depth = 10_000;
        let input = format!("{}'A.member'{}", "OR(".repeat(depth), ")".repeat(depth));
        assert_eq!(
            parse(&input).map_err(|e| e.kind),
            Err(ParseErrorKind::TooDeep)
        );
        let ok = format!(
            "{}'A.member'{}",
            "OR(".repeat(MAX_DEPTH),
            ")".repeat(MAX_DEPTH)
        );
        assert!(parse(&ok).is_ok());
    }

    #[test]
    fn error_messages_say_where_and_what() {
        let err = parse("OR('A.boss')").unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid policy string at byte 3: unknown role \"boss\" (expected member, admin, client, peer or orderer)"
        );
    }

    #[test]
    fn non_ascii_input_does_not_panic() {
        assert!(parse("OR('Örg.member')").is_err());
        assert!(parse("ÖR('A.member')").is_err());
        assert!(parse("OR('A.member', é)").is_err());
    }
}
