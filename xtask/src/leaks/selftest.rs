//! Programs that leak on purpose: `cargo xtask leaks` runs each (as `xtask leaks --selftest
//! <name>`) under strace in its namespace, and fails unless the checker reports the leak the
//! program made. Inside the namespace nothing leaves (its only interface is loopback, and
//! nothing listens on the ports used here): the attempts show in the trace all the same.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream, ToSocketAddrs, UdpSocket};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use super::trace::{Addr, Leak};

/// One deliberate leak.
pub(crate) struct SelfTest {
    /// Its name on the command line.
    pub(crate) name: &'static str,
    /// What it does.
    pub(crate) what: &'static str,
    run: fn(),
    /// Whether a finding is the leak this program made.
    pub(crate) expect: fn(&Leak) -> bool,
}

const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

fn v4(a: [u8; 4], port: u16) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::from(a), port))
}

fn connect(addr: SocketAddr) {
    let _ = TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT);
}

fn connect_to(leak: &Leak, addr: SocketAddr) -> bool {
    *leak == Leak::Connect(Addr::Inet(addr))
}

/// Every self-test, in the order they run.
pub(crate) const ALL: &[SelfTest] = &[
    SelfTest {
        name: "dns",
        what: "a DNS lookup of example.com (std's ToSocketAddrs: the system resolver)",
        run: || {
            let _ = ("example.com", 80).to_socket_addrs();
        },
        expect: |leak| matches!(leak, Leak::Connect(Addr::Inet(a)) | Leak::SendTo(Addr::Inet(a)) if a.port() == 53),
    },
    SelfTest {
        name: "tcp-private",
        what: "a TCP connect() to 10.255.255.1:9",
        run: || connect(v4([10, 255, 255, 1], 9)),
        expect: |leak| connect_to(leak, v4([10, 255, 255, 1], 9)),
    },
    SelfTest {
        name: "dns-stub",
        what: "a TCP connect() to a local DNS stub, 127.0.0.53:53",
        run: || connect(v4([127, 0, 0, 53], 53)),
        expect: |leak| connect_to(leak, v4([127, 0, 0, 53], 53)),
    },
    SelfTest {
        name: "loopback-port",
        what: "a TCP connect() to 127.0.0.1:9, a loopback port not of the private network",
        run: || connect(v4([127, 0, 0, 1], 9)),
        expect: |leak| connect_to(leak, v4([127, 0, 0, 1], 9)),
    },
    SelfTest {
        name: "ipv6-loopback",
        what: "a TCP connect() to [::1]:9",
        run: || connect(SocketAddr::from((Ipv6Addr::LOCALHOST, 9))),
        expect: |leak| connect_to(leak, SocketAddr::from((Ipv6Addr::LOCALHOST, 9))),
    },
    SelfTest {
        name: "udp-sendto",
        what: "a UDP datagram sent with sendto() to 127.0.0.1:53, no connect()",
        run: || {
            if let Ok(s) = UdpSocket::bind(v4([127, 0, 0, 1], 0)) {
                let _ = s.send_to(b"x", v4([127, 0, 0, 1], 53));
            }
        },
        expect: |leak| *leak == Leak::SendTo(Addr::Inet(v4([127, 0, 0, 1], 53))),
    },
    SelfTest {
        name: "probe-then-send",
        what: "tor's interface probe (a UDP socket connect()ed to 18.0.0.1:9), then a send on it",
        run: || {
            // std's UDP sockets are always bound first; the bind is a finding of its own.
            if let Ok(s) = UdpSocket::bind(v4([0, 0, 0, 0], 0)) {
                let _ = s.connect(v4([18, 0, 0, 1], 9));
                let _ = s.send(b"x");
            }
        },
        expect: |leak| *leak == Leak::UdpData,
    },
    SelfTest {
        name: "bind-any",
        what: "a TCP listener bound to 0.0.0.0",
        run: || {
            let _ = TcpListener::bind(v4([0, 0, 0, 0], 0));
        },
        expect: |leak| *leak == Leak::Bind(Addr::Inet(v4([0, 0, 0, 0], 0))),
    },
    SelfTest {
        name: "unix-outside",
        what: "a connect() to a unix socket outside the test's directories (/tmp/.X11-unix/X0)",
        run: || {
            let _ = UnixStream::connect("/tmp/.X11-unix/X0");
        },
        expect: |leak| *leak == Leak::Connect(Addr::Unix("/tmp/.X11-unix/X0".into())),
    },
];

/// `xtask leaks --selftest <name>`: makes that leak (errors are ignored: only the attempt
/// matters).
pub(crate) fn run(name: &str) -> Result<(), String> {
    let names: Vec<&str> = ALL.iter().map(|t| t.name).collect();
    let test = ALL
        .iter()
        .find(|t| t.name == name)
        .ok_or_else(|| format!("no self-test `{name}`; there are: {}", names.join(", ")))?;
    (test.run)();
    Ok(())
}
