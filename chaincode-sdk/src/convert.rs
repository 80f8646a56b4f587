//! Argument and return conversions as fabric-contract-api-go's JSON serializer does them:
//! strings raw, numbers and booleans parsed from / printed as text, other types JSON.
//! [`Schema`] describes each type in the contract metadata.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

/// The `components.schemas` of the contract metadata, by name.
pub type Components = BTreeMap<String, Value>;

/// A type's JSON schema in the contract metadata.
pub trait Schema {
    /// The schema of the type; object types register themselves in `components` and
    /// return a `$ref`.
    fn schema(components: &mut Components) -> Value;
}

/// A transaction parameter: converted from its argument bytes.
pub trait FromArg: Sized {
    /// Converts an argument; the error completes Go's "conversion error. …" text.
    fn from_arg(arg: &[u8]) -> Result<Self, String>;
}

/// A transaction's success value: converted to the response payload.
pub trait IntoPayload {
    /// The payload bytes.
    fn into_payload(self) -> Vec<u8>;
}

/// The JSON conversion of object types (what `#[derive(Schema)]` and the collection
/// impls use): the argument must be the JSON of the type.
pub fn from_json_arg<T: DeserializeOwned>(arg: &[u8]) -> Result<T, String> {
    serde_json::from_slice(arg).map_err(|_| {
        format!(
            "value {} was not passed in expected format {}",
            String::from_utf8_lossy(arg),
            short_type_name::<T>()
        )
    })
}

/// The JSON payload of object types (Go's `json.Marshal`).
pub fn to_json_payload<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_default()
}

fn short_type_name<T>() -> String {
    let full = std::any::type_name::<T>();
    // Drop module paths, keep generic structure: `alloc::vec::Vec<x::Asset>` → `Vec<Asset>`.
    let mut out = String::new();
    let mut segment = String::new();
    for c in full.chars() {
        if c.is_alphanumeric() || c == '_' || c == ':' {
            segment.push(c);
        } else {
            out.push_str(segment.rsplit("::").next().unwrap_or_default());
            segment.clear();
            out.push(c);
        }
    }
    out.push_str(segment.rsplit("::").next().unwrap_or_default());
    out
}

impl FromArg for String {
    fn from_arg(arg: &[u8]) -> Result<Self, String> {
        Ok(String::from_utf8_lossy(arg).into_owned())
    }
}

impl IntoPayload for String {
    fn into_payload(self) -> Vec<u8> {
        self.into_bytes()
    }
}

impl IntoPayload for &str {
    fn into_payload(self) -> Vec<u8> {
        self.as_bytes().to_vec()
    }
}

impl Schema for String {
    fn schema(_: &mut Components) -> Value {
        json!({"type": "string"})
    }
}

impl FromArg for bool {
    fn from_arg(arg: &[u8]) -> Result<Self, String> {
        match arg {
            b"" => Ok(false),
            b"1" | b"t" | b"T" | b"TRUE" | b"true" | b"True" => Ok(true),
            b"0" | b"f" | b"F" | b"FALSE" | b"false" | b"False" => Ok(false),
            _ => Err(format!(
                "cannot convert passed value {} to bool",
                String::from_utf8_lossy(arg)
            )),
        }
    }
}

impl IntoPayload for bool {
    fn into_payload(self) -> Vec<u8> {
        if self {
            b"true".to_vec()
        } else {
            b"false".to_vec()
        }
    }
}

impl Schema for bool {
    fn schema(_: &mut Components) -> Value {
        json!({"type": "boolean"})
    }
}

/// Integers: Go's `strconv` parsing (empty = 0), `fmt.Sprint` printing. `i64`/`u64` carry
/// Go's `int`/`uint` (64-bit) and use their names in errors.
macro_rules! integers {
    ($($t:ty => $go:literal, $schema:expr;)*) => {$(
        impl FromArg for $t {
            fn from_arg(arg: &[u8]) -> Result<Self, String> {
                if arg.is_empty() {
                    return Ok(0);
                }
                std::str::from_utf8(arg)
                    .ok()
                    .and_then(|s| s.parse::<$t>().ok())
                    .ok_or_else(|| format!(
                        "cannot convert passed value {} to {}",
                        String::from_utf8_lossy(arg),
                        $go
                    ))
            }
        }

        impl IntoPayload for $t {
            fn into_payload(self) -> Vec<u8> {
                self.to_string().into_bytes()
            }
        }

        impl Schema for $t {
            fn schema(_: &mut Components) -> Value {
                $schema
            }
        }
    )*};
}

