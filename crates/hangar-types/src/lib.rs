//! hangar-types
