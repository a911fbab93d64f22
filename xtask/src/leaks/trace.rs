//! The leak checker: a pure function from an strace log and what is allowed to a verdict.
//!
//! The log comes from `strace -f -qq -yy -v -s 64 -e trace=`[`SYSCALLS`]: `-yy` names the
//! socket behind every file descriptor (`14<UDP:[104899]>`,
//! `13<TCP:[127.0.0.1:42960->127.0.0.1:28492]>`), so each call can be judged on its own line,
//! whatever thread, `dup` or fork the descriptor went through.
//!
//! What passes (everything else is a finding, with its strace line):
//! - `connect()` to a unix socket under one of [`Allowed::unix_dirs`] (our tor's control and
//!   SOCKS ports, our onion service's socket), or to one of [`Allowed::tcp`] (the private
//!   network's ORPorts and DirPorts on 127.0.0.1). No other loopback address or port, no DNS
//!   stub (127.0.0.53, 127.0.0.11), no IPv6 address, nothing else.
//! - C tor's interface-address probe, when [`Allowed::interface_probe`] is set: a `connect()`
//!   of a UDP socket to 18.0.0.1:9 or `[2002::]:9`, which sends no packet (tor then reads the
//!   socket's local address with `getsockname` and closes it: tor's
//!   `get_interface_address6_via_udp_socket_hack`). Nothing may ever be written to a UDP
//!   socket (any `write`, `writev`, `sendto`, `sendmsg`, `sendmmsg`, `sendfile` or `splice` on a
//!   socket `-yy` shows as UDP fails), so nothing is sent on a probe socket either, whatever its
//!   file descriptor became.
//! - `bind()` of a unix socket under [`Allowed::unix_dirs`], and of a netlink socket with
//!   `nl_pid=0` (the kernel picks the id). No `bind()` to any IP address, loopback included:
//!   with tor's control and SOCKS ports on unix sockets and onion services forwarding to a unix
//!   socket, nothing here needs an IP listener, and one on 127.0.0.1 is open to every local user.
//! - `sendto()` on a `NETLINK_ROUTE` socket to the kernel (`nl_pid=0`) of `RTM_GET*` requests:
//!   `getifaddrs()` (tor reads its interface addresses so). Nothing leaves the host.
//! - Data on TCP sockets whose peer is one of [`Allowed::tcp`], on unix sockets, files and
//!   pipes.
//! - `socket()` of the kinds above only (no raw or packet sockets, no other netlink family);
//!   no `io_uring_setup` (its I/O would be invisible to strace).
//!
//! A traced call that cannot be decoded (no address, no `-yy` socket annotation) is a finding
//! too: what cannot be checked does not pass.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Component, Path, PathBuf};

mod parse;

use parse::{Call, Fd, calls, inode, peer, unescape};

/// The system calls to trace (`strace -e trace=...`).
pub(crate) const SYSCALLS: &str =
    "socket,connect,bind,sendto,sendmsg,sendmmsg,write,writev,sendfile,splice,io_uring_setup";

/// The arguments of strace before `-o <file> <program>`: follow children, name every file
/// descriptor's socket, structures unabbreviated, strings and arrays up to 64 bytes or
/// elements (enough for a SOCKS request; a longer `sendmmsg` vector is cut short and fails as
/// undecoded), only [`SYSCALLS`].
pub(crate) fn strace_args() -> Vec<String> {
    ["-f", "-qq", "-yy", "-v", "-s", "64", "-e"]
        .map(String::from)
        .into_iter()
        .chain([format!("trace={SYSCALLS}")])
        .collect()
}

/// The destinations of C tor's interface-address probe (tor's `address.c`: "Don't worry: no
/// packets are sent").
pub(crate) const PROBES: [SocketAddr; 2] = [
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(18, 0, 0, 1)), 9),
    SocketAddr::new(IpAddr::V6(Ipv6Addr::new(0x2002, 0, 0, 0, 0, 0, 0, 0)), 9),
];

/// What a traced program may do.
#[derive(Debug, Clone, Default)]
pub(crate) struct Allowed {
    /// TCP addresses it may connect to: the private network's ORPorts and DirPorts.
    pub(crate) tcp: BTreeSet<SocketAddr>,
    /// Directories under which it may bind and connect to unix sockets (its own temporary
    /// directory, where its tor's data directory and its onion service's socket are).
    pub(crate) unix_dirs: Vec<PathBuf>,
    /// Whether C tor's interface-address probe may occur (see the module's docs).
    pub(crate) interface_probe: bool,
}

