//! Proxy settings.

use std::time::Duration;

use crate::acme::AcmeConfig;

/// Settings of one proxy; `Default` gives Fly's defaults where Fly has one.
#[derive(Debug, Clone)]
pub struct ProxyConfig {
    /// Apps are served at `<app>.<app_domain>`.
    pub app_domain: String,
    /// The region this proxy runs in: Machines here are preferred and it is
    /// sent to Machines as `Fly-Region`.
    pub region: String,
    /// How often the autostop pass runs.
    pub autostop_interval: Duration,
    /// How many idle Machines one pass stops per app and region.
    pub autostop_max_per_pass: usize,
    /// Request bodies up to this size are buffered so that a request can be
    /// retried on another Machine; larger ones are streamed, without retries.
    pub max_request_body_buffer: usize,
    /// How long a request waits for a Machine below its hard limit.
    pub queue_timeout: Duration,
    /// How long a request waits for a healthy Machine when no Machine of the
    /// app can take it and none can be started.
    pub healthy_machine_wait: Duration,
    /// How many requests may wait for capacity at once; more are refused.
    pub max_queued_requests: usize,
    /// How many Machines a request is tried on when connections fail.
    pub max_connect_attempts: usize,
    /// How long connecting to a Machine may take before another is tried
    /// (a Machine woken moments ago gets shorter, growing attempts first).
    pub connect_timeout: Duration,
    /// How long a request waits for an autostarted Machine.
    pub autostart_timeout: Duration,
    /// How long a client may take to send a request's headers (HTTP/1.1),
    /// where the port's `http_options.headers_read_timeout` does not say.
    pub header_read_timeout: Duration,
    /// How long a client connection may sit with no request in flight and
    /// no bytes moving before the proxy closes it, where the port's
    /// `http_options.idle_timeout` does not say.
    pub idle_timeout: Duration,
    /// ACME for custom domains; `None` (the default) turns it off. Run it
    /// with [`Proxy::spawn_acme`](crate::Proxy::spawn_acme).
    pub acme: Option<AcmeConfig>,
    /// Threads serving client connections, each with a single-threaded
    /// runtime (see `workers`); 0 (the default) serves them on the runtime
    /// that runs the listener.
    pub connection_workers: usize,
    /// Serve the common HTTP/1.1 request on the proxy's own lean path
    /// (parsed and rewritten in place, see `h1`) rather than through hyper;
    /// on by default. Every other request is hyper's either way.
    pub lean_http1: bool,
}

impl Default for ProxyConfig {
    fn default() -> Self {
        ProxyConfig {
            app_domain: "localhost".to_string(),
            region: "local".to_string(),
            autostop_interval: Duration::from_secs(300),
            autostop_max_per_pass: 1,
            max_request_body_buffer: 10 * 1024 * 1024,
            queue_timeout: Duration::from_secs(10),
            healthy_machine_wait: Duration::from_secs(5),
            max_queued_requests: 1024,
            max_connect_attempts: 90,
            connect_timeout: Duration::from_secs(5),
            autostart_timeout: Duration::from_secs(60),
            header_read_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
            acme: None,
            connection_workers: 0,
            lean_http1: true,
        }
    }
}
