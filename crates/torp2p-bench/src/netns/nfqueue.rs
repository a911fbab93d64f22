//! A user-space stand-in for netem, for kernels without it: every packet leaving on loopback is
//! queued to NFQUEUE (`iptables -t raw -A OUTPUT -j NFQUEUE`, and `ip6tables`) and accepted
//! by a thread of this process D ms after it was queued. The kernel holds each packet until its
//! verdict, so each one waits D ms (plus the thread's wake-up, under a millisecond), as with
//! netem. Packets are queued in order and all wait the same time, so one batch verdict
//! ("accept every packet up to this id") per wake-up suffices.
//!
//! The netlink messages (`nfnetlink_queue`, linux/netfilter/nfnetlink_queue.h): a config
//! message binds queue [`QUEUE`] and asks for metadata only (no packet bytes); each queued
//! packet arrives as a message with its id; a batch verdict accepts up to an id.

use std::collections::VecDeque;
use std::io::{self, Read as _, Write as _};
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, Socket, Type};

/// The NFQUEUE queue number the iptables rules send loopback's packets to.
pub(crate) const QUEUE: u16 = 0;

const AF_NETLINK: i32 = 16;
const SOCK_RAW: i32 = 3;
const NETLINK_NETFILTER: i32 = 12;
const SUBSYS_QUEUE: u16 = 3;
const MSG_PACKET: u16 = 0;
const MSG_CONFIG: u16 = 2;
const MSG_VERDICT_BATCH: u16 = 3;
const NLM_F_REQUEST: u16 = 1;
const NLM_F_ACK: u16 = 4;
const NLMSG_ERROR: u16 = 2;
const NF_ACCEPT: u32 = 1;
/// Attributes: config command, config params, queue length; packet header; verdict header.
const CFG_CMD: u16 = 1;
const CFG_PARAMS: u16 = 2;
const CFG_QUEUE_MAXLEN: u16 = 3;
const PACKET_HDR: u16 = 1;
const VERDICT_HDR: u16 = 2;
const CMD_BIND: u8 = 1;
const COPY_META: u8 = 1;
/// How many packets the kernel may hold in the queue.
const MAXLEN: u32 = 1 << 20;

/// The bound queue socket.
pub(crate) struct Delayer {
    socket: Socket,
    seq: u32,
}

impl Delayer {
    /// Binds queue [`QUEUE`] (before the iptables rules send anything to it).
    pub(crate) fn bind() -> io::Result<Self> {
        let socket = Socket::new(
            Domain::from(AF_NETLINK),
            Type::from(SOCK_RAW),
            Some(Protocol::from(NETLINK_NETFILTER)),
        )?;
        // Room for bursts of packet messages (the kernel caps it at net.core.rmem_max).
        let _ = socket.set_recv_buffer_size(32 << 20);
        let mut d = Delayer { socket, seq: 0 };
        d.config(attr(CFG_CMD, &[CMD_BIND, 0, 0, 0]))?;
        let mut params = 0u32.to_be_bytes().to_vec();
        params.push(COPY_META);
        d.config(attr(CFG_PARAMS, &params))?;
        d.config(attr(CFG_QUEUE_MAXLEN, &MAXLEN.to_be_bytes()))?;
        Ok(d)
    }

    /// Accepts every queued packet `delay` after it was queued, until an error. Two threads:
    /// this one reads the queued packets' ids, a second one sends the verdicts, waiting for
    /// each on a channel's timeout (a futex: woken within a fraction of a millisecond; a socket
    /// read timeout, `SO_RCVTIMEO`, rounds up to the kernel's tick, 4 ms at 250 Hz, and added
    /// about 100 ms to a circuit round trip).
    pub(crate) fn run(self, delay: Duration) -> io::Error {
        let writer = match self.socket.try_clone() {
            Ok(s) => s,
            Err(e) => return e,
        };
        // Bounded: when the verdicts fall behind, reading stops and the kernel queues.
        let (tx, rx) = std::sync::mpsc::sync_channel::<(Instant, u32)>(1 << 16);
        let verdicts = std::thread::Builder::new()
            .name("nfqueue-verdicts".into())
            .spawn(move || verdicts(&writer, self.seq, &rx));
        if let Err(e) = verdicts {
            return e;
        }
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = match (&self.socket).read(&mut buf) {
                Ok(n) => n,
                // The kernel dropped messages (its buffer overflowed): those packets are lost
                // to the queue too; TCP resends them. Go on.
                Err(e) if e.raw_os_error() == Some(105) => continue,
                Err(e) => return e,
            };
            let due = Instant::now() + delay;
            for id in packet_ids(&buf[..n]) {
                if tx.send((due, id)).is_err() {
                    return io::Error::other("the verdict thread stopped");
                }
            }
        }
    }

    fn config(&mut self, attribute: Vec<u8>) -> io::Result<()> {
        self.send(MSG_CONFIG, NLM_F_ACK, &attribute)?;
        let mut buf = [0u8; 4096];
        let n = (&self.socket).read(&mut buf)?;
        let reply = &buf[..n];
        if n >= 20 && u16::from_ne_bytes([reply[4], reply[5]]) == NLMSG_ERROR {
            let code = i32::from_ne_bytes([reply[16], reply[17], reply[18], reply[19]]);
            if code != 0 {
                return Err(io::Error::from_raw_os_error(-code));
            }
        }
        Ok(())
    }

    fn send(&mut self, msg: u16, flags: u16, attributes: &[u8]) -> io::Result<()> {
        self.seq = self.seq.wrapping_add(1);
        (&self.socket).write_all(&message(msg, flags, self.seq, attributes))
    }
}

