//! Human-readable sizes (`"1gb"`, `"4G"`, `"512"`) as flyctl parses them.
//!
//! Memory uses binary units (1 GB = 1024 MB); volume sizes use decimal units and are then divided
//! by 10^9, so `"15Mb"` is 0 GB. A bare number is already in the field's unit (MB for memory, GB for
//! volumes).

/// Why a size string could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid size {input:?}: write a number with an optional unit k, m, g, t or p (e.g. \"512mb\", \"2gb\")")]
pub struct SizeParseError {
    input: String,
}

/// Parses a memory size; a bare number is megabytes, units are binary. Returns megabytes.
pub fn parse_ram_size_mb(input: &str) -> Result<i64, SizeParseError> {
    parse_with(input, 1024.0, 1024.0 * 1024.0)
}

/// Parses a volume size; a bare number is gigabytes, units are decimal. Returns whole gigabytes
/// (truncated, so anything under 1 GB is 0).
pub fn parse_decimal_size_gb(input: &str) -> Result<i64, SizeParseError> {
    parse_with(input, 1000.0, 1e9)
}

fn parse_with(input: &str, base: f64, field_unit: f64) -> Result<i64, SizeParseError> {
    let trimmed = input.trim();
    if trimmed.is_empty() {
        return Ok(0);
    }
    if let Ok(bare) = trimmed.parse::<i64>() {
        return Ok(bare);
    }
    let bytes = human_bytes(trimmed, base).ok_or_else(|| SizeParseError {
        input: input.to_string(),
    })?;
    Ok((bytes / field_unit) as i64)
}

/// `<number>[ ]?[kmgtp]?[i]?[b]?`, case-insensitive, as docker/go-units accepts.
fn human_bytes(text: &str, base: f64) -> Option<f64> {
    let number_len = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let number: f64 = text[..number_len].parse().ok()?;
    if !text.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    let mut suffix = text[number_len..]
        .strip_prefix(' ')
        .unwrap_or(&text[number_len..]);
    let mut multiplier = 1.0;
    if let Some(first) = suffix.chars().next() {
        let power = match first.to_ascii_lowercase() {
            'k' => Some(1),
            'm' => Some(2),
            'g' => Some(3),
            't' => Some(4),
            'p' => Some(5),
            _ => None,
        };
        if let Some(power) = power {
            multiplier = base.powi(power);
            suffix = &suffix[1..];
        }
    }
    suffix = suffix.strip_prefix(['i', 'I']).unwrap_or(suffix);
    suffix = suffix.strip_prefix(['b', 'B']).unwrap_or(suffix);
    if !suffix.is_empty() || !number.is_finite() {
        return None;
    }
    Some(number * multiplier)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_uses_binary_units() {
        assert_eq!(parse_ram_size_mb("512").unwrap(), 512);
        assert_eq!(parse_ram_size_mb("1gb").unwrap(), 1024);
        assert_eq!(parse_ram_size_mb("4G").unwrap(), 4096);
        assert_eq!(parse_ram_size_mb("8g").unwrap(), 8192);
        assert_eq!(parse_ram_size_mb("64gb").unwrap(), 65536);
        assert_eq!(parse_ram_size_mb("256MiB").unwrap(), 256);
        assert!(parse_ram_size_mb("lots").is_err());
    }

    #[test]
    fn volumes_use_decimal_units() {
        assert_eq!(parse_decimal_size_gb("200").unwrap(), 200);
        assert_eq!(parse_decimal_size_gb("30gb").unwrap(), 30);
        assert_eq!(parse_decimal_size_gb("15Mb").unwrap(), 0);
        assert!(parse_decimal_size_gb("unparseable").is_err());
    }
}
