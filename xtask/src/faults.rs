//! `cargo xtask faults [--runs N] [--only TEST ...]`: the recovery scenarios again and again,
//! with the distribution of recovery times per scenario.
//!
//! Each run is `cargo test -p torp2p-transport --test recovery --test recovery_offline ...`:
//! every test file starts a private network of its own, causes its faults (the transport's tor
//! SIGKILLed and SIGSTOPped, its network off, its control connection cut, relays killed in each
//! role) and asserts that the service comes back and peers connect. Each scenario prints one
//! line, `RECOVERY | <scenario> | <label>: <seconds> s; <label>: <seconds> s; ...` (a label
//! has no `; ` of its own: a line that does not parse fails the run); this
//! command collects them and fails unless every run passed.

use std::collections::BTreeMap;
use std::process::Command;

/// The recovery test files of torp2p-transport, each run in every run.
const TESTS: &[&str] = &[
    "recovery",
    "recovery_offline",
    "recovery_control",
    "recovery_relays",
];

/// One scenario's figures from one run: (label, seconds), in the order printed.
type Figures = Vec<(String, f64)>;

/// `RECOVERY | <scenario> | <label>: <X> s; <label>: <Y> s`
fn parse(line: &str) -> Option<(String, Figures)> {
    let rest = line.trim().strip_prefix("RECOVERY | ")?;
    let (scenario, figures) = rest.split_once(" | ")?;
    let figures = figures
        .split("; ")
        .map(|item| {
            let (label, value) = item.rsplit_once(": ")?;
            let seconds = value.strip_suffix(" s")?.trim().parse::<f64>().ok()?;
            Some((label.trim().to_string(), seconds))
        })
        .collect::<Option<Figures>>()?;
    (!figures.is_empty()).then(|| (scenario.to_string(), figures))
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// `--runs N` and `--only TEST` (repeatable), in any order.
fn options(args: &[String]) -> Result<(usize, Vec<String>), String> {
    let usage = "usage: cargo xtask faults [--runs N] [--only TEST ...]";
    let mut runs = 1;
    let mut only = Vec::new();
    let mut args = args.iter();
    while let Some(flag) = args.next() {
        let value = args
            .next()
            .ok_or_else(|| format!("faults: `{flag}` needs a value; {usage}"))?;
        match flag.as_str() {
            "--runs" => runs = crate::runs(&[flag.clone(), value.clone()], "faults")?,
            "--only" if TESTS.contains(&value.as_str()) => only.push(value.clone()),
            "--only" => {
                return Err(format!(
                    "faults: no recovery test `{value}`; there are: {}",
                    TESTS.join(", ")
                ));
            }
            other => return Err(format!("faults: unexpected argument `{other}`; {usage}")),
        }
    }
    if only.is_empty() {
        only = TESTS.iter().map(|t| t.to_string()).collect();
    }
    Ok((runs, only))
}

/// `RUST_LOG` for the runs, unless set: enough to follow a failed run's connections.
const FAILURE_LOG: &str =
    "warn,torp2p_transport=debug,torp2p_daemon=debug,libp2p_swarm=debug,torp2p_swarm_test=debug";

/// Writes a failed run's whole output to `<target>/faults/run-<n>.log`; where (or why not).
fn keep_output(run: usize, text: &str) -> String {
    let dir = crate::target_dir().join("faults");
    let path = dir.join(format!("run-{run}.log"));
    match std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(&path, text)) {
        Ok(()) => path.display().to_string(),
        Err(e) => format!("(nowhere: cannot write {}: {e})", path.display()),
    }
}

