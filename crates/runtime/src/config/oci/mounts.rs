//! `mounts`: each entry's options, sources and id maps; `rootfsPropagation`,
//! and the lists of absolute paths.

use super::*;
use crate::config::mount_options::{self, Meaning, OptionError};
use crate::config::{Mount, MountKind};

/// A mount's own `uidMappings`/`gidMappings` (spec 1.2), from its JSON.
pub(super) fn mount_maps(raw: &serde_json::Value, field: &str) -> Checked<Option<(Vec<IdMap>, Vec<IdMap>)>> {
    let list = |key: &str| -> Checked<Vec<IdMap>> {
        let Some(items) = raw.get(key).and_then(|v| v.as_array()) else {
            return Ok(Vec::new());
        };
        items
            .iter()
            .enumerate()
            .map(|(j, item)| {
                let number = |name: &str| {
                    item.get(name)
                        .and_then(|v| v.as_u64())
                        .and_then(|n| u32::try_from(n).ok())
                };
                match (number("containerID"), number("hostID"), number("size")) {
                    (Some(inside), Some(outside), Some(count)) if count > 0 => Ok(IdMap { inside, outside, count }),
                    _ => Err(refuse(
                        format!("{field}.{key}[{j}]"),
                        "needs containerID, hostID and size (above 0)",
                    )),
                }
            })
            .collect()
    };
    let (uids, gids) = (list("uidMappings")?, list("gidMappings")?);
    Ok((!uids.is_empty() || !gids.is_empty()).then_some((uids, gids)))
}

pub(super) fn mount(
    bundle: &Path,
    i: usize,
    m: &oci_spec::runtime::Mount,
    raw: Option<&serde_json::Value>,
    container_maps: (&[IdMap], &[IdMap]),
) -> Checked<Mount> {
    let field = format!("mounts[{i}]");
    if !m.destination().is_absolute() {
        return Err(refuse(
            format!("{field}.destination"),
            format!("{:?} must be an absolute path", m.destination()),
        ));
    }
    let mut out = Mount {
        destination: m.destination().clone(),
        fstype: m.typ().clone().unwrap_or_default(),
        source: m.source().clone(),
        kind: MountKind::New,
        flags: MountFlags::empty(),
        cleared: MountFlags::empty(),
        propagation: None,
        recursive_set: 0,
        recursive_clear: 0,
        idmap: None,
        data: String::new(),
    };
    let mut idmapped = None;
    for (j, option) in m.options().iter().flatten().enumerate() {
        let meaning = mount_options::meaning(option).map_err(|e| match e {
            OptionError::Unknown(_) | OptionError::Unsupported(_) => {
                refuse(format!("{field}.options[{j}]"), e.to_string())
            }
        })?;
        match meaning {
            Meaning::Set(f) => {
                out.flags |= f;
                out.cleared &= !f;
            }
            Meaning::Clear(f) => {
                out.flags &= !f;
                out.cleared |= f;
            }
            Meaning::Propagation(p) => out.propagation = Some(p),
            Meaning::Bind { recursive } => out.kind = MountKind::Bind { recursive },
            Meaning::IdMap { recursive } => idmapped = Some((j, recursive)),
            Meaning::Recursive { set, clear } => {
                out.recursive_set = (out.recursive_set & !clear) | set;
                out.recursive_clear = (out.recursive_clear & !set) | clear;
            }
            Meaning::Data => {
                if !out.data.is_empty() {
                    out.data.push(',');
                }
                out.data.push_str(option);
            }
        }
    }
    if out.fstype == "bind" && out.kind == MountKind::New {
        out.kind = MountKind::Bind { recursive: false };
    }
    match out.kind {
        MountKind::Bind { .. } => {
            let source = out
                .source
                .as_ref()
                .ok_or_else(|| refuse(format!("{field}.source"), "a bind mount needs a source"))?;
            // runc reads a relative bind source from the bundle.
            let source = bundle.join(source);
            if let Err(e) = std::fs::metadata(&source) {
                return Err(refuse(
                    format!("{field}.source"),
                    format!("{}: {}", source.display(), nsbox_sys::errno::describe(&e)),
                ));
            }
            if !out.data.is_empty() {
                return Err(refuse(
                    format!("{field}.options"),
                    format!("a bind mount takes no file system options ({:?})", out.data),
                ));
            }
            out.source = Some(source);
            if let Some((_, recursive)) = idmapped {
                let own = raw.map(|r| mount_maps(r, &field)).transpose()?.flatten();
                let (uids, gids) = match own {
                    Some(maps) => maps,
                    // Without maps of its own, the container's (spec 1.2).
                    None if !container_maps.0.is_empty() => (container_maps.0.to_vec(), container_maps.1.to_vec()),
                    None => {
                        return Err(refuse(
                            format!("{field}.uidMappings"),
                            "an idmap mount needs uidMappings and gidMappings (or a user namespace's)",
                        ))
                    }
                };
                out.idmap = Some(crate::config::IdMapping { uids, gids, recursive });
            }
        }
        MountKind::New if idmapped.is_some() => {
            let (j, _) = idmapped.expect("checked");
            return Err(refuse(
                format!("{field}.options[{j}]"),
                "idmap and ridmap are for bind mounts",
            ));
        }
        MountKind::New if out.fstype.is_empty() => {
            return Err(refuse(
                format!("{field}.type"),
                "is required unless the mount is a bind",
            ));
        }
        MountKind::New => {}
    }
    Ok(out)
}

pub(super) fn rootfs_propagation(linux: &oci_spec::runtime::Linux) -> Checked<MountPropagationFlags> {
    match linux.rootfs_propagation().as_deref().filter(|s| !s.is_empty()) {
        None => Ok(MountPropagationFlags::PRIVATE | MountPropagationFlags::REC),
        Some(name) => mount_options::propagation(name).ok_or_else(|| {
            refuse(
                "linux.rootfsPropagation",
                format!("{name:?} is not a propagation (private, shared, slave, unbindable, or r-)"),
            )
        }),
    }
}

pub(super) fn absolute_paths(field: &str, paths: &Option<Vec<String>>) -> Checked<Vec<PathBuf>> {
    paths
        .iter()
        .flatten()
        .enumerate()
        .map(|(i, p)| {
            let path = PathBuf::from(p);
            if path.is_absolute() {
                Ok(path)
            } else {
                Err(refuse(
                    format!("{field}[{i}]"),
                    format!("{p:?} must be an absolute path"),
                ))
            }
        })
        .collect()
}
