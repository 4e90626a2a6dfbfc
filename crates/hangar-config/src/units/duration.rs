//! Durations written the way Go writes them (`"1m21s"`, `"500ms"`).
//!
//! flyctl stores every duration as a Go `time.Duration` and writes it back with Go's formatting, so
//! `"3m"` is re-serialised as `"3m0s"`. The Machines API accepts the same strings, or an integer
//! number of nanoseconds.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A signed duration with nanosecond precision, parsed and printed in Go syntax.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct GoDuration {
    nanos: i64,
}

/// Why a duration string could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid duration {input:?}: {reason} (units are ns, us, ms, s, m, h)")]
pub struct DurationParseError {
    input: String,
    reason: &'static str,
}

const NANOS_PER_MICRO: i64 = 1_000;
const NANOS_PER_MILLI: i64 = 1_000_000;
const NANOS_PER_SECOND: i64 = 1_000_000_000;
const NANOS_PER_MINUTE: i64 = 60 * NANOS_PER_SECOND;
const NANOS_PER_HOUR: i64 = 60 * NANOS_PER_MINUTE;

impl GoDuration {
    /// A duration of `nanos` nanoseconds.
    pub const fn from_nanos(nanos: i64) -> Self {
        Self { nanos }
    }

    /// A duration of `millis` milliseconds (saturating).
    pub const fn from_millis(millis: i64) -> Self {
        Self {
            nanos: millis.saturating_mul(NANOS_PER_MILLI),
        }
    }

    /// A duration of `secs` seconds (saturating).
    pub const fn from_secs(secs: i64) -> Self {
        Self {
            nanos: secs.saturating_mul(NANOS_PER_SECOND),
        }
    }

    /// The duration in nanoseconds.
    pub const fn as_nanos(self) -> i64 {
        self.nanos
    }

    /// The duration in whole seconds (truncated).
    pub const fn as_secs(self) -> i64 {
        self.nanos / NANOS_PER_SECOND
    }

    /// Converts to a std duration; negative values become zero.
    pub fn to_std(self) -> std::time::Duration {
        std::time::Duration::from_nanos(self.nanos.max(0) as u64)
    }

    /// Parses Go duration syntax: `[-+]?(number unit)+` or a bare `0`.
    pub fn parse(input: &str) -> Result<Self, DurationParseError> {
        let fail = |reason| DurationParseError {
            input: input.to_string(),
            reason,
        };
        let mut rest = input;
        let mut negative = false;
        if let Some(stripped) = rest.strip_prefix('-') {
            negative = true;
            rest = stripped;
        } else if let Some(stripped) = rest.strip_prefix('+') {
            rest = stripped;
        }
        if rest == "0" {
            return Ok(Self::default());
        }
        if rest.is_empty() {
            return Err(fail("it is empty"));
        }
        let mut total: i128 = 0;
        while !rest.is_empty() {
            let number_len = rest
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .unwrap_or(rest.len());
            let number = &rest[..number_len];
            if number.is_empty() || number == "." || number.matches('.').count() > 1 {
                return Err(fail("expected a number"));
            }
            rest = &rest[number_len..];
            let unit_len = rest
                .find(|c: char| c.is_ascii_digit() || c == '.')
                .unwrap_or(rest.len());
            let unit = &rest[..unit_len];
            rest = &rest[unit_len..];
            let scale: i64 = match unit {
                "ns" => 1,
                "us" | "\u{b5}s" | "\u{3bc}s" => NANOS_PER_MICRO,
                "ms" => NANOS_PER_MILLI,
                "s" => NANOS_PER_SECOND,
                "m" => NANOS_PER_MINUTE,
                "h" => NANOS_PER_HOUR,
                "" => return Err(fail("a unit is missing")),
                _ => return Err(fail("unknown unit")),
            };
            let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
            let whole: i128 = if whole.is_empty() {
                0
            } else {
                whole.parse().map_err(|_| fail("number too large"))?
            };
            let mut value = whole
                .checked_mul(scale as i128)
                .ok_or_else(|| fail("number too large"))?;
            let mut divisor: i128 = 1;
            let mut fraction_value: i128 = 0;
            for digit in fraction.bytes().take(18) {
                fraction_value = fraction_value * 10 + i128::from(digit - b'0');
                divisor *= 10;
            }
            value += fraction_value * scale as i128 / divisor;
            total = total
                .checked_add(value)
                .ok_or_else(|| fail("number too large"))?;
            if total > i64::MAX as i128 {
                return Err(fail("number too large"));
            }
        }
        let nanos = total as i64;
        Ok(Self {
            nanos: if negative { -nanos } else { nanos },
        })
    }
}

