//! `config.json` → [`Config`]: runc's `specconv`. The file is read with the
//! `oci-spec` crate's types (through serde_path_to_error, so that a type
//! error names its JSON path and line:column); every field is then carried
//! into the model or refused by its path. Nothing here touches the kernel,
//! so bad input is refused before anything exists.

mod linux;
mod mounts;
mod process;

pub use process::CAPABILITY_NAMES;

use linux::{
    devices, id_maps, memory_policy, namespaces, net_devices, personality, refuse_linux_extras, resources, seccomp,
    sysctls, time_offsets,
};
use mounts::{absolute_paths, mount, rootfs_propagation};

use super::Config;
use nsbox_ns::idmap::IdMap;
use nsbox_ns::NsKind;
use oci_spec::runtime::{
    LinuxCapabilities, LinuxDeviceType, LinuxIdMapping, LinuxNamespaceType, LinuxResources, PosixRlimitType, Spec,
};
use rustix::mount::{MountFlags, MountPropagationFlags};
use std::path::{Path, PathBuf};

/// Why a bundle cannot run. Each names the file and where in it.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("bundle {}: {}", path.display(), nsbox_sys::errno::describe(source))]
    Bundle { path: PathBuf, source: std::io::Error },
    #[error("{}: {}", path.display(), nsbox_sys::errno::describe(source))]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{}:{line}:{column}: {}{message}", file.display(), at(json_path))]
    Json {
        file: PathBuf,
        json_path: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{}: {field}: {message}", file.display())]
    Field {
        file: PathBuf,
        field: String,
        message: String,
    },
}

fn at(json_path: &str) -> String {
    if json_path.is_empty() || json_path == "." {
        String::new()
    } else {
        format!("{json_path}: ")
    }
}

/// A field's refusal, before the file's name is added.
struct Refusal {
    field: String,
    message: String,
}

fn refuse(field: impl Into<String>, message: impl Into<String>) -> Refusal {
    Refusal {
        field: field.into(),
        message: message.into(),
    }
}

fn not_yet(field: &str, issue: u32) -> Refusal {
    refuse(
        field,
        format!("not supported yet (nsbox issue {issue}); remove it to run"),
    )
}

type Checked<T> = Result<T, Refusal>;

/// Reads `bundle/config.json` and translates it.
pub fn from_bundle(bundle: &Path) -> Result<Config, ConfigError> {
    let bundle = std::path::absolute(bundle).map_err(|source| ConfigError::Bundle {
        path: bundle.into(),
        source,
    })?;
    match std::fs::metadata(&bundle) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => {
            return Err(ConfigError::Bundle {
                path: bundle,
                source: std::io::Error::from_raw_os_error(libc::ENOTDIR),
            })
        }
        Err(source) => return Err(ConfigError::Bundle { path: bundle, source }),
    }
    let file = bundle.join("config.json");
    let text = std::fs::read_to_string(&file).map_err(|source| ConfigError::Read {
        path: file.clone(),
        source,
    })?;
    let spec = parse(&file, &text)?;
    // oci-spec 0.8's Mount has no uidMappings/gidMappings (spec 1.2): an
    // id-mapped mount's maps are read from the JSON itself.
    let raw = text
        .contains("idmap")
        .then(|| serde_json::from_str::<serde_json::Value>(&text).ok())
        .flatten();
    translate(&bundle, &spec, raw.as_ref()).map_err(|r| ConfigError::Field {
        file,
        field: r.field,
        message: r.message,
    })
}

/// Parses the text of a config.json, naming the JSON path of a type error.
pub fn parse(file: &Path, text: &str) -> Result<Spec, ConfigError> {
    parse_json(file, text)
}

/// Reads the resources of `update --resources` (the spec's
/// `linux.resources` object), checked as config.json's are.
pub fn resources_from_json(file: &Path, text: &str) -> Result<super::Resources, ConfigError> {
    let r: LinuxResources = parse_json(file, text)?;
    resources(Some(&r)).map_err(|r| ConfigError::Field {
        file: file.into(),
        field: r.field,
        message: r.message,
    })
}

