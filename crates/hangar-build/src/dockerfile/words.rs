//! Quote removal and variable substitution in instruction arguments, the way
//! Docker does it for ENV, ARG, LABEL, COPY, WORKDIR, USER and the like:
//! `$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:+alt}`,
//! `${VAR+alt}`, `${VAR:?message}`; single quotes keep everything literal;
//! the escape character makes the next character literal.

/// Looks a variable up (build args and environment of the stage so far).
pub type Vars<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Splits `input` into words on unquoted whitespace, removing quotes and
/// substituting variables.
pub fn expand_words(input: &str, escape: char, vars: Vars<'_>) -> Result<Vec<String>, String> {
    Expander::new(input, escape, vars).run(true)
}

/// Like [`expand_words`] but keeps whitespace: one word.
pub fn expand_word(input: &str, escape: char, vars: Vars<'_>) -> Result<String, String> {
    Ok(Expander::new(input, escape, vars)
        .run(false)?
        .into_iter()
        .next()
        .unwrap_or_default())
}

struct Expander<'a> {
    chars: Vec<char>,
    pos: usize,
    escape: char,
    vars: Vars<'a>,
}

impl<'a> Expander<'a> {
    fn new(input: &str, escape: char, vars: Vars<'a>) -> Self {
        Expander {
            chars: input.chars().collect(),
            pos: 0,
            escape,
            vars,
        }
    }

    fn run(mut self, split: bool) -> Result<Vec<String>, String> {
        let mut words = Vec::new();
        let mut word = String::new();
        let mut in_word = false;
        while let Some(c) = self.next() {
            if split && c.is_whitespace() {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
                continue;
            }
            in_word = true;
            if c == self.escape {
                match self.next() {
                    Some(n) => word.push(n),
                    None => word.push(c),
                }
            } else if c == '\'' {
                loop {
                    match self.next() {
                        Some('\'') => break,
                        Some(n) => word.push(n),
                        None => return Err("unterminated single quote".into()),
                    }
                }
            } else if c == '"' {
                loop {
                    match self.next() {
                        Some('"') => break,
                        Some(n) if n == self.escape => match self.next() {
                            Some(q) if q == '"' || q == '$' || q == self.escape => word.push(q),
                            Some(q) => {
                                word.push(n);
                                word.push(q);
                            }
                            None => return Err("unterminated double quote".into()),
                        },
                        Some('$') => word.push_str(&self.variable()?),
                        Some(n) => word.push(n),
                        None => return Err("unterminated double quote".into()),
                    }
                }
            } else if c == '$' {
                word.push_str(&self.variable()?);
            } else {
                word.push(c);
            }
        }
        if in_word || (!split && words.is_empty()) {
            words.push(word);
        }
        Ok(words)
    }

    fn next(&mut self) -> Option<char> {
        let c = self.chars.get(self.pos).copied();
        self.pos += usize::from(c.is_some());
        c
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn name(&mut self) -> String {
        let mut name = String::new();
        while let Some(c) = self.peek() {
            let ok = c == '_' || c.is_ascii_alphanumeric();
            if !ok || (name.is_empty() && c.is_ascii_digit()) {
                break;
            }
            name.push(c);
            self.pos += 1;
        }
        name
    }

    /// After a `$`: the substituted value.
    fn variable(&mut self) -> Result<String, String> {
        if self.peek() != Some('{') {
            let name = self.name();
            if name.is_empty() {
                return Ok("$".into());
            }
            return Ok((self.vars)(&name).unwrap_or_default());
        }
        self.pos += 1;
        let name = self.name();
        if name.is_empty() {
            return Err("bad substitution: ${ must be followed by a variable name".into());
        }
        let value = (self.vars)(&name);
        let operator: String = match self.peek() {
            Some('}') => {
                self.pos += 1;
                return Ok(value.unwrap_or_default());
            }
            Some(':') => {
                self.pos += 1;
                match self.next() {
                    Some(op @ ('-' | '+' | '?')) => format!(":{op}"),
                    _ => {
                        return Err(format!(
                            "bad substitution in ${{{name}:…}}: expected :-, :+ or :?"
                        ))
                    }
                }
            }
            Some(op @ ('-' | '+' | '?')) => {
                self.pos += 1;
                op.to_string()
            }
            _ => {
                return Err(format!(
                    "bad substitution: ${{{name} is missing its closing }}"
                ))
            }
        };
        let word = self.braced_word()?;
        let word = expand_word(&word, self.escape, self.vars)?;
        let set = value.is_some();
        let non_empty = value.as_deref().is_some_and(|v| !v.is_empty());
        Ok(match operator.as_str() {
            ":-" if non_empty => value.unwrap_or_default(),
            ":-" => word,
            "-" if set => value.unwrap_or_default(),
            "-" => word,
            ":+" if non_empty => word,
            "+" if set => word,
            ":+" | "+" => String::new(),
            _ if non_empty || (operator == "?" && set) => value.unwrap_or_default(),
            _ => {
                let message = if word.is_empty() {
                    "is not set".to_owned()
                } else {
                    word
                };
                return Err(format!("{name}: {message}"));
            }
        })
    }

    /// The text up to the matching `}` (nested braces allowed).
    fn braced_word(&mut self) -> Result<String, String> {
        let mut depth = 0;
        let mut word = String::new();
        while let Some(c) = self.next() {
            match c {
                '}' if depth == 0 => return Ok(word),
                '}' => depth -= 1,
                '{' => depth += 1,
                _ => {}
            }
            word.push(c);
        }
        Err("bad substitution: missing }".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(name: &str) -> Option<String> {
        match name {
            "A" => Some("one".into()),
            "E" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn substitutes_forms() {
        let w = |s: &str| expand_word(s, '\\', &vars).unwrap();
        assert_eq!(w("$A/${A}"), "one/one");
        assert_eq!(w("${B:-def}"), "def");
        assert_eq!(w("${E:-def}"), "def");
        assert_eq!(w("${E-def}"), "");
        assert_eq!(w("${A:+x}${B:+y}"), "x");
        assert_eq!(w("'$A'"), "$A");
        assert_eq!(w("\\$A"), "$A");
        assert_eq!(w("\"a $A\""), "a one");
        assert!(expand_word("${B:?needed}", '\\', &vars).is_err());
    }

    #[test]
    fn splits_words() {
        let words = expand_words("a=\"x y\" b=$A  c", '\\', &vars).unwrap();
        assert_eq!(words, vec!["a=x y", "b=one", "c"]);
    }
}
