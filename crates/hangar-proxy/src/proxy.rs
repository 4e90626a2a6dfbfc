//! The proxy: state shared by every connection, and the life of a request.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::HeaderValue;
use hyper::upgrade::OnUpgrade;
use hyper::{Request, Response, StatusCode, Version};
use tokio::net::TcpStream;
use tokio::sync::watch;

use crate::acme::AcmeState;
use crate::autostart::Autostarter;
use crate::balance::Target;
use crate::body::RequestBody;
use crate::config::ProxyConfig;
use crate::control::MachineControl;
use crate::dispatch::Destination;
use crate::error::ProxyErrorCode;
use crate::forward::{full_body, GuardedBody, ProxyBody, Upstreams};
use crate::headers::{self, ClientConn};
use crate::host::{app_of_host, request_host, strip_port};
use crate::load::LoadTracker;
use crate::metrics::Metrics;
use crate::replay_cache::ReplayCache;
use crate::response_options;
use crate::routes::{MachineRoute, RouteTable};
use crate::upgrade;
use crate::workers::ConnectionWorkers;

/// How many autostarts one request may go through before giving up.
pub(crate) const MAX_STARTS_PER_REQUEST: usize = 3;

/// The first connect timeout to a Machine woken moments ago.
const WAKING_CONNECT_TIMEOUT: Duration = Duration::from_millis(100);

/// The edge proxy. Create it with [`Proxy::new`], then run
/// [`Proxy::serve_http`] per listener, [`Proxy::serve_tcp`] per app and raw
/// TCP port (see [`RouteTable::tcp_services`]) and [`Proxy::spawn_autostop`]
/// once.
pub struct Proxy {
    pub(crate) config: ProxyConfig,
    pub(crate) routes: watch::Receiver<Arc<RouteTable>>,
    pub(crate) control: Arc<dyn MachineControl>,
    pub(crate) loads: Arc<LoadTracker>,
    autostarter: Arc<Autostarter>,
    /// Machines this proxy started, with the route table generation seen
    /// when the start returned; trusted as started until a newer snapshot.
    started_locally: Mutex<HashMap<String, u64>>,
    /// When each Machine this proxy autostarted came up; refused connections
    /// to it are retried until `autostart_timeout` has passed.
    woken: Mutex<HashMap<String, Instant>>,
    upstreams: Upstreams,
    /// Idle connections of the lean HTTP/1.1 path.
    pub(crate) raw_upstreams: crate::h1::RawPool,
    pub(crate) metrics: Metrics,
    queued: AtomicUsize,
    /// Cached `fly-replay` targets by host and path.
    pub(crate) replay_cache: ReplayCache,
    /// ACME challenges and statuses, when ACME is configured.
    pub(crate) acme: Option<Arc<AcmeState>>,
    /// `config.region` as the `fly-region` header value, made once.
    region_header: HeaderValue,
    /// Where client connections are served, when
    /// `config.connection_workers` asks for threads of their own.
    workers: Option<ConnectionWorkers>,
}

/// A request waiting for capacity; leaving the queue on drop.
pub(crate) struct QueueSlot<'a>(&'a AtomicUsize);

impl Drop for QueueSlot<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Connecting to a Machine failed (the request may go elsewhere), or the
/// Machine failed after taking the request (it may not).
pub(crate) enum SendError {
    Connect(String),
    Upstream(String),
}

impl Proxy {
    /// A proxy reading route snapshots from `routes` and starting or
    /// stopping Machines through `control`.
    pub fn new(
        config: ProxyConfig,
        routes: watch::Receiver<Arc<RouteTable>>,
        control: Arc<dyn MachineControl>,
    ) -> Arc<Proxy> {
        let autostarter = Arc::new(Autostarter::on_current_runtime(routes.clone()));
        Arc::new(Proxy {
            routes,
            control,
            loads: Arc::default(),
            autostarter,
            started_locally: Mutex::default(),
            woken: Mutex::default(),
            upstreams: Upstreams::new(config.connect_timeout),
            raw_upstreams: crate::h1::RawPool::default(),
            metrics: Metrics::default(),
            queued: AtomicUsize::new(0),
            replay_cache: ReplayCache::default(),
            acme: config.acme.as_ref().map(|_| Arc::default()),
            region_header: HeaderValue::from_str(&config.region)
                .unwrap_or_else(|_| HeaderValue::from_static("")),
            workers: start_workers(config.connection_workers),
            config,
        })
    }

