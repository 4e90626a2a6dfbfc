//! Running one stage's instructions on top of its base.

use std::collections::BTreeMap;
use std::path::Path;

use super::base::StageImage;
use super::config::{self, RunConfig};
use super::copy::{self, CopyPlan, Source};
use super::fsview::FsView;
use crate::dockerfile::words::{expand_word, expand_words};
use crate::dockerfile::{Args, Dockerfile, Instruction};
use crate::dockerignore::IgnoreRules;
use crate::error::BuildError;
use crate::layout::{write_layer, Content, Entry, LayerEntries};
use crate::BuildRequest;

/// What a stage may refer to while it runs.
pub(crate) struct Context<'a> {
    pub dockerfile: &'a Dockerfile,
    pub request: &'a BuildRequest,
    pub rules: &'a IgnoreRules,
    /// The output layout directory.
    pub out: &'a Path,
    pub global_args: &'a BTreeMap<String, String>,
    pub built: &'a BTreeMap<usize, StageImage>,
    pub stage_index: usize,
}

/// Runs the stage's instructions on `image` and returns the result.
pub(crate) fn run(cx: &Context<'_>, mut image: StageImage) -> Result<StageImage, BuildError> {
    let file = &cx.dockerfile.path;
    let escape = cx.dockerfile.directives.escape;
    let stage = &cx.dockerfile.stages[cx.stage_index];
    let mut args: BTreeMap<String, String> = BTreeMap::new();
    let mut cmd_set = false;
    for instruction in &stage.instructions {
        let line = instruction.line;
        let fail =
            |m: String| BuildError::line(file, line, format!("{}: {m}", instruction.keyword));
        cx.request.say(&format!(
            "[stage {}] {} {}",
            cx.stage_index,
            instruction.keyword,
            instruction.text()
        ));
        let config_now = image.config.clone();
        let args_now = args.clone();
        let vars = move |name: &str| {
            config_now
                .env_var(name)
                .or_else(|| args_now.get(name).cloned())
        };
        match instruction.keyword.as_str() {
            "RUN" => {
                return Err(BuildError::NeedsExecution {
                    file: file.clone(),
                    line,
                    keyword: "RUN".into(),
                })
            }
            "ARG" => {
                for (name, default) in arg_declarations(cx.dockerfile, instruction, &vars)? {
                    let value = cx
                        .request
                        .build_args
                        .get(&name)
                        .cloned()
                        .or(default)
                        .or_else(|| cx.global_args.get(&name).cloned());
                    if let Some(value) = value {
                        args.insert(name, value);
                    }
                }
            }
            "ENV" => {
                for (key, value) in config::key_values(instruction, escape, &vars).map_err(fail)? {
                    image.config.set_env(&key, &value);
                }
            }
            "LABEL" => {
                for (key, value) in config::key_values(instruction, escape, &vars).map_err(fail)? {
                    image.config.labels.insert(key, value);
                }
            }
            "MAINTAINER" => {
                image
                    .config
                    .labels
                    .insert("maintainer".into(), instruction.text());
            }
            "WORKDIR" => {
                let dir = expand_word(&instruction.text(), escape, &vars).map_err(fail)?;
                let absolute = absolute(&image.config, &dir);
                image.config.working_dir = Some(absolute.clone());
                add_missing_dirs(cx, &mut image, &absolute)?;
            }
            "USER" => {
                let user = expand_word(&instruction.text(), escape, &vars).map_err(fail)?;
                image.config.user = Some(user);
            }
            "EXPOSE" => {
                let words = expand_words(&instruction.text(), escape, &vars).map_err(fail)?;
                for port in config::ports(&words).map_err(fail)? {
                    image
                        .config
                        .exposed_ports
                        .insert(port, serde_json::json!({}));
                }
            }
            "STOPSIGNAL" => {
                let signal = expand_word(&instruction.text(), escape, &vars).map_err(fail)?;
                image.config.stop_signal = Some(signal);
            }
            "CMD" => {
                image.config.cmd = Some(image.config.command(&instruction.args));
                cmd_set = true;
            }
            "ENTRYPOINT" => {
                image.config.entrypoint = Some(image.config.command(&instruction.args));
                if !cmd_set {
                    image.config.cmd = None; // a new entrypoint drops the base's CMD
                }
            }
            "SHELL" => match &instruction.args {
                Args::Json(items) if !items.is_empty() => image.config.shell = Some(items.clone()),
                _ => {
                    return Err(fail(
                        "expects a JSON array, e.g. SHELL [\"/bin/bash\", \"-c\"]".into(),
                    ))
                }
            },
            "VOLUME" => {
                let paths = match &instruction.args {
                    Args::Json(items) => items.clone(),
                    Args::Text(t) => expand_words(t, escape, &vars).map_err(fail)?,
                };
                for path in paths {
                    image.config.volumes.insert(path, serde_json::json!({}));
                }
            }
            "HEALTHCHECK" => {
                image.config.healthcheck =
                    Some(config::healthcheck(&image.config, instruction).map_err(fail)?);
            }
            "ONBUILD" => {
                // Recorded for images built on this one; never run here.
                image.config.on_build.push(instruction.text());
            }
            "COPY" | "ADD" => copy_instruction(cx, &mut image, instruction, &vars)?,
            other => return Err(fail(format!("{other} is not supported here"))),
        }
    }
    Ok(image)
}

