//! Choosing free TCP ports on 127.0.0.1.

use std::collections::HashSet;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::net::{Ipv4Addr, TcpListener};

use crate::error::Error;

/// Lowest port we use.
const LOW: u16 = 10_000;

/// `n` distinct ports that are free now, chosen at random *below* the kernel's ephemeral range:
/// a port in that range can be taken by some tor's outgoing connection before the tor that is
/// to listen on it starts.
pub(crate) fn free_ports(n: usize) -> Result<Vec<u16>, Error> {
    let high = ephemeral_low().max(LOW + 1000);
    let mut chosen = HashSet::new();
    let mut out = Vec::with_capacity(n);
    let mut tries = 0;
    while out.len() < n {
        tries += 1;
        if tries > 10_000 {
            return Err(Error::Ports(format!(
                "found {} of {n} after {tries} tries in {LOW}..{high}",
                out.len()
            )));
        }
        let port = LOW + (random() % u64::from(high - LOW)) as u16;
        if chosen.contains(&port) {
            continue;
        }
        if TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok() {
            chosen.insert(port);
            out.push(port);
        }
    }
    Ok(out)
}

/// The first port of the ephemeral range (32768 if it cannot be read).
fn ephemeral_low() -> u16 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(32_768)
}

fn random() -> u64 {
    let mut h = RandomState::new().build_hasher();
    h.write_u64(u64::from(std::process::id()));
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_distinct_free_and_below_the_ephemeral_range() {
        let ports = free_ports(20).unwrap();
        let set: HashSet<_> = ports.iter().collect();
        assert_eq!(set.len(), 20);
        for p in ports {
            assert!(p >= LOW && p < ephemeral_low().max(LOW + 1000));
        }
    }
}
