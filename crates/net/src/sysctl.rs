//! Sysctls of a network namespace (`net.*`), read and written without
//! spawning anything.
//!
//! /proc/sys/net belongs to the network namespace of the thread that
//! opens a file there, so these functions are meant to run on a thread
//! that has joined the namespace (see `Registry::run_in`).

use crate::error::NetError;
use std::path::PathBuf;

/// The /proc/sys path of a `net.*` key such as `net.ipv4.ip_forward` or
/// `net.ipv4.conf.all.rp_filter` (interface names may contain dots: as
/// sysctl(8) does, a `/` in the key is taken literally).
pub fn path_of(key: &str) -> Result<PathBuf, NetError> {
    let bad = || NetError::BadSysctlKey(key.to_string());
    if !(key.starts_with("net.") || key.starts_with("net/")) || key.contains("..") || key.contains('\0') {
        return Err(bad());
    }
    let relative = if key.contains('/') {
        key.to_string()
    } else {
        key.replace('.', "/")
    };
    if relative.split('/').any(|part| part.is_empty() || part == "..") {
        return Err(bad());
    }
    Ok(PathBuf::from("/proc/sys").join(relative))
}

/// Reads a sysctl of the calling thread's network namespace.
pub fn read(key: &str) -> Result<String, NetError> {
    let path = path_of(key)?;
    std::fs::read_to_string(&path)
        .map(|v| v.trim_end().to_string())
        .map_err(|source| NetError::Sysctl {
            key: key.to_string(),
            source,
        })
}

/// Writes a sysctl of the calling thread's network namespace.
pub fn write(key: &str, value: &str) -> Result<(), NetError> {
    let path = path_of(key)?;
    std::fs::write(&path, value).map_err(|source| NetError::Sysctl {
        key: key.to_string(),
        source,
    })
}

/// Tries `pairs` in a throwaway network namespace of their own: for each,
/// why the kernel would refuse it at `up` (no such sysctl in a network
/// namespace: unknown, or one of the host's alone; or a value it rejects),
/// or `None`. Keys naming an interface (`net.ipv4.conf.eth0.rp_filter`) are
/// tried on `default`, as the interface does not exist there. Fails when
/// no namespace can be made (without CAP_SYS_ADMIN).
pub fn probe(pairs: &[(String, String)]) -> Result<Vec<Option<String>>, NetError> {
    let namespace = nsbox_ns::netns::new_anonymous()?;
    let pairs = pairs.to_vec();
    let found = nsbox_ns::netns::run_in_fd(&namespace, move || {
        pairs
            .iter()
            .map(|(key, value)| {
                let key = on_default_interface(key);
                let path = match path_of(&key) {
                    Ok(path) => path,
                    Err(e) => return Some(e.to_string()),
                };
                if !path.exists() {
                    return Some(format!(
                        "{} does not exist in a network namespace (an unknown key, or one of the host's alone)",
                        path.display()
                    ));
                }
                std::fs::write(&path, value).err().map(|e| match e.kind() {
                    // Shown read-only in every namespace but the host's.
                    std::io::ErrorKind::PermissionDenied => {
                        format!(
                            "{} is the host's alone: a network namespace cannot change it",
                            path.display()
                        )
                    }
                    _ => format!(
                        "the kernel refuses the value {value:?}: {}",
                        nsbox_sys::errno::describe(&e)
                    ),
                })
            })
            .collect()
    })?;
    Ok(found)
}

/// `net.ipv4.conf.eth0.x` as `net.ipv4.conf.default.x` (and `neigh` the
/// same): the key to try where the interface does not exist.
fn on_default_interface(key: &str) -> String {
    let parts: Vec<&str> = key.split('.').collect();
    match parts.as_slice() {
        ["net", family @ ("ipv4" | "ipv6"), table @ ("conf" | "neigh"), iface, rest @ ..]
            if !matches!(*iface, "all" | "default" | "lo") && !rest.is_empty() =>
        {
            format!("net.{family}.{table}.default.{}", rest.join("."))
        }
        _ => key.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interface_keys_are_tried_on_default() {
        assert_eq!(
            on_default_interface("net.ipv4.conf.eth0.rp_filter"),
            "net.ipv4.conf.default.rp_filter"
        );
        assert_eq!(
            on_default_interface("net.ipv6.neigh.veth-a.retrans_time_ms"),
            "net.ipv6.neigh.default.retrans_time_ms"
        );
        assert_eq!(
            on_default_interface("net.ipv4.conf.all.rp_filter"),
            "net.ipv4.conf.all.rp_filter"
        );
        assert_eq!(on_default_interface("net.ipv4.ip_forward"), "net.ipv4.ip_forward");
    }

    #[test]
    fn a_throwaway_namespace_says_which_sysctls_the_kernel_refuses() {
        let pairs: Vec<(String, String)> = [
            ("net.ipv4.ip_forward", "1"),
            ("net.ipv4.conf.eth9.rp_filter", "2"),
            ("net.core.rmem_max", "1"),
            ("net.ipv4.no_such_thing", "1"),
            ("net.ipv4.ip_forward", "banana"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let found = match probe(&pairs) {
            Ok(found) => found,
            Err(e) => {
                eprintln!("SKIPPED: no throwaway network namespace here ({e})");
                return;
            }
        };
        assert_eq!(found[0], None);
        assert_eq!(found[1], None, "tried on default");
        assert!(
            found[2].as_deref().is_some_and(|w| w.contains("the host's alone")),
            "{found:?}"
        );
        assert!(
            found[3].as_deref().is_some_and(|w| w.contains("does not exist")),
            "{found:?}"
        );
        assert!(
            found[4].as_deref().is_some_and(|w| w.contains("Invalid argument")),
            "{found:?}"
        );
    }

    #[test]
    fn keys_map_to_proc_sys() {
        assert_eq!(
            path_of("net.ipv4.ip_forward").unwrap(),
            PathBuf::from("/proc/sys/net/ipv4/ip_forward")
        );
        assert_eq!(
            path_of("net/ipv4/conf/veth.1/rp_filter").unwrap(),
            PathBuf::from("/proc/sys/net/ipv4/conf/veth.1/rp_filter")
        );
        for bad in ["kernel.hostname", "net..x", "net.ipv4.", "net/../kernel/x", "net"] {
            assert!(path_of(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn reads_own_namespace() {
        let v = read("net.ipv4.ip_forward").unwrap();
        assert!(v == "0" || v == "1", "{v}");
    }
}
