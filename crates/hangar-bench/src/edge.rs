//! The Hangar edge proxy under test, wired over the platform's agent the
//! way `hangar dev` wires it (`hangar::platform`): route snapshots from
//! `hangar::edge::route_snapshots`, starts and stops through
//! `hangar::edge::AgentControl`, `Proxy::serve_http` on a loopback port that
//! stands for public port 80, and the autostop loop. Client connections are
//! served by `--workers` connection workers (threads with a runtime each),
//! as in `hangar dev`; the rest runs on the benchmark's own runtime.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hangar_agent::Agent;
use hangar_proxy::{Proxy, ProxyConfig, RouteTable};
use hangar_types::MachineState;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::error::BenchError;
use crate::probe::poll_until;

/// Apps answer at `<app>.<APP_DOMAIN>`.
pub const APP_DOMAIN: &str = "localhost";

/// A running edge proxy.
pub struct BenchEdge {
    /// Where it listens (HTTP, public port 80).
    pub addr: SocketAddr,
    routes: watch::Receiver<Arc<RouteTable>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl BenchEdge {
    /// Starts the proxy on 127.0.0.1 (an ephemeral port) over `agent`'s
    /// Machines, its client connections served by `workers` connection
    /// workers as `hangar dev --proxy-workers` would; Machines of `region`
    /// are local to it. `lean_http1` false serves every request on the
    /// proxy's hyper path (for comparison).
    pub async fn start(
        agent: Arc<Agent>,
        region: &str,
        workers: usize,
        lean_http1: bool,
    ) -> Result<BenchEdge, BenchError> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|source| BenchError::Io {
                path: "127.0.0.1:0 (proxy listener)".into(),
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| BenchError::Io {
            path: "proxy listener address".into(),
            source,
        })?;
        let routes = hangar::edge::route_snapshots(agent.clone()).await;
        let config = ProxyConfig {
            app_domain: APP_DOMAIN.into(),
            region: region.into(),
            connection_workers: workers,
            lean_http1,
            ..Default::default()
        };
        let proxy = Proxy::new(
            config,
            routes.clone(),
            hangar::edge::AgentControl::new(agent),
        );
        let serve = proxy
            .clone()
            .serve_http(listener, crate::backend::PUBLIC_PORT);
        let tasks = vec![
            tokio::spawn(async move {
                if let Err(e) = serve.await {
                    eprintln!("hangar-bench: the edge proxy stopped: {e}");
                }
            }),
            proxy.spawn_autostop(),
        ];
        Ok(BenchEdge {
            addr,
            routes,
            tasks,
        })
    }

    /// The Host header that routes to `app`.
    pub fn host_of(app: &str) -> String {
        format!("{app}.{APP_DOMAIN}")
    }

    /// Waits (bounded) until the proxy's route table shows Machine `id` in
    /// `state`, so that a measured request sees what the API reported.
    pub async fn wait_route_state(
        &self,
        id: &str,
        state: MachineState,
        timeout: Duration,
    ) -> Result<(), BenchError> {
        let what = format!("the proxy's route table to show {id} {state}");
        poll_until(&what, timeout, || {
            let table = self.routes.borrow().clone();
            async move {
                match table.machines.iter().find(|m| m.id == id) {
                    Some(m) if m.state == state => Ok(()),
                    Some(m) => Err(format!(
                        "generation {}: {id} is {}",
                        table.generation, m.state
                    )),
                    None => Err(format!("generation {}: no {id}", table.generation)),
                }
            }
        })
        .await
    }

    /// Stops the listener and the autostop loop.
    pub fn stop(self) {
        for task in self.tasks {
            task.abort();
        }
    }
}
