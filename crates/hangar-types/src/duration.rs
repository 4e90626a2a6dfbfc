//! Durations as Fly's API carries them: Go duration strings (`"15s"`,
//! `"1m30s"`, `"250ms"`) on output; on input a Go duration string, a bare
//! number string (seconds) or an integer number of nanoseconds.

use std::fmt;
use std::time::Duration;

use serde::{de, Deserialize, Deserializer, Serialize, Serializer};

/// A duration that serializes as a Go duration string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, utoipa::ToSchema)]
#[schema(value_type = String, example = "10s")]
pub struct GoDuration(pub Duration);

impl GoDuration {
    pub fn from_secs(secs: u64) -> Self {
        GoDuration(Duration::from_secs(secs))
    }
    pub fn as_duration(&self) -> Duration {
        self.0
    }
}

impl From<Duration> for GoDuration {
    fn from(d: Duration) -> Self {
        GoDuration(d)
    }
}

/// Error for a duration string that is not Go duration syntax.
#[derive(Debug, thiserror::Error)]
#[error("invalid duration {input:?}: use a number with a unit such as \"500ms\", \"10s\", \"1m30s\" or \"2h\"")]
pub struct DurationParseError {
    pub input: String,
}

/// The longest duration Go can represent: i64::MAX nanoseconds (~292 years).
const MAX_NANOS: u128 = i64::MAX as u128;

/// Parses Go duration syntax (`300ms`, `1.5h`, `2h45m`); a bare number is
/// seconds. Exact to the nanosecond; more than Go's ~292 years is an error.
pub fn parse_go_duration(input: &str) -> Result<Duration, DurationParseError> {
    let err = || DurationParseError {
        input: input.to_string(),
    };
    let s = input.trim();
    if s.is_empty() {
        return Err(err());
    }
    let is_number = |c: char| c.is_ascii_digit() || c == '.';
    if s.chars().all(is_number) {
        return nanos_of(s, 1_000_000_000)
            .map(nanos_to_duration)
            .ok_or_else(err);
    }
    let mut rest = s;
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let num_len = rest.find(|c: char| !is_number(c)).ok_or_else(err)?;
        if num_len == 0 {
            return Err(err());
        }
        let number = &rest[..num_len];
        rest = &rest[num_len..];
        let unit_len = rest.find(is_number).unwrap_or(rest.len());
        let unit_nanos: u128 = match &rest[..unit_len] {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => return Err(err()),
        };
        rest = &rest[unit_len..];
        total = total
            .checked_add(nanos_of(number, unit_nanos).ok_or_else(err)?)
            .filter(|t| *t <= MAX_NANOS)
            .ok_or_else(err)?;
    }
    Ok(nanos_to_duration(total))
}

/// `number` (digits with at most one '.') times `unit_nanos`, exactly,
/// truncating below a nanosecond; None if malformed or too large.
fn nanos_of(number: &str, unit_nanos: u128) -> Option<u128> {
    let (int_part, frac_part) = number.split_once('.').unwrap_or((number, ""));
    if int_part.is_empty() && frac_part.is_empty() || frac_part.contains('.') {
        return None;
    }
    let mut nanos: u128 = 0;
    for d in int_part.bytes() {
        nanos = nanos.checked_mul(10)?.checked_add(u128::from(d - b'0'))?;
        if nanos > MAX_NANOS {
            return None;
        }
    }
    nanos = nanos.checked_mul(unit_nanos)?;
    let mut scale = unit_nanos;
    for d in frac_part.bytes() {
        scale /= 10;
        if scale == 0 {
            break;
        }
        nanos = nanos.checked_add(u128::from(d - b'0') * scale)?;
    }
    (nanos <= MAX_NANOS).then_some(nanos)
}

fn nanos_to_duration(nanos: u128) -> Duration {
    Duration::new(
        (nanos / 1_000_000_000) as u64,
        (nanos % 1_000_000_000) as u32,
    )
}

