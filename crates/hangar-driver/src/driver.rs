//! The [`Driver`] trait.

use crate::{
    ConsoleRequest, ConsoleSession, DriverError, ExecOutput, ExecRequest, Isolation, MachineSpec,
    ProcessInfo, StartedTask, TaskHandle,
};

/// Runs Machines on this host.
///
/// Every operation after [`Driver::start`] takes the [`TaskHandle`] that
/// `start` returned, so that an agent that restarted can keep controlling (or
/// [`Driver::recover`]) tasks it started before.
#[async_trait::async_trait]
pub trait Driver: Send + Sync + 'static {
    /// Short stable name of the driver (`"process"`, `"docker"`), recorded in handles.
    fn name(&self) -> &'static str;

    /// How well this driver isolates Machines on this host, decided at construction.
    fn isolation(&self) -> Isolation;

    /// Starts the Machine with a fresh writable layer on top of its image layers.
    /// A task that an earlier start of the same Machine left running without
    /// its handle ever being recorded (the agent died in between) is stopped
    /// and cleaned up first, so that it neither blocks this start nor runs
    /// beside it.
    async fn start(&self, spec: &MachineSpec) -> Result<StartedTask, DriverError>;

    /// Sends `signal` to the Machine's main process.
    async fn signal(&self, handle: &TaskHandle, signal: i32) -> Result<(), DriverError>;

    /// Sends SIGKILL to every process of the Machine.
    async fn kill(&self, handle: &TaskHandle) -> Result<(), DriverError>;

    /// Suspends every process of the Machine.
    async fn freeze(&self, handle: &TaskHandle) -> Result<(), DriverError>;

    /// Resumes a Machine suspended by [`Driver::freeze`].
    async fn thaw(&self, handle: &TaskHandle) -> Result<(), DriverError>;

    /// Runs a command inside the running Machine and collects its output.
    async fn exec(&self, handle: &TaskHandle, req: ExecRequest) -> Result<ExecOutput, DriverError>;

    /// Starts a command inside the running Machine on a new pseudo-terminal
    /// (its controlling terminal, in a session of its own) and returns the
    /// session: terminal bytes both ways, resize, and the exit code.
    async fn console(
        &self,
        handle: &TaskHandle,
        req: ConsoleRequest,
    ) -> Result<ConsoleSession, DriverError>;

    /// Lists the processes running inside the Machine.
    async fn ps(&self, handle: &TaskHandle) -> Result<Vec<ProcessInfo>, DriverError>;

    /// Releases everything the task held once it has exited (mounts, cgroups,
    /// network devices, its writable layer). Idempotent.
    async fn cleanup(&self, handle: &TaskHandle) -> Result<(), DriverError>;

    /// After an agent crash: kills whatever of the task survived and cleans up. Idempotent.
    async fn recover(&self, handle: &TaskHandle) -> Result<(), DriverError>;
}
