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

/// The bytes of a string as strace prints it (C escapes: `\n`, `\v`, `\"`, `\\`, octal, `\x`).
fn unescape(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' || i + 1 == b.len() {
            out.push(b[i]);
            i += 1;
            continue;
        }
        i += 1;
        let c = b[i];
        i += 1;
        out.push(match c {
            b'n' => b'\n',
            b't' => b'\t',
            b'r' => b'\r',
            b'f' => 0x0c,
            b'v' => 0x0b,
            b'a' => 0x07,
            b'b' => 0x08,
            b'x' => {
                let end = (i + 2).min(b.len());
                let v = u8::from_str_radix(&s[i..end], 16).unwrap_or(0);
                i = end;
                v
            }
            b'0'..=b'7' => {
                let mut v = u32::from(c - b'0');
                let mut n = 1;
                while n < 3 && i < b.len() && (b'0'..=b'7').contains(&b[i]) {
                    v = v * 8 + u32::from(b[i] - b'0');
                    i += 1;
                    n += 1;
                }
                (v & 0xff) as u8
            }
            other => other,
        });
    }
    out
}

/// A file descriptor as `strace -yy` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Fd {
    /// `TCP:[...]` or `TCPv6:[...]`: what is inside the brackets.
    Tcp(String),
    /// `UDP:[...]` (false) or `UDPv6:[...]` (true); UDP-Lite too.
    Udp(bool),
    /// `UNIX...:[...]`: what is inside the brackets.
    Unix(String),
    /// `NETLINK:[...]`.
    Netlink,
    /// Another socket, or one strace could not describe (`socket:[...]`).
    UnknownSocket(String),
    /// A file, pipe, eventfd, ...
    Other,
    /// No annotation at all.
    Missing,
}

/// The inode at the start of a socket description (`104839`, `104843->103151`, ...).
fn inode(info: &str) -> String {
    info.chars().take_while(char::is_ascii_digit).collect()
}

/// The peer of a connected INET socket's description (`127.0.0.1:42960->127.0.0.1:28492`).
fn peer(info: &str) -> Option<SocketAddr> {
    let (_, p) = info.split_once("->")?;
    p.parse().ok()
}

/// One system call, its unfinished and resumed halves joined.
struct Call {
    name: String,
    /// The whole line as strace wrote it (halves joined).
    text: String,
    /// The call with every string replaced by `"<n>"`, its index in `strings`.
    skel: String,
    strings: Vec<String>,
    /// The top-level arguments of `skel`.
    args: Vec<String>,
    /// Every socket address in the arguments.
    sockaddrs: Vec<Addr>,
}

impl Call {
    fn parse(text: String) -> Option<Call> {
        let (skel, strings) = take_strings(&text);
        let open = skel.find('(')?;
        let name = skel[..open].to_string();
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return None;
        }
        let args = split_args(&skel[open + 1..]);
        let sockaddrs = sockaddrs(&skel, &strings);
        Some(Call {
            name,
            text,
            skel,
            strings,
            args,
            sockaddrs,
        })
    }

    /// The description of argument `i` as a file descriptor.
    fn fd(&self, i: usize) -> Fd {
        let Some(arg) = self.args.get(i) else {
            return Fd::Missing;
        };
        let Some(lt) = arg.find('<') else {
            return Fd::Missing;
        };
        let Some(gt) = arg.rfind('>') else {
            return Fd::Missing;
        };
        if gt <= lt {
            return Fd::Missing;
        }
        let desc = &arg[lt + 1..gt];
        if desc.starts_with('/') {
            return Fd::Other;
        }
        let Some((kind, rest)) = desc.split_once(":[") else {
            // `anon_inode:inotify` and the like; anything else is a socket strace could
            // not describe.
            return if desc.starts_with("anon_inode:") {
                Fd::Other
            } else {
                Fd::UnknownSocket(desc.to_string())
            };
        };
        let info = rest.strip_suffix(']').unwrap_or(rest).to_string();
        match kind {
            "TCP" | "TCPv6" => Fd::Tcp(info),
            "UDP" | "UDPLITE" => Fd::Udp(false),
            "UDPv6" | "UDPLITEv6" => Fd::Udp(true),
            "NETLINK" => Fd::Netlink,
            "pipe" | "anon_inode" => Fd::Other,
            k if k.starts_with("UNIX") => Fd::Unix(info),
            _ => Fd::UnknownSocket(desc.to_string()),
        }
    }

    /// Why the destination of a `sendto`/`sendmsg`/`sendmmsg` cannot be judged, if it cannot:
    /// an address strace printed as a pointer, or a message vector it cut short.
    fn undecoded_destination(&self) -> Option<&'static str> {
        match self.name.as_str() {
            "sendto" => {
                let dest = self.args.get(4).map(|a| a.trim()).unwrap_or("");
                (dest != "NULL" && !dest.starts_with('{'))
                    .then_some("sendto() with an address strace did not decode")
            }
            "sendmsg" | "sendmmsg" => {
                if self.skel.contains("msg_name=0x") {
                    Some("a message address strace did not decode")
                } else if self.name == "sendmmsg" && self.skel.contains(", ...]") {
                    Some("sendmmsg() with more messages than strace printed")
                } else {
                    None
                }
            }
            _ => None,
        }
    }
}