/// Reads the process of `exec --process` (the spec's `process` object),
/// checked as config.json's is.
pub fn process_from_json(file: &Path, text: &str) -> Result<super::Process, ConfigError> {
    let p: oci_spec::runtime::Process = parse_json(file, text)?;
    process::process(&p).map_err(|r| ConfigError::Field {
        file: file.into(),
        field: r.field,
        message: r.message,
    })
}

fn parse_json<T: serde::de::DeserializeOwned>(file: &Path, text: &str) -> Result<T, ConfigError> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let spec: T = serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
        let json_path = e.path().to_string();
        let inner = e.into_inner();
        ConfigError::Json {
            file: file.into(),
            json_path,
            line: inner.line(),
            column: inner.column(),
            message: strip_position(&inner.to_string()),
        }
    })?;
    deserializer.end().map_err(|e| ConfigError::Json {
        file: file.into(),
        json_path: String::new(),
        line: e.line(),
        column: e.column(),
        message: strip_position(&e.to_string()),
    })?;
    Ok(spec)
}

/// serde_json ends its messages with " at line L column C", which the
/// error already says at its front.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

fn translate(bundle: &Path, spec: &Spec, raw: Option<&serde_json::Value>) -> Checked<Config> {
    check_version(spec.version())?;
    for (present, name) in [
        (spec.solaris().is_some(), "solaris"),
        (spec.windows().is_some(), "windows"),
        (spec.vm().is_some(), "vm"),
        (spec.zos().is_some(), "zos"),
    ] {
        if present {
            return Err(refuse(name, "this runtime runs Linux containers only"));
        }
    }
    let linux = spec.linux().clone().unwrap_or_default();
    let namespaces = namespaces(&linux)?;
    let has = |k: NsKind| namespaces.iter().any(|n| n.kind == k);
    let creates = |k: NsKind| namespaces.iter().any(|n| n.kind == k && n.join.is_none());

    let extensions = Extensions::of(spec)?;
    let root = spec.root().as_ref().ok_or_else(|| refuse("root", "is required"))?;
    let rootfs = bundle.join(root.path());
    if !extensions.host_view && !rootfs.is_dir() {
        return Err(refuse("root.path", format!("{}: not a directory", rootfs.display())));
    }
    for (name, value) in [("hostname", spec.hostname()), ("domainname", spec.domainname())] {
        if value.as_ref().is_some_and(|v| !v.is_empty()) && !has(NsKind::Uts) {
            return Err(refuse(
                name,
                "needs a uts namespace of the container's own (linux.namespaces)",
            ));
        }
    }
    let (uid_maps, gid_maps) = id_maps(&linux, creates(NsKind::User))?;
    let mut process = process::process(
        spec.process()
            .as_ref()
            .ok_or_else(|| refuse("process", "is required"))?,
    )?;
    process.init = extensions.init;
    process.exit_file = extensions.exit_file;
    let mounts = spec
        .mounts()
        .iter()
        .flatten()
        .enumerate()
        .map(|(i, m)| {
            let maps = raw.map(|r| &r["mounts"][i]);
            mount(bundle, i, m, maps, (&uid_maps, &gid_maps))
        })
        .collect::<Checked<Vec<_>>>()?;
    let time_offsets = time_offsets(&linux, creates(NsKind::Time))?;
    let net_devices = net_devices(&linux, creates(NsKind::Net))?;
    refuse_linux_extras(&linux)?;
    Ok(Config {
        oci_version: spec.version().clone(),
        bundle: bundle.to_path_buf(),
        rootfs,
        rootfs_readonly: root.readonly().unwrap_or(false),
        host_view: extensions.host_view,
        rootfs_propagation: rootfs_propagation(&linux)?,
        hostname: spec.hostname().clone().filter(|h| !h.is_empty()),
        domainname: spec.domainname().clone().filter(|d| !d.is_empty()),
        annotations: spec
            .annotations()
            .iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        sysctl: sysctls(&linux, &has)?,
        devices: devices(&linux)?,
        masked_paths: absolute_paths("linux.maskedPaths", linux.masked_paths())?,
        readonly_paths: absolute_paths("linux.readonlyPaths", linux.readonly_paths())?,
        resources: resources(linux.resources().as_ref())?,
        cgroups_path: linux.cgroups_path().clone(),
        namespaces,
        uid_maps,
        gid_maps,
        mounts,
        process,
        time_offsets,
        hooks: hooks(spec)?,
        net_devices,
        personality: personality(&linux)?,
        loopback_up: false,
        dev_shm_dir: false,
        seccomp: seccomp(&linux)?,
        setns_only: false,
        memory_policy: memory_policy(&linux)?,
        origin: super::Origin::ConfigJson,
    })
}

