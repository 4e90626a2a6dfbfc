//! Writing a config as TOML, JSON or YAML (`config show`, `config save`).

use std::time::{SystemTime, UNIX_EPOCH};

use crate::model::Config;
use crate::source::Format;

/// Why a config could not be written.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// TOML serialization failed.
    #[error("cannot write the config as TOML: {0}")]
    Toml(#[from] toml::ser::Error),
    /// JSON serialization failed.
    #[error("cannot write the config as JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// YAML serialization failed.
    #[error("cannot write the config as YAML: {0}")]
    Yaml(#[from] serde_yaml::Error),
}

/// Renders the normalized model. TOML and YAML start with a header comment when `header` is set;
/// top-level sections are separated by blank lines.
pub fn render(config: &Config, format: Format, header: bool) -> Result<String, RenderError> {
    let header_line = |ext: &str| {
        format!(
            "# fly.{ext} app configuration file generated for {} on {}\n#\n# See https://fly.io/docs/reference/configuration/ for information about how to use this file.\n#\n",
            config.app.as_deref().unwrap_or_default(),
            rfc3339_now()
        )
    };
    Ok(match format {
        Format::Json => {
            let text = serde_json::to_string_pretty(config)?;
            let mut out = blank_line_before_sections(&text, "  \"", |line| {
                line.ends_with('{') || line.ends_with('[')
            });
            out.push('\n');
            out
        }
        Format::Yaml => {
            let text = serde_yaml::to_string(config)?;
            let body = blank_line_before_sections(&text, "", |line| line.ends_with(':'));
            let prefix = if header {
                header_line("yaml")
            } else {
                String::new()
            };
            format!("{prefix}\n{body}")
        }
        Format::Toml => {
            let text = toml::to_string_pretty(config)?;
            let prefix = if header {
                format!("{}\n", header_line("toml"))
            } else {
                String::new()
            };
            format!("{prefix}{text}")
        }
    })
}

/// Inserts a blank line before each top-level key (lines starting with `prefix` and nothing more
/// indented) that opens a nested value, except the first line of the body.
fn blank_line_before_sections(text: &str, prefix: &str, opens: impl Fn(&str) -> bool) -> String {
    let mut out = String::with_capacity(text.len() + 64);
    for (index, line) in text.lines().enumerate() {
        let top_level = line.starts_with(prefix)
            && !line[prefix.len()..].starts_with([' ', '-'])
            && !line.is_empty()
            && (prefix.is_empty() || line.len() > prefix.len());
        if index > 1 && top_level && opens(line) && !out.ends_with("\n\n") {
            out.push('\n');
        }
        out.push_str(line);
        out.push('\n');
    }
    if !text.ends_with('\n') {
        out.pop();
    }
    out
}

/// Current UTC time as RFC 3339 (`2026-11-28T16:45:54Z`).
fn rfc3339_now() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    #[test]
    fn civil_dates() {
        assert_eq!(super::civil_from_days(0), (1970, 1, 1));
        assert_eq!(super::civil_from_days(20_785), (2026, 11, 28));
    }
}
