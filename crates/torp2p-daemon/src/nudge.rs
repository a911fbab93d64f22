//! A tor that has completed no circuit builds no introduction circuit: nudging it.
//!
//! tor's onion-service code launches introduction circuits only once tor has completed a
//! circuit (`run_build_circuit_event` in `hs_service.c` returns early while
//! `have_completed_a_circuit()` is false). tor clears that flag when its directory
//! information stops being enough to build circuits, if only for a moment: on a private
//! network, a consensus without one of tor's primary guards made it log "Our directory
//! information is no longer up-to-date enough to build circuits: We're missing descriptors
//! for 1/2 of our primary entry guards", and in the same second "We now have enough directory
//! information". The flag comes back only when a circuit of more than one hop completes; a tor
//! that only runs onion services and already holds enough clean circuits builds none of its
//! own, so an onion service added then stays unpublished, for half an hour or more.
//!
//! While we wait for a service to be published, we ask tor (`GETINFO
//! status/circuit-established status/enough-dir-info`); if it has had directory information
//! but no completed circuit for [`NUDGE_AFTER`], we send `HSFETCH` for the service's own
//! address: tor builds circuits to the HSDirs to fetch the descriptor, the first one to
//! complete sets the flag again, and tor goes on with the service's introduction circuits.
//! It is the ordinary client request of fetching a descriptor, made over tor's own anonymous
//! circuits, and works on networks without exit relays, where `EXTENDCIRCUIT 0` is refused.

use std::time::{Duration, Instant};

/// How often a wait for publication asks tor whether it has completed a circuit.
pub(crate) const CHECK_EVERY: Duration = Duration::from_secs(2);

/// How long tor may have directory information but no completed circuit before it is nudged.
/// tor completes a circuit within a second or two when it can build one on its own.
pub(crate) const NUDGE_AFTER: Duration = Duration::from_secs(5);

/// The least time between two nudges, while tor still has completed no circuit.
pub(crate) const NUDGE_AGAIN_AFTER: Duration = Duration::from_secs(30);

/// What tor says of its circuits (`GETINFO status/circuit-established status/enough-dir-info`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CircuitStatus {
    /// `status/circuit-established`: tor has completed a circuit since it last lost the
    /// ability to build them.
    pub(crate) established: bool,
    /// `status/enough-dir-info`: tor has the directory information to build circuits.
    pub(crate) enough_dir_info: bool,
}

impl CircuitStatus {
    /// The command that asks for it.
    pub(crate) const COMMAND: &'static str =
        "GETINFO status/circuit-established status/enough-dir-info";

    /// Parses the reply's lines (`status/circuit-established=1`, ...); `None` if a value is
    /// missing or not 0 or 1.
    pub(crate) fn parse(lines: &[String]) -> Option<Self> {
        let value = |key: &str| {
            let prefix = format!("{key}=");
            match lines.iter().find_map(|l| l.strip_prefix(&prefix))?.trim() {
                "1" => Some(true),
                "0" => Some(false),
                _ => None,
            }
        };
        Some(Self {
            established: value("status/circuit-established")?,
            enough_dir_info: value("status/enough-dir-info")?,
        })
    }
}

/// When to nudge, from what tor says over time.
#[derive(Debug, Default)]
pub(crate) struct Nudger {
    /// Since when tor has had directory information and no completed circuit.
    stalled_since: Option<Instant>,
    /// When we last nudged.
    last: Option<Instant>,
}

impl Nudger {
    /// Takes what tor said at `now` (`None`: it could not be asked); returns whether to nudge
    /// now.
    pub(crate) fn observe(&mut self, now: Instant, status: Option<CircuitStatus>) -> bool {
        let Some(status) = status else {
            return false;
        };
        if status.established || !status.enough_dir_info {
            // Working, or waiting for directory information, which tor fetches on its own.
            self.stalled_since = None;
            return false;
        }
        let since = *self.stalled_since.get_or_insert(now);
        let stalled_long = now.saturating_duration_since(since) >= NUDGE_AFTER;
        let not_just_now = self
            .last
            .is_none_or(|last| now.saturating_duration_since(last) >= NUDGE_AGAIN_AFTER);
        if stalled_long && not_just_now {
            self.last = Some(now);
            return true;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STALLED: Option<CircuitStatus> = Some(CircuitStatus {
        established: false,
        enough_dir_info: true,
    });
    const WORKING: Option<CircuitStatus> = Some(CircuitStatus {
        established: true,
        enough_dir_info: true,
    });
    const NO_DIR_INFO: Option<CircuitStatus> = Some(CircuitStatus {
        established: false,
        enough_dir_info: false,
    });

    fn at(t0: Instant, secs: u64) -> Instant {
        t0 + Duration::from_secs(secs)
    }

    #[test]
    fn parses_tors_reply() {
        let lines = |a: &str, b: &str| {
            vec![
                format!("status/circuit-established={a}"),
                format!("status/enough-dir-info={b}"),
                "OK".to_string(),
            ]
        };
        assert_eq!(CircuitStatus::parse(&lines("0", "1")), STALLED);
        assert_eq!(CircuitStatus::parse(&lines("1", "1")), WORKING);
        assert_eq!(CircuitStatus::parse(&lines("2", "1")), None);
        assert_eq!(CircuitStatus::parse(&["OK".to_string()]), None);
    }

    #[test]
    fn nudges_after_a_stall_and_not_again_at_once() {
        let mut n = Nudger::default();
        let t0 = Instant::now();
        assert!(!n.observe(t0, STALLED));
        assert!(!n.observe(at(t0, 4), STALLED));
        assert!(n.observe(at(t0, 5), STALLED));
        assert!(!n.observe(at(t0, 7), STALLED));
        assert!(!n.observe(at(t0, 34), STALLED));
        assert!(n.observe(at(t0, 35), STALLED));
    }

    #[test]
    fn a_working_tor_or_one_without_directory_information_is_left_alone() {
        let mut n = Nudger::default();
        let t0 = Instant::now();
        for s in 0..100 {
            assert!(!n.observe(at(t0, s), WORKING));
            assert!(!n.observe(at(t0, s), NO_DIR_INFO));
            assert!(!n.observe(at(t0, s), None));
        }
        // A stall is timed from when it began: a working moment in between resets it.
        assert!(!n.observe(at(t0, 100), STALLED));
        assert!(!n.observe(at(t0, 103), WORKING));
        assert!(!n.observe(at(t0, 104), STALLED));
        assert!(!n.observe(at(t0, 108), STALLED));
        assert!(n.observe(at(t0, 109), STALLED));
    }
}
