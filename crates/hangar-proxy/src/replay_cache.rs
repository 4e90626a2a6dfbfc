//! The path-based `fly-replay` cache (reference §6.6): a replaying Machine
//! may answer with `fly-replay-cache: <[host]/path/*>` and
//! `fly-replay-cache-ttl-secs` (at least 10; `fly-replay-cache-allow-bypass:
//! yes` optional), or JSON `cache{prefix, ttl, allow_bypass}`. Later
//! requests for that host and path go straight to the replay's target with
//! `fly-replay-cache-status: hit` (no `fly-replay-src`), until the entry
//! expires or a target answers `fly-replay-cache: invalidate`. A client
//! sends `fly-replay-cache-control: skip` to bypass an entry that allows
//! it. Replays carrying `state`, `timeout` or `fallback` are not cached.
//! (The session-based `http_options.replay_cache` is not implemented.)

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hyper::header::HeaderMap;
use serde_json::Value;

use crate::replay::Replay;

/// The shortest lifetime of an entry.
const MIN_TTL: Duration = Duration::from_secs(10);

/// What a replaying Machine asked to cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CacheRule {
    /// `[host]/path/*`: a path prefix when it ends in `*`, else one path.
    pub(crate) pattern: String,
    pub(crate) ttl: Duration,
    pub(crate) allow_bypass: bool,
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

/// True when a response says `fly-replay-cache: invalidate`.
pub(crate) fn asks_invalidate(headers: &HeaderMap) -> bool {
    header(headers, "fly-replay-cache").is_some_and(|v| v.eq_ignore_ascii_case("invalidate"))
}

fn ttl_of(seconds: u64) -> Duration {
    Duration::from_secs(seconds).max(MIN_TTL)
}

impl CacheRule {
    /// The rule in a replay response's headers, if any.
    pub(crate) fn from_headers(headers: &HeaderMap) -> Result<Option<CacheRule>, String> {
        let Some(pattern) = header(headers, "fly-replay-cache") else {
            return Ok(None);
        };
        if pattern.eq_ignore_ascii_case("invalidate") {
            return Ok(None);
        }
        let ttl = header(headers, "fly-replay-cache-ttl-secs")
            .ok_or("fly-replay-cache needs fly-replay-cache-ttl-secs (10 or more)")?
            .parse::<u64>()
            .map_err(|_| "fly-replay-cache-ttl-secs is not a number of seconds".to_string())?;
        let allow_bypass = header(headers, "fly-replay-cache-allow-bypass")
            .is_some_and(|v| v.eq_ignore_ascii_case("yes") || v.eq_ignore_ascii_case("true"));
        Ok(Some(CacheRule {
            pattern: pattern.to_string(),
            ttl: ttl_of(ttl),
            allow_bypass,
        }))
    }

    /// The JSON form's `cache` object: `{prefix, ttl, allow_bypass}`.
    pub(crate) fn from_json(value: &Value) -> Result<Option<CacheRule>, String> {
        let Some(object) = value.as_object() else {
            return Err("replay cache must be a JSON object".to_string());
        };
        let Some(prefix) = object.get("prefix").and_then(Value::as_str) else {
            return Ok(None);
        };
        let ttl = object
            .get("ttl")
            .and_then(Value::as_u64)
            .ok_or("replay cache needs a ttl in seconds (10 or more)")?;
        Ok(Some(CacheRule {
            pattern: prefix.to_string(),
            ttl: ttl_of(ttl),
            allow_bypass: object.get("allow_bypass").and_then(Value::as_bool) == Some(true),
        }))
    }
}

/// One cached replay.
#[derive(Debug, Clone)]
struct Entry {
    /// A path prefix (pattern ended in `*`) or an exact path.
    path: String,
    prefix: bool,
    target: Replay,
    allow_bypass: bool,
    expires: Instant,
}

/// A cache hit: where to send the request.
#[derive(Debug, Clone)]
pub(crate) struct Hit {
    pub(crate) target: Replay,
    pub(crate) allow_bypass: bool,
}

/// Cached replays per hostname.
#[derive(Debug, Default)]
pub(crate) struct ReplayCache {
    hosts: Mutex<HashMap<String, Vec<Entry>>>,
    /// Set by the first entry: until then a lookup needs no lock.
    used: AtomicBool,
}

/// The host and path a pattern names (`/path/*` is on `request_host`).
fn split_pattern<'p>(pattern: &'p str, request_host: &'p str) -> (&'p str, &'p str) {
    match pattern.find('/') {
        Some(0) | None => (request_host, pattern),
        Some(at) => (&pattern[..at], &pattern[at..]),
    }
}

impl ReplayCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Vec<Entry>>> {
        self.hosts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// False while nothing was ever cached (a lookup would find nothing).
    pub(crate) fn may_hold(&self) -> bool {
        self.used.load(Ordering::Relaxed)
    }