/// A socket address as strace prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Addr {
    Inet(SocketAddr),
    /// A unix socket path; `@name` for an abstract one, empty for an unnamed one.
    Unix(String),
    Netlink {
        pid: String,
    },
    /// Another family (`AF_UNSPEC`, `AF_PACKET`, ...): its name.
    Other(String),
}

impl fmt::Display for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Addr::Inet(a) => write!(f, "{a}"),
            Addr::Unix(p) => write!(f, "unix socket \"{p}\""),
            Addr::Netlink { pid } => write!(f, "netlink port {pid}"),
            Addr::Other(family) => write!(f, "an {family} address"),
        }
    }
}

/// What is wrong with one call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Leak {
    /// `connect()` to an address that is not allowed.
    Connect(Addr),
    /// `sendto`/`sendmsg`/`sendmmsg` to an address that is not allowed.
    SendTo(Addr),
    /// `bind()` to an address that is not allowed.
    Bind(Addr),
    /// Data written to a UDP socket.
    UdpData,
    /// Data written to a TCP socket whose peer is not allowed (or unknown): strace's
    /// description of the socket.
    TcpPeer(String),
    /// A socket of a kind nothing here needs.
    SocketKind,
    /// Netlink traffic other than `RTM_GET*` requests to the kernel.
    Netlink,
    /// `io_uring_setup`: its I/O is invisible to strace.
    IoUring,
    /// A traced call that could not be decoded, so not checked.
    Undecoded(&'static str),
}

impl fmt::Display for Leak {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Leak::Connect(a) => write!(f, "connect() to {a}, which is not allowed"),
            Leak::SendTo(a) => write!(f, "a packet sent to {a}, which is not allowed"),
            Leak::Bind(a) => write!(f, "bind() to {a}, which is not allowed"),
            Leak::UdpData => write!(f, "data sent on a UDP socket"),
            Leak::TcpPeer(s) => write!(f, "data sent on a TCP socket to a peer not allowed ({s})"),
            Leak::SocketKind => write!(f, "a socket of a kind nothing here needs"),
            Leak::Netlink => write!(
                f,
                "netlink traffic other than RTM_GET* requests to the kernel"
            ),
            Leak::IoUring => write!(f, "io_uring, whose I/O strace cannot see"),
            Leak::Undecoded(what) => write!(f, "a call that cannot be checked: {what}"),
        }
    }
}

/// A leak and the strace line (unfinished and resumed halves joined) that shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Finding {
    pub(crate) leak: Leak,
    pub(crate) line: String,
}

/// A SOCKS5 CONNECT request seen on a unix socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SocksRequest {
    /// The path the socket was connected to, if the trace shows the `connect()`.
    pub(crate) socket: Option<String>,
    /// The host as sent: a domain name, or an IP address in text.
    pub(crate) host: String,
    /// Whether the host was sent as a domain name (address type 3).
    pub(crate) is_name: bool,
    pub(crate) port: u16,
}

/// The result of [`check`].
#[derive(Debug, Default)]
pub(crate) struct Verdict {
    /// Everything that is not allowed, in trace order.
    pub(crate) findings: Vec<Finding>,
    /// `connect()`s to [`Allowed::tcp`].
    pub(crate) network: usize,
    /// `connect()`s to unix sockets under [`Allowed::unix_dirs`].
    pub(crate) unix: usize,
    /// The lines of C tor's interface-address probe that passed.
    pub(crate) probes: Vec<String>,
    /// Netlink calls that passed.
    pub(crate) netlink: usize,
    /// Calls looked at.
    pub(crate) calls: usize,
    /// SOCKS5 CONNECT requests written to unix sockets.
    pub(crate) socks: Vec<SocksRequest>,
}

impl Verdict {
    /// `Err` with every finding, one per line, each with its strace line.
    pub(crate) fn clean(&self) -> Result<(), String> {
        if self.findings.is_empty() {
            return Ok(());
        }
        let lines: Vec<String> = self
            .findings
            .iter()
            .map(|f| format!("{}\n      {}", f.leak, f.line))
            .collect();
        Err(format!(
            "{} call(s) not allowed:\n    {}",
            lines.len(),
            lines.join("\n    ")
        ))
    }

