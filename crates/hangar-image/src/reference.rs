//! Parsing image references: registry names and local `oci:`, `oci-archive:`, `docker-archive:` paths.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use crate::digest::Digest;
use crate::error::ImageError;

/// Docker Hub's canonical registry name.
pub(crate) const DOCKER_HUB: &str = "docker.io";
/// Where Docker Hub actually serves the distribution API.
const DOCKER_HUB_API: &str = "registry-1.docker.io";
/// Comma-separated registry hosts (`host` or `host:port`) that may be reached over plain HTTP.
pub const INSECURE_REGISTRIES_ENV: &str = "HANGAR_INSECURE_REGISTRIES";

/// A parsed reference: where the image comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum ParsedReference {
    Registry(RegistryReference),
    Local(LocalReference),
}

/// `registry/repository[:tag][@digest]`, normalised the way Docker does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RegistryReference {
    pub registry: String,
    pub repository: String,
    pub tag: Option<String>,
    pub digest: Option<Digest>,
}

/// Which on-disk format a local reference names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LocalFormat {
    OciLayout,
    OciArchive,
    DockerArchive,
}

impl LocalFormat {
    /// The transport prefix, without the colon.
    pub(crate) fn transport(self) -> &'static str {
        match self {
            LocalFormat::OciLayout => "oci",
            LocalFormat::OciArchive => "oci-archive",
            LocalFormat::DockerArchive => "docker-archive",
        }
    }
}

/// `TRANSPORT:PATH[:TAG]` with the path made absolute.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct LocalReference {
    pub format: LocalFormat,
    pub path: PathBuf,
    pub tag: Option<String>,
}

impl ParsedReference {
    /// Parses `reference`. Local forms must name an existing path.
    pub(crate) fn parse(reference: &str) -> Result<ParsedReference, ImageError> {
        let invalid = |reason: String| ImageError::InvalidReference {
            reference: reference.to_owned(),
            reason,
        };
        if reference.trim() != reference || reference.is_empty() {
            return Err(invalid(
                "it is empty or has surrounding whitespace".to_owned(),
            ));
        }
        for format in [
            LocalFormat::OciArchive,
            LocalFormat::DockerArchive,
            LocalFormat::OciLayout,
        ] {
            if let Some(rest) = reference
                .strip_prefix(format.transport())
                .and_then(|r| r.strip_prefix(':'))
            {
                return parse_local(reference, format, rest).map(ParsedReference::Local);
            }
        }
        parse_registry(reference)
            .map(ParsedReference::Registry)
            .map_err(invalid)
    }

    /// One spelling per image source, used to key the reference index.
    pub(crate) fn canonical(&self) -> String {
        match self {
            ParsedReference::Registry(r) => r.canonical(),
            ParsedReference::Local(l) => {
                let mut text = format!("{}:{}", l.format.transport(), l.path.display());
                if let Some(tag) = &l.tag {
                    text.push(':');
                    text.push_str(tag);
                }
                text
            }
        }
    }
}

impl RegistryReference {
    /// `registry/repository[:tag][@digest]`.
    pub(crate) fn canonical(&self) -> String {
        let mut text = format!("{}/{}", self.registry, self.repository);
        if let Some(tag) = &self.tag {
            text.push(':');
            text.push_str(tag);
        }
        if let Some(digest) = &self.digest {
            text.push('@');
            text.push_str(&digest.to_string());
        }
        text
    }

    /// What to ask the registry's manifest endpoint for: the digest if pinned, else the tag.
    pub(crate) fn manifest_selector(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(digest), _) => digest.to_string(),
            (None, Some(tag)) => tag.clone(),
            (None, None) => "latest".to_owned(),
        }
    }

    /// Base URL of the registry's distribution API (without `/v2/`).
    pub(crate) fn api_base(&self) -> String {
        let host = if self.registry == DOCKER_HUB {
            DOCKER_HUB_API
        } else {
            &self.registry
        };
        let scheme = if allows_plain_http(host) {
            "http"
        } else {
            "https"
        };
        format!("{scheme}://{host}")
    }
}

