//! `fly-replay` response headers: the Machine asks the proxy to deliver the
//! original request elsewhere (reference §6.6). The header and JSON forms
//! are handled, with `timeout` (how long the replay waits for a target) and
//! `fallback` (`force_self` / `prefer_self`: back to the replaying Machine
//! with `fly-replay-failed`); `transform` is accepted but not acted on.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http_body_util::{BodyExt, Limited};
use hyper::header::HeaderValue;
use hyper::Response;
use serde_json::Value;

use crate::error::ProxyErrorCode;
use crate::forward::ProxyBody;
use crate::replay_cache::CacheRule;

use crate::placement::Placement;

/// At most this many replays for one request.
pub(crate) const MAX_REPLAYS: usize = 10;

/// What a `fly-replay` header asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Replay {
    pub(crate) regions: Vec<String>,
    pub(crate) instance: Option<String>,
    pub(crate) prefer_instance: Option<String>,
    pub(crate) app: Option<String>,
    pub(crate) elsewhere: bool,
    pub(crate) state: Option<String>,
    /// How long the replay may wait for a target Machine.
    pub(crate) timeout: Option<Duration>,
    /// Where the request goes when the replay fails.
    pub(crate) fallback: Option<Fallback>,
    /// The replay cache entry the Machine asked for.
    pub(crate) cache: Option<CacheRule>,
}

/// `fallback`: send the request back to the replaying Machine when the
/// replay times out, exhausts its retries or finds no candidate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fallback {
    /// Only the replaying Machine may take it.
    ForceSelf,
    /// The replaying Machine first, any Machine of its app otherwise.
    PreferSelf,
}

impl Fallback {
    fn parse(value: &str) -> Result<Fallback, String> {
        match value.trim().to_ascii_lowercase().as_str() {
            "force_self" => Ok(Fallback::ForceSelf),
            "prefer_self" => Ok(Fallback::PreferSelf),
            other => Err(format!(
                "fly-replay fallback {other:?} is not force_self or prefer_self"
            )),
        }
    }

    /// Where the fallback request may go.
    pub(crate) fn placement(self, origin_machine: &str) -> Placement {
        let origin = Some(origin_machine.to_string());
        match self {
            Fallback::ForceSelf => Placement {
                force_instance: origin,
                ..Placement::default()
            },
            Fallback::PreferSelf => Placement {
                prefer_instance: origin,
                ..Placement::default()
            },
        }
    }
}

/// The `fly-replay-failed` reason for an error a fallback covers:
/// `timeout`, `retries_exhausted` or `no_candidate`.
pub(crate) fn failure_reason(error: &ProxyErrorCode) -> Option<&'static str> {
    match error {
        ProxyErrorCode::ReplayTimedOut(_) | ProxyErrorCode::CapacityTimeout(_) => Some("timeout"),
        ProxyErrorCode::RetriesExhausted(_) => Some("retries_exhausted"),
        ProxyErrorCode::NoHealthyMachine(_)
        | ProxyErrorCode::NoService { .. }
        | ProxyErrorCode::QueueFull(_)
        | ProxyErrorCode::AutostartFailed { .. } => Some("no_candidate"),
        _ => None,
    }
}

/// Parses a Go-style duration as Fly's `timeout` takes it: `500ms`, `5s`,
/// `1m30s` (units `ms`, `s`, `m`, `h`).
pub(crate) fn parse_duration(value: &str) -> Result<Duration, String> {
    let bad = || format!("fly-replay timeout {value:?} is not a duration like 500ms, 5s or 1m30s");
    let mut rest = value.trim();
    if rest.is_empty() {
        return Err(bad());
    }
    let mut total = Duration::ZERO;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .ok_or_else(bad)?;
        let number: f64 = rest[..digits].parse().map_err(|_| bad())?;
        let after = &rest[digits..];
        let unit_len = after
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(after.len());
        let seconds = match &after[..unit_len] {
            "ms" => number / 1000.0,
            "s" => number,
            "m" => number * 60.0,
            "h" => number * 3600.0,
            _ => return Err(bad()),
        };
        total += Duration::try_from_secs_f64(seconds).map_err(|_| bad())?;
        rest = &after[unit_len..];
    }
    Ok(total)
}

/// Content type of the JSON form of a replay.
pub(crate) const REPLAY_JSON: &str = "application/vnd.fly.replay+json";

/// The JSON form is read up to this size.
const MAX_JSON_BODY: usize = 64 * 1024;