    /// `Err` unless the trace recorded connections to the private network (made by the tor
    /// the program started: so the trace followed it) and to unix sockets (the program's
    /// control connection to its tor): a trace that missed them missed what it should check.
    pub(crate) fn traced_enough(&self) -> Result<(), String> {
        if self.network == 0 || self.unix == 0 {
            return Err(format!(
                "the trace recorded {} connect() to the private network and {} to unix sockets; expected some of each (did strace follow the program and its tor?)",
                self.network, self.unix
            ));
        }
        Ok(())
    }

    /// One line: what passed.
    pub(crate) fn summary(&self) -> String {
        format!(
            "{} calls: {} connect() to the private network, {} to our unix sockets, {} tor interface probe(s), {} netlink",
            self.calls,
            self.network,
            self.unix,
            self.probes.len(),
            self.netlink
        )
    }
}

/// Judges an strace log (see the module's docs for the rules).
pub(crate) fn check(strace: &str, allowed: &Allowed) -> Verdict {
    let mut v = Verdict::default();
    let mut state = State::default();
    for call in calls(strace) {
        v.calls += 1;
        for leak in judge(&call, allowed, &mut state, &mut v) {
            v.findings.push(Finding {
                leak,
                line: call.text.clone(),
            });
        }
    }
    v
}

/// What [`check`] remembers from one call to the next.
#[derive(Default)]
struct State {
    /// TCP socket inode -> whether its connect() went somewhere allowed (for data on a TCP
    /// socket that strace shows by inode rather than by its addresses).
    tcp: HashMap<String, bool>,
    /// Unix socket inode -> the path it was connected to.
    unix: HashMap<String, String>,
}

/// The leaks of one call; counts what passed in `v`.
fn judge(call: &Call, allowed: &Allowed, state: &mut State, v: &mut Verdict) -> Vec<Leak> {
    match call.name.as_str() {
        "socket" => {
            let arg = |i: usize| call.args.get(i).map(String::as_str).unwrap_or("");
            let ok = match arg(0) {
                "AF_UNIX" | "AF_LOCAL" => true,
                "AF_INET" | "AF_INET6" => {
                    arg(1).starts_with("SOCK_STREAM") || arg(1).starts_with("SOCK_DGRAM")
                }
                "AF_NETLINK" => arg(2) == "NETLINK_ROUTE",
                _ => false,
            };
            if ok { vec![] } else { vec![Leak::SocketKind] }
        }
        "connect" => {
            let fd = call.fd(0);
            let Some(addr) = call.sockaddrs.first() else {
                return vec![Leak::Undecoded("connect() without a decoded address")];
            };
            match (addr, &fd) {
                (Addr::Unix(path), _) if unix_allowed(path, allowed) => {
                    v.unix += 1;
                    if let Fd::Unix(info) = &fd {
                        state.unix.insert(inode(info), path.clone());
                    }
                    vec![]
                }
                (Addr::Inet(a), Fd::Tcp(info)) if allowed.tcp.contains(a) => {
                    v.network += 1;
                    state.tcp.insert(inode(info), true);
                    vec![]
                }
                (Addr::Inet(a), _) if allowed.tcp.contains(a) => vec![Leak::Undecoded(
                    "connect() to the private network from a socket -yy does not show as TCP",
                )],
                (Addr::Inet(a), Fd::Udp(v6))
                    if allowed.interface_probe && PROBES.contains(a) && *v6 == a.is_ipv6() =>
                {
                    v.probes.push(call.text.clone());
                    vec![]
                }
                (other, _) => {
                    if let Fd::Tcp(info) = &fd {
                        state.tcp.insert(inode(info), false);
                    }
                    vec![Leak::Connect(other.clone())]
                }
            }
        }
        "bind" => match call.sockaddrs.first() {
            None => vec![Leak::Undecoded("bind() without a decoded address")],
            Some(Addr::Unix(path)) if unix_allowed(path, allowed) => vec![],
            Some(Addr::Netlink { pid }) if pid == "0" && call.fd(0) == Fd::Netlink => {
                v.netlink += 1;
                vec![]
            }
            Some(other) => vec![Leak::Bind(other.clone())],
        },
        "io_uring_setup" => vec![Leak::IoUring],
        "write" | "writev" | "sendto" | "sendmsg" | "sendmmsg" | "sendfile" | "splice" => {
            judge_data(call, allowed, state, v)
        }
        _ => vec![],
    }
}