    /// Serves an accepted client connection with `serve`: on the next
    /// connection worker when there are any (the socket moves to that
    /// worker's event loop), else on the caller's runtime.
    pub(crate) fn spawn_connection<F, Fut>(&self, stream: TcpStream, serve: F)
    where
        F: FnOnce(TcpStream) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let Some(workers) = &self.workers else {
            tokio::spawn(serve(stream));
            return;
        };
        let stream = match stream.into_std() {
            Ok(stream) => stream,
            Err(error) => {
                tracing::debug!(%error, "cannot hand a client connection to a worker");
                return;
            }
        };
        workers.spawn(move || async move {
            match TcpStream::from_std(stream) {
                Ok(stream) => serve(stream).await,
                Err(error) => tracing::debug!(%error, "a worker cannot take a client connection"),
            }
        });
    }

    /// The settings the proxy runs with.
    pub fn config(&self) -> &ProxyConfig {
        &self.config
    }

    /// Requests in flight on a Machine right now.
    pub fn in_flight(&self, machine_id: &str) -> usize {
        self.loads.in_flight(machine_id)
    }

    /// Requests waiting right now for a Machine below its hard limit or for
    /// a healthy Machine.
    pub fn queued_requests(&self) -> usize {
        self.queued.load(Ordering::SeqCst)
    }

    /// Every metric in Prometheus text format.
    pub fn metrics_text(&self) -> String {
        let table = self.routes.borrow().clone();
        let app_of: HashMap<&str, &str> = table
            .machines
            .iter()
            .map(|m| (m.id.as_str(), m.app.as_str()))
            .collect();
        let in_flight: Vec<(String, String, usize)> = self
            .loads
            .snapshot()
            .into_iter()
            .map(|(id, n)| {
                let app = app_of.get(id.as_str()).copied().unwrap_or("").to_string();
                (app, id, n)
            })
            .collect();
        self.metrics.render(&in_flight)
    }

    /// Answers one client request; `host` is its host and `app` the app
    /// that host routes to in `table`, the snapshot read for this request.
    pub(crate) async fn handle(
        self: &Arc<Self>,
        request: Request<Incoming>,
        client: ClientConn,
        sni_app: Option<&str>,
        routed: RoutedHost,
    ) -> Response<ProxyBody> {
        if let Some(answer) = self
            .acme
            .as_ref()
            .and_then(|acme| acme.challenge_response(request.uri().path()))
        {
            // HTTP-01 challenges are answered before routing.
            return answer.map(full_body);
        }
        let began = Instant::now();
        let version = request.version();
        let RoutedHost { host, app, table } = routed;
        let misdirected = sni_app
            .filter(|sni_app| app.as_deref() != Some(*sni_app))
            .map(|sni_app| ProxyErrorCode::Misdirected {
                sni_app: sni_app.to_string(),
                host: strip_port(&host).to_string(),
            });
        // Unknown hosts are counted under app "" so that arbitrary Host
        // headers cannot grow the metrics without bound.
        let mut app_label = "";
        let (mut response, machine) = match (&app, misdirected) {
            (_, Some(misdirected)) => (error_response(&misdirected), String::new()),
            (None, None) => (
                error_response(&ProxyErrorCode::UnknownApp(host)),
                String::new(),
            ),
            (Some(app), None) => match self.serve_app(&table, app, &host, request, client).await {
                Ok(done) => {
                    app_label = app;
                    done
                }
                Err(error) => {
                    tracing::debug!(%app, %error, "proxy answered with an error");
                    if !matches!(error, ProxyErrorCode::UnknownApp(_)) {
                        app_label = app;
                    }
                    (error_response(&error), String::new())
                }
            },
        };
        finish_response(&mut response, version);
        self.metrics.request(
            app_label,
            &machine,
            response.status().as_u16(),
            began.elapsed(),
        );
        response
    }

    /// Routes a request for `app`: returns the response and the Machine
    /// that answered it.
    async fn serve_app(
        self: &Arc<Self>,
        table: &RouteTable,
        app: &str,
        host: &str,
        mut request: Request<Incoming>,
        client: ClientConn,
    ) -> Result<(Response<ProxyBody>, String), ProxyErrorCode> {
        if !table.has_app(app) {
            return Err(ProxyErrorCode::UnknownApp(host.to_string()));
        }
        let port =
            table
                .http_port(app, client.public_port)
                .ok_or_else(|| ProxyErrorCode::NoService {
                    app: app.to_string(),
                    port: client.public_port,
                })?;
        if port.force_https == Some(true) && !client.tls {
            return Ok((redirect_to_https(host, request.uri()), String::new()));
        }
        let response_options = port.http_options.as_ref().and_then(|o| o.response.clone());

        let upgrade = upgrade::requested_protocol(&request);
        let client_upgrade = upgrade.is_some().then(|| hyper::upgrade::on(&mut request));
        let (mut parts, body) = request.into_parts();
        let body = RequestBody::read(body, self.config.max_request_body_buffer)
            .await
            .map_err(|e| ProxyErrorCode::BadRequest(e.to_string()))?;
        self.prepare_request(&mut parts, host, client, upgrade);

        let host = strip_port(host).trim_end_matches('.').to_ascii_lowercase();
        let destination = Destination {
            app,
            host: &host,
            public_port: client.public_port,
            response_options,
        };
        self.dispatch(destination, parts, body, client_upgrade, None)
            .await
    }

    /// Turns a client's request head into the one sent to Machines:
    /// hop-by-hop headers dropped (`upgrade` put back when the client asked
    /// for that protocol), `Host` filled in, forwarding headers added.
    pub(crate) fn prepare_request(
        &self,
        parts: &mut hyper::http::request::Parts,
        host: &str,
        client: ClientConn,
        upgrade: Option<HeaderValue>,
    ) {
        headers::strip_hop_by_hop(&mut parts.headers);
        // Only the proxy says a request was replayed or fell back.
        parts.headers.remove(headers::FLY_REPLAY_SRC);
        parts.headers.remove(headers::FLY_REPLAY_FAILED);
        if let Some(protocol) = upgrade {
            parts.headers.insert(
                hyper::header::CONNECTION,
                HeaderValue::from_static("upgrade"),
            );
            parts.headers.insert(hyper::header::UPGRADE, protocol);
        }
        if !parts.headers.contains_key(hyper::header::HOST) {
            if let Ok(host) = HeaderValue::from_str(host) {
                parts.headers.insert(hyper::header::HOST, host);
            }
        }
        headers::add_forwarding(
            &mut parts.headers,
            client,
            &self.region_header,
            parts.version,
        );
    }

    pub(crate) fn enter_queue(&self, app: &str) -> Result<QueueSlot<'_>, ProxyErrorCode> {
        let max = self.config.max_queued_requests;
        self.queued
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                (n < max).then_some(n + 1)
            })
            .map_err(|_| ProxyErrorCode::QueueFull(app.to_string()))?;
        Ok(QueueSlot(&self.queued))
    }

    /// Machines started here that the current snapshot may not show yet.
    pub(crate) fn started_locally(&self, table: &RouteTable) -> HashSet<String> {
        let mut started = self.started_locally.lock().unwrap();
        started.retain(|_, generation| *generation >= table.generation);
        started.keys().cloned().collect()
    }

    /// When `machine_id` was woken recently enough that a refused
    /// connection means "not listening yet", how long to wait before
    /// trying it again.
    pub(crate) fn still_waking(&self, machine_id: &str, retries: u32) -> Option<Duration> {
        if !self.recently_woken(machine_id) {
            return None;
        }
        // A fine poll first: a woken app usually listens within milliseconds.
        if retries < 10 {
            return Some(Duration::from_millis(2));
        }
        let backoff = Duration::from_millis(5u64.saturating_mul(1 << (retries - 10).min(5)));
        Some(backoff.min(Duration::from_millis(100)))
    }

    /// How long connecting to `machine_id` may take. While the Machine was
    /// woken moments ago, short at first and doubling with each retry
    /// (`wake_retries`): a SYN lost while its network comes up is then
    /// resent by the proxy after milliseconds rather than by the kernel
    /// after a second. `config.connect_timeout` otherwise.
    pub(crate) fn connect_timeout(&self, machine_id: &str, wake_retries: u32) -> Duration {
        let limit = self.config.connect_timeout;
        if self.recently_woken(machine_id) {
            WAKING_CONNECT_TIMEOUT
                .saturating_mul(1 << wake_retries.min(6))
                .min(limit)
        } else {
            limit
        }
    }

    /// True when this proxy woke `machine_id` less than
    /// `config.autostart_timeout` ago.
    fn recently_woken(&self, machine_id: &str) -> bool {
        self.woken
            .lock()
            .unwrap()
            .get(machine_id)
            .is_some_and(|at| at.elapsed() < self.config.autostart_timeout)
    }

    /// Starts `route` (sharing a start already in flight) and waits for it.
    /// `seen_generation` is the snapshot that showed it stopped (see
    /// [`Autostarter::start`]).
    pub(crate) async fn autostart(
        &self,
        app: &str,
        route: &MachineRoute,
        seen_generation: u64,
    ) -> Result<(), ProxyErrorCode> {
        let began = Instant::now();
        let failed = |reason: String| ProxyErrorCode::AutostartFailed {
            app: app.to_string(),
            machine: route.id.clone(),
            reason,
        };
        let start = self
            .autostarter
            .start(&self.control, app, &route.id, seen_generation);
        let (result, issued) = tokio::time::timeout(self.config.autostart_timeout, start)
            .await
            .map_err(|_| {
                failed(format!(
                    "not started within {:?}",
                    self.config.autostart_timeout
                ))
            })?;
        result.map_err(failed)?;
        if issued {
            self.metrics.autostart(app, &route.id, began.elapsed());
            tracing::info!(%app, machine = %route.id, elapsed = ?began.elapsed(), "autostarted Machine");
        }
        let mut woken = self.woken.lock().unwrap();
        woken.retain(|_, at| at.elapsed() < self.config.autostart_timeout);
        woken.entry(route.id.clone()).or_insert_with(Instant::now);
        drop(woken);
        let generation = self.routes.borrow().generation;
        self.started_locally
            .lock()
            .unwrap()
            .insert(route.id.clone(), generation);
        Ok(())
    }

    /// Sends the buffered request to the chosen Machine.
    pub(crate) async fn send(
        &self,
        parts: &hyper::http::request::Parts,
        body: ProxyBody,
        target: Target,
        client_upgrade: &mut Option<OnUpgrade>,
        connect_timeout: impl FnOnce() -> Duration,
    ) -> Result<Response<ProxyBody>, SendError> {
        let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
        let uri: hyper::Uri = if target.h2_backend {
            format!("http://{}{}", target.upstream, path).parse()
        } else {
            path.parse()
        }
        .map_err(|e| SendError::Upstream(format!("bad upstream uri: {e}")))?;
        let mut request = Request::new(body);
        *request.method_mut() = parts.method.clone();
        *request.uri_mut() = uri;
        *request.version_mut() = Version::HTTP_11;
        *request.headers_mut() = parts.headers.clone();
        let (mut response, connection) = if target.h2_backend {
            let response = self.upstreams.h2c.request(request).await.map_err(|e| {
                if e.is_connect() {
                    SendError::Connect(e.to_string())
                } else {
                    SendError::Upstream(e.to_string())
                }
            })?;
            (response, None)
        } else {
            if !request.headers().contains_key(hyper::header::HOST) {
                let authority = HeaderValue::from_str(&target.upstream.to_string())
                    .map_err(|e| SendError::Upstream(format!("bad upstream host: {e}")))?;
                request.headers_mut().insert(hyper::header::HOST, authority);
            }
            let (response, connection) = self
                .upstreams
                .http1
                .send(
                    target.upstream,
                    target.per_request,
                    request,
                    connect_timeout,
                )
                .await?;
            (response, Some(connection))
        };
        if response.status() == StatusCode::SWITCHING_PROTOCOLS {
            let Some(client_side) = client_upgrade.take() else {
                return Err(SendError::Upstream(
                    "the Machine switched protocols without being asked to".to_string(),
                ));
            };
            let machine_side = hyper::upgrade::on(&mut response);
            if let Some(connection) = connection {
                connection.upgrade();
            }
            tokio::spawn(upgrade::tunnel(client_side, machine_side, target.guard));
            return Ok(response.map(|_| full_body(Full::new(Bytes::new()))));
        }
        let (mut parts, body) = response.into_parts();
        headers::strip_hop_by_hop(&mut parts.headers);
        let body = GuardedBody::new(body, target.guard, connection).boxed_unsync();
        Ok(Response::from_parts(parts, body))
    }
}