/// Does this Machine response ask for a replay (header or JSON form)?
pub(crate) fn is_replay<B>(response: &Response<B>) -> bool {
    response.headers().contains_key("fly-replay")
        || response
            .headers()
            .get(hyper::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim().starts_with(REPLAY_JSON))
}

/// Reads the replay a response asks for, consuming the response.
pub(crate) async fn read(response: Response<ProxyBody>) -> Result<Replay, String> {
    if let Some(value) = response.headers().get("fly-replay") {
        let mut replay = value
            .to_str()
            .map_err(|_| "fly-replay is not text".to_string())
            .and_then(parse)?;
        replay.cache = CacheRule::from_headers(response.headers())?;
        return Ok(replay);
    }
    let body = Limited::new(response.into_body(), MAX_JSON_BODY)
        .collect()
        .await
        .map_err(|e| format!("could not read the replay JSON body: {e}"))?
        .to_bytes();
    parse_json(&body)
}

/// Parses the JSON form: `{"region": "sjc,any", "instance": …, "app": …,
/// "elsewhere": true, "state": …}`.
pub(crate) fn parse_json(body: &[u8]) -> Result<Replay, String> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| format!("replay body is not JSON: {e}"))?;
    let object = value
        .as_object()
        .ok_or_else(|| "replay body is not a JSON object".to_string())?;
    let text = |key: &str| -> Result<Option<String>, String> {
        match object.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(format!(
                "replay field {key:?} must be a string, not {other}"
            )),
        }
    };
    let regions = match object.get("region") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) => split_regions(s),
        Some(Value::Array(list)) => list
            .iter()
            .filter_map(Value::as_str)
            .flat_map(split_regions)
            .collect(),
        Some(other) => {
            return Err(format!(
                "replay region must be a string or list, not {other}"
            ))
        }
    };
    let elsewhere = match object.get("elsewhere") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => return Err(format!("replay elsewhere must be a boolean, not {other}")),
    };
    let replay = Replay {
        regions,
        instance: text("instance")?,
        prefer_instance: text("prefer_instance")?,
        app: text("app")?,
        elsewhere,
        state: text("state")?,
        timeout: text("timeout")?
            .as_deref()
            .map(parse_duration)
            .transpose()?,
        fallback: text("fallback")?
            .as_deref()
            .map(Fallback::parse)
            .transpose()?,
        cache: match object.get("cache") {
            None | Some(Value::Null) => None,
            Some(cache) => CacheRule::from_json(cache)?,
        },
    };
    check_target(replay)
}

fn split_regions(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(|r| r.trim().to_ascii_lowercase())
        .filter(|r| !r.is_empty())
        .collect()
}

fn check_target(replay: Replay) -> Result<Replay, String> {
    if replay.regions.is_empty()
        && replay.instance.is_none()
        && replay.prefer_instance.is_none()
        && replay.app.is_none()
        && !replay.elsewhere
    {
        return Err("fly-replay names no region, instance, app or elsewhere".to_string());
    }
    Ok(replay)
}

/// Parses `k=v;k=v` (values may be double-quoted, which lets them hold
/// commas and semicolons).
pub(crate) fn parse(header: &str) -> Result<Replay, String> {
    let mut replay = Replay::default();
    for (key, value) in split_fields(header)? {
        match key.as_str() {
            "region" => replay.regions = split_regions(&value),
            "instance" => replay.instance = Some(value),
            "prefer_instance" => replay.prefer_instance = Some(value),
            "app" => replay.app = Some(value),
            "elsewhere" => replay.elsewhere = value.eq_ignore_ascii_case("true"),
            "state" => replay.state = Some(value),
            "timeout" => replay.timeout = Some(parse_duration(&value)?),
            "fallback" => replay.fallback = Some(Fallback::parse(&value)?),
            other => return Err(format!("unknown fly-replay field {other:?}")),
        }
    }
    check_target(replay)
}

fn split_fields(header: &str) -> Result<Vec<(String, String)>, String> {
    let mut fields = Vec::new();
    let mut rest = header.trim();
    while !rest.is_empty() {
        let (key, after) = rest
            .split_once('=')
            .ok_or_else(|| format!("fly-replay field without '=' in {header:?}"))?;
        let key = key.trim().to_ascii_lowercase();
        let after = after.trim_start();
        let (value, remainder) = if let Some(quoted) = after.strip_prefix('"') {
            let end = quoted
                .find('"')
                .ok_or_else(|| format!("unterminated quote in fly-replay {header:?}"))?;
            (quoted[..end].to_string(), &quoted[end + 1..])
        } else {
            match after.find(';') {
                Some(end) => (after[..end].trim().to_string(), &after[end..]),
                None => (after.trim().to_string(), ""),
            }
        };
        fields.push((key, value));
        rest = remainder.trim_start().trim_start_matches(';').trim_start();
    }
    Ok(fields)
}

