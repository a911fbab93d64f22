//! The checker on recorded strace lines. Lines in the `REAL_*` constants were captured on the
//! development machine (strace 6.1, tor 0.4.9.11, `cargo xtask leaks` and its self-tests in
//! the loopback-only namespace), unmodified; the others are written by hand and say so.

use super::*;
use crate::leaks::selftest;

/// An excerpt of the ping listener's trace: its tor's unix listeners, the control
/// connections, tor's ORPort connections and TLS writes, getifaddrs over netlink and C tor's
/// interface probe, the onion service socket, and calls split in unfinished/resumed halves
/// by other threads. (The ADD_ONION line, which holds part of a key, is left out.)
const REAL_LISTENER: &str = r#"16695 socket(AF_UNIX, SOCK_STREAM|SOCK_CLOEXEC|SOCK_NONBLOCK, 0) = 6<UNIX-STREAM:[143027]>
16695 bind(6<UNIX-STREAM:[143027]>, {sa_family=AF_UNIX, sun_path="/tmp/torp2p-testnet-ycJpnW/listener/torp2p-tor-fgbaK4/socks.sock"}, 110 <unfinished ...>
16689 write(2</tmp/torp2p-testnet-ycJpnW/leak-listener.log>, "\33[2m2026-12-01T09:03:21.127737Z\33[0m \33[34mDEBUG\33[0m \33[2mtor\33[0m\33["..., 218 <unfinished ...>
16695 <... bind resumed>)               = 0
16695 socket(AF_UNIX, SOCK_STREAM|SOCK_CLOEXEC|SOCK_NONBLOCK, 0) = 7<UNIX-STREAM:[143031]>
16695 bind(7<UNIX-STREAM:[143031]>, {sa_family=AF_UNIX, sun_path="/tmp/torp2p-testnet-ycJpnW/listener/torp2p-tor-fgbaK4/control.sock"}, 110) = 0
16688 socket(AF_UNIX, SOCK_STREAM|SOCK_CLOEXEC|SOCK_NONBLOCK, 0) = 12<UNIX-STREAM:[143483]>
16688 connect(12<UNIX-STREAM:[143483]>, {sa_family=AF_UNIX, sun_path="/tmp/torp2p-testnet-ycJpnW/listener/torp2p-tor-fgbaK4/control.sock"}, 69) = 0
16688 sendto(12<UNIX-STREAM:[143483]>, "PROTOCOLINFO 1\r\n", 16, MSG_NOSIGNAL, NULL, 0) = 16
16695 sendto(11<UNIX-STREAM:[143040->143483,"/tmp/torp2p-testnet-ycJpnW/listener/torp2p-tor-fgbaK4/control.sock"]>, "250-PROTOCOLINFO 1\r\n250-AUTH METHODS=COOKIE,SAFECOOKIE COOKIEFIL"..., 179, 0, NULL, 0) = 179
16688 sendto(12<UNIX-STREAM:[143483->143040]>, "TAKEOWNERSHIP\r\n", 15, MSG_NOSIGNAL, NULL, 0) = 15
16695 sendto(11<UNIX-STREAM:[143040->143483,"/tmp/torp2p-testnet-ycJpnW/listener/torp2p-tor-fgbaK4/control.sock"]>, "250 OK\r\n", 8, 0, NULL, 0) = 8
16688 socket(AF_UNIX, SOCK_STREAM|SOCK_CLOEXEC|SOCK_NONBLOCK, 0) = 14<UNIX-STREAM:[143045]>
16688 connect(14<UNIX-STREAM:[143045]>, {sa_family=AF_UNIX, sun_path="/tmp/torp2p-testnet-ycJpnW/listener/torp2p-tor-fgbaK4/control.sock"}, 69) = 0
16688 sendto(14<UNIX-STREAM:[143045->143046]>, "PROTOCOLINFO 1\r\n", 16, MSG_NOSIGNAL, NULL, 0 <unfinished ...>
16688 <... sendto resumed>)             = 16
16688 sendto(14<UNIX-STREAM:[143045->143046]>, "SETEVENTS STATUS_CLIENT HS_DESC\r\n", 33, MSG_NOSIGNAL, NULL, 0) = 33
16695 socket(AF_INET, SOCK_STREAM|SOCK_CLOEXEC|SOCK_NONBLOCK, IPPROTO_TCP) = 13<TCP:[143126]>
16695 connect(13<TCP:[143126]>, {sa_family=AF_INET, sin_port=htons(30460), sin_addr=inet_addr("127.0.0.1")}, 16) = -1 EINPROGRESS (Operation now in progress)
16695 socket(AF_NETLINK, SOCK_RAW|SOCK_CLOEXEC, NETLINK_ROUTE) = 14<NETLINK:[143132]>
16695 bind(14<NETLINK:[143132]>, {sa_family=AF_NETLINK, nl_pid=0, nl_groups=00000000}, 12) = 0
16695 sendto(14<NETLINK:[ROUTE:16695]>, [{nlmsg_len=20, nlmsg_type=RTM_GETLINK, nlmsg_flags=NLM_F_REQUEST|NLM_F_DUMP, nlmsg_seq=1796115802, nlmsg_pid=0}, {ifi_family=AF_UNSPEC, ...}], 20, 0, {sa_family=AF_NETLINK, nl_pid=0, nl_groups=00000000}, 12) = 20
16695 sendto(14<NETLINK:[ROUTE:16695]>, [{nlmsg_len=20, nlmsg_type=RTM_GETADDR, nlmsg_flags=NLM_F_REQUEST|NLM_F_DUMP, nlmsg_seq=1796115803, nlmsg_pid=0}, {ifa_family=AF_UNSPEC, ...}], 20, 0, {sa_family=AF_NETLINK, nl_pid=0, nl_groups=00000000}, 12) = 20
16695 socket(AF_INET, SOCK_DGRAM|SOCK_CLOEXEC, IPPROTO_UDP) = 14<UDP:[143137]>
16695 connect(14<UDP:[143137]>, {sa_family=AF_INET, sin_port=htons(9), sin_addr=inet_addr("18.0.0.1")}, 16) = -1 ENETUNREACH (Network is unreachable)
16695 write(13<TCP:[127.0.0.1:57102->127.0.0.1:30460]>, "\26\3\1\2\0\1\0\1\374\3\3\272i+\224\360\240\352z\n\224f\333\215\217\21;\2X\236D\366>g\226[\5\317\264\263&9J \323\273\31\34\343\340\364?<:,\236\4!S\364\347\0220\205"..., 517) = 517
16695 write(13<TCP:[127.0.0.1:57102->127.0.0.1:30460]>, "\27\3\3\0\34\202#`Ei\30-t\320\351\36\372,\6\214BX\325{\330\250\245GC\2174n\32", 33) = 33
16695 sendto(12<UNIX-STREAM:[143046->143045,"/tmp/torp2p-testnet-ycJpnW/listener/torp2p-tor-fgbaK4/control.sock"]>, "650 STATUS_CLIENT NOTICE BOOTSTRAP PROGRESS=5 TAG=conn SUMMARY=\""..., 278, 0, NULL, 0) = 278
16695 socket(AF_INET, SOCK_STREAM|SOCK_CLOEXEC|SOCK_NONBLOCK, IPPROTO_TCP) = 14<TCP:[143545]>
16695 connect(14<TCP:[143545]>, {sa_family=AF_INET, sin_port=htons(26319), sin_addr=inet_addr("127.0.0.1")}, 16) = -1 EINPROGRESS (Operation now in progress)
16695 socket(AF_NETLINK, SOCK_RAW|SOCK_CLOEXEC, NETLINK_ROUTE) = 15<NETLINK:[143548]>
16695 bind(15<NETLINK:[143548]>, {sa_family=AF_NETLINK, nl_pid=0, nl_groups=00000000}, 12 <unfinished ...>
16695 <... bind resumed>)               = 0
16695 socket(AF_INET, SOCK_DGRAM|SOCK_CLOEXEC, IPPROTO_UDP) = 15<UDP:[143169]>
16695 connect(15<UDP:[143169]>, {sa_family=AF_INET, sin_port=htons(9), sin_addr=inet_addr("18.0.0.1")}, 16) = -1 ENETUNREACH (Network is unreachable)
16695 write(14<TCP:[127.0.0.1:45080->127.0.0.1:26319]>, "\26\3\1\2\0\1\0\1\374\3\3Rc\262\303\300\317\373\305M\202\\\367\36#\332||Hu\213\337\265}yJ\234\327\353\217\232\335\315 @\32q\233YA\10\332*\340\354t0|\243\206\374l\3200"..., 517) = 517
16689 bind(15<UNIX-STREAM:[143560]>, {sa_family=AF_UNIX, sun_path="/tmp/torp2p-testnet-ycJpnW/listener/torp2p-listener-KG4Lg3/listener.sock"}, 75) = 0
16695 connect(15<UNIX-STREAM:[143655]>, {sa_family=AF_UNIX, sun_path="/tmp/torp2p-testnet-ycJpnW/listener/torp2p-listener-KG4Lg3/listener.sock"}, 110) = 0
16689 sendto(16<UNIX-STREAM:[143658->143655,"/tmp/torp2p-testnet-ycJpnW/listener/torp2p-listener-KG4Lg3/listener.sock"]>, "\23/multistream/1.0.0\n", 20, MSG_NOSIGNAL, NULL, 0) = 20
16688 write(4<anon_inode:[eventfd]>, "\1\0\0\0\0\0\0\0", 8) = 8
"#;

/// What the listener's trace was allowed: the ports it connected to, its own directory.
fn listener_allowed() -> Allowed {
    Allowed {
        tcp: ["127.0.0.1:30460", "127.0.0.1:26319"]
            .iter()
            .map(|a| a.parse().unwrap())
            .collect(),
        unix_dirs: vec!["/tmp/torp2p-testnet-ycJpnW/listener".into()],
        interface_probe: true,
    }
}

/// The clearnet example's dial of example.com:80 through tor's SOCKS port, and tor's answers
/// (0x06 at the end: no exit, `SocksTimeout` ran out).
const REAL_CLEARNET: &str = r#"28523 bind(6<UNIX-STREAM:[117684]>, {sa_family=AF_UNIX, sun_path="/tmp/torp2p-tor-GcPiq8/socks.sock"}, 110) = 0
28517 socket(AF_UNIX, SOCK_STREAM|SOCK_CLOEXEC|SOCK_NONBLOCK, 0) = 15<UNIX-STREAM:[116689]>
28517 connect(15<UNIX-STREAM:[116689]>, {sa_family=AF_UNIX, sun_path="/tmp/torp2p-tor-GcPiq8/socks.sock"}, 36) = 0
28517 sendto(15<UNIX-STREAM:[116689->116690]>, "\5\2\0\2", 4, MSG_NOSIGNAL, NULL, 0) = 4
28523 sendto(16<UNIX-STREAM:[116690->116689,"/tmp/torp2p-tor-GcPiq8/socks.sock"]>, "\5\2", 2, 0, NULL, 0) = 2
28517 sendto(15<UNIX-STREAM:[116689->116690]>, "\1\25target:example.com:80\27torp2p-8dae6de551d9ed31", 47, MSG_NOSIGNAL, NULL, 0) = 47
28523 sendto(16<UNIX-STREAM:[116690->116689,"/tmp/torp2p-tor-GcPiq8/socks.sock"]>, "\1\0", 2, 0, NULL, 0) = 2
28517 sendto(15<UNIX-STREAM:[116689->116690]>, "\5\1\0\3\vexample.com\0P", 18, MSG_NOSIGNAL, NULL, 0) = 18
28523 sendto(16<UNIX-STREAM:[116690->116689,"/tmp/torp2p-tor-GcPiq8/socks.sock"]>, "\5\6\0\4\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 22, 0, NULL, 0) = 22
28517 write(1</tmp/lk/clear.out>, "dial failed: SOCKS reply 0x06: the connection to example.com:80 "..., 160) = 160
"#;

/// The traces of the self-test programs (`xtask leaks --selftest <name>`), by name.
const REAL_SELFTESTS: &[(&str, &str)] = &[
    (
        "dns",
        r#"16650 socket(AF_UNIX, SOCK_STREAM|SOCK_CLOEXEC|SOCK_NONBLOCK, 0) = 3<UNIX-STREAM:[142795]>
16650 connect(3<UNIX-STREAM:[142795]>, {sa_family=AF_UNIX, sun_path="/var/run/nscd/socket"}, 110) = -1 ENOENT (No such file or directory)
16650 socket(AF_UNIX, SOCK_STREAM|SOCK_CLOEXEC|SOCK_NONBLOCK, 0) = 3<UNIX-STREAM:[142802]>
16650 connect(3<UNIX-STREAM:[142802]>, {sa_family=AF_UNIX, sun_path="/var/run/nscd/socket"}, 110) = -1 ENOENT (No such file or directory)
16650 socket(AF_INET, SOCK_DGRAM|SOCK_CLOEXEC|SOCK_NONBLOCK, IPPROTO_IP) = 3<UDP:[142805]>
16650 connect(3<UDP:[142805]>, {sa_family=AF_INET, sin_port=htons(53), sin_addr=inet_addr("10.255.255.53")}, 16) = -1 ENETUNREACH (Network is unreachable)
16650 socket(AF_INET, SOCK_DGRAM|SOCK_CLOEXEC|SOCK_NONBLOCK, IPPROTO_IP) = 3<UDP:[142808]>
16650 connect(3<UDP:[142808]>, {sa_family=AF_INET, sin_port=htons(53), sin_addr=inet_addr("10.255.255.53")}, 16) = -1 ENETUNREACH (Network is unreachable)
"#,
    ),
    (
        "tcp-private",
        r#"16654 socket(AF_INET, SOCK_STREAM|SOCK_CLOEXEC, IPPROTO_IP) = 3<TCP:[142818]>
16654 connect(3<TCP:[142818]>, {sa_family=AF_INET, sin_port=htons(9), sin_addr=inet_addr("10.255.255.1")}, 16) = -1 ENETUNREACH (Network is unreachable)
"#,
    ),
    (
        "dns-stub",
        r#"16658 socket(AF_INET, SOCK_STREAM|SOCK_CLOEXEC, IPPROTO_IP) = 3<TCP:[142834]>
16658 connect(3<TCP:[142834]>, {sa_family=AF_INET, sin_port=htons(53), sin_addr=inet_addr("127.0.0.53")}, 16) = -1 EINPROGRESS (Operation now in progress)
"#,
    ),
    (
        "loopback-port",
        r#"16663 socket(AF_INET, SOCK_STREAM|SOCK_CLOEXEC, IPPROTO_IP) = 3<TCP:[142850]>
16663 connect(3<TCP:[142850]>, {sa_family=AF_INET, sin_port=htons(9), sin_addr=inet_addr("127.0.0.1")}, 16) = -1 EINPROGRESS (Operation now in progress)
"#,
    ),
    (
        "ipv6-loopback",
        r#"16667 socket(AF_INET6, SOCK_STREAM|SOCK_CLOEXEC, IPPROTO_IP) = 3<TCPv6:[142864]>
16667 connect(3<TCPv6:[142864]>, {sa_family=AF_INET6, sin6_port=htons(9), sin6_flowinfo=htonl(0), inet_pton(AF_INET6, "::1", &sin6_addr), sin6_scope_id=0}, 28) = -1 EINPROGRESS (Operation now in progress)
"#,
    ),
    (
        "udp-sendto",
        r#"16671 socket(AF_INET, SOCK_DGRAM|SOCK_CLOEXEC, IPPROTO_IP) = 3<UDP:[142878]>
16671 bind(3<UDP:[142878]>, {sa_family=AF_INET, sin_port=htons(0), sin_addr=inet_addr("127.0.0.1")}, 16) = 0
16671 sendto(3<UDP:[127.0.0.1:58665]>, "x", 1, MSG_NOSIGNAL, {sa_family=AF_INET, sin_port=htons(53), sin_addr=inet_addr("127.0.0.1")}, 16) = 1
"#,
    ),
    (
        "probe-then-send",
        r#"16675 socket(AF_INET, SOCK_DGRAM|SOCK_CLOEXEC, IPPROTO_IP) = 3<UDP:[142893]>
16675 bind(3<UDP:[142893]>, {sa_family=AF_INET, sin_port=htons(0), sin_addr=inet_addr("0.0.0.0")}, 16) = 0
16675 connect(3<UDP:[0.0.0.0:54017]>, {sa_family=AF_INET, sin_port=htons(9), sin_addr=inet_addr("18.0.0.1")}, 16) = -1 ENETUNREACH (Network is unreachable)
16675 sendto(3<UDP:[0.0.0.0:54017]>, "x", 1, MSG_NOSIGNAL, NULL, 0) = -1 EDESTADDRREQ (Destination address required)
"#,
    ),
    (
        "bind-any",
        r#"16679 socket(AF_INET, SOCK_STREAM|SOCK_CLOEXEC, IPPROTO_IP) = 3<TCP:[143428]>
16679 bind(3<TCP:[143428]>, {sa_family=AF_INET, sin_port=htons(0), sin_addr=inet_addr("0.0.0.0")}, 16) = 0
"#,
    ),
    (
        "unix-outside",
        r#"16684 socket(AF_UNIX, SOCK_STREAM|SOCK_CLOEXEC, 0) = 3<UNIX-STREAM:[143442]>
16684 connect(3<UNIX-STREAM:[143442]>, {sa_family=AF_UNIX, sun_path="/tmp/.X11-unix/X0"}, 20) = -1 ENOENT (No such file or directory)
"#,
    ),
];

/// glibc's resolver (`getent ahosts example.com`) with `nameserver 127.0.0.53`, in a network
/// and mount namespace of its own: the queries go out with sendmmsg on a connected UDP socket.
const REAL_DNS_STUB: &str = r#"9722  socket(AF_INET, SOCK_DGRAM|SOCK_CLOEXEC|SOCK_NONBLOCK, IPPROTO_IP) = 3<UDP:[135723]>
9722  connect(3<UDP:[135723]>, {sa_family=AF_INET, sin_port=htons(53), sin_addr=inet_addr("127.0.0.53")}, 16) = 0
9722  sendmmsg(3<UDP:[127.0.0.1:39075->127.0.0.53:53]>, [{msg_hdr={msg_name=NULL, msg_namelen=0, msg_iov=[{iov_base=">\265\1\0\0\1\0\0\0\0\0\0\7example\3com\0\0\1\0\1", iov_len=29}], msg_iovlen=1, msg_controllen=0, msg_flags=0}, msg_len=29}, {msg_hdr={msg_name=NULL, msg_namelen=0, msg_iov=[{iov_base="\355\260\1\0\0\1\0\0\0\0\0\0\7example\3com\0\0\34\0\1", iov_len=29}], msg_iovlen=1, msg_controllen=0, msg_flags=0}}], 2, MSG_NOSIGNAL) = 1
9722  sendto(3<UDP:[127.0.0.1:39075->127.0.0.53:53]>, "\355\260\1\0\0\1\0\0\0\0\0\0\7example\3com\0\0\34\0\1", 29, MSG_NOSIGNAL, NULL, 0) = 29
"#;

fn leaks(v: &Verdict) -> Vec<&Leak> {
    v.findings.iter().map(|f| &f.leak).collect()
}

#[test]
fn the_real_listener_trace_passes() {
    let v = check(REAL_LISTENER, &listener_allowed());
    assert!(v.clean().is_ok(), "{:?}", v.findings);
    assert!(v.traced_enough().is_ok());
    assert_eq!(
        (v.network, v.unix, v.probes.len()),
        (2, 3, 2),
        "{}",
        v.summary()
    );
    // Two netlink binds, two RTM_GET* requests.
    assert_eq!(v.netlink, 4);
    assert!(v.probes[0].contains("18.0.0.1"));
    // The split bind was joined: the finding line would be whole.
    assert!(
        calls(REAL_LISTENER)
            .iter()
            .any(|c| c.name == "bind" && c.text.contains("socks.sock") && c.text.ends_with("= 0"))
    );
}

#[test]
fn without_the_probe_allowance_tors_probe_fails() {
    let allowed = Allowed {
        interface_probe: false,
        ..listener_allowed()
    };
    let v = check(REAL_LISTENER, &allowed);
    let probe = Addr::Inet("18.0.0.1:9".parse().unwrap());
    assert_eq!(
        leaks(&v),
        [&Leak::Connect(probe.clone()), &Leak::Connect(probe)]
    );
    assert!(v.findings[0].line.starts_with("connect(14<UDP:[143137]>"));
}

#[test]
fn a_port_that_is_not_the_networks_fails_with_its_connect_and_its_data() {
    let mut allowed = listener_allowed();
    allowed.tcp.remove(&"127.0.0.1:26319".parse().unwrap());
    let v = check(REAL_LISTENER, &allowed);
    assert_eq!(
        leaks(&v),
        [
            &Leak::Connect(Addr::Inet("127.0.0.1:26319".parse().unwrap())),
            &Leak::TcpPeer("127.0.0.1:45080->127.0.0.1:26319".into()),
        ]
    );
}

#[test]
fn unix_sockets_outside_the_programs_directory_fail() {
    let allowed = Allowed {
        unix_dirs: vec!["/tmp/torp2p-testnet-ycJpnW/dialer".into()],
        ..listener_allowed()
    };
    let v = check(REAL_LISTENER, &allowed);
    let binds = leaks(&v)
        .iter()
        .filter(|l| matches!(l, Leak::Bind(Addr::Unix(_))))
        .count();
    let connects = leaks(&v)
        .iter()
        .filter(|l| matches!(l, Leak::Connect(Addr::Unix(_))))
        .count();
    assert_eq!((binds, connects, v.findings.len()), (3, 3, 6));
    // A prefix of a directory name is not that directory.
    let allowed = Allowed {
        unix_dirs: vec!["/tmp/torp2p-testnet-ycJpnW/list".into()],
        ..listener_allowed()
    };
    assert_eq!(check(REAL_LISTENER, &allowed).findings.len(), 6);
}

#[test]
fn the_clearnet_dial_is_a_socks_domain_request_on_tors_socks_port() {
    let allowed = Allowed {
        unix_dirs: vec!["/tmp/torp2p-tor-GcPiq8".into()],
        ..Allowed::default()
    };
    let v = check(REAL_CLEARNET, &allowed);
    assert!(v.clean().is_ok(), "{:?}", v.findings);
    // tor's replies (05 02, 05 06 ...) and the isolation credentials are not requests.
    assert_eq!(
        v.socks,
        [SocksRequest {
            socket: Some("/tmp/torp2p-tor-GcPiq8/socks.sock".into()),
            host: "example.com".into(),
            is_name: true,
            port: 80,
        }]
    );
    // Without the connect() line the socket's path is unknown.
    let without_connect: String = REAL_CLEARNET
        .lines()
        .filter(|l| !l.contains("connect("))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(check(&without_connect, &allowed).socks[0].socket, None);
}

#[test]
fn every_recorded_self_test_is_caught() {
    let allowed = listener_allowed();
    assert_eq!(REAL_SELFTESTS.len(), selftest::ALL.len());
    for test in selftest::ALL {
        let (_, trace) = REAL_SELFTESTS
            .iter()
            .find(|(name, _)| *name == test.name)
            .unwrap();
        let v = check(trace, &allowed);
        assert!(
            v.findings.iter().any(|f| (test.expect)(&f.leak)),
            "{}: {:?}",
            test.name,
            v.findings
        );
        assert!(v.clean().is_err());
    }
}

#[test]
fn the_self_tests_find_what_they_should() {
    let allowed = listener_allowed();
    let found = |name: &str| {
        let (_, trace) = REAL_SELFTESTS.iter().find(|(n, _)| *n == name).unwrap();
        check(trace, &allowed)
            .findings
            .into_iter()
            .map(|f| f.leak)
            .collect::<Vec<_>>()
    };
    let inet = |a: &str| Addr::Inet(a.parse().unwrap());
    let nscd = Leak::Connect(Addr::Unix("/var/run/nscd/socket".into()));
    let dns = Leak::Connect(inet("10.255.255.53:53"));
    assert_eq!(found("dns"), [nscd.clone(), nscd, dns.clone(), dns]);
    assert_eq!(
        found("udp-sendto"),
        [
            Leak::Bind(inet("127.0.0.1:0")),
            Leak::UdpData,
            Leak::SendTo(inet("127.0.0.1:53")),
        ]
    );
    // The connect() is tor's probe pattern and passes; the send on it does not.
    assert_eq!(
        found("probe-then-send"),
        [Leak::Bind(inet("0.0.0.0:0")), Leak::UdpData]
    );
}

#[test]
fn a_local_dns_stub_fails_on_connect_and_on_every_send() {
    let v = check(REAL_DNS_STUB, &listener_allowed());
    assert_eq!(
        leaks(&v),
        [
            &Leak::Connect(Addr::Inet("127.0.0.53:53".parse().unwrap())),
            &Leak::UdpData,
            &Leak::UdpData,
        ]
    );
}

/// Written by hand: strace's formats for cases not seen on this machine.
mod hand_written {
    use super::*;

    fn one(line: &str) -> Vec<Leak> {
        check(line, &listener_allowed())
            .findings
            .into_iter()
            .map(|f| f.leak)
            .collect()
    }

    #[test]
    fn tors_ipv6_probe_passes_only_on_a_udp6_socket() {
        let probe = "7 connect(14<UDPv6:[1]>, {sa_family=AF_INET6, sin6_port=htons(9), sin6_flowinfo=htonl(0), inet_pton(AF_INET6, \"2002::\", &sin6_addr), sin6_scope_id=0}, 28) = -1 ENETUNREACH\n";
        assert_eq!(one(probe), []);
        assert_eq!(check(probe, &listener_allowed()).probes.len(), 1);
        let tcp = probe.replace("UDPv6", "TCPv6");
        assert_eq!(one(&tcp).len(), 1);
        // The IPv4 probe address on an IPv6 socket, or another port: not the probe.
        let v4_on_udp6 = "7 connect(14<UDPv6:[1]>, {sa_family=AF_INET, sin_port=htons(9), sin_addr=inet_addr(\"18.0.0.1\")}, 16) = -1\n";
        assert_eq!(one(v4_on_udp6).len(), 1);
        let port = "7 connect(14<UDP:[1]>, {sa_family=AF_INET, sin_port=htons(53), sin_addr=inet_addr(\"18.0.0.1\")}, 16) = -1\n";
        assert_eq!(one(port).len(), 1);
        // Without -yy's annotation the socket's kind is unknown: not the probe.
        let bare = "7 connect(14, {sa_family=AF_INET, sin_port=htons(9), sin_addr=inet_addr(\"18.0.0.1\")}, 16) = -1\n";
        assert_eq!(one(bare).len(), 1);
    }

    #[test]
    fn a_send_on_a_connected_probe_socket_fails_outside_a_namespace_too() {
        // Where the connect() succeeds, -yy names the peer instead of the inode.
        let send = "7 write(14<UDP:[192.168.1.2:40000->18.0.0.1:9]>, \"x\", 1) = 1\n";
        assert_eq!(one(send), [Leak::UdpData]);
        let sendmmsg = "7 sendmmsg(14<UDPv6:[[2001:db8::2]:40000->[2002::]:9]>, [{msg_hdr={msg_name=NULL, msg_namelen=0, msg_iov=[{iov_base=\"x\", iov_len=1}], msg_iovlen=1, msg_controllen=0, msg_flags=0}}], 1, 0) = 1\n";
        assert_eq!(one(sendmmsg), [Leak::UdpData]);
    }

    #[test]
    fn what_cannot_be_decoded_fails() {
        let pointer =
            "7 sendto(14<TCP:[127.0.0.1:1->127.0.0.1:30460]>, \"x\", 1, 0, 0x7ffd5e1c, 16) = 1\n";
        assert!(matches!(one(pointer)[..], [Leak::Undecoded(_)]));
        let truncated =
            "7 sendmmsg(14<UNIX-STREAM:[5]>, [{msg_hdr={msg_name=NULL}}, ...], 70, 0) = 70\n";
        assert!(matches!(one(truncated)[..], [Leak::Undecoded(_)]));
        let no_annotation = "7 write(14, \"x\", 1) = 1\n";
        assert!(matches!(one(no_annotation)[..], [Leak::Undecoded(_)]));
        let unknown_socket = "7 write(14<socket:[1234]>, \"x\", 1) = 1\n";
        assert!(matches!(one(unknown_socket)[..], [Leak::Undecoded(_)]));
        let connect_pointer = "7 connect(14<TCP:[1]>, 0x7ffd5e1c, 16) = -1 EFAULT\n";
        assert!(matches!(one(connect_pointer)[..], [Leak::Undecoded(_)]));
    }

    #[test]
    fn sockets_and_interfaces_nothing_here_needs_fail() {
        for line in [
            "7 socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL)) = 3<PACKET:[1]>\n",
            "7 socket(AF_INET, SOCK_RAW, IPPROTO_ICMP) = 3<RAW:[1]>\n",
            "7 socket(AF_NETLINK, SOCK_RAW|SOCK_CLOEXEC, NETLINK_AUDIT) = 3<NETLINK:[1]>\n",
        ] {
            assert_eq!(one(line), [Leak::SocketKind], "{line}");
        }
        assert_eq!(
            one("7 io_uring_setup(8, {flags=0}) = 3<anon_inode:[io_uring]>\n"),
            [Leak::IoUring]
        );
        let new_addr = "7 sendto(3<NETLINK:[ROUTE:7]>, [{nlmsg_len=40, nlmsg_type=RTM_NEWADDR, nlmsg_flags=NLM_F_REQUEST, nlmsg_seq=1, nlmsg_pid=0}], 40, 0, {sa_family=AF_NETLINK, nl_pid=0, nl_groups=00000000}, 12) = 40\n";
        assert_eq!(one(new_addr), [Leak::Netlink]);
        let to_process = "7 sendto(3<NETLINK:[ROUTE:7]>, [{nlmsg_len=20, nlmsg_type=RTM_GETLINK, nlmsg_flags=NLM_F_REQUEST, nlmsg_seq=1, nlmsg_pid=0}], 20, 0, {sa_family=AF_NETLINK, nl_pid=1234, nl_groups=00000000}, 12) = 20\n";
        assert_eq!(one(to_process), [Leak::Netlink]);
    }

    #[test]
    fn unix_paths_are_checked_whole() {
        let abstract_ = "7 connect(3<UNIX-STREAM:[1]>, {sa_family=AF_UNIX, sun_path=@\"/tmp/torp2p-testnet-ycJpnW/listener/x\"}, 20) = 0\n";
        assert_eq!(
            one(abstract_),
            [Leak::Connect(Addr::Unix(
                "@/tmp/torp2p-testnet-ycJpnW/listener/x".into()
            ))]
        );
        let escape = "7 connect(3<UNIX-STREAM:[1]>, {sa_family=AF_UNIX, sun_path=\"/tmp/torp2p-testnet-ycJpnW/listener/../../../run/nscd/socket\"}, 20) = 0\n";
        assert_eq!(one(escape).len(), 1);
        let relative =
            "7 connect(3<UNIX-STREAM:[1]>, {sa_family=AF_UNIX, sun_path=\"socks.sock\"}, 20) = 0\n";
        assert_eq!(one(relative).len(), 1);
    }

    #[test]
    fn ip_listeners_fail_even_on_loopback() {
        let bind = "7 bind(3<TCP:[1]>, {sa_family=AF_INET, sin_port=htons(30460), sin_addr=inet_addr(\"127.0.0.1\")}, 16) = 0\n";
        assert_eq!(
            one(bind),
            [Leak::Bind(Addr::Inet("127.0.0.1:30460".parse().unwrap()))]
        );
        let unspec = "7 connect(3<UDP:[1]>, {sa_family=AF_UNSPEC, sa_data=\"\\0\\0\"}, 16) = 0\n";
        assert_eq!(
            one(unspec),
            [Leak::Connect(Addr::Other("AF_UNSPEC".into()))]
        );
    }

    #[test]
    fn tcp_data_is_judged_by_its_connect_when_strace_shows_only_the_inode() {
        let ok = "7 connect(13<TCP:[55]>, {sa_family=AF_INET, sin_port=htons(30460), sin_addr=inet_addr(\"127.0.0.1\")}, 16) = -1 EINPROGRESS\n\
                  7 write(13<TCP:[55]>, \"x\", 1) = 1\n";
        assert_eq!(one(ok), []);
        let unknown = "7 write(13<TCP:[56]>, \"x\", 1) = 1\n";
        assert_eq!(one(unknown), [Leak::TcpPeer("56".into())]);
        let inbound = "7 write(13<TCP:[127.0.0.1:30460->127.0.0.1:51000]>, \"x\", 1) = 1\n";
        assert_eq!(one(inbound).len(), 1);
    }

    #[test]
    fn split_and_cut_off_calls_are_judged() {
        // A leak split by another thread's call, and one whose process died mid-call.
        let split = "12  connect(3<TCP:[1]>, {sa_family=AF_INET, sin_port=htons(443), sin_addr=inet_addr(\"192.0.2.1\")}, 16 <unfinished ...>\n\
                     13  write(2</dev/null<char 1:3>>, \"x\", 1) = 1\n\
                     12  <... connect resumed>) = -1 ENETUNREACH\n\
                     14  connect(3<TCP:[2]>, {sa_family=AF_INET, sin_port=htons(80), sin_addr=inet_addr(\"192.0.2.2\")}, 16 <unfinished ...>\n";
        let v = check(split, &listener_allowed());
        assert_eq!(v.findings.len(), 2, "{:?}", v.findings);
        assert!(v.findings[0].line.ends_with("= -1 ENETUNREACH"));
        assert!(v.findings[1].line.contains("192.0.2.2"));
        // A resumed half without its start (a trace started mid-call) has no address.
        let orphan = "12 <... connect resumed>) = 0\n";
        assert!(matches!(one(orphan)[..], [Leak::Undecoded(_)]));
    }

    #[test]
    fn an_empty_trace_passes_no_test() {
        let v = check("", &listener_allowed());
        assert!(v.clean().is_ok());
        assert!(v.traced_enough().is_err());
    }

    #[test]
    fn strings_in_data_are_not_parsed_as_addresses() {
        let log = "7 write(2</tmp/x.log>, \"connect(3, {sa_family=AF_INET, sin_port=htons(53), sin_addr=inet_addr(\\\"8.8.8.8\\\")}\", 80) = 80\n";
        assert_eq!(one(log), []);
    }
}

#[test]
fn strace_escapes_are_decoded() {
    assert_eq!(
        unescape(r"\5\1\0\3\vexample.com\0P"),
        b"\x05\x01\x00\x03\x0bexample.com\x00P"
    );
    assert_eq!(unescape(r#"\33[2m\x41\\\"\n"#), b"\x1b[2mA\\\"\n");
    assert_eq!(unescape(r"\0220"), [0o22, b'0']);
}
