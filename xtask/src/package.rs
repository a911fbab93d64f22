//! `cargo xtask package`: every library crate is ready to publish.
//!
//! - `cargo package` of all of them together (so each is verified against the others as
//!   packaged, not against the workspace), failing on any warning cargo gives (e.g. a missing
//!   description, license, documentation or repository field);
//! - every packaged crate holds its README and both license files;
//! - `cargo doc` of each crate alone, warnings as errors.

use std::process::Command;

/// The crates published to crates.io, bottom-up. Binaries (torp2p-ping, torp2p-bench) and
/// tooling (torp2p-swarm-test, xtask) stay unpublished.
pub(crate) const PUBLISHED: &[&str] = &[
    "torp2p-addr",
    "torp2p-socks",
    "torp2p-daemon",
    "torp2p-arti",
    "torp2p-testnet",
    "torp2p-transport",
];

/// Removes what cargo kept of our packages from earlier runs.
///
/// `cargo package` verifies each crate against the others through a temporary local registry.
/// Cargo treats a registry's package as immutable: it extracts it once per name and version
/// into `$CARGO_HOME/registry/src/<registry>/`, and reuses what it compiled from it (by name
/// and version, in the target directory) ever after. So a second run, after a change to a
/// crate, verifies against the first run's copy: false errors such as "no method named ...".
/// When such copies exist (never on a fresh machine), they and the build fingerprints of our
/// packages are removed (the workspace's own crates then compile again, about a minute). The
/// local registries' directories start with `-`; crates.io's are left alone.
fn forget_stale_extractions() -> Result<(), String> {
    if !remove_extractions()? {
        return Ok(());
    }
    let fingerprints = crate::target_dir().join("debug").join(".fingerprint");
    for entry in ours_in(&fingerprints) {
        std::fs::remove_dir_all(&entry).map_err(|e| {
            format!(
                "cannot remove the stale fingerprint {}: {e}",
                entry.display()
            )
        })?;
    }
    eprintln!("xtask: removed cargo's copies of our packages from an earlier `cargo package`");
    Ok(())
}

/// Removes cargo's extracted copies of our packages from local registries; whether there were
/// any.
fn remove_extractions() -> Result<bool, String> {
    let home = std::env::var_os("CARGO_HOME")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".cargo")));
    let Some(src) = home.map(|h| h.join("registry").join("src")) else {
        return Ok(false);
    };
    let Ok(registries) = std::fs::read_dir(&src) else {
        return Ok(false);
    };
    let mut found = false;
    for registry in registries.flatten() {
        if !registry.file_name().to_string_lossy().starts_with('-') {
            continue;
        }
        for copy in ours_in(&registry.path()) {
            std::fs::remove_dir_all(&copy)
                .map_err(|e| format!("cannot remove cargo's stale copy {}: {e}", copy.display()))?;
            found = true;
        }
    }
    Ok(found)
}

/// The entries of `dir` named after one of our packages (`<package>-...`).
fn ours_in(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            PUBLISHED.iter().any(|p| name.starts_with(&format!("{p}-")))
        })
        .map(|e| e.path())
        .collect()
}

/// Files every published crate must ship.
const REQUIRED_FILES: &[&str] = &["README.md", "LICENSE-MIT", "LICENSE-APACHE", "Cargo.toml"];

pub(crate) fn package(args: &[String]) -> Result<(), String> {
    if let Some(arg) = args.first() {
        return Err(format!(
            "package: unexpected argument `{arg}`; usage: cargo xtask package"
        ));
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    forget_stale_extractions()?;
    // `--allow-dirty`: what is checked is the working tree, as `cargo xtask test` sees it.
    let mut package_args = vec!["package", "--locked", "--allow-dirty"];
    for p in PUBLISHED {
        package_args.extend(["--package", p]);
    }
    eprintln!("xtask: running `cargo {}`", package_args.join(" "));
    let out = Command::new(&cargo)
        .args(&package_args)
        // The verification builds each package alone, with its own features: nothing of the
        // tests' build is reused, and the workspace's profile does not reach a packaged crate.
        // A build that only has to compile once needs neither debug info nor incremental state.
        .env("CARGO_PROFILE_DEV_DEBUG", "false")
        .env("CARGO_INCREMENTAL", "0")
        .current_dir(crate::root())
        .output()
        .map_err(|e| format!("could not run cargo: {e}"))?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprint!("{stderr}");
    if !out.status.success() {
        return Err(format!("`cargo package` failed ({})", out.status));
    }
    let warnings = cargo_warnings(&stderr);
    if !warnings.is_empty() {
        return Err(format!(
            "`cargo package` warned, which crates.io would show to every user:\n{}",
            warnings.join("\n")
        ));
    }

    for p in PUBLISHED {
        let list = Command::new(&cargo)
            .args(["package", "--list", "--allow-dirty", "--package", p])
            .current_dir(crate::root())
            .output()
            .map_err(|e| format!("could not run cargo: {e}"))?;
        let files = String::from_utf8_lossy(&list.stdout);
        let missing = missing_files(&files);
        if !missing.is_empty() {
            return Err(format!("{p}: the package lacks {}", missing.join(", ")));
        }
    }

    for p in PUBLISHED {
        eprintln!("xtask: running `cargo doc --no-deps --package {p}` (warnings are errors)");
        let status = Command::new(&cargo)
            .args(["doc", "--no-deps", "--package", p])
            .env("RUSTDOCFLAGS", "-D warnings")
            .current_dir(crate::root())
            .status()
            .map_err(|e| format!("could not run cargo: {e}"))?;
        if !status.success() {
            return Err(format!("`cargo doc` of {p} alone failed ({status})"));
        }
    }
    eprintln!("xtask package: {} crates ready to publish", PUBLISHED.len());
    Ok(())
}

/// cargo's `warning:` lines.
fn cargo_warnings(stderr: &str) -> Vec<String> {
    stderr
        .lines()
        .filter(|l| l.trim_start().starts_with("warning:"))
        .map(str::to_string)
        .collect()
}

/// The required files absent from a `cargo package --list` output.
fn missing_files(list: &str) -> Vec<&'static str> {
    REQUIRED_FILES
        .iter()
        .filter(|f| !list.lines().any(|l| l.trim() == **f))
        .copied()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warnings_are_found() {
        let out = "   Packaging torp2p-addr v0.1.0\nwarning: manifest has no documentation, homepage or repository.\n    Verifying torp2p-addr\n";
        assert_eq!(
            cargo_warnings(out),
            vec!["warning: manifest has no documentation, homepage or repository.".to_string()]
        );
        assert!(cargo_warnings("   Packaged 19 files").is_empty());
    }

    #[test]
    fn missing_files_are_named() {
        let list = "Cargo.toml\nCargo.toml.orig\nLICENSE-MIT\nREADME.md\nsrc/lib.rs\n";
        assert_eq!(missing_files(list), vec!["LICENSE-APACHE"]);
        let full = "Cargo.toml\nLICENSE-APACHE\nLICENSE-MIT\nREADME.md\n";
        assert!(missing_files(full).is_empty());
    }
}
