//! `cargo xtask test`'s smoke run of the benchmarks: `bench --quick` (in the tests' debug
//! build) must complete and write its ratios. It asserts no figure: a benchmark's figures are
//! read, never tested (the machines are shared and noisy).

use crate::ping_proc;

/// The figures of `latest.json` a smoke run must fill: every ratio, and the concurrent dials.
const RATIOS: [&str; 7] = [
    "rtt_ratio",
    "throughput_ratio",
    "download_throughput_ratio",
    "setup_ratio",
    "setup_ratio_warm",
    "first_connection_ratio",
    "listen_ratio",
];

/// Runs `torp2p-bench --quick --unoptimized --no-criterion` and checks what it wrote.
pub(crate) fn bench_smoke() -> Result<(), String> {
    let bin = ping_proc::build_bin("torp2p-bench")?;
    let json = crate::target_dir().join("bench").join("latest.json");
    // A file left by an earlier run must not pass for this one's.
    let _ = std::fs::remove_file(&json);
    let bin = bin
        .to_str()
        .ok_or("the bench's path is not UTF-8")?
        .to_string();
    crate::run(&bin, &["--quick", "--unoptimized", "--no-criterion"])?;
    let text = std::fs::read_to_string(&json)
        .map_err(|e| format!("the benchmarks' smoke run wrote no {}: {e}", json.display()))?;
    check(&text).map_err(|e| format!("{}: {e}", json.display()))
}

/// Every ratio of [`RATIOS`] is a number, and some concurrent dial succeeded.
fn check(text: &str) -> Result<(), String> {
    let j: serde_json::Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let missing: Vec<&str> = RATIOS
        .iter()
        .copied()
        .filter(|k| !j[k].is_number())
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "no figure for {} (the phase did not run or measured nothing)",
            missing.join(", ")
        ));
    }
    match j["concurrent_dials"]["succeeded"].as_u64() {
        Some(n) if n > 0 => Ok(()),
        _ => Err("no concurrent dial succeeded".into()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn report(rtt: &str, dials: u64) -> String {
        let mut fields: Vec<String> = RATIOS
            .iter()
            .map(|k| format!("\"{k}\": {}", if *k == "rtt_ratio" { rtt } else { "1.01" }))
            .collect();
        fields.push(format!(
            "\"concurrent_dials\": {{\"tried\": 20, \"succeeded\": {dials}}}"
        ));
        format!("{{{}}}", fields.join(", "))
    }

    #[test]
    fn a_complete_report_passes() {
        check(&report("0.98", 20)).unwrap();
    }

    #[test]
    fn a_missing_figure_or_no_dial_fails() {
        let e = check(&report("null", 20)).unwrap_err();
        assert!(e.contains("rtt_ratio"), "{e}");
        assert!(
            check(&report("1.0", 0))
                .unwrap_err()
                .contains("concurrent dial")
        );
        assert!(check("{").unwrap_err().contains("not JSON"));
        assert!(check("{}").unwrap_err().contains("throughput_ratio"));
    }
}
