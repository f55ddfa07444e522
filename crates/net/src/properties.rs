//! Round trips: what nsbox builds, serialized and parsed back by the
//! decoder nsbox reads the kernel's replies with, says the same thing.

use crate::icmp::{echo_request, parse_v4, Received};
use crate::socket::encode;
use ipnet::IpNet;
use netlink_packet_core::{NetlinkMessage, NetlinkPayload};
use netlink_packet_route::RouteNetlinkMessage;
use proptest::prelude::*;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

fn decode(bytes: &[u8]) -> RouteNetlinkMessage {
    match NetlinkMessage::<RouteNetlinkMessage>::deserialize(bytes)
        .unwrap()
        .payload
    {
        NetlinkPayload::InnerMessage(m) => m,
        other => panic!("not a route message: {other:?}"),
    }
}

fn any_net() -> impl Strategy<Value = IpNet> {
    prop_oneof![
        (any::<u32>(), 0u8..=32).prop_map(|(a, p)| IpNet::new(IpAddr::V4(Ipv4Addr::from(a)), p).unwrap()),
        (any::<u128>(), 0u8..=128).prop_map(|(a, p)| IpNet::new(IpAddr::V6(Ipv6Addr::from(a)), p).unwrap()),
    ]
}

proptest! {
    #[test]
    fn addresses_round_trip(net in any_net(), index in 1u32..10_000) {
        let bytes = encode(RouteNetlinkMessage::NewAddress(crate::addr::address_message(index, net)), 0, 1);
        let RouteNetlinkMessage::NewAddress(msg) = decode(&bytes) else { panic!() };
        prop_assert_eq!(msg.header.index, index);
        let back = crate::addr::tests_support::address_from_message(msg).unwrap();
        prop_assert_eq!(back.address, net);
    }

    #[test]
    fn routes_round_trip(net in any_net(), gw in any::<u32>(), metric in proptest::option::of(any::<u32>())) {
        let spec = crate::route::RouteSpec {
            destination: Some(net),
            gateway: net.addr().is_ipv4().then_some(IpAddr::V4(Ipv4Addr::from(gw))),
            metric,
            ..Default::default()
        };
        let bytes = encode(RouteNetlinkMessage::NewRoute(crate::route::message_without_dev(&spec)), 0, 1);
        let RouteNetlinkMessage::NewRoute(msg) = decode(&bytes) else { panic!() };
        let back = crate::route::tests_support::route_from_message(msg).unwrap();
        prop_assert_eq!(back.destination, net.trunc());
        prop_assert_eq!(back.gateway, spec.gateway);
        prop_assert_eq!(back.metric, metric);
    }

    #[test]
    fn echo_replies_round_trip(id: u16, seq: u16, size in 0usize..1500, ttl: u8) {
        let mut reply = echo_request(false, id, seq, size);
        reply[0] = 0;
        let mut packet = vec![0x45, 0, 0, 0, 0, 0, 0, 0, ttl, 1, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2];
        packet.extend_from_slice(&reply);
        let got = parse_v4(&packet, id);
        prop_assert_eq!(got, Some(Received::Reply { seq, from: "10.0.0.1".parse().unwrap(), bytes: 8 + size, ttl: Some(ttl) }));
    }

    #[test]
    fn icmp_parsing_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200), id: u16) {
        let _ = parse_v4(&bytes, id);
        let _ = crate::icmp::parse_v6(&bytes, Ipv6Addr::LOCALHOST, id);
    }
}