/// The leaks of a call that writes data to a file descriptor.
fn judge_data(call: &Call, allowed: &Allowed, state: &State, v: &mut Verdict) -> Vec<Leak> {
    let mut leaks = Vec::new();
    // splice(in, off_in, out, ...) writes to its third argument.
    let fd = call.fd(if call.name == "splice" { 2 } else { 0 });
    let is_send = call.name.starts_with("send") && call.name != "sendfile";
    if is_send && let Some(problem) = call.undecoded_destination() {
        leaks.push(Leak::Undecoded(problem));
    }
    match &fd {
        Fd::Udp(_) => leaks.push(Leak::UdpData),
        Fd::Tcp(info) => {
            let ok = match peer(info) {
                Some(p) => allowed.tcp.contains(&p),
                None => state.tcp.get(&inode(info)).copied().unwrap_or(false),
            };
            if !ok {
                leaks.push(Leak::TcpPeer(info.clone()));
            }
        }
        Fd::Netlink => {
            let to_kernel = call.sockaddrs == [Addr::Netlink { pid: "0".into() }];
            let types: Vec<&str> = call
                .skel
                .match_indices("nlmsg_type=")
                .map(|(i, m)| {
                    call.skel[i + m.len()..]
                        .split([',', '}'])
                        .next()
                        .unwrap_or("")
                })
                .collect();
            let gets = !types.is_empty() && types.iter().all(|t| t.starts_with("RTM_GET"));
            if call.name == "sendto" && to_kernel && gets {
                v.netlink += 1;
            } else {
                leaks.push(Leak::Netlink);
            }
            return leaks;
        }
        Fd::Unix(info) => {
            for s in &call.strings {
                if let Some(mut r) = socks_request(&unescape(s)) {
                    r.socket = state.unix.get(&inode(info)).cloned();
                    v.socks.push(r);
                }
            }
        }
        Fd::UnknownSocket(_) => leaks.push(Leak::Undecoded(
            "data on a socket strace could not describe",
        )),
        Fd::Missing => leaks.push(Leak::Undecoded("no -yy annotation on the file descriptor")),
        Fd::Other => {}
    }
    if is_send {
        for a in &call.sockaddrs {
            let ok = match a {
                Addr::Unix(path) => unix_allowed(path, allowed),
                Addr::Inet(sa) => allowed.tcp.contains(sa),
                _ => false,
            };
            if !ok {
                leaks.push(Leak::SendTo(a.clone()));
            }
        }
    }
    leaks
}

/// Whether a unix socket path lies under one of the allowed directories (absolute, no `..`).
fn unix_allowed(path: &str, allowed: &Allowed) -> bool {
    let p = Path::new(path);
    p.is_absolute()
        && !p.components().any(|c| c == Component::ParentDir)
        && allowed.unix_dirs.iter().any(|d| p.starts_with(d))
}

/// A SOCKS5 CONNECT request (`05 01 00 <type> <address> <port>`), if `bytes` starts with one.
fn socks_request(bytes: &[u8]) -> Option<SocksRequest> {
    let (&[5, 1, 0, atyp], rest) = bytes.split_first_chunk::<4>()? else {
        return None;
    };
    let (host, is_name, rest) = match atyp {
        1 => {
            let (ip, rest) = rest.split_first_chunk::<4>()?;
            (Ipv4Addr::from(*ip).to_string(), false, rest)
        }
        3 => {
            let (&len, rest) = rest.split_first()?;
            let (name, rest) = rest.split_at_checked(usize::from(len))?;
            (String::from_utf8_lossy(name).into_owned(), true, rest)
        }
        4 => {
            let (ip, rest) = rest.split_first_chunk::<16>()?;
            (Ipv6Addr::from(*ip).to_string(), false, rest)
        }
        _ => return None,
    };
    let (port, _) = rest.split_first_chunk::<2>()?;
    Some(SocksRequest {
        socket: None,
        host,
        is_name,
        port: u16::from_be_bytes(*port),
    })
}

#[cfg(test)]
mod tests;
