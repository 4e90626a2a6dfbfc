//! Editing fly.toml in place, keeping the user's comments, formatting and ordering.
//!
//! Commands that change the config (launch, scale vm, config save, secrets-free setters) go
//! through [`TomlEditor`] instead of re-rendering the model, so a hand-written file stays
//! recognisable.

use std::path::Path;

use toml_edit::{value, Array, ArrayOfTables, DocumentMut, Item, Table};

/// Why an edit could not be made.
#[derive(Debug, thiserror::Error)]
pub enum EditError {
    /// The file could not be read or written.
    #[error("cannot access {path}: {source}")]
    Io {
        /// Path.
        path: String,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid TOML.
    #[error("fly.toml is not valid TOML: {0}; fix it before editing")]
    Parse(#[from] toml_edit::TomlError),
    /// A key on the path exists but is not a table.
    #[error("cannot set `{path}`: `{key}` is not a table in fly.toml; rename or remove it first")]
    NotATable {
        /// Path being set.
        path: String,
        /// Offending key.
        key: String,
    },
}

/// A fly.toml being edited.
#[derive(Debug, Clone)]
pub struct TomlEditor {
    document: DocumentMut,
}

impl TomlEditor {
    /// Parses TOML text.
    pub fn parse(text: &str) -> Result<Self, EditError> {
        Ok(Self {
            document: text.parse()?,
        })
    }

    /// Reads a file.
    pub fn open(path: &Path) -> Result<Self, EditError> {
        let text = std::fs::read_to_string(path).map_err(|source| EditError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text)
    }

    /// Writes the edited text to `path`.
    pub fn save(&self, path: &Path) -> Result<(), EditError> {
        std::fs::write(path, self.document.to_string()).map_err(|source| EditError::Io {
            path: path.display().to_string(),
            source,
        })
    }

    /// The edited text.
    pub fn text(&self) -> String {
        self.document.to_string()
    }

    /// The table at `path` (dotted keys), created as a `[section]` if missing.
    fn table_mut(&mut self, path: &[&str]) -> Result<&mut Table, EditError> {
        let mut table = self.document.as_table_mut();
        for (depth, key) in path.iter().enumerate() {
            let item = table.entry(key).or_insert_with(|| {
                let mut new = Table::new();
                new.set_implicit(depth + 1 < path.len());
                Item::Table(new)
            });
            if let Some(inline) = item.as_inline_table().cloned() {
                *item = Item::Table(inline.into_table());
            }
            table = item.as_table_mut().ok_or_else(|| EditError::NotATable {
                path: path.join("."),
                key: key.to_string(),
            })?;
        }
        Ok(table)
    }

    /// Sets `key` in the table at `path` (created when missing). An existing key keeps its
    /// comments and position; a new key is indented like its siblings.
    pub fn set(
        &mut self,
        path: &[&str],
        key: &str,
        new_value: impl Into<toml_edit::Value>,
    ) -> Result<(), EditError> {
        let table = self.table_mut(path)?;
        set_in(table, key, new_value.into());
        Ok(())
    }

    /// Removes `key` from the table at `path`; returns whether it existed.
    pub fn remove(&mut self, path: &[&str], key: &str) -> bool {
        let mut table = self.document.as_table_mut();
        for step in path {
            match table.get_mut(step).and_then(Item::as_table_mut) {
                Some(inner) => table = inner,
                None => return false,
            }
        }
        table.remove(key).is_some()
    }

    /// Sets the app name.
    pub fn set_app(&mut self, name: &str) -> Result<(), EditError> {
        self.set(&[], "app", name)
    }

    /// Sets the primary region.
    pub fn set_primary_region(&mut self, region: &str) -> Result<(), EditError> {
        self.set(&[], "primary_region", region)
    }

    /// Sets an `[env]` variable.
    pub fn set_env(&mut self, name: &str, env_value: &str) -> Result<(), EditError> {
        self.set(&["env"], name, env_value)
    }

    /// Sets a `[processes]` command.
    pub fn set_process(&mut self, group: &str, command: &str) -> Result<(), EditError> {
        self.set(&["processes"], group, command)
    }

    /// Sets `[deploy] release_command`, keeping the rest of `[deploy]`.
    pub fn set_release_command(&mut self, command: &str) -> Result<(), EditError> {
        self.set(&["deploy"], "release_command", command)
    }

    /// Sets `[experimental] cmd`.
    pub fn set_docker_command(&mut self, command: &[String]) -> Result<(), EditError> {
        self.set(&["experimental"], "cmd", string_array(command))
    }

    /// Sets `[experimental] entrypoint`.
    pub fn set_docker_entrypoint(&mut self, entrypoint: &[String]) -> Result<(), EditError> {
        self.set(&["experimental"], "entrypoint", string_array(entrypoint))
    }

    /// Sets the internal port of `[http_service]`, else of the first `[[services]]`; does nothing
    /// when there is neither. Returns whether a port was set.
    pub fn set_internal_port(&mut self, port: i64) -> Result<bool, EditError> {
        if self.document.get("http_service").is_some() {
            self.set(&["http_service"], "internal_port", port)?;
            return Ok(true);
        }
        match self.first_service_mut() {
            Some(service) => {
                set_in(service, "internal_port", port.into());
                Ok(true)
            }
            None => Ok(false),
        }
    }

    fn first_service_mut(&mut self) -> Option<&mut Table> {
        self.document
            .get_mut("services")
            .and_then(Item::as_array_of_tables_mut)
            .and_then(|services| services.get_mut(0))
    }

    /// Sets the size (and optionally memory) of the `[[vm]]` of `group` (`None` = the generic
    /// entry without `processes`), adding a `[[vm]]` when there is none — what `scale vm` does.
    pub fn set_vm(
        &mut self,
        group: Option<&str>,
        size: &str,
        memory: Option<&str>,
    ) -> Result<(), EditError> {
        let root = self.document.as_table_mut();
        if root.get("vm").is_some_and(|item| item.is_table()) {
            if let Some(Item::Table(single)) = root.remove("vm") {
                let mut array = ArrayOfTables::new();
                array.push(single);
                root.insert("vm", Item::ArrayOfTables(array));
            }
        }
        let entries = root
            .entry("vm")
            .or_insert_with(|| Item::ArrayOfTables(ArrayOfTables::new()));
        let Some(entries) = entries.as_array_of_tables_mut() else {
            return Err(EditError::NotATable {
                path: "vm".into(),
                key: "vm".into(),
            });
        };
        let matches = |table: &Table| {
            let processes: Vec<&str> = table
                .get("processes")
                .and_then(Item::as_array)
                .map(|a| a.iter().filter_map(|v| v.as_str()).collect())
                .unwrap_or_default();
            match group {
                Some(group) => processes.contains(&group),
                None => processes.is_empty(),
            }
        };
        let index = entries.iter().position(matches);
        let entry = match index {
            Some(index) => entries.get_mut(index).ok_or_else(|| EditError::NotATable {
                path: "vm".into(),
                key: "vm".into(),
            })?,
            None => {
                let mut table = Table::new();
                if let Some(group) = group {
                    table.insert("processes", value(string_array(&[group.to_string()])));
                }
                entries.push(table);
                let last = entries.len() - 1;
                entries.get_mut(last).ok_or_else(|| EditError::NotATable {
                    path: "vm".into(),
                    key: "vm".into(),
                })?
            }
        };
        set_in(entry, "size", size.into());
        match memory {
            Some(memory) => set_in(entry, "memory", memory.into()),
            None => {
                entry.remove("memory");
            }
        }
        entry.remove("memory_mb");
        entry.remove("cpus");
        entry.remove("cpu_kind");
        Ok(())
    }
}

/// Sets `key` in `table`: an existing key keeps its comments and position; a new key is indented
/// like its siblings.
fn set_in(table: &mut Table, key: &str, mut new_value: toml_edit::Value) {
    if let Some(existing) = table.get_mut(key) {
        if let Some(old) = existing.as_value() {
            *new_value.decor_mut() = old.decor().clone();
        }
        *existing = Item::Value(new_value);
        return;
    }
    let indent = sibling_indent(table);
    table.insert(key, Item::Value(new_value));
    if let (Some(indent), Some(mut inserted)) = (indent, table.key_mut(key)) {
        inserted.leaf_decor_mut().set_prefix(indent);
    }
}

/// The indentation (whitespace after the last newline) before the first key of `table`.
fn sibling_indent(table: &Table) -> Option<String> {
    let (first, _) = table.iter().next()?;
    let prefix = table
        .key(first)?
        .leaf_decor()
        .prefix()?
        .as_str()?
        .to_string();
    let indent = prefix.rsplit('\n').next().unwrap_or_default().to_string();
    (!indent.is_empty() && indent.chars().all(|c| c == ' ' || c == '\t')).then_some(indent)
}

fn string_array(items: &[String]) -> Array {
    items.iter().map(String::as_str).collect()
}
