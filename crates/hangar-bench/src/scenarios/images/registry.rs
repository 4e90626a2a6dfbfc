//! Push to the platform's built-in registry and deploy through its control
//! plane, timed.

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use hangar_image::push::RegistryLogin;
use hangar_types::{CreateAppRequest, CreateDeployRequest, DeployState, MachineState};

use crate::error::BenchError;
use crate::platform::{BenchPlatform, REGION};
use crate::probe::{poll_until, wait_http};

/// How long one deploy may take until its Machine serves HTTP.
const DEPLOY_TIMEOUT: Duration = Duration::from_secs(180);
/// The port the example app listens on.
const PORT: u16 = 8080;

/// The registry host (`127.0.0.1:port`) of the platform.
pub fn registry_host(platform: &BenchPlatform) -> String {
    let url = platform.api_url();
    url.split_once("://")
        .map_or(url, |(_, rest)| rest)
        .trim_end_matches('/')
        .to_string()
}

/// Pushes the layout's image as `<registry>/<app>/<name>:<tag>`, creating the
/// app first (the registry takes pushes only for apps that exist); returns
/// the by-digest reference and how long the push took.
pub async fn push(
    platform: &BenchPlatform,
    layout: &Path,
    repository: &str,
    tag: &str,
) -> Result<(String, Duration), BenchError> {
    let host = registry_host(platform);
    let login = RegistryLogin {
        user: "hangar".into(),
        password: platform.token().to_string(),
    };
    create_app(platform, repository.split('/').next().unwrap_or(repository)).await?;
    let started = Instant::now();
    let digest = hangar_image::push::push_oci_layout(
        layout,
        &format!("{host}/{repository}:{tag}"),
        Some(&login),
    )
    .await
    .map_err(BenchError::step(format!("push to {host}/{repository}")))?;
    Ok((format!("{host}/{repository}@{digest}"), started.elapsed()))
}

/// Creates `app` (if needed); returns nothing but an error.
pub async fn create_app(platform: &BenchPlatform, app: &str) -> Result<(), BenchError> {
    if platform.client.get_app(app).await.is_ok() {
        return Ok(());
    }
    platform
        .client
        .create_app(&CreateAppRequest {
            app_name: Some(app.into()),
            org_slug: Some("personal".into()),
            ..Default::default()
        })
        .await
        .map(|_| ())
        .map_err(BenchError::api(format!("create app {app}")))
}

/// The fly.toml of an example deploy: one Machine serving 8080 as HTTP.
fn fly_toml(app: &str) -> String {
    format!(
        "app = \"{app}\"\nprimary_region = \"{REGION}\"\n\n\
         [http_service]\n  internal_port = {PORT}\n  force_https = false\n  \
         auto_stop_machines = \"off\"\n  min_machines_running = 1\n\n\
         [[vm]]\n  cpu_kind = \"shared\"\n  cpus = 1\n  memory = \"256mb\"\n"
    )
}

/// Deploys `image` to `app` (created first) and waits until the deploy
/// succeeded and its Machine answers HTTP on port 8080; returns the time
/// from the deploy request to that answer. The app's Machines are
/// destroyed afterwards.
pub async fn deploy(
    platform: &BenchPlatform,
    app: &str,
    image: &str,
) -> Result<Duration, BenchError> {
    create_app(platform, app).await?;
    let client = &platform.client;
    let started = Instant::now();
    let deploy = client
        .create_deploy(
            app,
            &CreateDeployRequest {
                image: image.to_string(),
                fly_toml: fly_toml(app),
                ha: Some(false),
                author: Some("hangar-bench".into()),
                ..Default::default()
            },
        )
        .await
        .map_err(BenchError::api(format!("deploy {app}")))?;
    let done = poll_until(
        &format!("deploy {} of {app}", deploy.id),
        DEPLOY_TIMEOUT,
        || async {
            match client.get_deploy(app, &deploy.id).await {
                Ok(d) if d.state.is_final() => Ok(d),
                Ok(d) => Err(format!("state {}", d.state)),
                Err(e) => Err(e.to_string()),
            }
        },
    )
    .await?;
    if done.state != DeployState::Succeeded {
        return Err(BenchError::Step {
            step: format!("deploy {} of {app}", done.id),
            detail: format!("{}: {}", done.state, done.error.unwrap_or_default()),
        });
    }
    let machines = client
        .list_machines(app, &Default::default())
        .await
        .map_err(BenchError::api(format!("list machines of {app}")))?;
    let addr = machines
        .iter()
        .filter(|m| m.state != MachineState::Destroyed)
        .find_map(|m| {
            m.private_ipv4
                .as_deref()?
                .parse::<std::net::Ipv4Addr>()
                .ok()
        })
        .map(|ip| SocketAddr::from((ip, PORT)))
        .ok_or_else(|| BenchError::Step {
            step: format!("deploy of {app}"),
            detail: "succeeded but no Machine has a private IPv4 address".into(),
        })?;
    wait_http(addr, DEPLOY_TIMEOUT).await?;
    let elapsed = started.elapsed();
    destroy_app_machines(platform, app).await;
    Ok(elapsed)
}

/// Destroys every Machine of `app`, ignoring errors (cleanup).
pub async fn destroy_app_machines(platform: &BenchPlatform, app: &str) {
    let Ok(machines) = platform
        .client
        .list_machines(app, &Default::default())
        .await
    else {
        return;
    };
    for m in machines {
        let _ = platform
            .client
            .destroy_machine(
                app,
                &m.id,
                hangar_client::DestroyOptions {
                    force: true,
                    kill: true,
                },
            )
            .await;
    }
}
