//! What takes a TCP or UDP request where it arrives: a socket listening on
//! (or bound to) its port, as the node's kernel lists its sockets. Without
//! one the kernel refuses the request: a reset for TCP, ICMP port
//! unreachable for UDP.

use super::*;

impl Walk<'_> {
    /// Whether a socket of `node` takes a request to `port`, said in words.
    pub(super) fn service(&mut self, node: usize, port: Port) -> bool {
        let fd = [&self.nodes[node].fd];
        let ports = match port.transport {
            Transport::Tcp => nsbox_net::tcp::listening_ports_in_each(&fd),
            Transport::Udp => nsbox_net::tcp::bound_udp_ports_in_each(&fd),
        };
        let name = self.name(node).to_string();
        let (proto, number) = (words(port.transport), port.number);
        let Ok(ports) = ports else {
            let note = format!("{name}: its sockets could not be read: whether {proto}/{number} is open is not known");
            self.say(format!("note: {note}"));
            self.unmodeled.push(note);
            return true;
        };
        let open = ports.first().is_some_and(|p| p.contains(&number));
        self.say(match (port.transport, open) {
            (Transport::Tcp, true) => format!("{name}: a socket listens on tcp/{number}: the connection is accepted"),
            (Transport::Tcp, false) => {
                format!("{name}: nothing listens on tcp/{number}: the kernel answers with a reset (closed)")
            }
            (Transport::Udp, true) => format!(
                "{name}: a socket is bound to udp/{number}: the datagram is delivered (open if the service answers it)"
            ),
            (Transport::Udp, false) => {
                format!("{name}: nothing is bound to udp/{number}: the kernel answers port unreachable (closed)")
            }
        });
        open
    }
}
