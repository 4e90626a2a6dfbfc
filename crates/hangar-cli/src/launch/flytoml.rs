//! The fly.toml `hangar launch` writes: flyctl's defaults for a new app.

use hangar_config::TomlEditor;

/// What the new app's fly.toml says.
pub(crate) struct NewApp<'a> {
    pub app: &'a str,
    pub region: &'a str,
    /// A prebuilt image for `[build] image`; `None` builds the Dockerfile.
    pub image: Option<&'a str>,
    pub internal_port: i64,
}

/// The `[[vm]]` of a new app: 1 GB, one shared CPU.
const NEW_APP_VM: &str = "\n[[vm]]\n  memory = '1gb'\n  cpu_kind = 'shared'\n  cpus = 1\n";

/// Renders the new app's fly.toml and checks that it loads and validates.
pub(crate) fn new_app(app: &NewApp<'_>) -> anyhow::Result<String> {
    let mut editor = TomlEditor::parse(&format!(
        "# fly.toml app configuration file generated for {} by `hangar launch`\n\n",
        app.app
    ))?;
    editor.set_app(app.app)?;
    editor.set_primary_region(app.region)?;
    match app.image {
        Some(image) => editor.set(&["build"], "image", image)?,
        None => editor.set(&["build"], "dockerfile", "Dockerfile")?,
    }
    let http = ["http_service"];
    editor.set(&http, "internal_port", app.internal_port)?;
    editor.set(&http, "force_https", true)?;
    editor.set(&http, "auto_stop_machines", "stop")?;
    editor.set(&http, "auto_start_machines", true)?;
    editor.set(&http, "min_machines_running", 0)?;
    editor.set(&http, "processes", string_array(&["app"]))?;
    let text = format!("{}{NEW_APP_VM}", editor.text());
    let loaded = hangar_config::load_str(&text, hangar_config::Format::Toml, None)?;
    let errors: Vec<String> = loaded
        .check()
        .iter()
        .filter(|d| d.severity == hangar_config::Severity::Error)
        .map(ToString::to_string)
        .collect();
    anyhow::ensure!(
        errors.is_empty(),
        "the generated fly.toml does not validate: {}",
        errors.join("; ")
    );
    Ok(text)
}

fn string_array(items: &[&str]) -> toml_edit::Value {
    toml_edit::Value::Array(items.iter().copied().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_apps_get_flyctls_defaults() {
        let text = new_app(&NewApp {
            app: "web",
            region: "dev",
            image: Some("registry.example/web:1"),
            internal_port: 8080,
        })
        .unwrap();
        let config = hangar_config::load_str(&text, hangar_config::Format::Toml, None)
            .unwrap()
            .config;
        assert_eq!(config.app.as_deref(), Some("web"));
        assert_eq!(config.primary_region.as_deref(), Some("dev"));
        assert_eq!(config.image(), Some("registry.example/web:1"));
        assert_eq!(config.internal_port(), 8080);
        let http = config.http_service.as_ref().unwrap();
        assert_eq!(http.force_https, Some(true));
        assert_eq!(http.auto_start_machines, Some(true));
        assert_eq!(http.min_machines_running, Some(0));
        assert_eq!(http.processes, ["app"]);
        assert_eq!(config.vm.len(), 1);
        assert_eq!(config.vm[0].memory.as_deref(), Some("1gb"));
        assert_eq!(config.vm[0].cpu_kind.as_deref(), Some("shared"));
        assert_eq!(config.vm[0].cpus, Some(1));
        assert!(text.contains("auto_stop_machines = \"stop\""), "{text}");
        let built = new_app(&NewApp {
            app: "web",
            region: "dev",
            image: None,
            internal_port: 3000,
        })
        .unwrap();
        assert!(built.contains("dockerfile = \"Dockerfile\""), "{built}");
    }
}
