//! The catalogue of bad files: onion service key files (`OnionKey::load`, `load_or_generate`,
//! `save`) and torrc files (`Config::with_torrc_file`, and torrc lines `Tor::spawn` refuses
//! before starting tor). Each case: the input, what it must give (an error variant, or the lines
//! read for odd files that are fine), and words the message must contain, its causes included
//! (as `torp2p-ping` prints them), that say what was wrong and what to do.
//!
//! 58 cases: 32 key files, 26 torrc files and lines. No case needs tor to run.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};

use torp2p_daemon::{Config, Error, KeyProblem, OnionKey, Tor, TorrcProblem};

/// An error and its causes, joined as `torp2p-ping` prints them.
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![e.to_string()];
    let mut cur = e.source();
    while let Some(c) = cur {
        parts.push(c.to_string());
        cur = c.source();
    }
    parts.join(": ")
}

fn set_mode(p: &Path, m: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
}

/// Writes `data` at `dir/name` with mode 0600.
fn private(dir: &Path, name: &str, data: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, data).unwrap();
    set_mode(&p, 0o600);
    p
}

fn mkfifo(p: &Path) {
    let ok = std::process::Command::new("mkfifo")
        .arg("-m")
        .arg("600")
        .arg(p)
        .status()
        .unwrap()
        .success();
    assert!(ok, "mkfifo {}", p.display());
}

/// Whether this process reads files whatever their mode (root, or CAP_DAC_OVERRIDE).
fn reads_anything(dir: &Path) -> bool {
    let p = dir.join("probe");
    std::fs::write(&p, b"x").unwrap();
    set_mode(&p, 0o000);
    std::fs::read(&p).is_ok()
}

/// What a key-file case must give.
enum KeyExpect {
    /// `Error::KeyFile` with this problem.
    Problem(KeyProblem),
    /// `Error::Io` (e.g. writing into a missing directory).
    Io,
    /// The file is a good key: loading it works.
    Loads,
}

