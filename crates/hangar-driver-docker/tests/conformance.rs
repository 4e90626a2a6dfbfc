//! The driver conformance suite against the Docker driver, on this host's
//! Docker Engine. Without a reachable daemon (or without busybox to build the
//! test image from) every test prints SKIPPED and passes.

mod common;

use hangar_driver::conformance;
use hangar_driver::Driver;

macro_rules! conformance_tests {
    ($($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let Some((driver, fixture)) = common::setup(stringify!($name)).await else {
                    return;
                };
                assert!(driver.isolation().is_isolated(), "containers are isolated");
                conformance::$name(&driver, &fixture.image).await;
            }
        )*
    };
}

conformance_tests!(
    check_output_and_exit_code,
    check_signal_trap,
    check_signal_terminates,
    check_kill,
    check_freeze_thaw,
    check_exec,
    check_exec_timeout,
    check_ps,
    check_console,
    check_env_workdir_user,
    check_hostname_is_machine_id,
    check_volume_mount,
    check_missing_program,
    check_cleanup_leaves_nothing,
    check_recover_kills_survivors,
);
