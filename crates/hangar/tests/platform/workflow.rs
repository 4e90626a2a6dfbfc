//! The developer workflow through the built `hangar` binary, as a user
//! types it: launch → deploy → status, logs, ssh, secrets, releases,
//! rollback, each strategy. Every command runs in the app's directory
//! (fly.toml there names the app).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use hangar_testbed::{BusyboxImage, Testbed};
use tokio::io::AsyncWriteExt;

use crate::support::*;

/// What one `hangar` invocation did.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub out: String,
    pub err: String,
}

impl Run {
    /// Panics with the output unless the command succeeded.
    pub fn ok(self) -> Run {
        assert_eq!(self.code, 0, "stdout: {}\nstderr: {}", self.out, self.err);
        self
    }

    /// Panics unless the command failed with exit code 1 and `needle` in stderr.
    pub fn fails_with(self, needle: &str) -> Run {
        assert_eq!(self.code, 1, "stdout: {}\nstderr: {}", self.out, self.err);
        assert!(self.err.contains(needle), "{needle:?} not in: {}", self.err);
        self
    }
}

/// `hangar` pointed at a testbed, run in a project directory.
pub struct Hangar<'a> {
    pub tb: &'a Testbed,
    pub dir: PathBuf,
}

impl<'a> Hangar<'a> {
    pub fn new(tb: &'a Testbed, project: &str) -> Self {
        Hangar {
            tb,
            dir: tb.scratch(project),
        }
    }

    pub async fn run(&self, args: &[&str]) -> Run {
        self.run_with_stdin(args, None).await
    }

    pub async fn run_with_stdin(&self, args: &[&str], stdin: Option<&str>) -> Run {
        self.run_full(args, stdin, true).await
    }

    /// Runs without `HANGAR_API_URL`/`HANGAR_API_TOKEN` (a stored login or
    /// flags must say where the API is); `XDG_CONFIG_HOME` is the project dir.
    pub async fn run_logged_out(&self, args: &[&str], stdin: Option<&str>) -> Run {
        self.run_full(args, stdin, false).await
    }

    /// Starts a long-running `hangar` (such as `logs`) with stdout piped;
    /// it is killed when dropped.
    pub fn spawn(&self, args: &[&str]) -> tokio::process::Child {
        tokio::process::Command::new(env!("CARGO_BIN_EXE_hangar"))
            .args(args)
            .current_dir(&self.dir)
            .env("HANGAR_API_URL", &self.tb.platform.url)
            .env("HANGAR_API_TOKEN", &self.tb.platform.token)
            .env("HOME", &self.dir)
            .env("NO_COLOR", "1")
            .env_remove("HANGAR_APP")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn hangar")
    }