/// nsbox's own settings, as annotations (the spec's place for what one
/// runtime understands and the others ignore): what `nsbox unshare` and lab
/// container nodes use beyond the spec.
struct Extensions {
    /// `io.github.nsbox.host-view: "true"`: the root is a read-only view of
    /// the host's system directories on a tmpfs (`root.path` is not used).
    host_view: bool,
    /// `io.github.nsbox.init: "true"`: nsbox's init is PID 1, in front of the process.
    init: bool,
    /// `io.github.nsbox.exit-file: PATH`: where that init writes the
    /// process's exit status (absolute, on the runtime's side).
    exit_file: Option<PathBuf>,
}

impl Extensions {
    fn of(spec: &Spec) -> Checked<Extensions> {
        let get = |key: &str| spec.annotations().as_ref().and_then(|a| a.get(key)).map(String::as_str);
        let flag = |key: &str| match get(key) {
            None | Some("false") => Ok(false),
            Some("true") => Ok(true),
            Some(other) => Err(refuse(
                format!("annotations.{key}"),
                format!("{other:?}: use true or false"),
            )),
        };
        let (host_view, init) = (flag("io.github.nsbox.host-view")?, flag("io.github.nsbox.init")?);
        let exit_file = get("io.github.nsbox.exit-file").map(PathBuf::from);
        if let Some(path) = &exit_file {
            if !init || !path.is_absolute() || path.file_name().is_none() {
                return Err(refuse(
                    "annotations.io.github.nsbox.exit-file",
                    "an absolute file path, with io.github.nsbox.init",
                ));
            }
        }
        Ok(Extensions {
            host_view,
            init,
            exit_file,
        })
    }
}

fn check_version(version: &str) -> Checked<()> {
    let known = ["1.0.", "1.1.", "1.2.", "1.3."].iter().any(|p| version.starts_with(p));
    if known {
        Ok(())
    } else {
        Err(refuse(
            "ociVersion",
            format!("{version:?}: this runtime reads runtime-spec 1.0.x to 1.3.x"),
        ))
    }
}

fn hooks(spec: &Spec) -> Checked<crate::hooks::Hooks> {
    let Some(h) = spec.hooks() else {
        return Ok(crate::hooks::Hooks::default());
    };
    let list = |name: &str, hooks: &Option<Vec<oci_spec::runtime::Hook>>| -> Checked<Vec<crate::hooks::Hook>> {
        hooks
            .iter()
            .flatten()
            .enumerate()
            .map(|(i, hook)| {
                let field = format!("hooks.{name}[{i}]");
                if !hook.path().is_absolute() {
                    return Err(refuse(format!("{field}.path"), "must be an absolute path"));
                }
                let timeout = match hook.timeout() {
                    None => None,
                    Some(t) if t > 0 => Some(t as u64),
                    Some(t) => return Err(refuse(format!("{field}.timeout"), format!("{t}: must be above 0"))),
                };
                Ok(crate::hooks::Hook {
                    path: hook.path().clone(),
                    args: hook.args().clone().unwrap_or_default(),
                    env: hook.env().clone().unwrap_or_default(),
                    timeout,
                })
            })
            .collect()
    };
    Ok(crate::hooks::Hooks {
        prestart: list("prestart", h.prestart())?,
        create_runtime: list("createRuntime", h.create_runtime())?,
        create_container: list("createContainer", h.create_container())?,
        start_container: list("startContainer", h.start_container())?,
        poststart: list("poststart", h.poststart())?,
        poststop: list("poststop", h.poststop())?,
    })
}
