//! The list of checks, and the two ways a driver runs them: all in one test
//! ([`run_all`]) or one `#[tokio::test]` each
//! ([`conformance_tests!`](crate::conformance_tests)), so that a failure
//! names its check.

use super::TestImage;
use crate::Driver;

/// Expands `$crate::__driver_conformance_expand!` over the name of every
/// check.
#[doc(hidden)]
#[macro_export]
macro_rules! __driver_conformance_cases {
    ($mode:ident $args:tt) => {
        $crate::__driver_conformance_expand!($mode $args;
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
            check_start_replaces_an_unrecorded_task,
        );
    };
}

/// Implementation detail of [`run_all`] and
/// [`conformance_tests!`](crate::conformance_tests).
#[doc(hidden)]
#[macro_export]
macro_rules! __driver_conformance_expand {
    (run ($driver:expr, $image:expr); $($check:ident),* $(,)?) => {
        $( $crate::conformance::$check($driver, $image).await; )*
    };
    (tests $setup:path; $($check:ident),* $(,)?) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $check() {
                let Some((driver, image)) = $setup(stringify!($check)).await else {
                    return;
                };
                $crate::conformance::$check(&driver, ::std::convert::AsRef::as_ref(&image)).await;
            }
        )*
    };
}

/// Expands to one `#[tokio::test]` per check of the suite. `$setup` names
/// an async fn taking the test's name and returning
/// `Option<(impl Driver, impl AsRef<TestImage>)>`: `None` (after a loud
/// SKIPPED line) where the test cannot run on this host. The calling crate
/// needs `tokio` (with `macros` and `rt-multi-thread`).
///
/// ```ignore
/// hangar_driver::conformance_tests!(common::setup);
/// ```
#[macro_export]
macro_rules! conformance_tests {
    ($setup:path) => {
        $crate::__driver_conformance_cases!(tests $setup);
    };
}

/// Runs every check of the suite against `driver`, one after another.
pub async fn run_all(driver: &dyn Driver, image: &TestImage) {
    eprintln!(
        "conformance: driver {} with {}",
        driver.name(),
        driver.isolation()
    );
    crate::__driver_conformance_cases!(run(driver, image));
}

impl AsRef<TestImage> for TestImage {
    fn as_ref(&self) -> &TestImage {
        self
    }
}
