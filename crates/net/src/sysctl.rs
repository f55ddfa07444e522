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

#[cfg(test)]
mod tests {
    use super::*;

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
