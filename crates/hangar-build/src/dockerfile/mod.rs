//! The Dockerfile parser: instructions with their line numbers, grouped into
//! build stages. Arguments are kept raw; variables are substituted when the
//! builder runs an instruction (values depend on earlier ARG and ENV).

mod lines;
pub mod words;

use std::path::{Path, PathBuf};

pub use lines::Directives;

/// A parsed Dockerfile.
#[derive(Debug, Clone)]
pub struct Dockerfile {
    /// Where it was read from (for messages).
    pub path: PathBuf,
    pub directives: Directives,
    /// `ARG`s before the first `FROM`: usable in `FROM` lines.
    pub global_args: Vec<Instruction>,
    pub stages: Vec<Stage>,
}

/// One `FROM` and the instructions up to the next one.
#[derive(Debug, Clone)]
pub struct Stage {
    /// The base as written (variables not yet substituted).
    pub base: String,
    /// The `AS` name, lower-cased.
    pub name: Option<String>,
    pub line: usize,
    pub instructions: Vec<Instruction>,
}

/// One instruction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instruction {
    pub line: usize,
    /// Upper-cased keyword (`COPY`).
    pub keyword: String,
    /// Leading `--name=value` flags (`--name` alone has an empty value).
    pub flags: Vec<(String, String)>,
    pub args: Args,
}

/// Arguments in JSON (exec) form or as raw text (shell form).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Args {
    Json(Vec<String>),
    Text(String),
}