/// Formats like Go's `time.Duration.String()`: `1h2m3s`, `1.5s`, `250ms`, `0s`.
pub fn format_go_duration(d: Duration) -> String {
    let nanos = d.as_nanos();
    if nanos == 0 {
        return "0s".into();
    }
    if nanos < 1_000 {
        return format!("{nanos}ns");
    }
    if nanos < 1_000_000 {
        return format!("{}µs", trim_fraction(nanos as f64 / 1e3));
    }
    if nanos < 1_000_000_000 {
        return format!("{}ms", trim_fraction(nanos as f64 / 1e6));
    }
    let total_secs = d.as_secs();
    let hours = total_secs / 3600;
    let minutes = (total_secs % 3600) / 60;
    let secs = (total_secs % 60) as f64 + f64::from(d.subsec_nanos()) / 1e9;
    let mut out = String::new();
    if hours > 0 {
        out.push_str(&format!("{hours}h"));
    }
    if hours > 0 || minutes > 0 {
        out.push_str(&format!("{minutes}m"));
    }
    out.push_str(&format!("{}s", trim_fraction(secs)));
    out
}

fn trim_fraction(v: f64) -> String {
    let s = format!("{v:.9}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

impl fmt::Display for GoDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_go_duration(self.0))
    }
}

impl Serialize for GoDuration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_go_duration(self.0))
    }
}

impl<'de> Deserialize<'de> for GoDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl de::Visitor<'_> for Visitor {
            type Value = GoDuration;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a duration string such as \"10s\" or an integer number of nanoseconds")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<GoDuration, E> {
                parse_go_duration(v).map(GoDuration).map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<GoDuration, E> {
                if u128::from(v) > MAX_NANOS {
                    return Err(E::custom(
                        "a duration must be at most 9223372036854775807 nanoseconds",
                    ));
                }
                Ok(GoDuration(Duration::from_nanos(v)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<GoDuration, E> {
                u64::try_from(v)
                    .map(|n| GoDuration(Duration::from_nanos(n)))
                    .map_err(|_| E::custom("a duration cannot be negative"))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<GoDuration, E> {
                if v < 0.0 || !v.is_finite() || v >= MAX_NANOS as f64 || v.fract() != 0.0 {
                    return Err(E::custom(
                        "a numeric duration must be a whole number of nanoseconds between 0 and 9223372036854775807",
                    ));
                }
                Ok(GoDuration(Duration::from_nanos(v as u64)))
            }
        }
        d.deserialize_any(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_go_syntax_and_bare_seconds() {
        assert_eq!(parse_go_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(
            parse_go_duration("250ms").unwrap(),
            Duration::from_millis(250)
        );
        assert_eq!(
            parse_go_duration("1.5h").unwrap(),
            Duration::from_secs(5400)
        );
        assert_eq!(parse_go_duration("5").unwrap(), Duration::from_secs(5));
        assert!(parse_go_duration("5 parsecs").is_err());
        assert!(parse_go_duration("").is_err());
        assert!(parse_go_duration("1.2.3s").is_err());
        assert!(parse_go_duration(".s").is_err());
    }

    #[test]
    fn huge_durations_are_errors_not_panics() {
        assert!(parse_go_duration("1e30").is_err());
        assert!(parse_go_duration("9999999999999999h").is_err());
        assert!(parse_go_duration(&"9".repeat(400)).is_err());
        assert!(serde_json::from_str::<GoDuration>("1.5e28").is_err());
        assert_eq!(
            parse_go_duration("2562047h47m16.854775807s")
                .unwrap()
                .as_nanos(),
            i64::MAX as u128
        );
        assert!(parse_go_duration("2562047h47m16.854775808s").is_err());
    }

    #[test]
    fn round_trips_exactly() {
        for nanos in [1u64, 999, 1_500_000, 9_223_303_702_733_369, i64::MAX as u64] {
            let d = Duration::from_nanos(nanos);
            assert_eq!(
                parse_go_duration(&format_go_duration(d)).unwrap(),
                d,
                "{nanos}"
            );
        }
    }

    #[test]
    fn formats_like_go() {
        assert_eq!(format_go_duration(Duration::from_secs(90)), "1m30s");
        assert_eq!(format_go_duration(Duration::from_secs(3600)), "1h0m0s");
        assert_eq!(format_go_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(format_go_duration(Duration::from_millis(250)), "250ms");
        assert_eq!(format_go_duration(Duration::ZERO), "0s");
    }

    #[test]
    fn accepts_integer_nanoseconds() {
        let d: GoDuration = serde_json::from_str("15000000000").unwrap();
        assert_eq!(d.0, Duration::from_secs(15));
        assert_eq!(serde_json::to_string(&d).unwrap(), "\"15s\"");
    }
}
