//! hangar-server
