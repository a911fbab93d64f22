//! [`Config`]: how to start an embedded arti client.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use arti_client::TorClientConfig;
use tor_config::load::ConfigResolveOptions;
use tor_config::sources::MustRead;
use tor_config::{ConfigurationSource, ConfigurationSources};

use crate::error::{ArtiError, Error};

/// How to start an embedded arti client ([`crate::Client::bootstrap`]).
///
/// # Warning
///
/// Without a configuration file, arti uses its built-in defaults: **the public Tor network**.
/// To join a private network (e.g. torp2p-testnet's), give its `arti.toml` with
/// [`Config::with_file`].
#[derive(Debug, Clone)]
pub struct Config {
    files: Vec<PathBuf>,
    storage_dir: Option<PathBuf>,
    bootstrap_timeout: Duration,
    dial_timeout: Duration,
}

impl Config {
    /// The defaults:
    /// - no configuration file: arti's own defaults (the public Tor network, storage in the
    ///   user's cache and data directories);
    /// - the storage directories of the files (or arti's defaults);
    /// - 120 s to bootstrap;
    /// - 120 s for a whole dial (as torp2p-socks).
    pub fn new() -> Self {
        Self {
            files: Vec::new(),
            storage_dir: None,
            bootstrap_timeout: Duration::from_secs(120),
            dial_timeout: Duration::from_secs(120),
        }
    }

    /// Adds a configuration file in arti's TOML format (`arti.toml`), read after the files
    /// added before it (later settings win, as with arti's `-c`). A file that cannot be read is
    /// an error at bootstrap.
    pub fn with_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.files.push(path.into());
        self
    }

    /// Keeps arti's state (guards, keys of onion services, locks) in `dir/state` and its
    /// directory cache in `dir/cache`, whatever the files say. Two clients running at the
    /// same time need two directories: arti locks its state directory.
    pub fn with_storage_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.storage_dir = Some(dir.into());
        self
    }

    /// How long [`crate::Client::bootstrap`] waits for arti to bootstrap.
    pub fn with_bootstrap_timeout(mut self, timeout: Duration) -> Self {
        self.bootstrap_timeout = timeout;
        self
    }

    /// The timeout of a whole dial ([`crate::Client::dial`]).
    pub fn with_dial_timeout(mut self, timeout: Duration) -> Self {
        self.dial_timeout = timeout;
        self
    }

    /// The configuration files, in the order they are read.
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }

    /// The storage directory set with [`Config::with_storage_dir`].
    pub fn storage_dir(&self) -> Option<&Path> {
        self.storage_dir.as_deref()
    }

    /// The bootstrap timeout.
    pub fn bootstrap_timeout(&self) -> Duration {
        self.bootstrap_timeout
    }

    /// The dial timeout.
    pub fn dial_timeout(&self) -> Duration {
        self.dial_timeout
    }

    /// Reads and resolves the configuration as arti would, starting nothing: the settings arti
    /// did not recognize or considers deprecated are in the result (arti ignores the former
    /// and logs a warning for each).
    ///
    /// # Errors
    ///
    /// [`Error::Config`] if a file cannot be read, is not TOML, or holds invalid values.
    pub fn check(&self) -> Result<ConfigCheck, Error> {
        self.resolve().map(|(_, check)| check)
    }

    /// The resolved configuration, and what arti ignored in it.
    pub(crate) fn resolve(&self) -> Result<(TorClientConfig, ConfigCheck), Error> {
        let err = |source| Error::Config {
            files: self.files.clone(),
            source,
        };
        let mut sources = ConfigurationSources::new_empty();
        for f in &self.files {
            sources.push_source(ConfigurationSource::from_path(f), MustRead::MustRead);
        }
        if let Some(dir) = &self.storage_dir {
            for (key, sub) in [("cache_dir", "cache"), ("state_dir", "state")] {
                let path = dir.join(sub);
                sources.push_option(format!(
                    "storage.{key}={}",
                    toml_string(&path.to_string_lossy())
                ));
            }
        }
        let tree = sources.load().map_err(|e| err(ArtiError::plain(e)))?;
        let results = tor_config::resolve_return_results::<TorClientConfig>(
            &tree,
            &ConfigResolveOptions::default(),
        )
        .map_err(|e| err(ArtiError::plain(e)))?;
        let check = ConfigCheck {
            unrecognized: results.unrecognized.iter().map(|k| k.to_string()).collect(),
            deprecated: results.deprecated.iter().map(|k| k.to_string()).collect(),
        };
        for key in &check.unrecognized {
            tracing::warn!(%key, "arti configuration: unrecognized setting, ignored");
        }
        for key in &check.deprecated {
            tracing::warn!(%key, "arti configuration: deprecated setting");
        }
        Ok((results.value, check))
    }
}

impl Default for Config {
    fn default() -> Self {
        Self::new()
    }
}

/// What [`Config::check`] found besides valid settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConfigCheck {
    /// Settings arti does not know (and ignores), e.g. `storage.stat_dir`.
    pub unrecognized: Vec<String>,
    /// Settings arti knows but considers deprecated.
    pub deprecated: Vec<String>,
}

/// A TOML basic string.
fn toml_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn toml_strings_are_quoted() {
        assert_eq!(toml_string("/a \"b\"\\c"), "\"/a \\\"b\\\"\\\\c\"");
        assert_eq!(toml_string("x\ny"), "\"x\\u000Ay\"");
    }

    #[test]
    fn unknown_settings_are_reported_and_bad_ones_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("arti.toml");
        std::fs::write(&file, "[storage]\nstat_dir = \"/nowhere\"\n").unwrap();
        let check = Config::new().with_file(&file).check().unwrap();
        assert_eq!(check.unrecognized, ["storage.stat_dir"]);

        std::fs::write(&file, "[path_rules]\nipv4_subnet_family_prefix = \"x\"\n").unwrap();
        let err = Config::new().with_file(&file).check().unwrap_err();
        assert!(matches!(err, Error::Config { .. }), "{err:?}");

        let missing = dir.path().join("missing.toml");
        let err = Config::new().with_file(&missing).check().unwrap_err();
        assert!(matches!(err, Error::Config { .. }), "{err:?}");
    }
}
