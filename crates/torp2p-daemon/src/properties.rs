//! Property tests: no parser of what tor (or something posing as tor) sends ever panics, from
//! the bytes on the control connection (torut's framing, then ours) to the values in replies.

use std::time::Duration;

use proptest::prelude::*;

use crate::config::AuthMethod;
use crate::control::{ControlConn, ProtocolInfo, parse_kv};
use crate::events::{BootstrapStatus, HsDescEvent};
use crate::key::OnionKey;
use crate::process::parse_control_file;
use crate::tor::first_listener;
use torp2p_addr::LocalAddr;

/// Bytes a control port might send: anything, or reply lines of the shapes tor uses (status
/// codes, mid/data/end lines, PROTOCOLINFO's AUTH line, listener lists, data blocks).
fn reply_bytes() -> impl Strategy<Value = Vec<u8>> {
    let line = prop_oneof![
        r"(250|251|510|514|515|550|650)[- +][ -~]{0,40}\r\n",
        r#"250-AUTH METHODS=(NULL|HASHEDPASSWORD|COOKIE,SAFECOOKIE|[A-Z,]{0,20})( COOKIEFILE="/nonexistent/[a-z]{0,10}")?\r\n"#,
        r#"250-net/listeners/socks=("[ -~]{0,30}" ?){0,3}\r\n"#,
        r"250 AUTHCHALLENGE SERVERHASH=[0-9A-Fa-z]{0,64} SERVERNONCE=[0-9A-F]{0,64}\r\n",
        r"\.\r\n",
        r"[ -~]{0,20}",
        r"[0-9]{0,4}[\x00-\xff]{0,3}",
    ];
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..300),
        proptest::collection::vec(line, 0..10).prop_map(|l| l.concat().into_bytes()),
    ]
}

/// Bytes of a would-be key file: anything, or tor's header followed by anything (so that the
/// size, header and clamping checks are all reached).
fn key_file_bytes() -> impl Strategy<Value = Vec<u8>> {
    let header = b"== ed25519v1-secret: type0 ==\0\0\0".to_vec();
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..200),
        proptest::collection::vec(any::<u8>(), 60..70).prop_map(move |tail| {
            let mut d = header.clone();
            d.extend_from_slice(&tail);
            d
        }),
        proptest::collection::vec(any::<u8>(), 64).prop_map(|mut tail| {
            // Clamped, as a real key is.
            tail[0] &= 0xf8;
            tail[31] = (tail[31] & 0x7f) | 0x40;
            let mut d = b"== ed25519v1-secret: type0 ==\0\0\0".to_vec();
            d.extend_from_slice(&tail);
            d
        }),
    ]
}

/// Runs `f` on a fresh single-threaded runtime.
fn block_on<F: std::future::Future>(f: F) -> F::Output {
    #[allow(clippy::unwrap_used)]
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap()
        .block_on(f)
}

/// Text shaped like control-port lines: keywords, `=`, quotes, backslashes, anything.
fn control_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "\\PC*",
        r#"(NOTICE|WARN|ERR)? ?BOOTSTRAP( [A-Z]{1,9}=("[^"]{0,20}"?|[a-z0-9_%-]{0,12}))*"#,
        r#"(UPLOAD|UPLOADED|FAILED|CREATED)( [a-z2-7]{0,60})?( UNKNOWN)?( \$[A-F0-9~a-z]{0,50})?( [A-Z]+=\S*)?"#,
        r#"AUTH METHODS=[A-Z,]{0,40}( COOKIEFILE="[^"]{0,30}\\?"?)?"#,
        r#"(UNIX_)?PORT=[\w./:\[\]"-]{0,40}"#,
    ]
}

proptest! {
    #[test]
    fn control_parsers_never_panic(text in control_text()) {
        let _ = parse_kv(&text);
        let _ = BootstrapStatus::parse(&text);
        let _ = HsDescEvent::parse(&text);
        let _ = ProtocolInfo::parse(std::slice::from_ref(&text));
        let _ = parse_control_file(&text);
        let _ = text.parse::<LocalAddr>();
        let _ = first_listener(&text);
    }

    /// A "tor" that sends `bytes` and then closes: authenticating, a command and reading
    /// replies all end (an error or a reply), and none panics.
    #[test]
    fn the_control_connection_never_panics_on_any_bytes(bytes in reply_bytes(), auth in 0u8..3) {
        block_on(async {
            let io = tokio::io::join(std::io::Cursor::new(bytes), tokio::io::sink());
            let mut conn = ControlConn::from_io(
                Box::new(io),
                LocalAddr::Unix("/nonexistent/control".into()),
                Duration::from_secs(5),
            );
            let auth = match auth {
                0 => AuthMethod::Null,
                1 => AuthMethod::HashedPassword("x".into()),
                _ => AuthMethod::Auto { password: None },
            };
            let _ = conn.authenticate(&auth).await;
            let cmd = "GETINFO net/listeners/socks";
            if let Ok(lines) = conn.command(cmd, cmd).await {
                for l in &lines {
                    let _ = first_listener(l.strip_prefix("net/listeners/socks=").unwrap_or(l));
                }
            }
            for _ in 0..4 {
                if conn.read_reply().await.is_err() {
                    break;
                }
            }
        });
    }

    #[test]
    fn bootstrap_progress_is_a_percentage(n in any::<u32>(), tag in "[a-z_]{1,10}") {
        let text = format!("NOTICE BOOTSTRAP PROGRESS={n} TAG={tag} SUMMARY=\"x\"");
        if let Some(s) = BootstrapStatus::parse(&text) {
            prop_assert!(s.progress <= 100);
            prop_assert_eq!(s.tag, tag);
        }
    }

    /// Whatever a key file holds, loading it never panics; what loads is a key that saves to
    /// the same bytes and loads again as the same address.
    #[test]
    fn key_files_never_panic_and_what_loads_round_trips(bytes in key_file_bytes()) {
        #[allow(clippy::unwrap_used)]
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key");
        crate::fs::write_private(&path, &bytes)?;
        if let Ok(key) = OnionKey::load(&path) {
            prop_assert_eq!(bytes.len(), 96);
            prop_assert_eq!(&bytes[32..], &key.expanded_secret()[..]);
            let again = dir.path().join("again");
            key.save(&again)?;
            prop_assert_eq!(std::fs::read(&again).ok(), Some(bytes));
            prop_assert_eq!(OnionKey::load(&again)?.onion_address(), key.onion_address());
        }
    }
}