/// A request's host, the app it routes to, and the route table snapshot
/// both were read from (read once per request).
pub(crate) struct RoutedHost {
    pub(crate) host: String,
    pub(crate) app: Option<String>,
    pub(crate) table: Arc<RouteTable>,
}

impl RoutedHost {
    /// Reads the current snapshot and finds the app `request` is for.
    pub(crate) fn of<B>(proxy: &Proxy, request: &Request<B>) -> RoutedHost {
        let host = request_host(request);
        let table = proxy.routes.borrow().clone();
        let app = app_of_host(&host, &proxy.config.app_domain, &table);
        RoutedHost { host, app, table }
    }
}

/// Resolves when a newer route table arrives; never, once the host dropped
/// the sender (the proxy then keeps serving from its last snapshot).
pub(crate) async fn next_snapshot(routes: &mut watch::Receiver<Arc<RouteTable>>) {
    if routes.changed().await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// The connection workers `count` asks for; none when 0, or when threads
/// cannot be started (said, and then served on the listener's runtime).
fn start_workers(count: usize) -> Option<ConnectionWorkers> {
    if count == 0 {
        return None;
    }
    match ConnectionWorkers::start(count) {
        Ok(workers) => Some(workers),
        Err(error) => {
            tracing::warn!(%error, "cannot start the proxy's connection workers; serving connections on the main runtime");
            None
        }
    }
}

/// Adds what the proxy puts on every response it answers with (`Via`,
/// `Fly-Request-Id`, `Server` when the Machine named none), unless the
/// app's `http_options.response.pristine` asks for none.
pub(crate) fn finish_response(response: &mut Response<ProxyBody>, version: Version) {
    if response
        .extensions()
        .get::<response_options::Pristine>()
        .is_some()
    {
        return;
    }
    let headers = response.headers_mut();
    headers.append(hyper::header::VIA, headers::via_entry(version));
    if let Some(id) = headers::request_id() {
        headers.insert(headers::FLY_REQUEST_ID, id);
    }
    if !headers.contains_key(hyper::header::SERVER) {
        headers.insert(hyper::header::SERVER, HeaderValue::from_static("hangar"));
    }
}

pub(crate) fn error_response(error: &ProxyErrorCode) -> Response<ProxyBody> {
    error.response().map(full_body)
}

/// A 301 to the same host and path over https.
fn redirect_to_https(host: &str, uri: &hyper::Uri) -> Response<ProxyBody> {
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let location = format!("https://{}{}", strip_port(host), path);
    let mut response = Response::new(full_body(Full::new(Bytes::new())));
    *response.status_mut() = StatusCode::MOVED_PERMANENTLY;
    if let Ok(location) = HeaderValue::from_str(&location) {
        response
            .headers_mut()
            .insert(hyper::header::LOCATION, location);
    }
    response
}
