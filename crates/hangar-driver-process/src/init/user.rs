//! Resolving `user` (`uid[:gid]` or a name) against the Machine's `/etc/passwd` and `/etc/group`.

use std::fs;

/// The identity a workload runs as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Identity {
    pub uid: u32,
    pub gid: u32,
    pub supplementary: Vec<u32>,
    pub home: String,
}

impl Identity {
    fn root() -> Self {
        Identity {
            uid: 0,
            gid: 0,
            supplementary: Vec::new(),
            home: "/root".into(),
        }
    }
}

struct PasswdEntry {
    name: String,
    uid: u32,
    gid: u32,
    home: String,
}

fn passwd_entries(passwd: &str) -> impl Iterator<Item = PasswdEntry> + '_ {
    passwd.lines().filter_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        if fields.len() < 6 {
            return None;
        }
        Some(PasswdEntry {
            name: fields[0].to_owned(),
            uid: fields[2].parse().ok()?,
            gid: fields[3].parse().ok()?,
            home: fields[5].to_owned(),
        })
    })
}

/// Resolves a group given by number or by name in `/etc/group` content.
fn group_id(group: &str, groups: &str) -> Option<u32> {
    group.parse().ok().or_else(|| {
        groups.lines().find_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            (fields.len() >= 3 && fields[0] == group)
                .then(|| fields[2].parse().ok())
                .flatten()
        })
    })
}

/// Groups listing `name` as a member.
fn supplementary_groups(name: &str, groups: &str) -> Vec<u32> {
    groups
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            if fields.len() < 4 || !fields[3].split(',').any(|member| member == name) {
                return None;
            }
            fields[2].parse().ok()
        })
        .collect()
}

/// Resolves `spec` with the current root's `/etc/passwd` and `/etc/group`.
pub(super) fn resolve(spec: Option<&str>) -> Result<Identity, String> {
    let passwd = fs::read_to_string("/etc/passwd").unwrap_or_default();
    let groups = fs::read_to_string("/etc/group").unwrap_or_default();
    resolve_with(spec, &passwd, &groups)
}

fn resolve_with(spec: Option<&str>, passwd: &str, groups: &str) -> Result<Identity, String> {
    let Some(spec) = spec.filter(|s| !s.is_empty()) else {
        return Ok(Identity::root());
    };
    let (user, group) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let entry = match user.parse::<u32>() {
        Ok(uid) => passwd_entries(passwd).find(|e| e.uid == uid).map_or(
            PasswdEntry {
                name: String::new(),
                uid,
                gid: uid,
                home: "/".into(),
            },
            |e| e,
        ),
        Err(_) => passwd_entries(passwd)
            .find(|e| e.name == user)
            .ok_or_else(|| {
                format!("user {user:?} is not in the image's /etc/passwd; use a numeric uid[:gid]")
            })?,
    };
    let gid = match group {
        Some(g) => group_id(g, groups).ok_or_else(|| {
            format!("group {g:?} is not in the image's /etc/group; use a numeric gid")
        })?,
        None => entry.gid,
    };
    let mut supplementary = if entry.name.is_empty() {
        Vec::new()
    } else {
        supplementary_groups(&entry.name, groups)
    };
    if !supplementary.contains(&gid) {
        supplementary.insert(0, gid);
    }
    Ok(Identity {
        uid: entry.uid,
        gid,
        supplementary,
        home: entry.home,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\napp:x:1000:1000::/home/app:/bin/sh\n";
    const GROUP: &str = "root:x:0:\nnogroup:x:65534:\napp:x:1000:\nwheel:x:10:app\n";

    #[test]
    fn resolves_names_numbers_and_groups() {
        assert_eq!(resolve_with(None, PASSWD, GROUP).unwrap(), Identity::root());
        let app = resolve_with(Some("app"), PASSWD, GROUP).unwrap();
        assert_eq!(
            (app.uid, app.gid, app.home.as_str()),
            (1000, 1000, "/home/app")
        );
        assert_eq!(app.supplementary, vec![1000, 10]);
        let numeric = resolve_with(Some("1234:2345"), PASSWD, GROUP).unwrap();
        assert_eq!((numeric.uid, numeric.gid), (1234, 2345));
        let named_group = resolve_with(Some("1000:nogroup"), PASSWD, GROUP).unwrap();
        assert_eq!(named_group.gid, 65534);
        assert!(resolve_with(Some("ghost"), PASSWD, GROUP)
            .unwrap_err()
            .contains("ghost"));
    }
}
