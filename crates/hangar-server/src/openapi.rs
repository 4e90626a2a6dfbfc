//! The API's OpenAPI document, generated from the handlers' annotations.
//! A checked-in copy lives at `openapi/hangar.json`; a test fails when it is
//! stale (regenerate with `HANGAR_UPDATE_OPENAPI=1 cargo test -p hangar-server --test openapi`).

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::http::{
    apps, certificates, deploys, leases, machine_actions, machines, releases, secrets, volumes,
};

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Hangar Machines API", description = "Wire-compatible with Fly.io's Machines API, plus Hangar extensions (machine logs)."),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
    paths(
        apps::list_apps, apps::create_app, apps::get_app, apps::delete_app,
        machines::list_machines, machines::create_machine, machines::get_machine, machines::update_machine, machines::destroy_machine,
        machines::events, machines::versions, machines::logs, machines::get_metadata, machines::set_metadata, machines::delete_metadata,
        machine_actions::start, machine_actions::stop, machine_actions::suspend, machine_actions::restart, machine_actions::signal,
        machine_actions::cordon, machine_actions::uncordon, machine_actions::wait, machine_actions::exec, machine_actions::ps,
        leases::get_lease, leases::create_lease, leases::release_lease,
        volumes::list_volumes, volumes::create_volume, volumes::get_volume, volumes::update_volume, volumes::delete_volume,
        volumes::extend_volume, volumes::list_snapshots, volumes::create_snapshot,
        certificates::request_acme, certificates::list, certificates::show, certificates::delete,
        deploys::create_deploy, deploys::list_deploys, deploys::get_deploy, deploys::deploy_events,
        releases::list_releases, releases::rollback,
        secrets::list_secrets, secrets::set_secrets, secrets::unset_secrets,
    ),
    tags((name = "Apps"), (name = "Machines"), (name = "Volumes"), (name = "Certificates"), (name = "Deploys"), (name = "Releases"), (name = "Secrets"))
)]
pub struct ApiDoc;

/// The document as pretty JSON, ending with a newline.
pub fn document() -> String {
    let mut json = ApiDoc::openapi().to_pretty_json().unwrap_or_default();
    json.push('\n');
    json
}
