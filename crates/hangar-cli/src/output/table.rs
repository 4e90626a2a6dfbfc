//! Column-aligned tables, flyctl-style: an upper-case header row, columns
//! separated by blanks, no borders.

use super::{sanitize_cell, BOLD, RESET};

/// A table of text cells.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Table {
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
}

/// Blanks between two columns.
const GAP: usize = 3;

impl Table {
    /// A table with these column headers (shown upper-case).
    pub fn new<I, S>(headers: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Table {
            headers: headers
                .into_iter()
                .map(|h| h.into().to_uppercase())
                .collect(),
            rows: Vec::new(),
        }
    }

    /// Appends a row; missing cells are blank, extra cells are dropped.
    pub fn push_row<I, S>(&mut self, cells: I)
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut row: Vec<String> = cells
            .into_iter()
            .map(|cell| sanitize_cell(&cell.into()))
            .collect();
        row.resize(self.headers.len(), String::new());
        self.rows.push(row);
    }

    /// Whether the table has no rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The table as text, one line per row. `styled` makes the header bold.
    pub fn render(&self, styled: bool) -> String {
        let widths: Vec<usize> = (0..self.headers.len())
            .map(|column| {
                self.rows
                    .iter()
                    .map(|row| row[column].chars().count())
                    .chain([self.headers[column].chars().count()])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let mut out = String::new();
        let header = render_row(&self.headers, &widths);
        if styled {
            out.push_str(BOLD);
            out.push_str(&header);
            out.push_str(RESET);
        } else {
            out.push_str(&header);
        }
        out.push('\n');
        for row in &self.rows {
            out.push_str(&render_row(row, &widths));
            out.push('\n');
        }
        out
    }
}

fn render_row(cells: &[String], widths: &[usize]) -> String {
    let mut line = String::new();
    for (index, (cell, width)) in cells.iter().zip(widths).enumerate() {
        if index > 0 {
            line.push_str(&" ".repeat(GAP));
        }
        line.push_str(cell);
        line.push_str(&" ".repeat(width - cell.chars().count()));
    }
    line.truncate(line.trim_end().len());
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Table {
        let mut table = Table::new(["id", "name", "state"]);
        table.push_row(["3d8d413b29d089", "aged-wind-2649", "started"]);
        table.push_row(["e2865013b4e186", "web", ""]);
        table
    }

    #[test]
    fn plain_rendering_aligns_columns_without_trailing_blanks() {
        assert_eq!(
            sample().render(false),
            "ID               NAME             STATE\n\
             3d8d413b29d089   aged-wind-2649   started\n\
             e2865013b4e186   web\n"
        );
    }

    #[test]
    fn styled_rendering_only_bolds_the_header() {
        let text = sample().render(true);
        let mut lines = text.lines();
        assert_eq!(
            lines.next().unwrap(),
            "\x1b[1mID               NAME             STATE\x1b[0m"
        );
        assert!(!lines.any(|line| line.contains('\x1b')));
    }

    #[test]
    fn cells_cannot_break_the_layout() {
        let mut table = Table::new(["a", "b"]);
        table.push_row(["x\ny", "\x1b[31mred"]);
        table.push_row(["only one cell"]);
        assert_eq!(
            table.render(false),
            "A               B\n\
             x y              [31mred\n\
             only one cell\n"
        );
    }

    #[test]
    fn an_empty_table_is_its_header() {
        let table = Table::new(["name", "machines"]);
        assert!(table.is_empty());
        assert_eq!(table.render(false), "NAME   MACHINES\n");
    }
}