integers! {
    i8 => "int8", json!({"type": "integer", "format": "int8"});
    i16 => "int16", json!({"type": "integer", "format": "int16"});
    i32 => "int32", json!({"type": "integer", "format": "int32"});
    i64 => "int", json!({"type": "integer", "format": "int64"});
    isize => "int", json!({"type": "integer", "format": "int64"});
    u8 => "uint8", json!({"type": "integer", "minimum": 0, "maximum": 255});
    u16 => "uint16", json!({"type": "integer", "minimum": 0, "maximum": 65535});
    u32 => "uint32", json!({"type": "integer", "minimum": 0, "maximum": 4294967295u64});
    u64 => "uint", json!({"type": "integer", "minimum": 0, "maximum": 18446744073709551615u64});
    usize => "uint", json!({"type": "integer", "minimum": 0, "maximum": 18446744073709551615u64});
}

macro_rules! floats {
    ($($t:ty => $go:literal, $format:literal;)*) => {$(
        impl FromArg for $t {
            fn from_arg(arg: &[u8]) -> Result<Self, String> {
                if arg.is_empty() {
                    return Ok(0.0);
                }
                std::str::from_utf8(arg)
                    .ok()
                    .and_then(|s| s.parse::<$t>().ok())
                    .ok_or_else(|| format!(
                        "cannot convert passed value {} to {}",
                        String::from_utf8_lossy(arg),
                        $go
                    ))
            }
        }

        impl IntoPayload for $t {
            fn into_payload(self) -> Vec<u8> {
                go_float(format!("{self:e}"), self.is_nan(), self.is_infinite(), self < 0.0)
                    .into_bytes()
            }
        }

        impl Schema for $t {
            fn schema(_: &mut Components) -> Value {
                json!({"type": "number", "format": $format})
            }
        }
    )*};
}

floats! {
    f32 => "float32", "float";
    f64 => "float64", "double";
}

/// Go's `fmt.Sprint` of a float: `%v` is `strconv.FormatFloat(v, 'g', -1, size)`, the
/// shortest digits, in exponent form when the decimal exponent is < -4 or ≥ 6.
fn go_float(sci: String, nan: bool, inf: bool, negative: bool) -> String {
    if nan {
        return "NaN".into();
    }
    if inf {
        return if negative {
            "-Inf".into()
        } else {
            "+Inf".into()
        };
    }
    // `sci` is Rust's shortest `{:e}`: `-1.2345e-7`, `1e6`, `0e0`.
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => ("-", m),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    if !(-4..6).contains(&exp) {
        let mut m = digits[..1].to_owned();
        if digits.len() > 1 {
            m.push('.');
            m.push_str(&digits[1..]);
        }
        let esign = if exp < 0 { '-' } else { '+' };
        return format!("{sign}{m}e{esign}{:02}", exp.abs());
    }
    let point = exp + 1;
    let body = if point <= 0 {
        format!("0.{}{digits}", "0".repeat(point.unsigned_abs() as usize))
    } else if point as usize >= digits.len() {
        format!("{digits}{}", "0".repeat(point as usize - digits.len()))
    } else {
        format!(
            "{}.{}",
            &digits[..point as usize],
            &digits[point as usize..]
        )
    };
    format!("{sign}{body}")
}

/// Raw bytes (Go's `[]byte`): the argument and the payload unchanged.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Bytes(pub Vec<u8>);

impl FromArg for Bytes {
    fn from_arg(arg: &[u8]) -> Result<Self, String> {
        Ok(Self(arg.to_vec()))
    }
}

impl IntoPayload for Bytes {
    fn into_payload(self) -> Vec<u8> {
        self.0
    }
}

impl Schema for Bytes {
    fn schema(_: &mut Components) -> Value {
        json!({"type": "array", "items": {"type": "integer", "format": "uint8"}})
    }
}

impl IntoPayload for () {
    fn into_payload(self) -> Vec<u8> {
        Vec::new()
    }
}

