//! Property tests: no parser of what tor (or something posing as tor) sends ever panics.

use proptest::prelude::*;

use crate::control::{ProtocolInfo, parse_kv};
use crate::events::{BootstrapStatus, HsDescEvent};
use crate::process::parse_control_file;
use torp2p_addr::LocalAddr;

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
    }

    #[test]
    fn bootstrap_progress_is_a_percentage(n in any::<u32>(), tag in "[a-z_]{1,10}") {
        let text = format!("NOTICE BOOTSTRAP PROGRESS={n} TAG={tag} SUMMARY=\"x\"");
        if let Some(s) = BootstrapStatus::parse(&text) {
            prop_assert!(s.progress <= 100);
            prop_assert_eq!(s.tag, tag);
        }
    }
}
