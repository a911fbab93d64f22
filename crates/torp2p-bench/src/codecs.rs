//! The criterion micro-benchmarks of the address codecs (`cargo bench -p torp2p-addr`), run
//! with short settings; their medians are read back from criterion's files.

/// Runs the codec micro-benchmarks with short settings and reads criterion's medians (ns).
pub(crate) fn criterion(quick: bool) -> Result<Vec<(String, f64)>, String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let (warm, measure) = if quick { ("0.1", "0.3") } else { ("0.5", "2") };
    crate::run(
        &cargo,
        &[
            "bench",
            "--package",
            "torp2p-addr",
            "--bench",
            "codecs",
            "--",
            "--warm-up-time",
            warm,
            "--measurement-time",
            measure,
        ],
    )?;
    let base = crate::target_dir().join("criterion");
    let mut found = Vec::new();
    for group in ["parse", "format", "classify"] {
        let Ok(entries) = std::fs::read_dir(base.join(group)) else {
            continue;
        };
        for entry in entries.flatten() {
            let estimates = entry.path().join("new").join("estimates.json");
            let Ok(text) = std::fs::read_to_string(&estimates) else {
                continue;
            };
            if let Some(ns) = median_estimate(&text) {
                // criterion turns `/` into `_` in directory names; the benchmark names have no `_`.
                let name = entry.file_name().to_string_lossy().replace('_', "/");
                found.push((format!("{group}/{name}"), ns));
            }
        }
    }
    found.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(found)
}

/// The median's point estimate in criterion's `estimates.json`.
fn median_estimate(json: &str) -> Option<f64> {
    let rest = &json[json.find("\"median\"")?..];
    let rest = &rest[rest.find("\"point_estimate\":")? + "\"point_estimate\":".len()..];
    let end = rest.find([',', '}'])?;
    rest[..end].trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn criterion_median_is_read() {
        let json = r#"{"mean":{"confidence_interval":{"lower_bound":1.0},"point_estimate":59.7},"median":{"confidence_interval":{"confidence_level":0.95,"lower_bound":58.7,"upper_bound":60.8},"point_estimate":60.25,"standard_error":0.48}}"#;
        assert_eq!(median_estimate(json), Some(60.25));
        assert_eq!(median_estimate("{}"), None);
    }
}