    /// The entry covering `path` on `host`, the longest prefix winning.
    pub(crate) fn lookup(&self, host: &str, path: &str) -> Option<Hit> {
        let mut hosts = self.lock();
        let entries = hosts.get_mut(host)?;
        let now = Instant::now();
        entries.retain(|e| e.expires > now);
        entries
            .iter()
            .filter(|e| {
                if e.prefix {
                    path.starts_with(&e.path)
                } else {
                    path == e.path
                }
            })
            .max_by_key(|e| e.path.len())
            .map(|e| Hit {
                target: e.target.clone(),
                allow_bypass: e.allow_bypass,
            })
    }

    /// Caches `target` under `rule`; false when the replay may not be
    /// cached (it carries state, a timeout or a fallback).
    pub(crate) fn insert(&self, request_host: &str, rule: &CacheRule, target: &Replay) -> bool {
        if target.state.is_some() || target.timeout.is_some() || target.fallback.is_some() {
            return false;
        }
        let (host, path) = split_pattern(&rule.pattern, request_host);
        let (path, prefix) = match path.strip_suffix('*') {
            Some(prefix) => (prefix.to_string(), true),
            None => (path.to_string(), false),
        };
        let mut target = target.clone();
        target.elsewhere = false;
        let mut hosts = self.lock();
        self.used.store(true, Ordering::Relaxed);
        let entries = hosts.entry(host.to_ascii_lowercase()).or_default();
        entries.retain(|e| !(e.path == path && e.prefix == prefix));
        entries.push(Entry {
            path,
            prefix,
            target,
            allow_bypass: rule.allow_bypass,
            expires: Instant::now() + rule.ttl,
        });
        true
    }

    /// Drops the entry covering `path` on `host`.
    pub(crate) fn invalidate(&self, host: &str, path: &str) {
        let mut hosts = self.lock();
        let Some(entries) = hosts.get_mut(host) else {
            return;
        };
        let longest = entries
            .iter()
            .enumerate()
            .filter(|(_, e)| {
                if e.prefix {
                    path.starts_with(&e.path)
                } else {
                    path == e.path
                }
            })
            .max_by_key(|(_, e)| e.path.len())
            .map(|(i, _)| i);
        if let Some(index) = longest {
            entries.remove(index);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(pattern: &str) -> CacheRule {
        CacheRule {
            pattern: pattern.to_string(),
            ttl: MIN_TTL,
            allow_bypass: false,
        }
    }

    fn to(instance: &str) -> Replay {
        Replay {
            instance: Some(instance.to_string()),
            ..Replay::default()
        }
    }

    #[test]
    fn longest_prefix_wins_per_host() {
        let cache = ReplayCache::default();
        assert!(cache.insert("a.test", &rule("/api/*"), &to("m-1")));
        assert!(cache.insert("a.test", &rule("/api/v2/*"), &to("m-2")));
        assert!(cache.insert("a.test", &rule("b.test/exact"), &to("m-3")));
        let hit = |host: &str, path: &str| cache.lookup(host, path).and_then(|h| h.target.instance);
        assert_eq!(hit("a.test", "/api/x").as_deref(), Some("m-1"));
        assert_eq!(hit("a.test", "/api/v2/x").as_deref(), Some("m-2"));
        assert_eq!(hit("a.test", "/other"), None);
        assert_eq!(hit("b.test", "/exact").as_deref(), Some("m-3"));
        assert_eq!(hit("b.test", "/exact/more"), None);
        cache.invalidate("a.test", "/api/v2/y");
        assert_eq!(hit("a.test", "/api/v2/x").as_deref(), Some("m-1"));
    }

    #[test]
    fn replays_with_state_are_not_cached_and_ttl_has_a_floor() {
        let cache = ReplayCache::default();
        let mut stateful = to("m-1");
        stateful.state = Some("s".into());
        assert!(!cache.insert("a.test", &rule("/*"), &stateful));
        let mut headers = HeaderMap::new();
        headers.insert("fly-replay-cache", "/api/*".parse().unwrap());
        assert!(CacheRule::from_headers(&headers).is_err(), "ttl missing");
        headers.insert("fly-replay-cache-ttl-secs", "3".parse().unwrap());
        let parsed = CacheRule::from_headers(&headers).unwrap().unwrap();
        assert_eq!(parsed.ttl, MIN_TTL);
        let json: Value = serde_json::json!({"prefix": "/x/*", "ttl": 60, "allow_bypass": true});
        let parsed = CacheRule::from_json(&json).unwrap().unwrap();
        assert_eq!(
            (parsed.ttl, parsed.allow_bypass),
            (Duration::from_secs(60), true)
        );
    }
}
