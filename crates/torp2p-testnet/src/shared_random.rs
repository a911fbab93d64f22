//! Shared random values from the first consensus on.
//!
//! The live network always has two shared random values (SRVs) in its consensus: the one of
//! the current protocol run and the previous one. A new network has none until its
//! authorities finish a protocol run whose commit phase they took part in, 3–9 minutes after
//! the start, and the second only 6 minutes later. Until then onion-service descriptors are
//! placed with the "disaster" value, and arti reports its onion services reachable only once
//! it has descriptors for two time periods, which needs both values.
//!
//! So the network starts as the live one runs: each authority finds in its data directory an
//! `sr-state` file (tor's shared-random state, `src/feature/dirauth/shared_random_state.c`)
//! holding the same two random values, loads it at startup and votes for them from the
//! first vote; at the end of each protocol run the authorities go on as usual (the current
//! value becomes the previous one, a new current value is computed).

use std::path::Path;
use std::time::{Duration, SystemTime};

use base64::Engine as _;

use crate::Error;

/// The name of tor's shared-random state file in an authority's data directory.
const FILE: &str = "sr-state";

/// How long tor may use the state we write: it refuses an expired one, and replaces ours with
/// its own at the end of the first protocol run anyway.
const VALID_FOR: Duration = Duration::from_secs(24 * 3600);

/// Writes the same two new random values into the `sr-state` of every authority's data
/// directory in `dirs`, before the authorities start.
pub(crate) fn seed<'a>(dirs: impl IntoIterator<Item = &'a Path>) -> Result<(), Error> {
    let mut values = [[0u8; 32]; 2];
    for v in &mut values {
        getrandom::fill(v).map_err(|e| Error::Io {
            what: "cannot get random bytes for the shared random values of",
            path: Path::new(FILE).to_path_buf(),
            source: std::io::Error::other(e.to_string()),
        })?;
    }
    let text = state_text(&values[0], &values[1], SystemTime::now());
    for dir in dirs {
        let path = dir.join(FILE);
        std::fs::write(&path, &text).map_err(|source| Error::Io {
            what: "cannot write",
            path,
            source,
        })?;
    }
    Ok(())
}

/// The state file's text: version 1, valid from `now` for [`VALID_FOR`], the two values with
/// no reveals (the count is informational; tor checks only the value's length).
fn state_text(previous: &[u8; 32], current: &[u8; 32], now: SystemTime) -> String {
    let b64 = |v: &[u8; 32]| base64::engine::general_purpose::STANDARD.encode(v);
    format!(
        "Version 1\nValidAfter {}\nValidUntil {}\nSharedRandPreviousValue 0 {}\nSharedRandCurrentValue 0 {}\n",
        iso_time(now),
        iso_time(now + VALID_FOR),
        b64(previous),
        b64(current),
    )
}

/// `YYYY-MM-DD HH:MM:SS` in UTC, as tor writes and reads times in its state files.
fn iso_time(t: SystemTime) -> String {
    // `2026-12-01T14:00:00Z`
    let rfc3339 = humantime::format_rfc3339_seconds(t).to_string();
    rfc3339.trim_end_matches('Z').replacen('T', " ", 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_is_written_as_tor_reads_it() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_133_600); // 2026-12-01 14:00
        let text = state_text(&[0; 32], &[0xff; 32], now);
        assert_eq!(
            text,
            "Version 1\n\
             ValidAfter 2026-12-01 14:00:00\n\
             ValidUntil 2026-12-02 14:00:00\n\
             SharedRandPreviousValue 0 AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\
             SharedRandCurrentValue 0 //////////////////////////////////////////8=\n"
        );
        // tor's SR_SRV_VALUE_BASE64_LEN: 32 bytes, padded.
        for line in text.lines().filter(|l| l.starts_with("SharedRand")) {
            assert_eq!(line.rsplit(' ').next().unwrap().len(), 44, "{line}");
        }
    }
}