/// Loopback registries (and those listed in `HANGAR_INSECURE_REGISTRIES`) are spoken to over HTTP.
fn allows_plain_http(registry: &str) -> bool {
    let host = host_without_port(registry);
    let loopback = host == "localhost"
        || host.ends_with(".localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    loopback
        || std::env::var(INSECURE_REGISTRIES_ENV).is_ok_and(|list| {
            list.split(',')
                .map(str::trim)
                .any(|entry| entry == registry || entry == host)
        })
}

fn host_without_port(registry: &str) -> &str {
    if registry.starts_with('[') {
        return registry.find(']').map_or(registry, |end| &registry[..=end]);
    }
    registry.split(':').next().unwrap_or(registry)
}

fn parse_local(
    reference: &str,
    format: LocalFormat,
    rest: &str,
) -> Result<LocalReference, ImageError> {
    if rest.is_empty() {
        return Err(ImageError::InvalidReference {
            reference: reference.to_owned(),
            reason: format!(
                "no path after '{}:'; write {}:PATH[:TAG]",
                format.transport(),
                format.transport()
            ),
        });
    }
    // The path may itself contain colons: take the longest prefix that exists.
    let mut candidates = vec![(rest, None)];
    for (at, _) in rest.rmatch_indices(':') {
        candidates.push((&rest[..at], Some(&rest[at + 1..])));
    }
    for (path, tag) in &candidates {
        if path.is_empty() || !Path::new(path).exists() {
            continue;
        }
        if tag.is_some_and(str::is_empty) {
            return Err(ImageError::InvalidReference {
                reference: reference.to_owned(),
                reason: "the tag after the path is empty".to_owned(),
            });
        }
        let absolute = std::fs::canonicalize(path)
            .map_err(|e| ImageError::io_at("cannot resolve path", Path::new(path), e))?;
        return Ok(LocalReference {
            format,
            path: absolute,
            tag: tag.map(str::to_owned),
        });
    }
    let missing = match rest.rsplit_once(':') {
        Some((path, tag)) if !tag.contains('/') && !path.is_empty() => path,
        _ => rest,
    };
    Err(ImageError::NotFound {
        reference: reference.to_owned(),
        detail: format!(
            "{} does not exist; {}:PATH must name an existing {}",
            missing,
            format.transport(),
            match format {
                LocalFormat::OciLayout => "OCI image layout directory",
                LocalFormat::OciArchive => "tar archive of an OCI image layout",
                LocalFormat::DockerArchive => "`docker save` archive",
            }
        ),
    })
}

fn parse_registry(reference: &str) -> Result<RegistryReference, String> {
    let (name_and_tag, digest) = match reference.split_once('@') {
        Some((name, digest)) => (name, Some(Digest::parse(digest)?)),
        None => (reference, None),
    };
    let last_slash = name_and_tag.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match name_and_tag[last_slash..].rfind(':') {
        Some(colon) => {
            let at = last_slash + colon;
            (&name_and_tag[..at], Some(&name_and_tag[at + 1..]))
        }
        None => (name_and_tag, None),
    };
    if let Some(tag) = tag {
        validate_tag(tag)?;
    }
    let (registry, repository) = match name.split_once('/') {
        Some((first, rest))
            if first.contains('.') || first.contains(':') || first == "localhost" =>
        {
            validate_registry(first)?;
            (first.to_owned(), rest.to_owned())
        }
        _ => (DOCKER_HUB.to_owned(), name.to_owned()),
    };
    let registry = match registry.as_str() {
        "index.docker.io" | "registry-1.docker.io" => DOCKER_HUB.to_owned(),
        _ => registry,
    };
    validate_repository(&repository)?;
    let repository = if registry == DOCKER_HUB && !repository.contains('/') {
        format!("library/{repository}")
    } else {
        repository
    };
    let tag = match (tag, &digest) {
        (Some(tag), _) => Some(tag.to_owned()),
        (None, Some(_)) => None,
        (None, None) => Some("latest".to_owned()),
    };
    Ok(RegistryReference {
        registry,
        repository,
        tag,
        digest,
    })
}

fn validate_tag(tag: &str) -> Result<(), String> {
    let mut chars = tag.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if first_ok && rest_ok && tag.len() <= 128 {
        Ok(())
    } else {
        Err(format!(
            "tag {tag:?} must be 1-128 characters of letters, digits, '_', '.', '-', not starting with '.' or '-'"
        ))
    }
}

fn validate_registry(registry: &str) -> Result<(), String> {
    let bad = || format!("registry {registry:?} is not a valid host[:port]");
    let port = if let Some(end) = registry.strip_prefix('[').and_then(|r| r.find(']')) {
        if registry[1..=end].parse::<std::net::Ipv6Addr>().is_err() {
            return Err(bad());
        }
        registry[end + 2..].strip_prefix(':')
    } else {
        let (host, port) = match registry.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (registry, None),
        };
        let labels_ok = !host.is_empty()
            && host.split('.').all(|label| {
                !label.is_empty()
                    && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                    && !label.starts_with('-')
                    && !label.ends_with('-')
            });
        if !labels_ok {
            return Err(bad());
        }
        port
    };
    match port {
        None => Ok(()),
        Some(port) if port.parse::<u16>().is_ok_and(|p| p > 0) => Ok(()),
        Some(_) => Err(bad()),
    }
}

