//! `hangar machine exec ID COMMAND`: run a command in a Machine.

use hangar_types::ExecRequest;

use super::ExecArgs;
use crate::context::Context;
use crate::error::CliError;
use crate::output::write_stdout;
use crate::parse::shell_words;

/// The argv to run: one argument is split like a shell would, several are
/// taken as they are.
pub(crate) fn exec_argv(command: &[String]) -> Result<Vec<String>, CliError> {
    let argv = match command {
        [single] => {
            shell_words::split(single).map_err(|err| CliError::InvalidArguments(err.to_string()))?
        }
        many => many.to_vec(),
    };
    if argv.is_empty() || argv[0].is_empty() {
        return Err(CliError::InvalidArguments(
            "the command to run is empty: pass it after the machine id, as in \
             `hangar machine exec ID 'ls -la /'`"
                .into(),
        ));
    }
    Ok(argv)
}

/// Runs the command; the process exit code is the command's (0-255).
pub(crate) async fn exec(ctx: &Context, app: &str, args: ExecArgs) -> anyhow::Result<i32> {
    let command = exec_argv(&args.command)?;
    let client = ctx.client()?;
    let request = ExecRequest {
        command,
        timeout: args
            .timeout
            .map(|t| i64::try_from(t.as_duration().as_secs().max(1)).unwrap_or(i64::MAX)),
        ..ExecRequest::default()
    };
    let answer = client
        .exec_machine(app, &args.id, &request)
        .await
        .map_err(|err| anyhow::anyhow!("running a command in machine {}: {err}", args.id))?;
    if ctx.output.is_json() {
        ctx.output.json(&answer)?;
    } else {
        write_stdout(&answer.stdout)?;
        eprint!("{}", answer.stderr);
    }
    Ok(exit_status(answer.exit_code))
}

/// A remote exit code as a local one: negative (killed) codes become 1.
fn exit_status(code: i32) -> i32 {
    if (0..=255).contains(&code) {
        code
    } else {
        1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_string_is_split_several_are_kept() {
        assert_eq!(
            exec_argv(&["sh -c 'echo hi'".into()]).unwrap(),
            ["sh", "-c", "echo hi"]
        );
        assert_eq!(
            exec_argv(&["echo".into(), "a b".into()]).unwrap(),
            ["echo", "a b"]
        );
        assert!(exec_argv(&["   ".into()]).is_err());
        assert!(exec_argv(&["'unclosed".into()]).is_err());
    }

    #[test]
    fn exit_codes_map_to_process_codes() {
        assert_eq!(exit_status(0), 0);
        assert_eq!(exit_status(3), 3);
        assert_eq!(exit_status(-9), 1);
        assert_eq!(exit_status(300), 1);
    }
}
