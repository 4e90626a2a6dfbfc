//! Backend-agnostic conformance suite (cargo feature `conformance`).
//!
//! Every case is a `pub async fn` taking a fresh, empty store and panicking on
//! a violation. A backend runs them either all at once with [`run_all`] or one
//! `#[tokio::test]` per case with [`conformance_tests!`](crate::conformance_tests),
//! plus [`reopen_preserves_state`], which needs a backend-specific way to open
//! the same store twice. Cases need a multi-threaded tokio runtime.
//!
//! Waits are bounded by [`WAIT`]; nothing sleeps to synchronise.

mod compaction;
mod concurrency;
mod guarded;
mod kv;
mod reopen;
mod support;
mod txn;
mod watch;

use crate::Store;

pub use compaction::*;
pub use concurrency::*;
pub use guarded::Guarded;
pub use kv::*;
pub use reopen::reopen_preserves_state;
pub use support::WAIT;
pub use txn::*;
pub use watch::*;

/// Expands `$crate::__conformance_expand!` over the name of every case that
/// takes a fresh store.
#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_cases {
    ($mode:ident $make:expr) => {
        $crate::__conformance_expand!($mode $make;
            get_missing_key_is_none,
            put_then_get_tracks_revisions_and_version,
            revisions_are_global_and_monotonic,
            delete_removes_key_and_restarts_its_life,
            list_respects_prefix_boundaries_and_key_order,
            empty_key_is_rejected,
            cas_create_only_and_conflicts,
            txn_runs_success_or_failure_branch_atomically,
            txn_compare_kinds,
            txn_reads_do_not_advance_revision,
            txn_delete_prefix_removes_only_that_prefix,
            txn_invalid_branches_are_rejected_whole,
            json_helpers_roundtrip_and_report_bad_json,
            concurrent_cas_increments_lose_no_update,
            concurrent_puts_get_distinct_revisions,
            watch_replays_history_then_streams_live,
            watch_from_now_sees_only_new_events,
            watch_from_future_revision_waits_for_it,
            watch_resumes_after_disconnect_without_gap_or_duplicate,
            watch_prefix_sees_only_that_prefix,
            watch_reports_deletes_with_prev,
            watch_handover_under_concurrent_writes,
            watch_replays_large_revisions_completely,
            compaction_keeps_state_and_fails_old_watches,
        );
    };
}

/// Implementation detail of [`run_all`] and [`conformance_tests!`](crate::conformance_tests).
#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_expand {
    (run $make:expr; $($case:ident),* $(,)?) => {
        $( $crate::conformance::$case($make()).await; )*
    };
    (tests $make:expr; $($case:ident),* $(,)?) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let make = $make;
                $crate::conformance::$case(make()).await;
            }
        )*
    };
}

/// Runs the whole suite: each case gets a store from `make` (which must be
/// fresh and empty). [`reopen_preserves_state`] is not included.
pub async fn run_all<S: Store>(make: impl Fn() -> S) {
    crate::__conformance_cases!(run make);
}

/// Expands to one `#[tokio::test]` per conformance case, each calling `$make`
/// (an expression of type `impl Fn() -> impl Store`) for a fresh store. The
/// calling crate needs `tokio` (with `macros` and `rt-multi-thread`) as a
/// dev-dependency.
///
/// ```ignore
/// hangar_store::conformance_tests!(|| my_backend::open_temporary());
/// ```
#[macro_export]
macro_rules! conformance_tests {
    ($make:expr) => {
        $crate::__conformance_cases!(tests $make);
    };
}