pub(crate) fn faults(args: &[String]) -> Result<(), String> {
    let (runs, tests) = options(args)?;
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    // Scenario -> label -> seconds, one per run that printed it.
    let mut by_scenario: BTreeMap<String, BTreeMap<String, Vec<f64>>> = BTreeMap::new();
    let mut recovered: BTreeMap<String, usize> = BTreeMap::new();
    let mut failed = 0;
    for run in 1..=runs {
        eprintln!("xtask faults: run {run} of {runs} ({})", tests.join(", "));
        let mut args = vec!["test", "--quiet", "--package", "torp2p-transport"];
        for t in &tests {
            args.extend(["--test", t.as_str()]);
        }
        args.extend(["--", "--nocapture"]);
        let mut command = Command::new(&cargo);
        command.args(&args).current_dir(crate::root());
        // Logs to find out afterwards why a run failed (kept only for failed runs): the
        // transport's and the daemon's decisions and libp2p's connection events.
        if std::env::var_os("RUST_LOG").is_none() {
            command.env("RUST_LOG", FAILURE_LOG);
        }
        let out = command
            .output()
            .map_err(|e| format!("could not run cargo: {e}"))?;
        let text = String::from_utf8_lossy(&out.stderr).into_owned()
            + &String::from_utf8_lossy(&out.stdout);
        if !out.status.success() {
            failed += 1;
            let kept = keep_output(run, &text);
            eprintln!(
                "xtask faults: run {run} failed ({}); the whole output is in {kept}; why:\n{}",
                out.status,
                why_failed(&text)
            );
        }
        let unparsed: Vec<&str> = text
            .lines()
            .filter(|l| l.trim().starts_with("RECOVERY |") && parse(l).is_none())
            .collect();
        if !unparsed.is_empty() {
            // A figure we cannot read is a defect of the test, not a figure to leave out.
            if out.status.success() {
                failed += 1;
            }
            eprintln!(
                "xtask faults: run {run}: RECOVERY lines not in the format `label: X s; ...`:\n{}",
                unparsed.join("\n")
            );
        }
        for (scenario, figures) in text.lines().filter_map(parse) {
            eprintln!("xtask faults: run {run}: {scenario}: {}", show(&figures));
            *recovered.entry(scenario.clone()).or_default() += 1;
            let labels = by_scenario.entry(scenario).or_default();
            for (label, seconds) in figures {
                labels.entry(label).or_default().push(seconds);
            }
        }
    }
    println!("scenario | recovered in runs | figure: median (min–max)");
    for (scenario, labels) in &mut by_scenario {
        let n = recovered.get(scenario.as_str()).copied().unwrap_or(0);
        let figures: Vec<String> = labels
            .iter_mut()
            .map(|(label, v)| {
                let min = v.iter().copied().fold(f64::INFINITY, f64::min);
                let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                format!("{label}: {:.1} s ({min:.1}–{max:.1})", median(v))
            })
            .collect();
        println!("{scenario} | {n} of {runs} | {}", figures.join("; "));
    }
    println!("faults: {} passed, {failed} failed", runs - failed);
    if failed > 0 {
        return Err(format!("{failed} of {runs} runs did not recover"));
    }
    if by_scenario.is_empty() {
        return Err("no RECOVERY line was printed: did the tests run?".into());
    }
    Ok(())
}

/// The lines that say why a test failed: each panic message (with the two lines after it),
/// and where the network's files were kept.
fn why_failed(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let mut why = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if line.contains("panicked at") {
            why.extend(lines[i..].iter().take(3).copied());
        } else if line.contains("network files kept in") || line.starts_with("test result:") {
            why.push(line);
        }
    }
    if why.is_empty() {
        // No panic: the last lines (a build error, a crash).
        why.extend(lines.iter().rev().take(30).rev().copied());
    }
    why.join("\n")
}

fn show(figures: &Figures) -> String {
    figures
        .iter()
        .map(|(l, s)| format!("{l}: {s:.1} s"))
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_recovery_lines_of_the_tests() {
        let line = "RECOVERY | A's tor killed (SIGKILL) | address expired: 0.0 s; back (published again): 4.3 s; B reconnected: 3.4 s";
        let (scenario, figures) = parse(line).unwrap();
        assert_eq!(scenario, "A's tor killed (SIGKILL)");
        assert_eq!(
            figures,
            vec![
                ("address expired".to_string(), 0.0),
                ("back (published again)".to_string(), 4.3),
                ("B reconnected".to_string(), 3.4)
            ]
        );
        assert_eq!(parse("RECOVERY | x | nothing"), None);
        assert_eq!(parse("RECOVERY | x | a: 1.0 s; b: soon"), None);
        assert_eq!(parse("RECOVERY | x | "), None);
        assert_eq!(parse("test result: ok"), None);
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), 2.5);
    }

    #[test]
    fn a_failure_says_why() {
        let text = "RECOVERY | x | a: 1.0 s\nthread 't' panicked at tests/recovery.rs:9:5:\nB did not reconnect\nstack backtrace:\n  0: x\ntorp2p-testnet: network files kept in /tmp/n\ntest result: FAILED. 0 passed";
        let why = why_failed(text);
        assert!(why.contains("panicked at tests/recovery.rs:9:5:\nB did not reconnect"));
        assert!(why.contains("kept in /tmp/n"));
        assert!(why.contains("test result: FAILED"));
        assert!(!why.contains("RECOVERY"));
        assert_eq!(why_failed("error[E0425]: oops"), "error[E0425]: oops");
    }

    #[test]
    fn options_are_checked() {
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(options(&[]).unwrap().0, 1);
        assert_eq!(options(&[]).unwrap().1.len(), TESTS.len());
        let (runs, only) = options(&args(&["--only", "recovery", "--runs", "3"])).unwrap();
        assert_eq!((runs, only), (3, vec!["recovery".to_string()]));
        assert!(
            options(&args(&["--only", "nonsense"]))
                .unwrap_err()
                .contains("no recovery test")
        );
        assert!(options(&args(&["--runs"])).is_err());
        assert!(options(&args(&["--runs", "0"])).is_err());
        assert!(options(&args(&["--fast", "1"])).is_err());
    }
}
