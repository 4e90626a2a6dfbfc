//! hangar-client
