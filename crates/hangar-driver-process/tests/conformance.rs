//! The driver conformance suite against the process driver: isolated (as root)
//! and with isolation disabled.

mod common;

mod isolated {
    hangar_driver::conformance_tests!(super::common::isolated_setup);
}

mod unisolated {
    hangar_driver::conformance_tests!(super::common::unisolated_setup);
}
