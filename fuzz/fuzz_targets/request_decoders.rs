//! libFuzzer target: every request body decoder of the Machines API, plus the
//! scalar parsers the handlers apply to path and query values.
//!
//! Each input goes, whole, through:
//! - `serde_json` decoding of every request type a handler extracts from a
//!   body (`ApiJson`/`OptionalJson` are `serde_json` over these types);
//! - `parse_go_duration` (restart `timeout`, wait `timeout`) and
//!   `MachineState::from_str` (wait `state`), when the input is UTF-8.
//!
//! Properties checked, besides "does not panic":
//! - a value that decodes re-encodes, and the encoding decodes to an equal
//!   value (what a client that reads back and resends a config relies on);
//! - a parsed duration, formatted the Go way, parses back to the same
//!   duration; a parsed state's name is the input.
#![no_main]

use std::fmt::Debug;
use std::str::FromStr;

use hangar_types::duration::{format_go_duration, parse_go_duration};
use hangar_types::{
    CreateAppRequest, CreateLeaseRequest, CreateMachineRequest, CreateVolumeRequest, ExecRequest,
    ExtendVolumeRequest, GoDuration, MachineConfig, MachineState, MetadataValue, SignalRequest,
    StopRequest, UpdateMachineRequest, UpdateVolumeRequest,
};
use libfuzzer_sys::fuzz_target;
use serde::de::DeserializeOwned;
use serde::Serialize;

fuzz_target!(|data: &[u8]| {
    decode_bodies(data);
    if let Ok(text) = std::str::from_utf8(data) {
        parse_scalars(text);
    }
});

/// Every JSON request body the router decodes.
fn decode_bodies(body: &[u8]) {
    round_trip::<CreateMachineRequest>(body);
    round_trip::<UpdateMachineRequest>(body);
    round_trip::<MachineConfig>(body);
    round_trip::<StopRequest>(body);
    round_trip::<SignalRequest>(body);
    round_trip::<ExecRequest>(body);
    round_trip::<MetadataValue>(body);
    round_trip::<CreateLeaseRequest>(body);
    round_trip::<CreateAppRequest>(body);
    round_trip::<CreateVolumeRequest>(body);
    round_trip::<UpdateVolumeRequest>(body);
    round_trip::<ExtendVolumeRequest>(body);
    round_trip::<GoDuration>(body);
}

/// Decodes `body` as `T`; a success must survive encode → decode unchanged.
fn round_trip<T>(body: &[u8])
where
    T: Serialize + DeserializeOwned + PartialEq + Debug,
{
    let type_name = std::any::type_name::<T>();
    let Ok(decoded) = serde_json::from_slice::<T>(body) else {
        return;
    };
    let encoded = serde_json::to_vec(&decoded)
        .unwrap_or_else(|e| panic!("{type_name}: decoded value does not encode: {e}: {decoded:?}"));
    let redecoded = serde_json::from_slice::<T>(&encoded).unwrap_or_else(|e| {
        panic!(
            "{type_name}: own encoding does not decode: {e}: {}",
            String::from_utf8_lossy(&encoded)
        )
    });
    assert_eq!(
        decoded,
        redecoded,
        "{type_name}: value changed over encode/decode; encoding was {}",
        String::from_utf8_lossy(&encoded)
    );
}

/// The parsers handlers apply to query and path values.
fn parse_scalars(text: &str) {
    if let Ok(duration) = parse_go_duration(text) {
        let formatted = format_go_duration(duration);
        let reparsed = parse_go_duration(&formatted).unwrap_or_else(|e| {
            panic!("parse_go_duration rejects its own format {formatted:?}: {e}")
        });
        assert_eq!(
            duration, reparsed,
            "duration {text:?} formats as {formatted:?}, which parses to a different duration"
        );
    }
    if let Ok(state) = MachineState::from_str(text) {
        assert_eq!(state.as_str(), text, "state name does not round trip");
        let encoded = serde_json::to_string(&state).expect("a state encodes");
        let decoded: MachineState =
            serde_json::from_str(&encoded).expect("a state's encoding decodes");
        assert_eq!(state, decoded, "state changed over encode/decode");
    }
}
