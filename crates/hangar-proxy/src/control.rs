//! How the proxy asks its host to start and stop Machines.

/// Starts, stops and suspends Machines; implemented by the proxy's host over
/// the agent. Each call returns once the Machine reached the state (or failed).
#[async_trait::async_trait]
pub trait MachineControl: Send + Sync + 'static {
    /// Starts a stopped or suspended Machine; returns once it is started.
    async fn start(&self, app: &str, machine_id: &str) -> Result<(), String>;
    /// Stops a started Machine.
    async fn stop(&self, app: &str, machine_id: &str) -> Result<(), String>;
    /// Suspends a started Machine (the host may fall back to stopping it).
    async fn suspend(&self, app: &str, machine_id: &str) -> Result<(), String>;
}
