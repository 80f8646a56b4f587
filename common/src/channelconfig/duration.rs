//! Go `time.Duration` strings, as channel config carries them (`BatchTimeout` "2s",
//! etcdraft `TickInterval` "500ms").
//!
//! [`parse_go_duration`] accepts what Go's `time.ParseDuration` accepts for non-negative
//! values ("2s", "1.5h", "1m30s", "300ms", "0"); [`format_go_duration`] writes what Go's
//! `Duration.String` writes, so values round-trip to the same text Fabric produces.

use std::time::Duration;

/// Why a duration string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// Not of the form `<number><unit>[<number><unit>…]` with units ns, us, µs, ms, s, m, h.
    #[error("invalid duration {0:?}")]
    Invalid(String),
    /// A unit Go does not know.
    #[error("unknown unit {unit:?} in duration {input:?}")]
    UnknownUnit {
        /// The unit found.
        unit: String,
        /// The whole input.
        input: String,
    },
    /// Negative durations cannot be represented.
    #[error("negative duration {0:?}")]
    Negative(String),
    /// Larger than Go's `time.Duration` can hold (about 292 years).
    #[error("duration {0:?} out of range")]
    Overflow(String),
}

const NANOS_PER_SECOND: u128 = 1_000_000_000;
/// Go durations are an int64 count of nanoseconds.
const MAX_NANOS: u128 = i64::MAX as u128;

fn unit_nanos(unit: &str) -> Option<u128> {
    Some(match unit {
        "ns" => 1,
        "us" | "µs" | "μs" => 1_000,
        "ms" => 1_000_000,
        "s" => NANOS_PER_SECOND,
        "m" => 60 * NANOS_PER_SECOND,
        "h" => 3600 * NANOS_PER_SECOND,
        _ => return None,
    })
}

