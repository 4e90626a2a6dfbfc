//! hangar-testbed