impl Replay {
    /// Where the replayed request may go.
    pub(crate) fn placement(&self) -> Placement {
        let any = self.regions.iter().any(|r| r == "any");
        Placement {
            regions: self
                .regions
                .iter()
                .filter(|r| *r != "any")
                .cloned()
                .collect(),
            force_region: !self.regions.is_empty() && !any,
            prefer_instance: self.prefer_instance.clone(),
            force_instance: self.instance.clone(),
        }
    }

    /// The `fly-replay-src` header for the replayed request.
    pub(crate) fn source_header(&self, instance: &str, region: &str) -> Option<HeaderValue> {
        let micros = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_micros());
        let mut value = format!("instance={instance};region={region};t={micros}");
        if let Some(state) = &self.state {
            value.push_str(&format!(";state={state}"));
        }
        HeaderValue::from_str(&value).ok()
    }
}

impl Replay {
    /// The `fly-replay-failed` header of a fallback request:
    /// `instance=…;app=…;region=…;replay_source=…;reason=…;elapsed_ms=…`
    /// (the replay's target, the replaying Machine, why it failed).
    pub(crate) fn failed_header(
        &self,
        origin_machine: &str,
        reason: &str,
        elapsed: Duration,
    ) -> Option<HeaderValue> {
        let instance = self
            .instance
            .as_deref()
            .or(self.prefer_instance.as_deref())
            .unwrap_or("");
        let value = format!(
            "instance={instance};app={};region={};replay_source={origin_machine};reason={reason};elapsed_ms={}",
            self.app.as_deref().unwrap_or(""),
            self.regions.join(","),
            elapsed.as_millis()
        );
        HeaderValue::from_str(&value).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_fields_and_quoted_lists() {
        let r = parse(r#"region="sjc,ams";state=abc;elsewhere=true"#).unwrap();
        assert_eq!(r.regions, ["sjc", "ams"]);
        assert_eq!(r.state.as_deref(), Some("abc"));
        assert!(r.elsewhere);
        let r = parse("instance=m-1").unwrap();
        assert_eq!(r.instance.as_deref(), Some("m-1"));
        assert!(parse("").is_err());
        assert!(parse("bogus=1").is_err());
        assert!(parse("region").is_err());
        assert!(parse(r#"region="sjc"#).is_err());
    }

    #[test]
    fn parses_the_json_form() {
        let r = parse_json(br#"{"region":["sjc","lhr,any"],"instance":"m-1","elsewhere":true,"state":"x","cache":{}}"#).unwrap();
        assert_eq!(r.regions, ["sjc", "lhr", "any"]);
        assert_eq!(r.instance.as_deref(), Some("m-1"));
        assert!(r.elsewhere);
        assert_eq!(r.state.as_deref(), Some("x"));
        assert!(parse_json(b"{}").is_err());
        assert!(parse_json(b"[]").is_err());
        assert!(parse_json(br#"{"elsewhere":"yes"}"#).is_err());
    }

    #[test]
    fn timeout_and_fallback_are_parsed() {
        let r = parse("instance=m-2;timeout=1m30s;fallback=prefer_self").unwrap();
        assert_eq!(r.timeout, Some(Duration::from_secs(90)));
        assert_eq!(r.fallback, Some(Fallback::PreferSelf));
        let r =
            parse_json(br#"{"region":"lhr","timeout":"250ms","fallback":"force_self"}"#).unwrap();
        assert_eq!(r.timeout, Some(Duration::from_millis(250)));
        assert_eq!(r.fallback, Some(Fallback::ForceSelf));
        assert!(parse("region=lhr;timeout=soon").is_err());
        assert!(parse("region=lhr;timeout=5").is_err());
        assert!(parse("region=lhr;fallback=elsewhere").is_err());
    }

    #[test]
    fn any_lets_the_region_fall_back() {
        let p = parse("region=sjc,any").unwrap().placement();
        assert_eq!(p.regions, ["sjc"]);
        assert!(!p.force_region);
        assert!(parse("region=sjc").unwrap().placement().force_region);
    }
}