/// Every call of an strace log, unfinished and resumed halves joined.
fn calls(strace: &str) -> Vec<Call> {
    let mut pending: HashMap<String, String> = HashMap::new();
    let mut out = Vec::new();
    for line in strace.lines() {
        // strace pads the PID column: "123  connect(..." as well as "12345 connect(...".
        let (tid, rest) = match line.find(|c: char| !c.is_ascii_digit()) {
            Some(i) if i > 0 => (&line[..i], line[i..].trim_start()),
            _ => ("", line),
        };
        if rest.starts_with("---") || rest.starts_with("+++") {
            continue;
        }
        let joined = if let Some(resumed) = rest.strip_prefix("<... ") {
            // "<... connect resumed>) = 0" completes this thread's unfinished call; without
            // one, the name is all we know.
            let Some((name, tail)) = resumed.split_once(" resumed>") else {
                continue;
            };
            match pending.remove(tid) {
                Some(head) => format!("{head}{tail}"),
                None => format!("{name}({tail}"),
            }
        } else if let Some(head) = rest.strip_suffix(" <unfinished ...>") {
            pending.insert(tid.to_string(), head.to_string());
            continue;
        } else {
            rest.to_string()
        };
        out.extend(Call::parse(joined));
    }
    // Calls that never resumed (the process was killed): judge what was printed.
    let mut rest: Vec<String> = pending.into_values().collect();
    rest.sort();
    out.extend(rest.into_iter().filter_map(Call::parse));
    out
}

/// `text` with each double-quoted string replaced by `"<n>"`, and the strings (still
/// escaped).
fn take_strings(text: &str) -> (String, Vec<String>) {
    let mut skel = String::with_capacity(text.len());
    let mut strings = Vec::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '"' {
            skel.push(c);
            continue;
        }
        let mut s = String::new();
        let mut escaped = false;
        for c in chars.by_ref() {
            if escaped {
                s.push(c);
                escaped = false;
            } else if c == '\\' {
                s.push(c);
                escaped = true;
            } else if c == '"' {
                break;
            } else {
                s.push(c);
            }
        }
        skel.push_str(&format!("\"{}\"", strings.len()));
        strings.push(s);
    }
    (skel, strings)
}

/// The top-level, comma-separated arguments from just after a call's `(` to its `)`.
fn split_args(s: &str) -> Vec<String> {
    let mut args = Vec::new();
    let mut depth = 0i32;
    let mut cur = String::new();
    for c in s.chars() {
        match c {
            '(' | '[' | '{' => depth += 1,
            ']' | '}' => depth -= 1,
            ')' if depth == 0 => break,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                args.push(cur.trim().to_string());
                cur.clear();
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    if !cur.trim().is_empty() {
        args.push(cur.trim().to_string());
    }
    args
}

/// Every `{sa_family=...}` in a call's skeleton, decoded.
fn sockaddrs(skel: &str, strings: &[String]) -> Vec<Addr> {
    let string = |field: &str, body: &str| -> Option<String> {
        let i = body.find(field)? + field.len();
        let n: usize = body[i..]
            .strip_prefix('"')?
            .split('"')
            .next()?
            .parse()
            .ok()?;
        Some(String::from_utf8_lossy(&unescape(strings.get(n)?)).into_owned())
    };
    let port = |field: &str, body: &str| -> Option<u16> {
        let i = body.find(field)? + field.len();
        body[i..].split(')').next()?.parse().ok()
    };
    skel.match_indices("{sa_family=")
        .map(|(i, m)| {
            let body = &skel[i + m.len()..];
            let body = &body[..body.find('}').unwrap_or(body.len())];
            let family = body.split(',').next().unwrap_or("").trim();
            let inet = |ip: Option<String>, port: Option<u16>| match (ip, port) {
                (Some(ip), Some(port)) => match ip.parse::<IpAddr>() {
                    Ok(ip) => Addr::Inet(SocketAddr::new(ip, port)),
                    Err(_) => Addr::Other(format!("{family} ({ip})")),
                },
                _ => Addr::Other(format!("{family} (undecoded)")),
            };
            match family {
                "AF_INET" => inet(string("inet_addr(", body), port("sin_port=htons(", body)),
                "AF_INET6" => inet(
                    string("inet_pton(AF_INET6, ", body),
                    port("sin6_port=htons(", body),
                ),
                "AF_UNIX" | "AF_LOCAL" => {
                    if body.contains("sun_path=@") {
                        Addr::Unix(format!(
                            "@{}",
                            string("sun_path=@", body).unwrap_or_default()
                        ))
                    } else {
                        Addr::Unix(string("sun_path=", body).unwrap_or_default())
                    }
                }
                "AF_NETLINK" => Addr::Netlink {
                    pid: body
                        .split("nl_pid=")
                        .nth(1)
                        .and_then(|s| s.split(',').next())
                        .unwrap_or("?")
                        .to_string(),
                },
                other => Addr::Other(other.to_string()),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests;
