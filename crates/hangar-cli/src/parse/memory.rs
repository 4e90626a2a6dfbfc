//! `--vm-memory`: megabytes, or a size with a unit.

/// A memory size that cannot be read.
#[derive(Debug, thiserror::Error)]
#[error("invalid memory size {input:?}: use megabytes such as 512, or a size such as 512mb or 2gb")]
pub struct MemoryError {
    input: String,
}

/// Reads `512`, `512mb`, `512m`, `512mib`, `1gb`, `1g`, `1gib`, `1.5gb`
/// (case-insensitive) as a whole, positive number of megabytes.
pub fn parse_memory_mb(input: &str) -> Result<i64, MemoryError> {
    let error = || MemoryError {
        input: input.to_string(),
    };
    let lower = input.trim().to_ascii_lowercase();
    let split = lower
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(lower.len());
    let (number, unit) = lower.split_at(split);
    let number: f64 = number.parse().map_err(|_| error())?;
    let factor = match unit.trim() {
        "" | "m" | "mb" | "mib" => 1.0,
        "g" | "gb" | "gib" => 1024.0,
        _ => return Err(error()),
    };
    let megabytes = number * factor;
    if !megabytes.is_finite() || megabytes < 1.0 || megabytes.fract() != 0.0 {
        return Err(error());
    }
    Ok(megabytes as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_numbers_are_megabytes_and_units_convert() {
        assert_eq!(parse_memory_mb("256").unwrap(), 256);
        assert_eq!(parse_memory_mb("512mb").unwrap(), 512);
        assert_eq!(parse_memory_mb("512MB").unwrap(), 512);
        assert_eq!(parse_memory_mb("1gb").unwrap(), 1024);
        assert_eq!(parse_memory_mb("2G").unwrap(), 2048);
        assert_eq!(parse_memory_mb("1.5gb").unwrap(), 1536);
    }

    #[test]
    fn nonsense_and_fractions_of_a_megabyte_are_refused() {
        for bad in ["", "lots", "0", "-256", "12tb", "0.5", "1.0001gb"] {
            let message = parse_memory_mb(bad).unwrap_err().to_string();
            assert!(message.contains("512mb"), "{bad}: {message}");
        }
    }
}
