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

/// Seconds between two `YYYY-MM-DD HH:MM:SS` times of a consensus (`GETINFO
/// consensus/valid-after`, `consensus/fresh-until`), `None` if either is malformed or `to` is
/// not later than `from`.
pub(crate) fn seconds_between(from: &str, to: &str) -> Option<u64> {
    let (from, to) = (unix_seconds(from)?, unix_seconds(to)?);
    to.checked_sub(from).filter(|d| *d > 0)
}

/// `YYYY-MM-DD HH:MM:SS` (UTC) as seconds since the epoch.
fn unix_seconds(t: &str) -> Option<u64> {
    let (date, time) = t.trim().split_once(' ')?;
    let mut d = date.splitn(3, '-').map(|x| x.parse::<i64>().ok());
    let (y, m, day) = (d.next()??, d.next()??, d.next()??);
    let mut h = time.splitn(3, ':').map(|x| x.parse::<i64>().ok());
    let (hh, mm, ss) = (h.next()??, h.next()??, h.next()??);
    if !(1..=12).contains(&m) || !(1..=31).contains(&day) {
        return None;
    }
    // Days from civil (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    u64::try_from(days * 86_400 + hh * 3600 + mm * 60 + ss).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_between_consensus_times() {
        assert_eq!(
            seconds_between("2026-12-01 11:45:15", "2026-12-01 11:45:30"),
            Some(15)
        );
        // Across midnight, a month and a year.
        assert_eq!(
            seconds_between("2026-12-31 23:59:55", "2027-01-01 00:00:05"),
            Some(10)
        );
        assert_eq!(unix_seconds("1970-01-01 00:00:00"), Some(0));
        assert_eq!(unix_seconds("2000-03-01 00:00:00"), Some(951_868_800));
        assert_eq!(
            seconds_between("2026-12-01 11:45:30", "2026-12-01 11:45:15"),
            None
        );
        assert_eq!(seconds_between("garbage", "2026-12-01 11:45:15"), None);
        assert_eq!(
            seconds_between("2026-13-01 00:00:00", "2026-12-01 11:45:15"),
            None
        );
    }

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
