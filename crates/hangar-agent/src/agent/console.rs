//! Interactive console sessions in a started Machine.

use hangar_driver::{ConsoleRequest, ConsoleSession, TerminalSize};

use super::Agent;
use crate::error::AgentError;

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
        let (task, mut env) = self.exec_target(id).await?;
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
