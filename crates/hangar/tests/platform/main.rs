//! End-to-end tests of the single-host platform: real API on a real socket,
//! real SQLite, real process driver (namespaces, cgroups, bridge network).
//! One test binary, so the platform is linked once.

mod api_errors;
mod checks_and_logs;
mod cli;
mod crash_recovery;
mod deploy_build;
mod docker_driver;
mod edge;
mod isolation;
mod leases;
mod lifecycle;
mod proxy_process;
mod restart_policies;
mod route_watch;
mod secrets_version;
mod server_deploy_crash;
mod server_deploy_load;
mod server_deploy_machine_checks;
mod server_deploy_one_offs;
mod server_deploy_regions;
mod server_deploy_strategy_rules;
mod server_deploy_volumes;
mod server_deploys;
mod server_deploys_support;
mod server_releases_secrets;
mod ssh_console;
mod support;
mod volumes;
mod workflow;
mod workflow_apps;
mod workflow_auth;
mod workflow_config;
mod workflow_errors;
mod workflow_machines;
mod workflow_scale;
