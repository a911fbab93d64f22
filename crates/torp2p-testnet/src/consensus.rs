//! Reading a consensus (`GETINFO ns/all`) to see which relays it lists, with which flags.

use std::collections::HashMap;

/// The flags an onion service needs of the relays it uses.
pub(crate) const NEEDED_FLAGS: [&str; 4] = ["HSDir", "Guard", "Stable", "Fast"];

/// Nickname → flags, from the `r` and `s` lines of a network-status document.
pub(crate) fn relay_flags(ns: &str) -> HashMap<String, Vec<String>> {
    let mut out = HashMap::new();
    let mut current: Option<String> = None;
    for line in ns.lines() {
        if let Some(rest) = line.strip_prefix("r ") {
            current = rest.split_whitespace().next().map(str::to_string);
        } else if let (Some(rest), Some(nick)) = (line.strip_prefix("s "), current.take()) {
            out.insert(nick, rest.split_whitespace().map(str::to_string).collect());
        }
    }
    out
}

/// What `nicknames` lack in `ns`: e.g. `relay1 (not listed), relay2 (no HSDir, Guard)`;
/// empty when nothing is missing.
pub(crate) fn missing(ns: &str, nicknames: &[String]) -> String {
    let flags = relay_flags(ns);
    let mut parts = Vec::new();
    for nick in nicknames {
        match flags.get(nick) {
            None => parts.push(format!("{nick} (not listed)")),
            Some(f) => {
                let lacking: Vec<&str> = NEEDED_FLAGS
                    .iter()
                    .copied()
                    .filter(|n| !f.iter().any(|x| x == n))
                    .collect();
                if !lacking.is_empty() {
                    parts.push(format!("{nick} (no {})", lacking.join(", ")));
                }
            }
        }
    }
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    const NS: &str = "r relay0 AAAA BBBB 2026-11-25 22:00:00 127.0.0.1 5000 0\n\
s Fast Guard HSDir Running Stable V2Dir Valid\n\
w Bandwidth=1000\n\
r relay1 CCCC DDDD 2026-11-25 22:00:00 127.0.0.1 5001 0\n\
s Fast Running Valid\n";

    #[test]
    fn flags_per_relay() {
        let f = relay_flags(NS);
        assert!(f["relay0"].contains(&"HSDir".to_string()));
        assert_eq!(f["relay1"], ["Fast", "Running", "Valid"]);
    }

    #[test]
    fn missing_names_what_lacks() {
        let nicks = ["relay0".to_string(), "relay1".into(), "relay2".into()];
        assert_eq!(
            missing(NS, &nicks),
            "relay1 (no HSDir, Guard, Stable), relay2 (not listed)"
        );
        assert_eq!(missing(NS, &nicks[..1]), "");
        assert_eq!(missing("", &nicks[..1]), "relay0 (not listed)");
    }
}
