//! hangar-agent