    async fn run_full(&self, args: &[&str], stdin: Option<&str>, with_env: bool) -> Run {
        let proxy_port = self
            .tb
            .platform
            .proxy_addr
            .map(|a| a.port().to_string())
            .unwrap_or_default();
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_hangar"));
        command
            .args(args)
            .current_dir(&self.dir)
            .env("HANGAR_PROXY_PORT", proxy_port)
            .env("HOME", &self.dir)
            .env("USER", "tester")
            .env("NO_COLOR", "1")
            .env("HANGAR_DATA_DIR", self.dir.join("no-dev-data"))
            .env("XDG_CONFIG_HOME", self.dir.join("config"))
            .env_remove("HANGAR_APP");
        if with_env {
            command
                .env("HANGAR_API_URL", &self.tb.platform.url)
                .env("HANGAR_API_TOKEN", &self.tb.platform.token);
        } else {
            command
                .env_remove("HANGAR_API_URL")
                .env_remove("HANGAR_API_TOKEN");
        }
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("run hangar");
        let mut input = child.stdin.take().expect("stdin");
        if let Some(text) = stdin {
            input.write_all(text.as_bytes()).await.expect("write stdin");
        }
        drop(input);
        let output = tokio::time::timeout(Duration::from_secs(240), child.wait_with_output())
            .await
            .unwrap_or_else(|_| panic!("hangar {args:?} did not finish within 240s"))
            .expect("hangar output");
        Run {
            code: output.status.code().unwrap_or(-1),
            out: String::from_utf8_lossy(&output.stdout).into_owned(),
            err: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// The app's Machines through the API, by process group.
    pub async fn machines(&self, app: &str) -> Vec<hangar_types::Machine> {
        let mut machines = self
            .tb
            .client
            .list_machines(app, &Default::default())
            .await
            .expect("list machines");
        machines.retain(|m| m.state != hangar_types::MachineState::Destroyed);
        machines
    }

    pub fn fly_toml(&self) -> PathBuf {
        self.dir.join("fly.toml")
    }
}

/// A busybox image whose HTTP server logs a boot line with `$MODE`.
pub fn app_image(tb: &Testbed, name: &str) -> Option<BusyboxImage> {
    http_image(tb, name)
}

/// Appends `[env] MODE = mode` (or replaces the earlier one) in fly.toml.
pub fn set_mode(path: &Path, mode: &str) {
    let text = std::fs::read_to_string(path).expect("read fly.toml");
    let mut kept: Vec<&str> = text.lines().take_while(|line| *line != "[env]").collect();
    let env = format!("[env]\n  MODE = '{mode}'");
    kept.push(&env);
    std::fs::write(path, kept.join("\n") + "\n").expect("write fly.toml");
}

/// Appends an HTTP check on `/` to fly.toml's `[http_service]`.
fn add_http_check(path: &Path) {
    let text = std::fs::read_to_string(path).expect("read fly.toml");
    let check = "\n[[http_service.checks]]\n  interval = '1s'\n  timeout = '1s'\n  grace_period = '0s'\n  method = 'GET'\n  path = '/'\n";
    std::fs::write(path, text + check).expect("write fly.toml");
}

/// GETs the app over the proxy's TLS listener (launch sets force_https).
async fn get_over_tls(tb: &Testbed, host: &str) -> Result<String, String> {
    let tls = tb.platform.proxy_tls_addr.ok_or("no TLS listener")?;
    let client = reqwest::Client::builder()
        .resolve(host, tls)
        .danger_accept_invalid_certs(true)
        .timeout(Duration::from_secs(3))
        .build()
        .map_err(|e| e.to_string())?;
    let response = client
        .get(format!("https://{host}:{}/", tls.port()))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if !response.status().is_success() {
        return Err(format!("status {}", response.status()));
    }
    response.text().await.map_err(|e| e.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn launch_deploy_and_operate_an_app_from_the_command_line() {
    if hangar_testbed::skip_unless_root("launch_deploy_and_operate_an_app_from_the_command_line") {
        return;
    }
    let tb = testbed().await;
    let Some(image) = app_image(&tb, "wf-image") else {
        return;
    };
    let hangar = Hangar::new(&tb, "wfapp");
    let image = image.reference.as_str();

    // launch: fly.toml with flyctl's defaults, the app, a first deploy.
    let launched = hangar
        .run(&["launch", "--image", image, "--name", "wfapp", "--now"])
        .await
        .ok();
    assert!(launched.err.contains("succeeded"), "{}", launched.err);
    let fly_toml = std::fs::read_to_string(hangar.fly_toml()).unwrap();
    for line in [
        "app = \"wfapp\"",
        "internal_port = 8080",
        "force_https = true",
        "auto_stop_machines = \"stop\"",
        "min_machines_running = 0",
        "memory = '1gb'",
    ] {
        assert!(fly_toml.contains(line), "{line} not in {fly_toml}");
    }
    // A second launch does not overwrite fly.toml without --yes.
    hangar
        .run(&["launch", "--image", image, "--name", "other"])
        .await
        .fails_with("--yes");
    assert_eq!(
        std::fs::read_to_string(hangar.fly_toml()).unwrap(),
        fly_toml
    );

    // The app answers through the proxy (HTTPS; plain HTTP redirects).
    let body = hangar_testbed::wait_until_async(
        "the launched app to answer through the proxy",
        Duration::from_secs(30),
        || get_over_tls(&tb, "wfapp.localhost"),
    )
    .await;
    assert_eq!(body, "hello from a hangar machine\n");
    let open = hangar.run(&["open"]).await.ok();
    let proxy_port = tb.platform.proxy_addr.unwrap().port();
    assert_eq!(
        open.out.trim(),
        format!("http://wfapp.localhost:{proxy_port}/")
    );

    // status: the app, its release, its Machines by group.
    let status = hangar.run(&["status"]).await.ok();
    assert!(
        status.out.contains("wfapp") && status.out.contains("v1"),
        "{}",
        status.out
    );
    let machines = hangar.machines("wfapp").await;
    assert!(!machines.is_empty());
    for machine in &machines {
        assert!(status.out.contains(&machine.id), "{}", status.out);
    }
    let json = hangar.run(&["status", "--json"]).await.ok();
    let json: serde_json::Value = serde_json::from_str(&json.out).unwrap();
    assert_eq!(json["app"], "wfapp");

    // logs: the app's own output, prefixed with Machine and region.
    let first = &machines[0];
    let logs = hangar_testbed::wait_until_async(
        "the boot line in `hangar logs --no-tail`",
        Duration::from_secs(20),
        || async {
            let logs = hangar.run(&["logs", "--no-tail"]).await;
            let wanted = format!("app[{}] dev [info] booted {}", first.id, first.id);
            if logs.code == 0 && logs.out.contains(&wanted) {
                Ok(logs)
            } else {
                Err(format!("{logs:?}"))
            }
        },
    )
    .await;
    assert_eq!(logs.code, 0);

    // ssh console -C: output and exit code of the command.
    let ssh = hangar
        .run(&[
            "ssh",
            "console",
            "--machine",
            &first.id,
            "-C",
            "sh -c 'echo in $FLY_MACHINE_ID; exit 3'",
        ])
        .await;
    assert_eq!(ssh.code, 3, "{ssh:?}");
    assert_eq!(ssh.out.trim(), format!("in {}", first.id));

    // secrets: set restarts the Machines with the value; it is never shown.
    let set = hangar
        .run(&["secrets", "set", "WF_SECRET=s3cr3t-value"])
        .await
        .ok();
    assert!(!set.out.contains("s3cr3t-value") && !set.err.contains("s3cr3t-value"));
    let list = hangar.run(&["secrets", "list"]).await.ok();
    assert!(list.out.contains("WF_SECRET"), "{}", list.out);
    assert!(!list.out.contains("s3cr3t-value"), "{}", list.out);
    let list_json = hangar.run(&["secrets", "list", "--json"]).await.ok();
    assert!(!list_json.out.contains("s3cr3t-value"));
    let echo = hangar
        .run(&["ssh", "console", "-C", "sh -c 'echo $WF_SECRET'"])
        .await
        .ok();
    assert_eq!(
        echo.out.trim(),
        "s3cr3t-value",
        "the Machine boots with the secret"
    );
    let api = hangar.run(&["machine", "list", "--json"]).await.ok();
    assert!(
        !api.out.contains("s3cr3t-value"),
        "the API never returns secret values"
    );

    // Each strategy deploys a config change.
    for (strategy, mode) in [
        ("rolling", "one"),
        ("immediate", "two"),
        ("canary", "three"),
        ("bluegreen", "four"),
    ] {
        set_mode(&hangar.fly_toml(), mode);
        if strategy == "bluegreen" {
            // Bluegreen moves traffic once the new Machines pass a health
            // check, and launch's fly.toml has none: refused until one is added.
            hangar
                .run(&["deploy", "--image", image, "--strategy", strategy])
                .await
                .fails_with("the bluegreen strategy needs at least 1 health check");
            add_http_check(&hangar.fly_toml());
        }
        let run = hangar
            .run(&["deploy", "--image", image, "--strategy", strategy])
            .await;
        assert_eq!(run.code, 0, "{strategy}: {run:?}");
        let envs = hangar
            .run(&["ssh", "console", "-C", "sh -c 'echo $MODE'"])
            .await
            .ok();
        assert_eq!(envs.out.trim(), mode, "{strategy}");
    }

    // releases: one per deploy (and the secrets restart); rollback to v1.
    let releases = hangar.run(&["releases", "--json"]).await.ok();
    let releases: Vec<hangar_types::Release> = serde_json::from_str(&releases.out).unwrap();
    let latest = releases.iter().map(|r| r.version).max().unwrap();
    assert!(latest >= 6, "{releases:?}");
    let table = hangar.run(&["releases", "--image"]).await.ok();
    assert!(
        table.out.contains("v1") && table.out.contains(image),
        "{}",
        table.out
    );
    hangar.run(&["releases", "rollback", "v1", "-y"]).await.ok();
    let after: Vec<hangar_types::Release> =
        serde_json::from_str(&hangar.run(&["releases", "--json"]).await.ok().out).unwrap();
    assert_eq!(after.iter().map(|r| r.version).max(), Some(latest + 1));
    let mode = hangar
        .run(&["ssh", "console", "-C", "sh -c 'echo mode=$MODE'"])
        .await
        .ok();
    assert_eq!(mode.out.trim(), "mode=", "v1 had no MODE");

    // A detached deploy prints its id; `deploy status ID --watch` re-attaches.
    let detached = hangar
        .run(&["deploy", "--image", image, "--detach"])
        .await
        .ok();
    let id = detached.out.trim().to_string();
    assert!(!id.is_empty() && !id.contains(' '), "{detached:?}");
    let watched = hangar.run(&["deploy", "status", &id, "--watch"]).await;
    assert_eq!(watched.code, 0, "{watched:?}");
    tb.stop().await;
}