/// `ARG NAME[=default] …` as (name, default) pairs.
pub(crate) fn arg_declarations(
    dockerfile: &Dockerfile,
    instruction: &Instruction,
    vars: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<(String, Option<String>)>, BuildError> {
    let words = expand_words(&instruction.text(), dockerfile.directives.escape, vars)
        .map_err(|m| BuildError::line(&dockerfile.path, instruction.line, format!("ARG: {m}")))?;
    Ok(words
        .into_iter()
        .map(|w| match w.split_once('=') {
            Some((name, value)) => (name.to_owned(), Some(value.to_owned())),
            None => (w, None),
        })
        .collect())
}

fn absolute(config: &RunConfig, path: &str) -> String {
    if path.starts_with('/') {
        path.to_owned()
    } else {
        let base = config.working_dir.clone().unwrap_or_else(|| "/".into());
        format!("{}/{path}", base.trim_end_matches('/'))
    }
}

/// WORKDIR creates its directory (and parents) when missing: a small layer.
fn add_missing_dirs(cx: &Context<'_>, image: &mut StageImage, dir: &str) -> Result<(), BuildError> {
    let Some(relative) = copy::clean(dir) else {
        return Ok(());
    };
    let mut entries = LayerEntries::new();
    let mut path = String::new();
    for part in relative.split('/').filter(|p| !p.is_empty()) {
        path = if path.is_empty() {
            part.to_owned()
        } else {
            format!("{path}/{part}")
        };
        if image.fs.lookup(&path).is_none() {
            let entry = Entry {
                content: Content::Dir,
                mode: 0o755,
                uid: 0,
                gid: 0,
            };
            entries.insert(path.clone(), entry);
        }
    }
    if !entries.is_empty() {
        let layer = write_layer(cx.out, &entries, cx.request.epoch())?;
        image.layers.push(layer);
        image.fs.add(&entries);
    }
    Ok(())
}

fn copy_instruction(
    cx: &Context<'_>,
    image: &mut StageImage,
    instruction: &Instruction,
    vars: &dyn Fn(&str) -> Option<String>,
) -> Result<(), BuildError> {
    let file = &cx.dockerfile.path;
    let line = instruction.line;
    let keyword = instruction.keyword.as_str();
    let fail = |m: String| BuildError::line(file, line, format!("{keyword}: {m}"));
    let escape = cx.dockerfile.directives.escape;
    let mut words = match &instruction.args {
        Args::Json(items) => items
            .iter()
            .map(|i| expand_word(i, escape, vars))
            .collect::<Result<Vec<_>, _>>(),
        Args::Text(t) => expand_words(t, escape, vars),
    }
    .map_err(fail)?;
    if words.len() < 2 {
        return Err(fail("expects at least one source and a destination".into()));
    }
    for (name, _) in &instruction.flags {
        if !matches!(name.as_str(), "chown" | "chmod" | "from" | "link") {
            return Err(fail(format!(
                "the native builder does not support --{name}"
            )));
        }
    }
    if keyword == "ADD" {
        if let Some(url) = words[..words.len() - 1].iter().find(|w| w.contains("://")) {
            return Err(fail(format!(
                "ADD of a URL ({url}) is not supported: download the file into the build context and COPY it"
            )));
        }
    }
    let dest = words.pop().expect("checked length");
    let from_view: Option<FsView> = match instruction.flag("from") {
        None => None,
        Some(name) => {
            let index = super::stage_index(cx.dockerfile, name, cx.stage_index).ok_or_else(|| {
                fail(format!(
                    "--from={name} names no earlier stage; add `FROM {name} AS <stage>` above and use --from=<stage>"
                ))
            })?;
            Some(
                cx.built
                    .get(&index)
                    .map(|s| s.fs.clone())
                    .unwrap_or_default(),
            )
        }
    };
    let owner = match instruction.flag("chown") {
        Some(spec) => Some(resolve_owner(&image.fs, spec).map_err(fail)?),
        None => None,
    };
    let chmod = match instruction.flag("chmod") {
        Some(mode) => Some(
            u32::from_str_radix(mode, 8)
                .ok()
                .filter(|m| *m <= 0o7777)
                .ok_or_else(|| fail(format!("--chmod={mode} is not an octal mode like 755")))?,
        ),
        None => None,
    };
    let source = match &from_view {
        Some(view) => Source::Stage(view),
        None => Source::Context {
            dir: &cx.request.context_dir,
            rules: cx.rules,
        },
    };
    let plan = CopyPlan {
        sources: words,
        dest: absolute(&image.config, &dest) + if dest.ends_with('/') { "/" } else { "" },
        owner,
        chmod,
        extract: keyword == "ADD",
        from: source,
    };
    let entries = copy::plan_entries(&plan, &image.fs).map_err(fail)?;
    let layer = write_layer(cx.out, &entries, cx.request.epoch())?;
    image.layers.push(layer);
    image.fs.add(&entries);
    Ok(())
}

/// `uid[:gid]` or names looked up in the stage's /etc/passwd and /etc/group.
/// A user without a group takes the user's id as group id.
fn resolve_owner(fs: &FsView, spec: &str) -> Result<(u64, u64), String> {
    let (user, group) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let lookup = |file: &str, name: &str| -> Result<u64, String> {
        if let Ok(id) = name.parse::<u64>() {
            return Ok(id);
        }
        let text = fs
            .read(file)
            .map(|b| String::from_utf8_lossy(&b).into_owned());
        text.as_deref()
            .unwrap_or("")
            .lines()
            .find_map(|l| {
                let mut fields = l.split(':');
                (fields.next() == Some(name)).then(|| fields.nth(1)?.parse::<u64>().ok())?
            })
            .ok_or_else(|| format!("--chown: {name:?} is not in the image's /{file}; use a numeric id or add the entry"))
    };
    let uid = lookup("etc/passwd", user)?;
    let gid = match group {
        Some(g) => lookup("etc/group", g)?,
        None => uid,
    };
    Ok((uid, gid))
}