#[test]
fn bad_key_files_say_what_is_wrong() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let key = OnionKey::generate();
    let good_path = dir.join("good");
    key.save(&good_path).unwrap();
    let good = std::fs::read(&good_path).unwrap();
    assert_eq!(good.len(), 96);
    let with = |f: &dyn Fn(&mut Vec<u8>)| {
        let mut d = good.clone();
        f(&mut d);
        d
    };

    let dangling = dir.join("dangling");
    symlink(dir.join("nowhere"), &dangling).unwrap();
    let loose_target = private(dir, "loose-target", &good);
    set_mode(&loose_target, 0o644);
    let link_to_loose = dir.join("link-to-loose");
    symlink(&loose_target, &link_to_loose).unwrap();
    let link_to_good = dir.join("link-to-good");
    symlink(&good_path, &link_to_good).unwrap();
    let fifo = dir.join("fifo");
    mkfifo(&fifo);
    let socket = dir.join("socket");
    let _listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    let huge = private(dir, "huge", b"");
    std::fs::File::options()
        .write(true)
        .open(&huge)
        .unwrap()
        .set_len(10 << 20)
        .unwrap();
    let unreadable = private(dir, "unreadable", &good);
    set_mode(&unreadable, 0o000);
    let privileged = reads_anything(dir);
    let mut public_key_file = b"== ed25519v1-public: type0 ==\0\0\0".to_vec();
    public_key_file.extend_from_slice(&key.public_key());
    let control_port_form = format!("ED25519-V3:{}", "A".repeat(88));
    let mut seed_file = good[..32].to_vec();
    seed_file.extend_from_slice(&[7u8; 32]);

    // (name, path, expected, words the message and its causes must contain)
    let mut cases: Vec<(&str, PathBuf, KeyExpect, Vec<&str>)> = vec![
        (
            "missing",
            dir.join("missing"),
            KeyExpect::Problem(KeyProblem::Missing),
            vec!["does not exist", "load_or_generate"],
        ),
        (
            "empty path",
            PathBuf::new(),
            KeyExpect::Problem(KeyProblem::Missing),
            vec!["does not exist"],
        ),
        (
            "dangling symbolic link",
            dangling.clone(),
            KeyExpect::Problem(KeyProblem::DanglingSymlink),
            vec!["symbolic link", "does not exist", "fix the link"],
        ),
        (
            "directory",
            dir.to_path_buf(),
            KeyExpect::Problem(KeyProblem::Directory),
            vec!["is a directory", "hs_ed25519_secret_key"],
        ),
        (
            "file used as a directory",
            good_path.join("key"),
            KeyExpect::Problem(KeyProblem::Unreadable),
            vec!["cannot be read", "Not a directory"],
        ),
        (
            "fifo (would block forever)",
            fifo.clone(),
            KeyExpect::Problem(KeyProblem::NotAFile),
            vec!["not a regular file", "pipe"],
        ),
        (
            "unix socket",
            socket.clone(),
            KeyExpect::Problem(KeyProblem::NotAFile),
            vec!["not a regular file"],
        ),
        (
            "character device /dev/zero (never ends)",
            "/dev/zero".into(),
            KeyExpect::Problem(KeyProblem::NotAFile),
            vec!["not a regular file", "device"],
        ),
        (
            "mode 0644",
            {
                let p = private(dir, "m644", &good);
                set_mode(&p, 0o644);
                p
            },
            KeyExpect::Problem(KeyProblem::NotPrivate { mode: 0o644 }),
            vec!["mode 644", "chmod 600"],
        ),
        (
            "mode 0640",
            {
                let p = private(dir, "m640", &good);
                set_mode(&p, 0o640);
                p
            },
            KeyExpect::Problem(KeyProblem::NotPrivate { mode: 0o640 }),
            vec!["mode 640", "chmod 600"],
        ),
        (
            "mode 0602",
            {
                let p = private(dir, "m602", &good);
                set_mode(&p, 0o602);
                p
            },
            KeyExpect::Problem(KeyProblem::NotPrivate { mode: 0o602 }),
            vec!["writable by other users"],
        ),
        (
            "symbolic link to a loose file",
            link_to_loose.clone(),
            KeyExpect::Problem(KeyProblem::NotPrivate { mode: 0o644 }),
            vec!["mode 644", "chmod 600"],
        ),
        (
            "empty file",
            private(dir, "empty", b""),
            KeyExpect::Problem(KeyProblem::WrongSize { len: 0 }),
            vec!["has 0 bytes", "96"],
        ),
        (
            "truncated by one byte",
            private(dir, "short", &good[..95]),
            KeyExpect::Problem(KeyProblem::WrongSize { len: 95 }),
            vec!["has 95 bytes", "truncated"],
        ),
        (
            "header only",
            private(dir, "header", &good[..32]),
            KeyExpect::Problem(KeyProblem::WrongSize { len: 32 }),
            vec!["has 32 bytes"],
        ),
        (
            "a newline appended",
            private(dir, "newline", &with(&|d| d.push(b'\n'))),
            KeyExpect::Problem(KeyProblem::WrongSize { len: 97 }),
            vec!["has 97 bytes", "96"],
        ),
        (
            "10 MiB (read no further than 97 bytes)",
            huge.clone(),
            KeyExpect::Problem(KeyProblem::WrongSize { len: 10 << 20 }),
            vec!["has 10485760 bytes"],
        ),
        (
            "a seed instead of the expanded key",
            private(dir, "seed", &seed_file),
            KeyExpect::Problem(KeyProblem::WrongSize { len: 64 }),
            vec!["has 64 bytes"],
        ),
        (
            "one header byte changed",
            private(dir, "header-byte", &with(&|d| d[3] = b'X')),
            KeyExpect::Problem(KeyProblem::WrongHeader),
            vec!["does not start with `== ed25519v1-secret: type0 ==`"],
        ),
        (
            "type1 header",
            private(dir, "type1", &with(&|d| d[28] = b'1')),
            KeyExpect::Problem(KeyProblem::WrongHeader),
            vec!["not a tor v3 onion service secret key"],
        ),
        (
            "header without its NUL padding",
            private(dir, "padding", &with(&|d| d[29..32].fill(b' '))),
            KeyExpect::Problem(KeyProblem::WrongHeader),
            vec!["does not start with"],
        ),
        (
            "96 bytes of zeros",
            private(dir, "zeros", &[0u8; 96]),
            KeyExpect::Problem(KeyProblem::WrongHeader),
            vec!["does not start with"],
        ),
        (
            "tor's public key file",
            private(dir, "hs_ed25519_public_key", &public_key_file),
            KeyExpect::Problem(KeyProblem::PublicKeyFile),
            vec!["public key file", "hs_ed25519_secret_key"],
        ),
        (
            "the control port's ED25519-V3:<base64> form",
            private(dir, "blob", control_port_form.as_bytes()),
            KeyExpect::Problem(KeyProblem::ControlPortForm),
            vec!["ED25519-V3:<base64>", "hs_ed25519_secret_key"],
        ),
        (
            "scalar's low bits set",
            private(dir, "low-bits", &with(&|d| d[32] |= 7)),
            KeyExpect::Problem(KeyProblem::NotClamped),
            vec!["not clamped", "corrupted"],
        ),
        (
            "scalar's top bit set",
            private(dir, "top-bit", &with(&|d| d[63] |= 0x80)),
            KeyExpect::Problem(KeyProblem::NotClamped),
            vec!["not clamped"],
        ),
        (
            "scalar's second bit cleared",
            private(dir, "second-bit", &with(&|d| d[63] &= !0x40)),
            KeyExpect::Problem(KeyProblem::NotClamped),
            vec!["not clamped"],
        ),
        (
            "symbolic link to a good key (followed)",
            link_to_good.clone(),
            KeyExpect::Loads,
            vec![],
        ),
    ];
    if privileged {
        // Mode 0000 does not stop root: the file is a good key.
        cases.push((
            "mode 0000 (read by root)",
            unreadable,
            KeyExpect::Loads,
            vec![],
        ));
    } else {
        cases.push((
            "mode 0000",
            unreadable,
            KeyExpect::Problem(KeyProblem::Unreadable),
            vec!["cannot be read", "Permission denied"],
        ));
    }
    let loaded = |p: &Path| OnionKey::load(p);
    let mut failures = Vec::new();
    for (name, path, expect, words) in &cases {
        let result = loaded(path);
        check_key(name, result, expect, words, &mut failures);
    }

    // load_or_generate and save: nothing is written through a dangling link or into a
    // missing directory, and a path that names no file is refused.
    let more: Vec<(&str, torp2p_daemon::Result<OnionKey>, KeyExpect, Vec<&str>)> = vec![
        (
            "load_or_generate on a dangling link",
            OnionKey::load_or_generate(&dangling),
            KeyExpect::Problem(KeyProblem::DanglingSymlink),
            vec!["symbolic link"],
        ),
        (
            "load_or_generate in a missing directory",
            OnionKey::load_or_generate(dir.join("no/such/dir/key")),
            KeyExpect::Io,
            vec!["cannot write", "No such file or directory"],
        ),
        (
            "save to a path that names no file",
            key.save("").map(|()| key.clone()),
            KeyExpect::Problem(KeyProblem::NoFileName),
            vec!["names no file"],
        ),
    ];
    for (name, result, expect, words) in more {
        check_key(name, result, &expect, &words, &mut failures);
    }
    assert!(
        !dir.join("nowhere").exists(),
        "a key was written through a dangling link"
    );
    assert_eq!(cases.len() + 3, 32, "update the count at the top");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn check_key(
    name: &str,
    result: torp2p_daemon::Result<OnionKey>,
    expect: &KeyExpect,
    words: &[&str],
    failures: &mut Vec<String>,
) {
    let err = match (result, expect) {
        (Ok(_), KeyExpect::Loads) => return,
        (Ok(_), _) => return failures.push(format!("{name}: loaded")),
        (Err(e), _) => e,
    };
    let text = chain(&err);
    let right = match (&err, expect) {
        (Error::KeyFile { problem, .. }, KeyExpect::Problem(want)) => problem == want,
        (Error::InvalidKey { problem }, KeyExpect::Problem(want)) => problem == want,
        (Error::Io { .. }, KeyExpect::Io) => true,
        _ => false,
    };
    if !right {
        failures.push(format!("{name}: got {err:?}"));
    }
    for w in words {
        if !text.contains(w) {
            failures.push(format!("{name}: message lacks {w:?}: {text}"));
        }
    }
    if err.to_string().contains('\n') {
        failures.push(format!("{name}: not one line: {err}"));
    }
}