/// Sends a batch verdict (accept everything up to this id) for the packets from `rx` when
/// they are due, until `rx` or the socket fails.
fn verdicts(socket: &Socket, mut seq: u32, rx: &std::sync::mpsc::Receiver<(Instant, u32)>) {
    use std::sync::mpsc::RecvTimeoutError;
    let mut pending: VecDeque<(Instant, u32)> = VecDeque::new();
    loop {
        let now = Instant::now();
        let mut last = None;
        while let Some(&(due, id)) = pending.front() {
            if due > now {
                break;
            }
            last = Some(id);
            pending.pop_front();
        }
        if let Some(id) = last {
            let mut verdict = NF_ACCEPT.to_be_bytes().to_vec();
            verdict.extend_from_slice(&id.to_be_bytes());
            seq = seq.wrapping_add(1);
            let m = message(MSG_VERDICT_BATCH, 0, seq, &attr(VERDICT_HDR, &verdict));
            let mut writer: &Socket = socket;
            if let Err(e) = writer.write_all(&m) {
                eprintln!("torp2p-bench: NFQUEUE verdict: {e}");
                return;
            }
        }
        let next = match pending.front() {
            Some(&(due, _)) => rx.recv_timeout(due.saturating_duration_since(Instant::now())),
            None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
        };
        match next {
            Ok(p) => {
                pending.push_back(p);
                // Take what else is there without waiting.
                pending.extend(rx.try_iter());
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
    }
}

/// A `nfnetlink_queue` message for queue [`QUEUE`].
fn message(msg: u16, flags: u16, seq: u32, attributes: &[u8]) -> Vec<u8> {
    let len = 16 + 4 + attributes.len();
    let mut m = Vec::with_capacity(len);
    m.extend_from_slice(&u32::try_from(len).unwrap_or(u32::MAX).to_ne_bytes());
    m.extend_from_slice(&((SUBSYS_QUEUE << 8) | msg).to_ne_bytes());
    m.extend_from_slice(&(NLM_F_REQUEST | flags).to_ne_bytes());
    m.extend_from_slice(&seq.to_ne_bytes());
    m.extend_from_slice(&0u32.to_ne_bytes());
    // nfgenmsg: family AF_UNSPEC, version 0, the queue number (big-endian).
    m.extend_from_slice(&[0, 0]);
    m.extend_from_slice(&QUEUE.to_be_bytes());
    m.extend_from_slice(attributes);
    m
}

/// A netlink attribute, padded to 4 bytes.
fn attr(kind: u16, payload: &[u8]) -> Vec<u8> {
    let len = 4 + payload.len();
    let mut a = Vec::with_capacity(len + 3);
    a.extend_from_slice(&u16::try_from(len).unwrap_or(u16::MAX).to_ne_bytes());
    a.extend_from_slice(&kind.to_ne_bytes());
    a.extend_from_slice(payload);
    a.resize(len.next_multiple_of(4), 0);
    a
}

/// The ids of the queued packets in a buffer of netlink messages, in order.
fn packet_ids(buf: &[u8]) -> Vec<u32> {
    let mut ids = Vec::new();
    let mut off = 0;
    while let Some(header) = buf.get(off..off + 16) {
        let len = u32::from_ne_bytes([header[0], header[1], header[2], header[3]]) as usize;
        let kind = u16::from_ne_bytes([header[4], header[5]]);
        if len < 16 {
            break;
        }
        let msg = buf.get(off..off + len).unwrap_or(&[]);
        if kind == (SUBSYS_QUEUE << 8) | MSG_PACKET {
            let mut a = 20;
            while let Some(h) = msg.get(a..a + 4) {
                let alen = usize::from(u16::from_ne_bytes([h[0], h[1]]));
                let akind = u16::from_ne_bytes([h[2], h[3]]) & 0x7fff;
                if alen < 4 {
                    break;
                }
                if akind == PACKET_HDR
                    && let Some(id) = msg.get(a + 4..a + 8)
                {
                    ids.push(u32::from_be_bytes([id[0], id[1], id[2], id[3]]));
                    break;
                }
                a += alen.next_multiple_of(4);
            }
        }
        off += len.next_multiple_of(4);
    }
    ids
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_are_padded() {
        assert_eq!(attr(CFG_CMD, &[1, 0, 0, 0]), [8, 0, 1, 0, 1, 0, 0, 0]);
        let a = attr(CFG_PARAMS, &[0, 0, 0, 0, 1]);
        assert_eq!((a.len(), a[0]), (12, 9));
    }

    #[test]
    fn packet_ids_are_read_in_order() {
        let message = |id: u32| {
            let mut hdr = id.to_be_bytes().to_vec();
            hdr.extend_from_slice(&[0x08, 0x00, 3]);
            let body = [attr(5, &[0; 4]), attr(PACKET_HDR, &hdr)].concat();
            let len = 20 + body.len();
            let mut m = (len as u32).to_ne_bytes().to_vec();
            m.extend_from_slice(&((SUBSYS_QUEUE << 8) | MSG_PACKET).to_ne_bytes());
            m.extend_from_slice(&[0; 10]);
            m.extend_from_slice(&[0, 0, 0, 0]);
            m.extend_from_slice(&body);
            m
        };
        let buf = [message(7), message(8), message(9)].concat();
        assert_eq!(packet_ids(&buf), [7, 8, 9]);
        assert_eq!(packet_ids(&buf[..10]), Vec::<u32>::new());
    }
}
