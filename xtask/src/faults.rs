//! `cargo xtask faults [--runs N]`: the recovery scenarios again and again, with the
//! distribution of recovery times per scenario.
//!
//! Each run is `cargo test -p torp2p-transport --test recovery` on a private network of its
//! own: the transport's tor is SIGKILLed, then SIGSTOPped, and the test asserts that the
//! service comes back and the peer reconnects. The test prints one `RECOVERY | <fault> | ...`
//! line per fault; this command collects them and fails unless every run passed.

use std::collections::BTreeMap;
use std::process::Command;

/// One fault's figures from one run, in seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Recovery {
    /// From the fault to the address expiring.
    expired: f64,
    /// From the fault to the address being published again.
    back: f64,
    /// From the address being back to the peer reconnecting.
    reconnected: f64,
}

/// `RECOVERY | <fault> | address expired after X s, back (published again) after Y s; B
/// reconnected Z s later`
fn parse(line: &str) -> Option<(String, Recovery)> {
    let rest = line.strip_prefix("RECOVERY | ")?;
    let (fault, figures) = rest.split_once(" | ")?;
    let number_after = |key: &str| -> Option<f64> {
        let at = figures.find(key)? + key.len();
        figures[at..].split_whitespace().next()?.parse().ok()
    };
    Some((
        fault.to_string(),
        Recovery {
            expired: number_after("expired after ")?,
            back: number_after("back (published again) after ")?,
            reconnected: number_after("reconnected ")?,
        },
    ))
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

pub(crate) fn faults(args: &[String]) -> Result<(), String> {
    let runs = crate::runs(args, "faults")?;
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut by_fault: BTreeMap<String, Vec<Recovery>> = BTreeMap::new();
    let mut failed = 0;
    for run in 1..=runs {
        eprintln!("xtask faults: run {run} of {runs}");
        let out = Command::new(&cargo)
            .args([
                "test",
                "--quiet",
                "--package",
                "torp2p-transport",
                "--test",
                "recovery",
                "--",
                "--nocapture",
            ])
            .current_dir(crate::root())
            .output()
            .map_err(|e| format!("could not run cargo: {e}"))?;
        let text = String::from_utf8_lossy(&out.stderr).into_owned()
            + &String::from_utf8_lossy(&out.stdout);
        let seen: Vec<_> = text.lines().filter_map(parse).collect();
        if !out.status.success() {
            failed += 1;
            let tail: Vec<&str> = text.lines().rev().take(30).collect();
            eprintln!(
                "xtask faults: run {run} failed ({}); its last lines:\n{}",
                out.status,
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            );
        }
        for (fault, r) in seen {
            by_fault.entry(fault).or_default().push(r);
        }
    }
    println!(
        "fault                      recovered   back: median  max   peer reconnected: median  max"
    );
    for (fault, rs) in &by_fault {
        let mut back: Vec<f64> = rs.iter().map(|r| r.back).collect();
        let mut again: Vec<f64> = rs.iter().map(|r| r.reconnected).collect();
        let max = |v: &[f64]| v.iter().copied().fold(f64::NAN, f64::max);
        println!(
            "{fault:<26} {:>3} of {runs:<3}      {:>6.1} s {:>5.1} s            {:>6.1} s {:>5.1} s",
            rs.len(),
            median(&mut back),
            max(&back),
            median(&mut again),
            max(&again),
        );
    }
    println!("faults: {} passed, {failed} failed", runs - failed);
    if failed > 0 {
        return Err(format!("{failed} of {runs} runs did not recover"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_recovery_lines_of_the_test() {
        let line = "RECOVERY | A's tor killed (SIGKILL) | address expired after 0.0 s, back (published again) after 4.3 s; B reconnected 3.4 s later";
        let (fault, r) = parse(line).unwrap();
        assert_eq!(fault, "A's tor killed (SIGKILL)");
        assert_eq!(
            r,
            Recovery {
                expired: 0.0,
                back: 4.3,
                reconnected: 3.4
            }
        );
        assert_eq!(parse("RECOVERY | x | nothing"), None);
        assert_eq!(parse("test result: ok"), None);
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), 2.5);
    }
}
