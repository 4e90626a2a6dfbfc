//! The image's runtime settings as instructions change them (ENV, CMD, …),
//! serialised with Docker's field names into the image config.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{json, Value};

use crate::dockerfile::words::{expand_word, expand_words};
use crate::dockerfile::{Args, Instruction};

/// The `config` object of an image config.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct RunConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub exposed_ports: BTreeMap<String, Value>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cmd: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<Value>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub volumes: BTreeMap<String, Value>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub on_build: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shell: Option<Vec<String>>,
}

impl RunConfig {
    /// Starts from a base image's settings.
    pub(crate) fn from_image(c: &hangar_image::ImageConfig) -> RunConfig {
        RunConfig {
            user: c.user.clone(),
            exposed_ports: c
                .exposed_ports
                .iter()
                .map(|p| (p.clone(), json!({})))
                .collect(),
            env: c.env.clone(),
            entrypoint: (!c.entrypoint.is_empty()).then(|| c.entrypoint.clone()),
            cmd: (!c.cmd.is_empty()).then(|| c.cmd.clone()),
            working_dir: c.working_dir.clone(),
            labels: c.labels.clone(),
            stop_signal: c.stop_signal.clone(),
            ..RunConfig::default()
        }
    }

    /// The value of environment variable `name`.
    pub(crate) fn env_var(&self, name: &str) -> Option<String> {
        self.env.iter().find_map(|kv| {
            kv.split_once('=')
                .filter(|(k, _)| *k == name)
                .map(|(_, v)| v.to_owned())
        })
    }

    pub(crate) fn set_env(&mut self, name: &str, value: &str) {
        self.env
            .retain(|kv| kv.split_once('=').map(|(k, _)| k) != Some(name));
        self.env.push(format!("{name}={value}"));
    }

    /// The argv of a CMD/ENTRYPOINT/HEALTHCHECK: JSON form as is, shell form
    /// wrapped in the shell (`SHELL`, default `/bin/sh -c`).
    pub(crate) fn command(&self, args: &Args) -> Vec<String> {
        match args {
            Args::Json(items) => items.clone(),
            Args::Text(text) if text.trim().is_empty() => Vec::new(),
            Args::Text(text) => {
                let mut argv = self
                    .shell
                    .clone()
                    .unwrap_or_else(|| vec!["/bin/sh".into(), "-c".into()]);
                argv.push(text.clone());
                argv
            }
        }
    }
}

/// Parses `KEY=VALUE …` pairs (ENV, LABEL), or the legacy `KEY VALUE` form.
pub(crate) fn key_values(
    instruction: &Instruction,
    escape: char,
    vars: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<(String, String)>, String> {
    let text = instruction.text();
    let first = text.split_whitespace().next().unwrap_or("");
    if !first.contains('=') {
        let (key, value) = text.trim().split_once(char::is_whitespace).ok_or_else(|| {
            format!(
                "{} {first:?} needs a value: {first}=VALUE",
                instruction.keyword
            )
        })?;
        return Ok(vec![(
            key.to_owned(),
            expand_word(value.trim(), escape, vars)?,
        )]);
    }
    expand_words(&text, escape, vars)?
        .into_iter()
        .map(|word| {
            word.split_once('=')
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .filter(|(k, _)| !k.is_empty())
                .ok_or_else(|| format!("{word:?} is not KEY=VALUE"))
        })
        .collect()
}

/// `EXPOSE 80 443/tcp 8000-8002/udp` as `PORT/PROTO` keys.
pub(crate) fn ports(words: &[String]) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for word in words {
        let (range, proto) = word.split_once('/').unwrap_or((word, "tcp"));
        let proto = proto.to_ascii_lowercase();
        if !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
            return Err(format!("EXPOSE {word}: protocol must be tcp, udp or sctp"));
        }
        let (low, high) = range.split_once('-').unwrap_or((range, range));
        let parse = |p: &str| {
            p.parse::<u16>()
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| format!("EXPOSE {word}: {p:?} is not a port number"))
        };
        let (low, high) = (parse(low)?, parse(high)?);
        if high < low || high - low > 1000 {
            return Err(format!("EXPOSE {word}: bad port range"));
        }
        out.extend((low..=high).map(|p| format!("{p}/{proto}")));
    }
    Ok(out)
}

/// `HEALTHCHECK [--interval=…] CMD …` or `HEALTHCHECK NONE` as the config's
/// `Healthcheck` object (durations in nanoseconds).
pub(crate) fn healthcheck(config: &RunConfig, instruction: &Instruction) -> Result<Value, String> {
    let text = instruction.text();
    if text.trim().eq_ignore_ascii_case("none") {
        return Ok(json!({ "Test": ["NONE"] }));
    }
    let rest = match &instruction.args {
        Args::Text(t) => t.trim(),
        Args::Json(_) => "",
    };
    let Some(command) = rest
        .strip_prefix("CMD")
        .or_else(|| rest.strip_prefix("cmd"))
        .map(str::trim)
    else {
        return Err(
            "HEALTHCHECK expects `HEALTHCHECK [OPTIONS] CMD command` or `HEALTHCHECK NONE`".into(),
        );
    };
    let args = match serde_json::from_str::<Vec<String>>(command) {
        Ok(items) => Args::Json(items),
        Err(_) => Args::Text(command.to_owned()),
    };
    let test = match &args {
        Args::Json(items) => {
            let mut t = vec!["CMD".to_owned()];
            t.extend(items.iter().cloned());
            t
        }
        Args::Text(_) => {
            let mut t = vec!["CMD-SHELL".to_owned()];
            t.extend(config.command(&args).last().cloned());
            t
        }
    };
    let mut check = json!({ "Test": test });
    for (name, value) in &instruction.flags {
        let key = match name.as_str() {
            "interval" => "Interval",
            "timeout" => "Timeout",
            "start-period" => "StartPeriod",
            "start-interval" => "StartInterval",
            "retries" => {
                let retries: u32 = value
                    .parse()
                    .map_err(|_| format!("HEALTHCHECK --retries={value}: not a number"))?;
                check["Retries"] = json!(retries);
                continue;
            }
            other => return Err(format!("HEALTHCHECK does not take --{other}")),
        };
        let duration = humantime::parse_duration(value)
            .map_err(|e| format!("HEALTHCHECK --{name}={value}: {e}"))?;
        check[key] = json!(duration.as_nanos() as u64);
    }
    Ok(check)
}
