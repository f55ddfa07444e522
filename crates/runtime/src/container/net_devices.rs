//! `linux.netDevices` (runtime-spec 1.3): host links moved into the
//! container's network namespace, renamed as asked, with their addresses
//! (a move flushes them) and their up state, and moved back under their
//! own names at `delete`. The namespace is pinned (a bind mount of it in
//! the container's directory) while devices are in it: a virtual device in
//! a namespace that dies dies with it, and `delete` runs after the
//! container's process has ended.

use nsbox_net::link::LinkChange;
use nsbox_net::{NetError, Netlink};
use std::fs::File;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

/// A device that is in the container, and how to give it back.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MovedDevice {
    pub host_name: String,
    pub name: String,
    pub addresses: Vec<ipnet::IpNet>,
    pub up: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum NetDeviceError {
    #[error("linux.netDevices.{device}: {source}")]
    Net { device: String, source: NetError },
    #[error("linux.netDevices: {step} {}: {}", path.display(), nsbox_sys::errno::describe(source))]
    Io {
        step: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
}

fn open(step: &'static str, path: &Path) -> Result<File, NetDeviceError> {
    File::open(path).map_err(|source| NetDeviceError::Io {
        step,
        path: path.into(),
        source,
    })
}

/// The addresses to carry with a device: all but IPv6 link-local ones,
/// which the kernel makes anew.
fn carried(netlink: &mut Netlink, index: u32) -> Result<Vec<ipnet::IpNet>, NetError> {
    Ok(netlink
        .addresses()?
        .into_iter()
        .filter(|a| a.index == index && a.scope != "link")
        .map(|a| a.address)
        .collect())
}

/// Moves each (host name, name inside) into the network namespace at
/// `netns`; what was moved is pushed to `moved` as it goes, so that a
/// failure half-way can be undone.
pub fn move_in(netns: &Path, devices: &[(String, String)], moved: &mut Vec<MovedDevice>) -> Result<(), NetDeviceError> {
    let target = open("opening the container's network namespace", netns)?;
    let net_err = |device: &str| {
        let device = device.to_string();
        move |source| NetDeviceError::Net { device, source }
    };
    let mut host = Netlink::open().map_err(net_err("netlink"))?;
    let mut inside = Netlink::open_in(target.as_fd()).map_err(net_err("netlink"))?;
    for (host_name, name) in devices {
        let link = host.link(host_name).map_err(net_err(host_name))?;
        let addresses = carried(&mut host, link.index).map_err(net_err(host_name))?;
        let change = LinkChange {
            rename: (name != host_name).then_some(name.as_str()),
            netns: Some(target.as_fd()),
            ..Default::default()
        };
        host.change_link(host_name, &change).map_err(net_err(host_name))?;
        moved.push(MovedDevice {
            host_name: host_name.clone(),
            name: name.clone(),
            addresses: addresses.clone(),
            up: link.up,
        });
        for address in addresses {
            inside.add_address(name, address).map_err(net_err(host_name))?;
        }
        if link.up {
            inside.set_up(name, true).map_err(net_err(host_name))?;
        }
    }
    Ok(())
}

/// Moves every device back to this process's network namespace under its
/// host name, with its addresses. Tries them all; returns the first error.
pub fn move_back(netns: &Path, moved: &[MovedDevice]) -> Result<(), NetDeviceError> {
    if moved.is_empty() {
        return Ok(());
    }
    let from = open("opening the container's network namespace", netns)?;
    let home = open(
        "opening the runtime's network namespace",
        Path::new("/proc/self/ns/net"),
    )?;
    let net_err = |device: &str| {
        let device = device.to_string();
        move |source| NetDeviceError::Net { device, source }
    };
    let mut inside = Netlink::open_in(from.as_fd()).map_err(net_err("netlink"))?;
    let mut host = Netlink::open().map_err(net_err("netlink"))?;
    let mut first = None;
    for d in moved.iter().rev() {
        let back = (|| {
            let change = LinkChange {
                rename: (d.name != d.host_name).then_some(d.host_name.as_str()),
                netns: Some(home.as_fd()),
                ..Default::default()
            };
            inside.change_link(&d.name, &change)?;
            for address in &d.addresses {
                host.add_address(&d.host_name, *address)?;
            }
            if d.up {
                host.set_up(&d.host_name, true)?;
            }
            Ok(())
        })();
        if let Err(e) = back {
            first.get_or_insert(NetDeviceError::Net {
                device: d.host_name.clone(),
                source: e,
            });
        }
    }
    first.map_or(Ok(()), Err)
}

/// Pins the network namespace of process `pid` at `pin` (a bind mount).
pub fn pin(pid: i32, pin: &Path) -> Result<(), NetDeviceError> {
    let io = |step| {
        move |source| NetDeviceError::Io {
            step,
            path: pin.into(),
            source,
        }
    };
    File::create(pin).map_err(io("making the namespace's pin"))?;
    rustix::mount::mount_bind(format!("/proc/{pid}/ns/net").as_str(), pin)
        .map_err(|e| io("pinning the container's network namespace at")(e.into()))
}

/// Takes the pin away (unmounted, the file removed).
pub fn unpin(pin: &Path) {
    let _ = rustix::mount::unmount(pin, rustix::mount::UnmountFlags::DETACH);
    let _ = std::fs::remove_file(pin);
}