/// What a torrc case must give.
enum TorrcExpect {
    /// `Error::TorrcFile` with this problem.
    Problem(TorrcProblem),
    /// `Error::Io` (the file cannot be read).
    Io,
    /// `Error::TorrcLine` from `Tor::spawn`, before tor starts.
    Line,
    /// These lines.
    Lines(Vec<&'static str>),
}

#[tokio::test]
async fn bad_torrc_files_say_what_is_wrong() {
    use std::os::unix::ffi::OsStrExt;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let file = |name: &str, data: &[u8]| {
        let p = dir.join(name);
        std::fs::write(&p, data).unwrap();
        p
    };
    let max = torp2p_daemon::MAX_TORRC_FILE_BYTES as usize;
    let mut too_large = b"DisableNetwork 1\n".repeat(max / 17 + 1);
    too_large.truncate(max + 1);
    let just_fits = [b"DisableNetwork 1\n".as_slice(), &b"#".repeat(max - 17)].concat();
    let fifo = dir.join("fifo");
    mkfifo(&fifo);
    let writer = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::write(fifo, b"DisableNetwork 1\nSafeLogging 1\n"))
    };
    let non_utf8_name = dir.join(std::ffi::OsStr::from_bytes(b"torrc-\xff"));

    // (name, path, expected, words the message and its causes must contain)
    let cases: Vec<(&str, PathBuf, TorrcExpect, Vec<&str>)> = vec![
        (
            "missing",
            dir.join("missing"),
            TorrcExpect::Io,
            vec!["cannot read the torrc file", "No such file or directory"],
        ),
        (
            "missing, with a name that is not UTF-8",
            non_utf8_name,
            TorrcExpect::Io,
            vec!["cannot read the torrc file", "torrc-\u{fffd}"],
        ),
        (
            "a directory",
            dir.to_path_buf(),
            TorrcExpect::Io,
            vec!["cannot read the torrc file", "Is a directory"],
        ),
        (
            "/dev/zero (never ends)",
            "/dev/zero".into(),
            TorrcExpect::Problem(TorrcProblem::TooLarge { max: max as u64 }),
            vec!["larger than 1048576 bytes", "right file"],
        ),
        (
            "one byte too large",
            file("too-large", &too_large),
            TorrcExpect::Problem(TorrcProblem::TooLarge { max: max as u64 }),
            vec!["larger than"],
        ),
        (
            "binary garbage",
            file("garbage", &[0x7f, b'E', b'L', b'F', 2, 1, 1, 0, 0, 0]),
            TorrcExpect::Problem(TorrcProblem::Nul { line: 1 }),
            vec!["line 1 has a NUL byte", "right file"],
        ),
        (
            "a NUL on line 3",
            file(
                "nul3",
                b"DisableNetwork 1\nSafeLogging 1\nLog notice\0 stdout\n",
            ),
            TorrcExpect::Problem(TorrcProblem::Nul { line: 3 }),
            vec!["line 3 has a NUL byte"],
        ),
        (
            "invalid UTF-8 on line 2",
            file("latin1", b"DisableNetwork 1\nNickname caf\xe9\n"),
            TorrcExpect::Problem(TorrcProblem::NotUtf8 { line: 2 }),
            vec!["line 2 is not UTF-8", "save a torrc as UTF-8"],
        ),
        (
            "a lone UTF-8 continuation byte",
            file("continuation", b"\x80"),
            TorrcExpect::Problem(TorrcProblem::NotUtf8 { line: 1 }),
            vec!["line 1 is not UTF-8"],
        ),
        (
            "UTF-16 (a NUL after every ASCII byte)",
            file("utf16", b"\xff\xfeD\0i\0s\0"),
            TorrcExpect::Problem(TorrcProblem::Nul { line: 1 }),
            vec!["NUL byte"],
        ),
        (
            "CR line endings",
            file("cr", b"DisableNetwork 1\rSafeLogging 1\r"),
            TorrcExpect::Lines(vec!["DisableNetwork 1", "SafeLogging 1"]),
            vec![],
        ),
        (
            "CRLF line endings",
            file("crlf", b"DisableNetwork 1\r\n# c\r\nSafeLogging 1\r\n"),
            TorrcExpect::Lines(vec!["DisableNetwork 1", "SafeLogging 1"]),
            vec![],
        ),
        (
            "mixed line endings, no final one",
            file(
                "mixed",
                b"DisableNetwork 1\nSafeLogging 1\r\nLog notice stdout\rNickname x",
            ),
            TorrcExpect::Lines(vec![
                "DisableNetwork 1",
                "SafeLogging 1",
                "Log notice stdout",
                "Nickname x",
            ]),
            vec![],
        ),
        (
            "a UTF-8 byte order mark",
            file("bom", b"\xef\xbb\xbfDisableNetwork 1\n"),
            TorrcExpect::Lines(vec!["DisableNetwork 1"]),
            vec![],
        ),
        (
            "only comments, blank lines and white space",
            file("blank", b"# a\n\n   \n\t\n  # b\n"),
            TorrcExpect::Lines(vec![]),
            vec![],
        ),
        (
            "empty (/dev/null)",
            "/dev/null".into(),
            TorrcExpect::Lines(vec![]),
            vec![],
        ),
        (
            "exactly the size limit",
            file("just-fits", &just_fits),
            TorrcExpect::Lines(vec!["DisableNetwork 1"]),
            vec![],
        ),
        (
            "a pipe (as from <(...))",
            fifo.clone(),
            TorrcExpect::Lines(vec!["DisableNetwork 1", "SafeLogging 1"]),
            vec![],
        ),
    ];
    let mut failures = Vec::new();
    let n_files = cases.len();
    for (name, path, expect, words) in &cases {
        let result = Config::new().with_torrc_file(path);
        if let (Ok(config), TorrcExpect::Lines(want)) = (&result, expect) {
            let got: Vec<&str> = config.torrc_lines().iter().map(String::as_str).collect();
            if got != *want {
                failures.push(format!("{name}: lines {got:?}, want {want:?}"));
            }
            continue;
        }
        check_torrc(name, result.map(drop), expect, words, &mut failures);
    }
    writer.join().unwrap().unwrap();

    // Lines given one by one: refused by Tor::spawn before any tor starts.
    let lines: Vec<(&str, &str, Vec<&str>)> = vec![
        (
            "a line feed",
            "DisableNetwork 1\nControlPort 9051",
            vec!["line break or NUL"],
        ),
        (
            "a carriage return",
            "DisableNetwork 1\rControlPort 9051",
            vec!["line break"],
        ),
        (
            "a CRLF at the end",
            "DisableNetwork 1\r\n",
            vec!["one option per line"],
        ),
        ("a NUL", "DisableNetwork 1\0", vec!["NUL"]),
        ("only a line break", "\n", vec!["line break"]),
        (
            "a line break in a long line",
            "HiddenServiceDir /a/very/long/path/that/goes/on\nHiddenServicePort 80",
            vec!["HiddenServicePort 80"],
        ),
        (
            "a line break after a comment",
            "# x\nDisableNetwork 1",
            vec!["line break"],
        ),
        (
            "two options on one line, CR between",
            "SafeLogging 1\r",
            vec!["line break"],
        ),
    ];
    let n_lines = lines.len();
    for (name, line, words) in lines {
        let config = Config::new().with_torrc_line(line);
        let result = Tor::spawn(config).await.map(drop);
        check_torrc(name, result, &TorrcExpect::Line, &words, &mut failures);
    }
    assert_eq!(n_files + n_lines, 26, "update the count at the top");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn check_torrc(
    name: &str,
    result: torp2p_daemon::Result<()>,
    expect: &TorrcExpect,
    words: &[&str],
    failures: &mut Vec<String>,
) {
    let err = match result {
        Ok(()) => return failures.push(format!("{name}: accepted")),
        Err(e) => e,
    };
    let text = chain(&err);
    let right = match (&err, expect) {
        (Error::TorrcFile { problem, .. }, TorrcExpect::Problem(want)) => problem == want,
        (Error::Io { .. }, TorrcExpect::Io) | (Error::TorrcLine { .. }, TorrcExpect::Line) => true,
        _ => false,
    };
    if !right {
        failures.push(format!("{name}: got {err:?}"));
    }
    for w in words {
        if !text.contains(w) {
            failures.push(format!("{name}: message lacks {w:?}: {text}"));
        }
    }
    if err.to_string().contains('\n') {
        failures.push(format!("{name}: not one line: {err}"));
    }
}
