//! Identifier formats, matching Fly's: machine ids are 14 lowercase hex
//! characters, volume ids `vol_` + 16 lowercase alphanumerics, snapshot ids
//! `vs_` + 16, instance ids (machine versions) ULIDs, and machine names
//! two words and a number (`aged-wind-2649`).

use rand::seq::IndexedRandom;
use rand::Rng;

const ALNUM: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";

fn random_from(alphabet: &[u8], len: usize) -> String {
    let mut rng = rand::rng();
    (0..len)
        .map(|_| *alphabet.choose(&mut rng).unwrap() as char)
        .collect()
}

/// A new machine id: 14 lowercase hex characters.
pub fn new_machine_id() -> String {
    random_from(b"0123456789abcdef", 14)
}

/// A new volume id: `vol_` and 16 lowercase alphanumerics.
pub fn new_volume_id() -> String {
    format!("vol_{}", random_from(ALNUM, 16))
}

/// A new volume snapshot id: `vs_` and 16 lowercase alphanumerics.
pub fn new_snapshot_id() -> String {
    format!("vs_{}", random_from(ALNUM, 16))
}

/// A new instance id (one per machine version): a ULID, time-ordered.
pub fn new_instance_id() -> String {
    ulid::Ulid::new().to_string()
}

/// A new lease nonce.
pub fn new_nonce() -> String {
    random_from(b"0123456789abcdef", 32)
}

/// A new app id.
pub fn new_app_id() -> String {
    random_from(ALNUM, 20)
}

const ADJECTIVES: &[&str] = &[
    "aged",
    "ancient",
    "autumn",
    "billowing",
    "bitter",
    "black",
    "blue",
    "bold",
    "broad",
    "calm",
    "cold",
    "cool",
    "crimson",
    "curly",
    "damp",
    "dark",
    "dawn",
    "delicate",
    "divine",
    "dry",
    "empty",
    "falling",
    "fancy",
    "flat",
    "floral",
    "fragrant",
    "frosty",
    "gentle",
    "green",
    "hidden",
    "holy",
    "icy",
    "jolly",
    "late",
    "lingering",
    "little",
    "lively",
    "long",
    "lucky",
    "misty",
    "morning",
    "muddy",
    "nameless",
    "noisy",
    "odd",
    "old",
    "orange",
    "patient",
    "plain",
    "polished",
    "proud",
    "purple",
    "quiet",
    "rapid",
    "raspy",
    "red",
    "restless",
    "rough",
    "round",
    "royal",
    "shiny",
    "shy",
    "silent",
    "small",
    "snowy",
    "soft",
    "solitary",
    "sparkling",
    "spring",
    "square",
    "steep",
    "still",
    "summer",
    "sweet",
    "throbbing",
    "tight",
    "tiny",
    "twilight",
    "wandering",
    "weathered",
    "white",
    "wild",
    "winter",
    "wispy",
    "withered",
    "yellow",
    "young",
];

const NOUNS: &[&str] = &[
    "art",
    "band",
    "bar",
    "base",
    "bird",
    "block",
    "boat",
    "bonus",
    "bread",
    "breeze",
    "brook",
    "bush",
    "butterfly",
    "cake",
    "cell",
    "cherry",
    "cloud",
    "credit",
    "darkness",
    "dawn",
    "dew",
    "disk",
    "dream",
    "dust",
    "feather",
    "field",
    "fire",
    "firefly",
    "flower",
    "fog",
    "forest",
    "frog",
    "frost",
    "glade",
    "glitter",
    "grass",
    "hall",
    "hat",
    "haze",
    "heart",
    "hill",
    "king",
    "lab",
    "lake",
    "leaf",
    "limit",
    "math",
    "meadow",
    "mode",
    "moon",
    "morning",
    "mountain",
    "mouse",
    "mud",
    "night",
    "paper",
    "pine",
    "poetry",
    "pond",
    "queen",
    "rain",
    "recipe",
    "resonance",
    "rice",
    "river",
    "salad",
    "scene",
    "sea",
    "shadow",
    "shape",
    "silence",
    "sky",
    "smoke",
    "snow",
    "snowflake",
    "sound",
    "star",
    "sun",
    "sunset",
    "surf",
    "term",
    "thunder",
    "tooth",
    "tree",
    "truth",
    "union",
    "unit",
    "violet",
    "voice",
    "water",
    "waterfall",
    "wave",
    "wildflower",
    "wind",
    "wood",
];

/// A new human-friendly machine name such as `aged-wind-2649`.
pub fn new_machine_name() -> String {
    let mut rng = rand::rng();
    format!(
        "{}-{}-{}",
        ADJECTIVES.choose(&mut rng).unwrap(),
        NOUNS.choose(&mut rng).unwrap(),
        rng.random_range(1000..10000)
    )
}

/// Whether `name` is a valid app name: lowercase letters, digits and dashes,
/// starting with a letter, at most 63 characters.
pub fn is_valid_app_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && !name.ends_with('-')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_match_fly() {
        let id = new_machine_id();
        assert_eq!(id.len(), 14);
        assert!(id
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        let vol = new_volume_id();
        assert!(vol.starts_with("vol_") && vol.len() == 20);
        assert_eq!(new_machine_name().split('-').count(), 3);
        assert!(is_valid_app_name("my-app-2"));
        assert!(!is_valid_app_name("My_App"));
        assert!(!is_valid_app_name("-x"));
    }
}
