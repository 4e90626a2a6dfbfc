//! Interactive console sessions in a started Machine.

use hangar_driver::{ConsoleRequest, ConsoleSession, TerminalSize};

use super::Agent;
use crate::error::AgentError;
use crate::machine::launch;
use crate::machine::lifecycle::{self, Action};

/// `TERM` when the client names none.
const DEFAULT_TERM: &str = "xterm";

impl Agent {
    /// Starts `argv` inside a started Machine on a new pseudo-terminal of
    /// `size`, with the Machine's environment and `TERM` set to `term`.
    pub async fn console(
        &self,
        id: &str,
        argv: Vec<String>,
        term: Option<String>,
        size: TerminalSize,
    ) -> Result<ConsoleSession, AgentError> {
        let record = self.record(id).await?;
        lifecycle::check(id, record.state, Action::Exec)?;
        let task = record
            .task
            .clone()
            .ok_or_else(|| AgentError::NotFound(id.to_string()))?;
        let image = self.shared.images.resolve(&record.config.image).await?;
        let secrets = self.shared.secrets.resolve(&record.app);
        let mut env = launch::environment(&record, &image, &secrets);
        env.retain(|(name, _)| name != "TERM");
        env.push((
            "TERM".into(),
            term.filter(|t| !t.is_empty())
                .unwrap_or_else(|| DEFAULT_TERM.into()),
        ));
        Ok(self
            .shared
            .driver
            .console(&task, ConsoleRequest { argv, env, size })
            .await?)
    }
}
