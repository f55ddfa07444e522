//! Errors of network operations, naming the object and the operation.

pub(crate) use nsbox_sys::errno::describe_errno;

#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// The kernel refused an operation; `detail` is its extended ack
    /// message when it gave one ("Nexthop has invalid gateway").
    #[error("{op}: {}{}", describe_errno(*errno), detail.as_ref().map(|d| format!(" ({d})")).unwrap_or_default())]
    Kernel {
        op: String,
        errno: i32,
        detail: Option<String>,
    },
    #[error("netlink socket ({step}): {source}")]
    Socket { step: &'static str, source: std::io::Error },
    #[error("netlink: {0}")]
    Protocol(String),
    #[error(transparent)]
    Netns(#[from] nsbox_ns::netns::NetnsError),
    #[error("no interface named {0:?}")]
    NoSuchLink(String),
    #[error("interface name {0:?} is invalid: it must be 1 to 15 bytes without '/', ':' or whitespace")]
    BadName(String),
    #[error("sysctl {key}: {source}")]
    Sysctl { key: String, source: std::io::Error },
    #[error("sysctl key {0:?} is not a net.* key")]
    BadSysctlKey(String),
    #[error("network namespaces still alive after {seconds} s: {}", names.join("; "))]
    StillAlive { names: Vec<String>, seconds: u64 },
}

impl NetError {
    /// The kernel's errno, if the kernel refused.
    pub fn errno(&self) -> Option<i32> {
        match self {
            NetError::Kernel { errno, .. } => Some(*errno),
            _ => None,
        }
    }

    /// Whether the kernel refused because the object exists already.
    pub fn already_exists(&self) -> bool {
        self.errno() == Some(libc::EEXIST)
    }

    /// Whether an input route lookup refused the packet as it came in:
    /// reverse-path filtering or a martian source or destination. Kernels
    /// before 6.12 answer reverse-path filtering with EXDEV; later ones
    /// answer every input drop with EINVAL (seen on 6.18).
    pub fn refused_on_input(&self) -> bool {
        matches!(self.errno(), Some(libc::EXDEV | libc::EINVAL))
    }
}