fn validate_repository(repository: &str) -> Result<(), String> {
    if repository.len() > 255 {
        return Err("repository name is longer than 255 characters".to_owned());
    }
    if repository.chars().any(|c| c.is_ascii_uppercase()) {
        return Err(format!("repository {repository:?} must be lowercase"));
    }
    for component in repository.split('/') {
        if !valid_path_component(component) {
            return Err(format!(
                "repository component {component:?} must be lowercase letters and digits, \
                 separated by '.', '_', '__' or dashes"
            ));
        }
    }
    Ok(())
}

/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`
fn valid_path_component(component: &str) -> bool {
    let bytes = component.as_bytes();
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if bytes.is_empty() || !alnum(bytes[0]) || !alnum(bytes[bytes.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        if alnum(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && !alnum(bytes[i]) {
            i += 1;
        }
        let separator = &component[start..i];
        let ok = matches!(separator, "." | "_" | "__") || separator.bytes().all(|b| b == b'-');
        if !ok {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registry(reference: &str) -> RegistryReference {
        match ParsedReference::parse(reference).unwrap() {
            ParsedReference::Registry(r) => r,
            other => panic!("{reference} parsed as {other:?}"),
        }
    }

    #[test]
    fn docker_hub_short_names() {
        let r = registry("nginx");
        assert_eq!(r.canonical(), "docker.io/library/nginx:latest");
        assert_eq!(r.api_base(), "https://registry-1.docker.io");
        assert_eq!(
            registry("docker.io/library/x:tag").canonical(),
            "docker.io/library/x:tag"
        );
        assert_eq!(registry("me/app").repository, "me/app");
    }

    #[test]
    fn loopback_registries_use_http() {
        let r = registry("127.0.0.1:5000/app:v1");
        assert_eq!(r.registry, "127.0.0.1:5000");
        assert_eq!(r.repository, "app");
        assert_eq!(r.tag.as_deref(), Some("v1"));
        assert_eq!(r.api_base(), "http://127.0.0.1:5000");
        assert_eq!(
            registry("localhost:5000/a/b").api_base(),
            "http://localhost:5000"
        );
        assert_eq!(registry("[::1]:5000/a").api_base(), "http://[::1]:5000");
        assert_eq!(registry("ghcr.io/a/b").api_base(), "https://ghcr.io");
    }

    #[test]
    fn digests() {
        let hex = "a".repeat(64);
        let r = registry(&format!("ghcr.io/a/b@sha256:{hex}"));
        assert_eq!(r.tag, None);
        assert_eq!(r.manifest_selector(), format!("sha256:{hex}"));
        let r = registry(&format!("ghcr.io/a/b:v2@sha256:{hex}"));
        assert_eq!(r.tag.as_deref(), Some("v2"));
        assert_eq!(r.manifest_selector(), format!("sha256:{hex}"));
    }

    #[test]
    fn rejects_bad_syntax() {
        for bad in [
            "",
            " nginx",
            "Nginx",
            "nginx:",
            "nginx:-bad",
            "a//b",
            "a/b@sha256:short",
            "a/b@md5:abc",
            "ghcr.io:99999/a",
            "a..b",
            "ex ample.com/x",
        ] {
            let err = ParsedReference::parse(bad).unwrap_err();
            assert!(
                matches!(err, ImageError::InvalidReference { .. }),
                "{bad:?} gave {err}"
            );
        }
    }

    #[test]
    fn local_paths_take_the_longest_existing_prefix() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lay:out");
        std::fs::create_dir(&path).unwrap();
        let text = format!("oci:{}:v1", path.display());
        match ParsedReference::parse(&text).unwrap() {
            ParsedReference::Local(l) => {
                assert_eq!(l.path, std::fs::canonicalize(&path).unwrap());
                assert_eq!(l.tag.as_deref(), Some("v1"));
            }
            other => panic!("{other:?}"),
        }
        let missing = format!("oci:{}/nope:v1", dir.path().display());
        assert!(matches!(
            ParsedReference::parse(&missing).unwrap_err(),
            ImageError::NotFound { .. }
        ));
        assert!(matches!(
            ParsedReference::parse("oci:").unwrap_err(),
            ImageError::InvalidReference { .. }
        ));
    }
}
