//! Reading strace's output: calls with their unfinished and resumed halves joined, strings
//! taken out, arguments split, socket addresses and `-yy` file descriptor annotations decoded.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use super::Addr;

/// The bytes of a string as strace prints it (C escapes: `\n`, `\v`, `\"`, `\\`, octal, `\x`).
pub(super) fn unescape(s: &str) -> Vec<u8> {
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
pub(super) enum Fd {
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
pub(super) fn inode(info: &str) -> String {
    info.chars().take_while(char::is_ascii_digit).collect()
}

/// The peer of a connected INET socket's description (`127.0.0.1:42960->127.0.0.1:28492`).
pub(super) fn peer(info: &str) -> Option<SocketAddr> {
    let (_, p) = info.split_once("->")?;
    p.parse().ok()
}

/// One system call, its unfinished and resumed halves joined.
pub(super) struct Call {
    pub(super) name: String,
    /// The whole line as strace wrote it (halves joined).
    pub(super) text: String,
    /// The call with every string replaced by `"<n>"`, its index in `strings`.
    pub(super) skel: String,
    pub(super) strings: Vec<String>,
    /// The top-level arguments of `skel`.
    pub(super) args: Vec<String>,
    /// Every socket address in the arguments.
    pub(super) sockaddrs: Vec<Addr>,
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
    pub(super) fn fd(&self, i: usize) -> Fd {
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
    pub(super) fn undecoded_destination(&self) -> Option<&'static str> {
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
pub(super) fn calls(strace: &str) -> Vec<Call> {
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
