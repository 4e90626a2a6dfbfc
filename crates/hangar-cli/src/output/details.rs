//! A titled list of `Label = value` lines, as `machine status` shows.

use super::{sanitize_cell, BOLD, RESET};

/// A detail list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Details {
    title: String,
    rows: Vec<(String, String)>,
}

impl Details {
    pub fn new(title: impl Into<String>) -> Self {
        Details {
            title: title.into(),
            rows: Vec::new(),
        }
    }

    /// Adds a line; blank values are kept so the layout is the same for
    /// every machine.
    pub fn push(&mut self, label: impl Into<String>, value: impl Into<String>) {
        self.rows.push((label.into(), sanitize_cell(&value.into())));
    }

    /// The list as text: the title, then indented, aligned lines.
    pub fn render(&self, styled: bool) -> String {
        let width = self
            .rows
            .iter()
            .map(|(label, _)| label.chars().count())
            .max()
            .unwrap_or(0);
        let mut out = String::new();
        if styled {
            out.push_str(&format!("{BOLD}{}{RESET}\n", self.title));
        } else {
            out.push_str(&format!("{}\n", self.title));
        }
        for (label, value) in &self.rows {
            let line = format!("  {label:<width$} = {value}");
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_align_and_blank_values_stay() {
        let mut details = Details::new("Machine");
        details.push("ID", "3d8d413b29d089");
        details.push("Private IP", "172.30.0.2");
        details.push("Volume", "");
        assert_eq!(
            details.render(false),
            "Machine\n  ID         = 3d8d413b29d089\n  Private IP = 172.30.0.2\n  Volume     =\n"
        );
        assert!(details.render(true).starts_with("\x1b[1mMachine\x1b[0m\n"));
    }
}