impl fmt::Display for GoDuration {
    /// Formats like Go's `time.Duration.String()`: `"0s"`, `"500ms"`, `"1.5µs"`, `"3m0s"`, `"1h0m0s"`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let negative = self.nanos < 0;
        let magnitude = self.nanos.unsigned_abs();
        let sign = if negative { "-" } else { "" };
        if magnitude == 0 {
            return f.write_str("0s");
        }
        if magnitude < NANOS_PER_SECOND as u64 {
            let (scale, unit) = if magnitude < NANOS_PER_MICRO as u64 {
                (1u64, "ns")
            } else if magnitude < NANOS_PER_MILLI as u64 {
                (NANOS_PER_MICRO as u64, "\u{b5}s")
            } else {
                (NANOS_PER_MILLI as u64, "ms")
            };
            return write!(f, "{sign}{}{unit}", fractional(magnitude, scale));
        }
        let hours = magnitude / NANOS_PER_HOUR as u64;
        let minutes = magnitude % NANOS_PER_HOUR as u64 / NANOS_PER_MINUTE as u64;
        let seconds = magnitude % NANOS_PER_MINUTE as u64;
        f.write_str(sign)?;
        if hours > 0 {
            write!(f, "{hours}h")?;
        }
        if hours > 0 || minutes > 0 {
            write!(f, "{minutes}m")?;
        }
        write!(f, "{}s", fractional(seconds, NANOS_PER_SECOND as u64))
    }
}

/// `value / scale` with trailing zeros of the fraction removed (`1500, 1000` → `"1.5"`).
fn fractional(value: u64, scale: u64) -> String {
    let whole = value / scale;
    let remainder = value % scale;
    if remainder == 0 {
        return whole.to_string();
    }
    let width = scale.ilog10() as usize;
    let digits = format!("{remainder:0width$}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

impl Serialize for GoDuration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for GoDuration {
    /// Accepts a Go duration string or an integer number of nanoseconds, like the Machines API.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Wire {
            Nanos(i64),
            Text(String),
        }
        match Wire::deserialize(deserializer)? {
            Wire::Nanos(nanos) => Ok(Self::from_nanos(nanos)),
            Wire::Text(text) => Self::parse(&text).map_err(serde::de::Error::custom),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_formats_like_go() {
        for (input, nanos, shown) in [
            ("10s", 10 * NANOS_PER_SECOND, "10s"),
            ("1m21s", 81 * NANOS_PER_SECOND, "1m21s"),
            ("3m", 180 * NANOS_PER_SECOND, "3m0s"),
            ("500ms", 500 * NANOS_PER_MILLI, "500ms"),
            ("1.5s", 1_500 * NANOS_PER_MILLI, "1.5s"),
            ("2h", 2 * NANOS_PER_HOUR, "2h0m0s"),
            ("600ns", 600, "600ns"),
            ("1.5us", 1_500, "1.5\u{b5}s"),
            ("0", 0, "0s"),
            ("-5s", -5 * NANOS_PER_SECOND, "-5s"),
        ] {
            let parsed = GoDuration::parse(input).unwrap();
            assert_eq!(parsed.as_nanos(), nanos, "{input}");
            assert_eq!(parsed.to_string(), shown, "{input}");
        }
    }

    #[test]
    fn rejects_malformed() {
        for input in ["", "10", "s", "1x", "1..2s", "9999999999999999999h"] {
            assert!(GoDuration::parse(input).is_err(), "{input}");
        }
    }
}
