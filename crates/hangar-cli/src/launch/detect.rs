//! What kind of project a directory holds, for `hangar launch`.

use std::path::Path;

/// A project layout `launch` knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ProjectKind {
    /// A Dockerfile is already there: it is used as it is.
    Dockerfile,
    Rust,
    Go,
    Node,
    Python,
    /// HTML files served as they are.
    Static,
}

impl ProjectKind {
    /// Name for people.
    pub(crate) fn name(self) -> &'static str {
        match self {
            ProjectKind::Dockerfile => "Dockerfile",
            ProjectKind::Rust => "Rust",
            ProjectKind::Go => "Go",
            ProjectKind::Node => "Node.js",
            ProjectKind::Python => "Python",
            ProjectKind::Static => "static site",
        }
    }

    /// The port the generated image listens on.
    pub(crate) fn default_port(self) -> i64 {
        match self {
            ProjectKind::Node => 3000,
            ProjectKind::Python => 8000,
            _ => 8080,
        }
    }
}

/// What `detect` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Detected {
    pub kind: ProjectKind,
    /// The port to route to: a Dockerfile's first `EXPOSE`, else the kind's default.
    pub port: i64,
}

/// Looks at `dir`: a Dockerfile first, then the marker file of each layout.
pub(crate) fn detect(dir: &Path) -> Option<Detected> {
    let has = |name: &str| dir.join(name).is_file();
    if has("Dockerfile") {
        let text = std::fs::read_to_string(dir.join("Dockerfile")).unwrap_or_default();
        return Some(Detected {
            kind: ProjectKind::Dockerfile,
            port: exposed_port(&text).unwrap_or(8080),
        });
    }
    let kind = if has("Cargo.toml") {
        ProjectKind::Rust
    } else if has("go.mod") {
        ProjectKind::Go
    } else if has("package.json") {
        ProjectKind::Node
    } else if has("requirements.txt") || has("pyproject.toml") || has("Pipfile") {
        ProjectKind::Python
    } else if has("index.html") || dir.join("public/index.html").is_file() {
        ProjectKind::Static
    } else {
        return None;
    };
    Some(Detected {
        kind,
        port: kind.default_port(),
    })
}

/// The first port of an `EXPOSE` instruction (`EXPOSE 8080/tcp 9090`).
pub(crate) fn exposed_port(dockerfile: &str) -> Option<i64> {
    dockerfile.lines().find_map(|line| {
        let mut words = line.split_whitespace();
        let instruction = words.next()?;
        if !instruction.eq_ignore_ascii_case("EXPOSE") {
            return None;
        }
        let first = words.next()?;
        first.split('/').next()?.parse().ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        dir
    }

    fn kind_of(files: &[(&str, &str)]) -> Option<Detected> {
        detect(project(files).path())
    }

    #[test]
    fn a_dockerfile_wins_and_its_expose_is_the_port() {
        let found = kind_of(&[
            ("Dockerfile", "FROM x\nexpose 9000/tcp 9001\n"),
            ("Cargo.toml", ""),
        ])
        .unwrap();
        assert_eq!(found.kind, ProjectKind::Dockerfile);
        assert_eq!(found.port, 9000);
        assert_eq!(kind_of(&[("Dockerfile", "FROM x\n")]).unwrap().port, 8080);
    }

    #[test]
    fn each_layout_is_recognised() {
        let cases = [
            ("Cargo.toml", ProjectKind::Rust, 8080),
            ("go.mod", ProjectKind::Go, 8080),
            ("package.json", ProjectKind::Node, 3000),
            ("requirements.txt", ProjectKind::Python, 8000),
            ("pyproject.toml", ProjectKind::Python, 8000),
            ("index.html", ProjectKind::Static, 8080),
            ("public/index.html", ProjectKind::Static, 8080),
        ];
        for (file, kind, port) in cases {
            let found = kind_of(&[(file, "")]).unwrap();
            assert_eq!((found.kind, found.port), (kind, port), "{file}");
        }
        assert_eq!(kind_of(&[("README.md", "")]), None);
    }
}
