//! `hangar machine logs ID [-f]`: a Machine's stdout and stderr.

use futures_util::StreamExt;
use hangar_client::{LogLine, LogOptions};

use super::LogsArgs;
use crate::context::Context;

/// One log line as text: `TIMESTAMP [stream] message`.
pub(crate) fn format_log_line(line: &LogLine) -> String {
    format!(
        "{} [{}] {}",
        line.timestamp,
        line.stream,
        line.message.trim_end_matches(['\n', '\r'])
    )
}

pub(crate) async fn logs(ctx: &Context, app: &str, args: LogsArgs) -> anyhow::Result<i32> {
    let client = ctx.client()?;
    let options = LogOptions {
        follow: args.follow,
        tail: args.tail,
    };
    let mut lines = client.machine_logs(app, &args.id, &options).await?;
    while let Some(line) = lines.next().await {
        let line = line?;
        if ctx.output.is_json() {
            ctx.output.json_line(&line)?;
        } else {
            ctx.output.line(format_log_line(&line))?;
        }
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_show_time_stream_and_message() {
        let line = LogLine {
            timestamp: "2026-11-28T10:00:00Z".into(),
            stream: "stderr".into(),
            message: "listening on :8080\n".into(),
            instance_id: "01J".into(),
        };
        assert_eq!(
            format_log_line(&line),
            "2026-11-28T10:00:00Z [stderr] listening on :8080"
        );
    }
}
