//! `.dockerignore`: which paths of the build context a build may see.
//!
//! One pattern a line; `#` starts a comment line; `!` makes an exception;
//! `*`, `?` and `[...]` match within one path component, `**` matches any
//! number of components. A pattern that matches a directory excludes
//! everything below it. The last matching pattern wins.

use std::path::Path;

/// The parsed rules of one `.dockerignore` file.
#[derive(Debug, Clone, Default)]
pub struct IgnoreRules {
    rules: Vec<Rule>,
}

#[derive(Debug, Clone)]
struct Rule {
    components: Vec<String>,
    exception: bool,
}

impl IgnoreRules {
    /// Reads `<context>/.dockerignore`; no file means no rules.
    pub fn load(context: &Path) -> std::io::Result<IgnoreRules> {
        match std::fs::read_to_string(context.join(".dockerignore")) {
            Ok(text) => Ok(IgnoreRules::parse(&text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(IgnoreRules::default()),
            Err(e) => Err(e),
        }
    }

    /// Parses the text of a `.dockerignore` file.
    pub fn parse(text: &str) -> IgnoreRules {
        let mut rules = Vec::new();
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (exception, pattern) = match line.strip_prefix('!') {
                Some(p) => (true, p.trim()),
                None => (false, line),
            };
            let components: Vec<String> = pattern
                .split('/')
                .filter(|c| !c.is_empty() && *c != ".")
                .map(str::to_owned)
                .collect();
            if !components.is_empty() {
                rules.push(Rule {
                    components,
                    exception,
                });
            }
        }
        IgnoreRules { rules }
    }

    /// True when the context-relative `path` (`/`-separated) is excluded.
    pub fn is_excluded(&self, path: &str) -> bool {
        let parts: Vec<&str> = path.split('/').filter(|c| !c.is_empty()).collect();
        let mut excluded = false;
        for rule in &self.rules {
            // A rule matching the path or any of its parent directories applies.
            let matched =
                (1..=parts.len()).any(|n| match_components(&rule.components, &parts[..n]));
            if matched {
                excluded = !rule.exception;
            }
        }
        excluded
    }

    /// True when an exception could re-include something below an excluded
    /// directory, so a walk has to look inside it.
    pub fn has_exceptions(&self) -> bool {
        self.rules.iter().any(|r| r.exception)
    }
}

fn match_components(pattern: &[String], path: &[&str]) -> bool {
    match pattern.split_first() {
        None => path.is_empty(),
        Some((first, rest)) if first == "**" => {
            (0..=path.len()).any(|skip| match_components(rest, &path[skip..]))
        }
        Some((first, rest)) => match path.split_first() {
            Some((name, path_rest)) => {
                glob_component(first.as_bytes(), name.as_bytes())
                    && match_components(rest, path_rest)
            }
            None => false,
        },
    }
}

/// Matches one path component against `*`, `?`, `[...]` (with `^`/`!` and
/// ranges) and `\`-escaped characters.
fn glob_component(pattern: &[u8], name: &[u8]) -> bool {
    match pattern.split_first() {
        None => name.is_empty(),
        Some((b'*', rest)) => (0..=name.len()).any(|i| glob_component(rest, &name[i..])),
        Some((b'?', rest)) => !name.is_empty() && glob_component(rest, &name[1..]),
        Some((b'[', rest)) => {
            let Some((&c, name_rest)) = name.split_first() else {
                return false;
            };
            let Some(end) = rest.iter().skip(1).position(|&b| b == b']').map(|p| p + 1) else {
                return pattern.first() == Some(&c) && glob_component(rest, name_rest);
            };
            let (class, after) = (&rest[..end], &rest[end + 1..]);
            let (negated, class) = match class.split_first() {
                Some((b'^' | b'!', tail)) => (true, tail),
                _ => (false, class),
            };
            let mut hit = false;
            let mut i = 0;
            while i < class.len() {
                if i + 2 < class.len() && class[i + 1] == b'-' {
                    hit |= class[i] <= c && c <= class[i + 2];
                    i += 3;
                } else {
                    hit |= class[i] == c;
                    i += 1;
                }
            }
            hit != negated && glob_component(after, name_rest)
        }
        Some((b'\\', rest)) if !rest.is_empty() => {
            name.first() == rest.first() && glob_component(&rest[1..], &name[1..])
        }
        Some((&p, rest)) => name.first() == Some(&p) && glob_component(rest, &name[1..]),
    }
}

/// Matches a COPY source glob (relative, `/`-separated) against a path.
pub(crate) fn glob_path(pattern: &str, path: &str) -> bool {
    let pattern: Vec<String> = pattern
        .split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .map(str::to_owned)
        .collect();
    let parts: Vec<&str> = path.split('/').filter(|c| !c.is_empty()).collect();
    match_components(&pattern, &parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exclusions_and_exceptions() {
        let rules =
            IgnoreRules::parse("# c\n*.log\n!keep.log\nbuild/\n**/secret*\ndocs/[a-c]?.md\n");
        assert!(rules.is_excluded("x.log"));
        assert!(!rules.is_excluded("keep.log"));
        assert!(rules.is_excluded("build/out/bin"));
        assert!(rules.is_excluded("a/b/secret.txt"));
        assert!(rules.is_excluded("secret"));
        assert!(rules.is_excluded("docs/b1.md"));
        assert!(!rules.is_excluded("docs/d1.md"));
        assert!(!rules.is_excluded("src/main.rs"));
        assert!(!rules.is_excluded("sub/x.log"));
    }
}
