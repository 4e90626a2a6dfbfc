//! The native builder: runs a Dockerfile without a daemon by writing layers
//! for COPY/ADD (and WORKDIR) and settings for everything else. RUN and the
//! like are refused (see [`BuildError::NeedsExecution`]).

mod base;
mod config;
mod copy;
mod fsview;
mod stage;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use hangar_image::layout::LayoutWriter;

use crate::dockerfile::words::expand_word;
use crate::dockerfile::{self, Dockerfile};
use crate::error::BuildError;
use crate::BuildRequest;
use base::StageImage;

/// Builds `request` into the (empty) layout directory `out`; returns the
/// manifest digest.
pub(crate) async fn build(
    request: &BuildRequest,
    dockerfile_path: &Path,
    out: &Path,
) -> Result<String, BuildError> {
    let text = std::fs::read_to_string(dockerfile_path).map_err(BuildError::io(format!(
        "reading {}",
        dockerfile_path.display()
    )))?;
    let dockerfile = dockerfile::parse(dockerfile_path, &text)?;
    let target = target_stage(&dockerfile, request.target.as_deref())?;
    let global_args = global_args(&dockerfile, &request.build_args)?;
    let needed = needed_stages(&dockerfile, target, &global_args)?;

    let writer = LayoutWriter::create(out)?;
    let rules = crate::context::rules(&request.context_dir)?;
    let mut built: BTreeMap<usize, StageImage> = BTreeMap::new();
    let mut store = None;
    for index in needed {
        let stage = &dockerfile.stages[index];
        let base_name = base_reference(&dockerfile, index, &global_args)?;
        request.say(&format!("[stage {index}] FROM {base_name}"));
        let start = match base_name.as_str() {
            "scratch" => base::scratch(),
            "host" => base::host_base(out, request.epoch())?,
            name => match stage_index(&dockerfile, name, index) {
                Some(earlier) => built.get(&earlier).cloned().unwrap_or_default(),
                None => {
                    if store.is_none() {
                        store =
                            Some(base::open_store(request.image_store.as_ref()).map_err(
                                |reason| base_error(&dockerfile, stage.line, name, reason),
                            )?);
                    }
                    let store = store.as_ref().expect("opened above");
                    base::image(store, name, &writer)
                        .await
                        .map_err(|reason| base_error(&dockerfile, stage.line, name, reason))?
                }
            },
        };
        let context = stage::Context {
            dockerfile: &dockerfile,
            request,
            rules: &rules,
            out,
            global_args: &global_args,
            built: &built,
            stage_index: index,
        };
        let finished = stage::run(&context, start)?;
        built.insert(index, finished);
    }
    let mut image = built.remove(&target).expect("the target stage was built");
    for (key, value) in &request.labels {
        image.config.labels.insert(key.clone(), value.clone());
    }
    crate::layout::write_image(
        &writer,
        &image.layers,
        &image.config,
        request.epoch(),
        &request.tag,
    )
}

fn base_error(dockerfile: &Dockerfile, line: usize, image: &str, reason: String) -> BuildError {
    BuildError::BaseImage {
        file: dockerfile.path.clone(),
        line,
        image: image.to_owned(),
        reason,
    }
}

/// The index of the stage `--target` names, or the last one.
fn target_stage(dockerfile: &Dockerfile, target: Option<&str>) -> Result<usize, BuildError> {
    match target {
        None => Ok(dockerfile.stages.len() - 1),
        Some(name) => dockerfile
            .stages
            .iter()
            .position(|s| s.name.as_deref() == Some(&name.to_ascii_lowercase()))
            .ok_or_else(|| BuildError::UnknownTarget(name.to_owned())),
    }
}

/// Values of the ARGs declared before the first FROM.
fn global_args(
    dockerfile: &Dockerfile,
    build_args: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, BuildError> {
    let mut values = BTreeMap::new();
    for instruction in &dockerfile.global_args {
        for (name, default) in
            stage::arg_declarations(dockerfile, instruction, &|n| values.get(n).cloned())?
        {
            if let Some(value) = build_args.get(&name).cloned().or(default) {
                values.insert(name, value);
            }
        }
    }
    Ok(values)
}

/// The FROM reference of stage `index` with global ARGs substituted.
fn base_reference(
    dockerfile: &Dockerfile,
    index: usize,
    global_args: &BTreeMap<String, String>,
) -> Result<String, BuildError> {
    let stage = &dockerfile.stages[index];
    let base = expand_word(&stage.base, dockerfile.directives.escape, &|n| {
        global_args.get(n).cloned()
    })
    .map_err(|m| BuildError::line(&dockerfile.path, stage.line, m))?;
    if base.is_empty() {
        return Err(BuildError::line(
            &dockerfile.path,
            stage.line,
            format!("FROM {} is empty after substituting build args", stage.base),
        ));
    }
    Ok(base)
}

/// An earlier stage called `name` (or numbered `name`), if any.
pub(crate) fn stage_index(dockerfile: &Dockerfile, name: &str, before: usize) -> Option<usize> {
    let lower = name.to_ascii_lowercase();
    dockerfile.stages[..before]
        .iter()
        .position(|s| s.name.as_deref() == Some(lower.as_str()))
        .or_else(|| name.parse::<usize>().ok().filter(|i| *i < before))
}

/// The stages `target` needs (through FROM and COPY --from), in order.
fn needed_stages(
    dockerfile: &Dockerfile,
    target: usize,
    global_args: &BTreeMap<String, String>,
) -> Result<Vec<usize>, BuildError> {
    let mut needed = BTreeSet::new();
    let mut pending = vec![target];
    while let Some(index) = pending.pop() {
        if !needed.insert(index) {
            continue;
        }
        let base = base_reference(dockerfile, index, global_args)?;
        if let Some(earlier) = stage_index(dockerfile, &base, index) {
            pending.push(earlier);
        }
        for instruction in &dockerfile.stages[index].instructions {
            if let Some(from) = instruction.flag("from") {
                if let Some(earlier) = stage_index(dockerfile, from, index) {
                    pending.push(earlier);
                }
            }
        }
    }
    Ok(needed.into_iter().collect())
}
