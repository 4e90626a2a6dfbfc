//! The driver conformance suite against the process driver: isolated (as root)
//! and with isolation disabled.

mod common;

use hangar_driver::conformance;
use hangar_driver::{Driver, Isolation};

macro_rules! conformance_tests {
    ($($name:ident),* $(,)?) => {
        mod isolated {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if common::skip_unless_root_with_busybox(stringify!($name)) {
                        return;
                    }
                    let fixture = common::busybox_image();
                    let driver = common::driver(&fixture);
                    assert_eq!(driver.isolation(), Isolation::Full, "this host should allow full isolation");
                    conformance::$name(&driver, &fixture.image).await;
                }
            )*
        }
        mod unisolated {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if !std::path::Path::new("/bin/busybox").exists() {
                        eprintln!("!!! SKIPPING {}: /bin/busybox is missing", stringify!($name));
                        return;
                    }
                    let fixture = common::busybox_image();
                    let driver = common::unisolated_driver(&fixture);
                    assert!(matches!(driver.isolation(), Isolation::None { .. }));
                    conformance::$name(&driver, &fixture.image).await;
                }
            )*
        }
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
