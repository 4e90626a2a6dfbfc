//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use hangar_config::{load_file, load_str, Format, LoadedConfig};

/// Fails with both values when they differ.
#[macro_export]
macro_rules! expect_eq {
    ($left:expr, $right:expr) => {{
        let (left, right) = (&$left, &$right);
        if left != right {
            return Err(format!(
                "{}:{}: `{}` = {:?}, expected {:?}",
                file!(),
                line!(),
                stringify!($left),
                left,
                right
            ));
        }
    }};
}

/// Fails with a message when the condition is false.
#[macro_export]
macro_rules! expect {
    ($cond:expr, $($msg:tt)+) => {{
        if !$cond {
            return Err(format!("{}:{}: {}", file!(), line!(), format!($($msg)+)));
        }
    }};
}

/// The project's own fixtures directory.
pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Loads a fixture, panicking on a fatal load error.
pub fn fixture(name: &str) -> LoadedConfig {
    let path = fixtures_dir().join(name);
    load_file(&path).unwrap_or_else(|err| panic!("{name}: {err}"))
}

/// Loads TOML text.
pub fn toml(text: &str) -> LoadedConfig {
    load_str(text, Format::Toml, None).unwrap_or_else(|err| panic!("{err}"))
}
