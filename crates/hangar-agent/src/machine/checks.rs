//! Machine checks: TCP and HTTP probes of a started Machine, run on their
//! interval after a grace period, reported in the Machine's `checks`.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hangar_types::{MachineCheck, MachineConfig};
use http_body_util::Empty;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::sync::mpsc;

/// One check to run, with its resolved name and defaults.
#[derive(Debug, Clone)]
pub struct CheckPlan {
    pub name: String,
    pub check: MachineCheck,
    pub port: u16,
    pub interval: Duration,
    pub timeout: Duration,
    pub grace_period: Duration,
}

/// A result to record.
#[derive(Debug, Clone)]
pub struct CheckResult {
    pub name: String,
    pub passing: bool,
    pub output: String,
}

/// Collects the top-level checks and every service check of a config.
pub fn plan(config: &MachineConfig) -> Vec<CheckPlan> {
    let mut plans = Vec::new();
    let mut add = |name: String, check: &MachineCheck, default_port: Option<i64>| {
        let Some(port) = check
            .port
            .or(default_port)
            .and_then(|p| u16::try_from(p).ok())
        else {
            return;
        };
        plans.push(CheckPlan {
            name,
            check: check.clone(),
            port,
            interval: check
                .interval
                .map(|d| d.0)
                .unwrap_or(Duration::from_secs(15))
                .max(Duration::from_millis(100)),
            timeout: check.timeout.map(|d| d.0).unwrap_or(Duration::from_secs(2)),
            grace_period: check.grace_period.map(|d| d.0).unwrap_or_default(),
        });
    };
    for (name, check) in &config.checks {
        add(name.clone(), check, None);
    }
    for (i, service) in config.services.iter().enumerate() {
        for check in &service.checks {
            let kind = check.check_type.clone().unwrap_or_else(|| "tcp".into());
            let port = check.port.unwrap_or(service.internal_port);
            add(
                format!("servicecheck-{i:02}-{kind}-{port}"),
                check,
                Some(service.internal_port),
            );
        }
    }
    plans
}

/// Runs one check once against `ip`.
pub async fn probe(plan: &CheckPlan, ip: IpAddr) -> CheckResult {
    let addr = SocketAddr::new(ip, plan.port);
    let kind = plan.check.check_type.as_deref().unwrap_or("tcp");
    let outcome = tokio::time::timeout(plan.timeout, async {
        match kind {
            "http" => probe_http(plan, addr).await,
            _ => TcpStream::connect(addr)
                .await
                .map(|_| format!("connected to {addr}"))
                .map_err(|e| format!("cannot connect to {addr}: {e}")),
        }
    })
    .await
    .unwrap_or_else(|_| Err(format!("timed out after {:?}", plan.timeout)));
    match outcome {
        Ok(output) => CheckResult {
            name: plan.name.clone(),
            passing: true,
            output,
        },
        Err(output) => CheckResult {
            name: plan.name.clone(),
            passing: false,
            output,
        },
    }
}

async fn probe_http(plan: &CheckPlan, addr: SocketAddr) -> Result<String, String> {
    let stream = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("HTTP handshake with {addr} failed: {e}"))?;
    tokio::spawn(conn);
    let path = plan.check.path.clone().unwrap_or_else(|| "/".into());
    let method = plan
        .check
        .method
        .clone()
        .unwrap_or_else(|| "GET".into())
        .to_uppercase();
    let mut request = hyper::Request::builder()
        .method(method.as_str())
        .uri(&path)
        .header("host", addr.to_string())
        .header("user-agent", "hangar-check/1");
    for header in &plan.check.headers {
        for value in &header.values {
            request = request.header(header.name.as_str(), value.as_str());
        }
    }
    let request = request
        .body(Empty::<bytes::Bytes>::new())
        .map_err(|e| format!("bad check request: {e}"))?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| format!("{method} {path} failed: {e}"))?;
    let status = response.status();
    if status.is_success() || status.is_redirection() {
        Ok(format!("{method} {path}: {status}"))
    } else {
        Err(format!("{method} {path}: {status}"))
    }
}

/// Runs every check on its own interval until the returned task is aborted.
pub fn spawn(
    plans: Vec<CheckPlan>,
    ip: IpAddr,
    results: mpsc::Sender<CheckResult>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tasks = Vec::new();
        for plan in plans {
            let results = results.clone();
            tasks.push(tokio::spawn(async move {
                tokio::time::sleep(plan.grace_period).await;
                let mut ticker = tokio::time::interval(plan.interval);
                loop {
                    ticker.tick().await;
                    let result = probe(&plan, ip).await;
                    if results.send(result).await.is_err() {
                        return;
                    }
                }
            }));
        }
        struct AbortOnDrop(Vec<tokio::task::JoinHandle<()>>);
        impl Drop for AbortOnDrop {
            fn drop(&mut self) {
                for t in &self.0 {
                    t.abort();
                }
            }
        }
        let _guard = AbortOnDrop(tasks);
        std::future::pending::<()>().await;
    })
}