/// `None` is Go's nil pointer: an empty payload.
impl<T: IntoPayload> IntoPayload for Option<T> {
    fn into_payload(self) -> Vec<u8> {
        self.map(IntoPayload::into_payload).unwrap_or_default()
    }
}

impl<T: Schema> Schema for Option<T> {
    fn schema(components: &mut Components) -> Value {
        T::schema(components)
    }
}

impl<T: DeserializeOwned> FromArg for Vec<T> {
    fn from_arg(arg: &[u8]) -> Result<Self, String> {
        from_json_arg(arg)
    }
}

impl<T: Serialize> IntoPayload for Vec<T> {
    fn into_payload(self) -> Vec<u8> {
        to_json_payload(&self)
    }
}

impl<T: Schema> Schema for Vec<T> {
    fn schema(components: &mut Components) -> Value {
        json!({"type": "array", "items": T::schema(components)})
    }
}

macro_rules! maps {
    ($($map:ident),*) => {$(
        impl<T: DeserializeOwned> FromArg for $map<String, T> {
            fn from_arg(arg: &[u8]) -> Result<Self, String> {
                from_json_arg(arg)
            }
        }

        impl<T: Serialize> IntoPayload for $map<String, T> {
            fn into_payload(self) -> Vec<u8> {
                to_json_payload(&self)
            }
        }

        impl<T: Schema> Schema for $map<String, T> {
            fn schema(components: &mut Components) -> Value {
                json!({"type": "object", "additionalProperties": T::schema(components)})
            }
        }
    )*};
}

maps!(BTreeMap, HashMap);

/// Any serde type, converted as JSON (for types without `#[derive(Schema)]`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Json<T>(pub T);

impl<T: DeserializeOwned> FromArg for Json<T> {
    fn from_arg(arg: &[u8]) -> Result<Self, String> {
        from_json_arg(arg).map(Json)
    }
}

impl<T: Serialize> IntoPayload for Json<T> {
    fn into_payload(self) -> Vec<u8> {
        to_json_payload(&self.0)
    }
}

impl<T> Schema for Json<T> {
    fn schema(_: &mut Components) -> Value {
        json!({})
    }
}

/// What a transaction method returns: `Result<T, E>` with `T` a payload and `E`
/// convertible to [`crate::ContractError`].
pub trait IntoTxResult {
    /// The payload or the error.
    fn into_tx_result(self) -> Result<Vec<u8>, crate::ContractError>;
}

impl<T: IntoPayload, E: Into<crate::ContractError>> IntoTxResult for Result<T, E> {
    fn into_tx_result(self) -> Result<Vec<u8>, crate::ContractError> {
        self.map(IntoPayload::into_payload).map_err(Into::into)
    }
}

impl IntoTxResult for () {
    fn into_tx_result(self) -> Result<Vec<u8>, crate::ContractError> {
        Ok(Vec::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(x: f64) -> String {
        String::from_utf8(x.into_payload()).unwrap_or_default()
    }

    #[test]
    fn floats_print_like_go_fmt_sprint() {
        assert_eq!(f(0.0), "0");
        assert_eq!(f(1.5), "1.5");
        assert_eq!(f(-123.456), "-123.456");
        assert_eq!(f(1e6), "1e+06");
        assert_eq!(f(123456.0), "123456");
        assert_eq!(f(0.0001), "0.0001");
        assert_eq!(f(0.00001), "1e-05");
        assert_eq!(f(1.25e-7), "1.25e-07");
        assert_eq!(f(f64::INFINITY), "+Inf");
        assert_eq!(f(f64::NAN), "NaN");
    }

    #[test]
    fn numbers_and_bools_parse_like_go() {
        assert_eq!(i64::from_arg(b"42"), Ok(42));
        assert_eq!(i64::from_arg(b""), Ok(0));
        assert_eq!(
            i64::from_arg(b"x"),
            Err("cannot convert passed value x to int".into())
        );
        assert_eq!(bool::from_arg(b"T"), Ok(true));
        assert!(bool::from_arg(b"yes").is_err());
        assert_eq!(
            Vec::<u32>::from_arg(b"[1"),
            Err("value [1 was not passed in expected format Vec<u32>".into())
        );
    }
}
