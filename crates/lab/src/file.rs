//! The lab file as written: YAML, every value that can be wrong kept with
//! its position (line and column) so that a diagnostic can point at it.
//!
//! ```yaml
//! name: seed
//! nodes:
//!   server:
//!     lo: [1.1.1.1/24]
//!     routes: [default via 10.0.1.1]
//!   router:
//!     forwarding: true
//!     nat: [snat -s 10.0.1.0/24 -o veth-cli --to-source 10.0.2.1]
//! links:
//!   - endpoints: [server:vethS 10.0.1.2/24, router:veth-srv 10.0.1.1/24]
//! expect:
//!   server -> 1.1.1.1: reachable
//!   client -> 10.0.1.1: unreachable (network unreachable)
//! steps:
//!   - name: default routes
//!     add: {client: {routes: [default via 10.0.2.1]}}
//!     expect: {client -> 10.0.1.1: reachable}
//! ```

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_saphyr::Spanned;
use std::fmt;
use std::marker::PhantomData;

pub type Text = Spanned<String>;

/// A mapping that keeps the file's order (nodes are brought up, and their
/// interfaces named, in the order they are written).
#[derive(Debug, Clone)]
pub struct Ordered<T>(pub Vec<(Text, T)>);

impl<T> Default for Ordered<T> {
    fn default() -> Self {
        Ordered(Vec::new())
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Ordered<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct OrderedVisitor<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for OrderedVisitor<T> {
            type Value = Ordered<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a mapping")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out: Vec<(Text, T)> = Vec::new();
                // A set beside the list: a file of 80 000 expectations is
                // checked in linear time, not quadratic.
                let mut seen = std::collections::HashSet::new();
                while let Some((key, value)) = map.next_entry::<Text, T>()? {
                    if !seen.insert(key.value.clone()) {
                        return Err(de::Error::custom(format!("{:?} is given twice", key.value)));
                    }
                    out.push((key, value));
                }
                Ok(Ordered(out))
            }
        }
        deserializer.deserialize_map(OrderedVisitor(PhantomData))
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabFile {
    pub name: Text,
    #[serde(default)]
    pub nodes: Ordered<Spanned<NodeFile>>,
    #[serde(default)]
    pub links: Vec<Spanned<SegmentFile>>,
    /// Shared segments by name: `lan: {endpoints: [a 10.0.0.1/24, ...]}`.
    #[serde(default)]
    pub bridges: Ordered<Spanned<SegmentFile>>,
    /// `SRC -> DEST: OUTCOME` entries.
    #[serde(default)]
    pub expect: Ordered<Text>,
    /// Probe the lab's expectations one at a time, in the file's order.
    #[serde(default)]
    pub sequential: Option<Spanned<bool>>,
    /// How long expectations may take to hold after `up` and after each
    /// step (routing daemons converging): `30s`.
    #[serde(default)]
    pub converge: Option<Text>,
    /// What the nodes' namespace names start with [default: the lab's
    /// name]: `clab-NAME` for a containerlab file's.
    #[serde(default)]
    pub netns_prefix: Option<Text>,
    #[serde(default)]
    pub steps: Vec<Spanned<StepFile>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeFile {
    /// Addresses on `lo`.
    #[serde(default)]
    pub lo: Vec<Text>,
    /// `net.ipv4.ip_forward` and `net.ipv6.conf.all.forwarding`; unsaid:
    /// on for a router node, off for any other (see `load::nodes`).
    #[serde(default)]
    pub forwarding: Option<Spanned<bool>>,
    #[serde(default)]
    pub sysctls: Ordered<Spanned<Scalar>>,
    #[serde(default)]
    pub routes: Vec<Text>,
    /// `nsbox nat add` arguments: `snat -s 10.0.1.0/24 --to-source 10.0.2.1`.
    #[serde(default)]
    pub nat: Vec<Text>,
    /// `nsbox filter add` arguments: `forward drop -s 10.0.1.2`.
    #[serde(default)]
    pub filter: Vec<Text>,
    /// A ruleset in nft's own language, loaded whole in the node beside
    /// nsbox's table: `nftables: |` and the lines of an nft file.
    #[serde(default)]
    pub nftables: Option<Text>,
    /// Commands (`sh -c`) started in the node once the lab is up, left
    /// running until `down`: servers, agents.
    #[serde(default)]
    pub run: Vec<Text>,
    /// The node is a container: its command runs in pid, mount, uts and
    /// ipc namespaces of its own, in the node's network namespace.
    #[serde(default)]
    pub container: Option<Spanned<ContainerFile>>,
    /// The node is a router running FRR's daemons (a container node whose
    /// /etc/frr is the lab's).
    #[serde(default)]
    pub frr: Option<Spanned<FrrFile>>,
    /// The node is a router running BIRD (a container node whose /etc/bird
    /// is the lab's).
    #[serde(default)]
    pub bird: Option<Spanned<BirdFile>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FrrFile {
    /// The protocol daemons beside zebra and staticd: `[ospfd, bgpd]`.
    #[serde(default)]
    pub daemons: Vec<Text>,
    /// FRR's integrated configuration (frr.conf): its lines, or a path
    /// relative to the lab file when it is one line.
    pub config: Text,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BirdFile {
    /// bird.conf: its lines, or a path relative to the lab file when it is
    /// one line.
    pub config: Text,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContainerFile {
    /// The container's long-running command (`sh -c`).
    pub command: Text,
    /// Its hostname [default: the node's name].
    #[serde(default)]
    pub hostname: Option<Text>,
    /// A root filesystem to pivot into [default: a read-only view of the
    /// host's].
    #[serde(default)]
    pub rootfs: Option<Text>,
    /// Host paths bound into the container: `SOURCE:DEST[:ro]` (SOURCE
    /// relative to the lab file).
    #[serde(default)]
    pub binds: Vec<Text>,
}

/// A sysctl value as written: `1`, `"1"` or `true` all mean 1.
#[derive(Debug, Clone)]
pub enum Scalar {
    Bool(bool),
    Int(i64),
    Text(String),
}

impl<'de> Deserialize<'de> for Scalar {
    /// Any scalar, said in the file's words when it is not one (an untagged
    /// enum would say "data did not match any variant of untagged enum").
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ScalarVisitor;
        impl<'de> Visitor<'de> for ScalarVisitor {
            type Value = Scalar;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a sysctl value: a number, true/false or a text")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Scalar, E> {
                Ok(Scalar::Bool(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar, E> {
                Ok(Scalar::Int(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar, E> {
                Ok(i64::try_from(v).map_or_else(|_| Scalar::Text(v.to_string()), Scalar::Int))
            }
            fn visit_i128<E: de::Error>(self, v: i128) -> Result<Scalar, E> {
                Ok(Scalar::Text(v.to_string()))
            }
            fn visit_u128<E: de::Error>(self, v: u128) -> Result<Scalar, E> {
                Ok(Scalar::Text(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Scalar, E> {
                Ok(Scalar::Text(v.to_string()))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar, E> {
                Ok(Scalar::Text(v.to_string()))
            }
        }
        deserializer.deserialize_any(ScalarVisitor)
    }
}

impl Scalar {
    pub fn to_sysctl(&self) -> String {
        match self {
            Scalar::Bool(b) => u8::from(*b).to_string(),
            Scalar::Int(i) => i.to_string(),
            Scalar::Text(t) => t.clone(),
        }
    }
}

/// A link (`links:`, exactly two ends) or a bridge (`bridges:`, two ends
/// or more): the same fields, and the same for every end.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SegmentFile {
    /// The ends: `NODE[:IFACE] [ADDR/LEN ...]`.
    pub endpoints: Vec<Text>,
    #[serde(default)]
    pub mtu: Option<Spanned<u32>>,
    /// `10mbit`: each end sends at most this much (a tbf qdisc).
    #[serde(default)]
    pub rate: Option<Text>,
    /// Delay and loss need netem, which not every kernel has.
    #[serde(default)]
    pub delay: Option<Text>,
    #[serde(default)]
    pub loss: Option<Text>,
}

/// One step of a scenario: changes, then what must hold.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepFile {
    pub name: Text,
    #[serde(default)]
    pub add: Ordered<Spanned<ChangeFile>>,
    #[serde(default)]
    pub remove: Ordered<Spanned<ChangeFile>>,
    /// Sysctls to set, per node.
    #[serde(default)]
    pub sysctls: Ordered<Ordered<Spanned<Scalar>>>,
    /// Nodes whose neighbour (ARP/NDP) caches are emptied.
    #[serde(default)]
    pub flush_neighbours: Vec<Text>,
    /// Pairs of nodes to cut apart: `[[n1, n2]]`.
    #[serde(default)]
    pub partition: Vec<Spanned<Vec<Text>>>,
    /// Pairs of nodes to join again.
    #[serde(default)]
    pub heal: Vec<Spanned<Vec<Text>>>,
    /// Links made at this step, as the lab's `links` (no rate, delay or
    /// loss).
    #[serde(default)]
    pub connect: Vec<Spanned<SegmentFile>>,
    /// Links taken away at this step, each by one of its ends
    /// (`NODE:IFACE`): the veth pair goes whole.
    #[serde(default)]
    pub disconnect: Vec<Text>,
    /// Node interfaces set down (`NODE:IFACE`), as `ip link set down`.
    #[serde(default)]
    pub down: Vec<Text>,
    /// Interfaces captured while the step's changes are made and its
    /// expectations probed (`NODE:IFACE`): a pcap file each, beside the
    /// report.
    #[serde(default)]
    pub capture: Vec<Text>,
    /// Links pulled as a cable is (`NODE:IFACE`, either end): both ends
    /// set down, so that each side's daemons see their interface go.
    #[serde(default)]
    pub link_down: Vec<Text>,
    /// Links plugged back in: both ends set up again.
    #[serde(default)]
    pub link_up: Vec<Text>,
    /// Node interfaces set up again.
    #[serde(default)]
    pub up: Vec<Text>,
    /// Commands run in nodes, in order, each to its end: `[NODE, CMD]`
    /// (it must exit 0) or `[NODE, CMD, STATUS]`.
    #[serde(default)]
    pub exec: Vec<Spanned<Vec<Text>>>,
    /// How long the step's expectations may take to hold (routing daemons
    /// converging): `30s` [default: the lab's].
    #[serde(default)]
    pub converge: Option<Text>,
    /// A pause after the step's changes, before its expectations: `2s`,
    /// `500ms`.
    #[serde(default)]
    pub wait: Option<Text>,
    /// Probe the step's expectations one at a time, in the file's order.
    #[serde(default)]
    pub sequential: Option<Spanned<bool>>,
    #[serde(default)]
    pub expect: Ordered<Text>,
}

/// What a step adds to or removes from one node.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangeFile {
    /// `IFACE ADDRESS/PREFIX`: an address given to (or taken from) one of
    /// the node's interfaces.
    #[serde(default)]
    pub addresses: Vec<Text>,
    #[serde(default)]
    pub routes: Vec<Text>,
    #[serde(default)]
    pub nat: Vec<Text>,
    #[serde(default)]
    pub filter: Vec<Text>,
}
