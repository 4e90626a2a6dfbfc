//! libFuzzer target: the first byte picks the format, the rest is the config text. Every input
//! goes through load, validation, conversion of each group, rendering and reloading.
#![no_main]

use hangar_config::{load_str, render, Format};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((selector, body)) = data.split_first() else {
        return;
    };
    let format = match selector % 3 {
        0 => Format::Toml,
        1 => Format::Json,
        _ => Format::Yaml,
    };
    let text = String::from_utf8_lossy(body);
    let Ok(loaded) = load_str(&text, format, Some(std::path::Path::new("/nonexistent/fly.toml"))) else {
        return;
    };
    let _ = loaded.check();
    let config = &loaded.config;
    for group in config.process_names().iter().take(16) {
        let _ = config.to_machine_config(group, None);
    }
    let _ = config.to_release_machine_config();
    let _ = config.to_console_machine_config();
    for out in [Format::Toml, Format::Json, Format::Yaml] {
        if let Ok(rendered) = render(config, out, true) {
            let _ = load_str(&rendered, out, None);
        }
    }
});