impl Instruction {
    /// The value of flag `name`, if given.
    pub fn flag(&self, name: &str) -> Option<&str> {
        self.flags
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The raw text of the arguments (JSON form joined with spaces).
    pub fn text(&self) -> String {
        match &self.args {
            Args::Json(items) => items.join(" "),
            Args::Text(text) => text.clone(),
        }
    }
}

/// A Dockerfile problem: the line and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}:{line}: {message}", path.display())]
pub struct ParseError {
    pub path: PathBuf,
    pub line: usize,
    pub message: String,
}

const KEYWORDS: &[&str] = &[
    "ADD",
    "ARG",
    "CMD",
    "COPY",
    "ENTRYPOINT",
    "ENV",
    "EXPOSE",
    "FROM",
    "HEALTHCHECK",
    "LABEL",
    "MAINTAINER",
    "ONBUILD",
    "RUN",
    "SHELL",
    "STOPSIGNAL",
    "USER",
    "VOLUME",
    "WORKDIR",
];

/// Instructions whose arguments may be a JSON array.
const JSON_CAPABLE: &[&str] = &["ADD", "CMD", "COPY", "ENTRYPOINT", "RUN", "SHELL", "VOLUME"];

/// Parses Dockerfile `text` read from `path`.
pub fn parse(path: &Path, text: &str) -> Result<Dockerfile, ParseError> {
    let fail = |line: usize, message: String| ParseError {
        path: path.to_path_buf(),
        line,
        message,
    };
    let (directives, logical) = lines::split(text).map_err(|(line, m)| fail(line, m))?;
    let mut global_args = Vec::new();
    let mut stages: Vec<Stage> = Vec::new();
    for line in logical {
        let instruction =
            parse_instruction(line.line, &line.text).map_err(|m| fail(line.line, m))?;
        if instruction.keyword == "FROM" {
            stages.push(parse_from(&instruction).map_err(|m| fail(line.line, m))?);
            continue;
        }
        match stages.last_mut() {
            Some(stage) => stage.instructions.push(instruction),
            None if instruction.keyword == "ARG" => global_args.push(instruction),
            None => {
                return Err(fail(
                    line.line,
                    format!(
                        "{} before the first FROM: a Dockerfile must start with FROM (only ARG may come before it)",
                        instruction.keyword
                    ),
                ))
            }
        }
    }
    if stages.is_empty() {
        return Err(fail(
            1,
            "the Dockerfile has no FROM instruction; start it with e.g. `FROM scratch`".into(),
        ));
    }
    Ok(Dockerfile {
        path: path.to_path_buf(),
        directives,
        global_args,
        stages,
    })
}

fn parse_instruction(line: usize, text: &str) -> Result<Instruction, String> {
    let text = text.trim();
    let (word, rest) = text.split_once(char::is_whitespace).unwrap_or((text, ""));
    let keyword = word.to_ascii_uppercase();
    if !KEYWORDS.contains(&keyword.as_str()) {
        return Err(format!(
            "unknown instruction {word:?} (broken Dockerfile line: expected one of {})",
            KEYWORDS.join(", ")
        ));
    }
    let mut rest = rest.trim_start();
    let mut flags = Vec::new();
    if !matches!(
        keyword.as_str(),
        "ENV" | "LABEL" | "ARG" | "CMD" | "ENTRYPOINT"
    ) {
        while let Some(after) = rest.strip_prefix("--") {
            let (flag, remainder) = after.split_once(char::is_whitespace).unwrap_or((after, ""));
            let (name, value) = flag.split_once('=').unwrap_or((flag, ""));
            if name.is_empty() {
                return Err("empty flag `--`".into());
            }
            flags.push((name.to_owned(), value.to_owned()));
            rest = remainder.trim_start();
        }
    }
    if contains_heredoc(&keyword, rest) {
        return Err(format!(
            "{keyword} with a heredoc (<<) is not supported; put the content in a file in the build context and COPY it"
        ));
    }
    let args = if JSON_CAPABLE.contains(&keyword.as_str()) && rest.starts_with('[') {
        match serde_json::from_str::<Vec<String>>(rest) {
            Ok(items) => Args::Json(items),
            // Docker falls back to shell form when the JSON is not an array of strings.
            Err(_) => Args::Text(rest.to_owned()),
        }
    } else {
        Args::Text(rest.to_owned())
    };
    if matches!(&args, Args::Text(t) if t.is_empty())
        && !matches!(keyword.as_str(), "CMD" | "ENTRYPOINT")
    {
        return Err(format!("{keyword} needs arguments"));
    }
    let _ = line;
    Ok(Instruction {
        line,
        keyword,
        flags,
        args,
    })
}

fn contains_heredoc(keyword: &str, rest: &str) -> bool {
    if !matches!(keyword, "RUN" | "COPY" | "ADD") {
        return false;
    }
    rest.match_indices("<<").any(|(i, _)| {
        let after = rest[i + 2..].trim_start_matches('-');
        let after = after.trim_start_matches(['"', '\'']);
        after
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
    })
}

fn parse_from(instruction: &Instruction) -> Result<Stage, String> {
    for (name, _) in &instruction.flags {
        if name != "platform" {
            return Err(format!("FROM does not take --{name}"));
        }
    }
    let text = instruction.text();
    let parts: Vec<&str> = text.split_whitespace().collect();
    let (base, name) = match parts.as_slice() {
        [base] => (*base, None),
        [base, as_word, name] if as_word.eq_ignore_ascii_case("as") => {
            let valid = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
            if !valid {
                return Err(format!(
                    "invalid stage name {name:?}: use letters, digits, '-', '_' and '.', starting with a letter"
                ));
            }
            (*base, Some(name.to_ascii_lowercase()))
        }
        _ => {
            return Err(format!(
                "FROM expects `FROM <image> [AS <name>]`, got `FROM {text}`"
            ))
        }
    };
    Ok(Stage {
        base: base.to_owned(),
        name,
        line: instruction.line,
        instructions: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stages_and_forms() {
        let df = parse(
            Path::new("Dockerfile"),
            "ARG V=1\nFROM scratch AS Build\nCOPY --chown=1:2 a b\nCMD [\"x\", \"y\"]\nFROM build\nCMD echo hi\n",
        )
        .unwrap();
        assert_eq!(df.global_args.len(), 1);
        assert_eq!(df.stages[0].name.as_deref(), Some("build"));
        let copy = &df.stages[0].instructions[0];
        assert_eq!(copy.flag("chown"), Some("1:2"));
        assert_eq!(
            df.stages[0].instructions[1].args,
            Args::Json(vec!["x".into(), "y".into()])
        );
        assert_eq!(
            df.stages[1].instructions[0].args,
            Args::Text("echo hi".into())
        );
    }

    #[test]
    fn errors_name_the_line() {
        let e = parse(Path::new("D"), "FROM scratch\n\nFROBNICATE x\n").unwrap_err();
        assert_eq!(e.line, 3);
        assert!(e.to_string().starts_with("D:3: unknown instruction"));
        let e = parse(Path::new("D"), "FROM scratch\nRUN <<EOF\necho\nEOF\n").unwrap_err();
        assert!(e.message.contains("heredoc"), "{e}");
    }
}