/// Parses a Go duration string such as "2s", "500ms" or "1m30s".
pub fn parse_go_duration(input: &str) -> Result<Duration, DurationError> {
    let invalid = || DurationError::Invalid(input.to_string());
    let mut rest = input;
    if let Some(stripped) = rest.strip_prefix('+') {
        rest = stripped;
    } else if let Some(stripped) = rest.strip_prefix('-') {
        if stripped == "0" {
            return Ok(Duration::ZERO);
        }
        return Err(DurationError::Negative(input.to_string()));
    }
    if rest == "0" {
        return Ok(Duration::ZERO);
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut total: u128 = 0;
    while !rest.is_empty() {
        // Integer part.
        let int_len = rest.bytes().take_while(u8::is_ascii_digit).count();
        let (int_text, after_int) = rest.split_at(int_len);
        // Fraction.
        let (frac_text, after_frac) = match after_int.strip_prefix('.') {
            Some(after_dot) => {
                let len = after_dot.bytes().take_while(u8::is_ascii_digit).count();
                after_dot.split_at(len)
            }
            None => ("", after_int),
        };
        if int_text.is_empty() && frac_text.is_empty() {
            return Err(invalid());
        }
        // Unit: everything up to the next digit or dot.
        let unit_len = after_frac
            .char_indices()
            .find(|(_, c)| c.is_ascii_digit() || *c == '.')
            .map(|(i, _)| i)
            .unwrap_or(after_frac.len());
        let (unit, after_unit) = after_frac.split_at(unit_len);
        if unit.is_empty() {
            return Err(DurationError::Invalid(input.to_string()));
        }
        let scale = unit_nanos(unit).ok_or_else(|| DurationError::UnknownUnit {
            unit: unit.to_string(),
            input: input.to_string(),
        })?;
        let overflow = || DurationError::Overflow(input.to_string());
        let whole: u128 = if int_text.is_empty() {
            0
        } else {
            int_text.parse().map_err(|_| overflow())?
        };
        let mut value = whole.checked_mul(scale).ok_or_else(overflow)?;
        // Fractional digits beyond nanosecond precision are dropped, as in Go.
        let mut place = scale;
        for digit in frac_text.bytes() {
            place /= 10;
            if place == 0 {
                break;
            }
            value += u128::from(digit - b'0') * place;
        }
        total = total.checked_add(value).ok_or_else(overflow)?;
        if total > MAX_NANOS {
            return Err(overflow());
        }
        rest = after_unit;
    }
    let secs = u64::try_from(total / NANOS_PER_SECOND)
        .map_err(|_| DurationError::Overflow(input.to_string()))?;
    // The remainder is below 10^9, so it fits.
    let nanos = (total % NANOS_PER_SECOND) as u32;
    Ok(Duration::new(secs, nanos))
}

/// Formats like Go's `Duration.String`: "0s", "1.5µs", "500ms", "2s", "1m30s", "1h0m0s".
pub fn format_go_duration(duration: Duration) -> String {
    let nanos = duration.as_nanos();
    if nanos == 0 {
        return "0s".to_string();
    }
    if nanos < NANOS_PER_SECOND {
        let (unit, scale, digits) = if nanos < 1_000 {
            ("ns", 1, 0)
        } else if nanos < 1_000_000 {
            ("µs", 1_000, 3)
        } else {
            ("ms", 1_000_000, 6)
        };
        return format!("{}{}{unit}", nanos / scale, fraction(nanos % scale, digits));
    }
    let total_secs = nanos / NANOS_PER_SECOND;
    let hours = total_secs / 3600;
    let minutes = (total_secs % 3600) / 60;
    let seconds = total_secs % 60;
    let mut out = String::new();
    if hours > 0 {
        out.push_str(&format!("{hours}h"));
    }
    if hours > 0 || minutes > 0 {
        out.push_str(&format!("{minutes}m"));
    }
    out.push_str(&format!(
        "{seconds}{}s",
        fraction(nanos % NANOS_PER_SECOND, 9)
    ));
    out
}

/// ".ddd" with `digits` places and trailing zeros removed; empty for zero.
fn fraction(value: u128, digits: usize) -> String {
    if value == 0 || digits == 0 {
        return String::new();
    }
    let text = format!("{value:0digits$}");
    format!(".{}", text.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn parses_what_go_parses() {
        assert_eq!(parse_go_duration("2s").unwrap(), ms(2000));
        assert_eq!(parse_go_duration("500ms").unwrap(), ms(500));
        assert_eq!(parse_go_duration("1m30s").unwrap(), ms(90_000));
        assert_eq!(parse_go_duration("1.5h").unwrap(), ms(5_400_000));
        assert_eq!(parse_go_duration(".5s").unwrap(), ms(500));
        assert_eq!(parse_go_duration("1.s").unwrap(), ms(1000));
        assert_eq!(parse_go_duration("0").unwrap(), Duration::ZERO);
        assert_eq!(parse_go_duration("+3ms").unwrap(), ms(3));
        assert_eq!(
            parse_go_duration("10us").unwrap(),
            Duration::from_micros(10)
        );
        assert_eq!(
            parse_go_duration("10µs").unwrap(),
            Duration::from_micros(10)
        );
        assert_eq!(parse_go_duration("7ns").unwrap(), Duration::from_nanos(7));
        assert_eq!(
            parse_go_duration("1h2m3.5s").unwrap(),
            Duration::from_millis(3_723_500)
        );
        assert_eq!(
            parse_go_duration("0.0000000019s").unwrap(),
            Duration::from_nanos(1)
        );
    }

    #[test]
    fn refuses_what_go_refuses() {
        for bad in ["", "2", "s", "1.5", ".s", "1s2", "abc"] {
            assert!(
                matches!(parse_go_duration(bad), Err(DurationError::Invalid(_))),
                "{bad:?}"
            );
        }
        assert!(matches!(
            parse_go_duration("2sec"),
            Err(DurationError::UnknownUnit { .. })
        ));
        assert!(matches!(
            parse_go_duration("2 s"),
            Err(DurationError::UnknownUnit { .. })
        ));
        assert!(matches!(
            parse_go_duration("3d"),
            Err(DurationError::UnknownUnit { .. })
        ));
        assert!(matches!(
            parse_go_duration("-1s"),
            Err(DurationError::Negative(_))
        ));
        assert!(matches!(
            parse_go_duration("9999999999h"),
            Err(DurationError::Overflow(_))
        ));
    }

    #[test]
    fn formats_like_go() {
        let cases = [
            (Duration::ZERO, "0s"),
            (Duration::from_nanos(1), "1ns"),
            (Duration::from_nanos(1_100), "1.1µs"),
            (ms(500), "500ms"),
            (Duration::from_micros(1_500), "1.5ms"),
            (ms(2000), "2s"),
            (ms(2500), "2.5s"),
            (ms(90_000), "1m30s"),
            (ms(3_600_000), "1h0m0s"),
            (Duration::from_nanos(3_723_000_000_001), "1h2m3.000000001s"),
        ];
        for (d, text) in cases {
            assert_eq!(format_go_duration(d), text);
            assert_eq!(parse_go_duration(text).unwrap(), d);
        }
    }
}
