//! `connect` against replies that break the SOCKS protocol: each gives a clear, typed error,
//! and random replies never panic.
//!
//! 23 cases: 20 malformed replies, 1 bound address that is not UTF-8, 2 authentication
//! refusals.

#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use support::{Script, Server, onion_target};
use torp2p_socks::{Config, DialError, Isolation, Malformed, Phase, connect};

/// Replies that break the protocol, each with the error it must give.
#[tokio::test]
async fn malformed_replies_give_clear_errors() {
    use Malformed::*;
    let http = b"HTTP/1.1 400 Bad Request\r\n\r\n".to_vec();
    let cases: Vec<(Vec<u8>, Isolation, Malformed)> = vec![
        (
            vec![],
            Isolation::Shared,
            Truncated {
                phase: Phase::Greeting,
            },
        ),
        (
            vec![5],
            Isolation::Shared,
            Truncated {
                phase: Phase::Greeting,
            },
        ),
        (
            vec![4, 0],
            Isolation::Shared,
            Version {
                phase: Phase::Greeting,
                expected: 5,
                found: 4,
            },
        ),
        (
            http,
            Isolation::PerPeer,
            Version {
                phase: Phase::Greeting,
                expected: 5,
                found: b'H',
            },
        ),
        (vec![5, 2], Isolation::Shared, UnofferedMethod { method: 2 }),
        (
            vec![5, 0x80],
            Isolation::PerPeer,
            UnofferedMethod { method: 0x80 },
        ),
        (
            vec![5, 2, 1],
            Isolation::PerPeer,
            Truncated {
                phase: Phase::Authentication,
            },
        ),
        (
            vec![5, 2, 2, 0],
            Isolation::PerPeer,
            Version {
                phase: Phase::Authentication,
                expected: 1,
                found: 2,
            },
        ),
        (
            vec![5, 0, 5, 0],
            Isolation::Shared,
            Truncated {
                phase: Phase::Connect,
            },
        ),
        (
            vec![5, 0, 4, 0, 0, 1, 0, 0, 0, 0, 0, 0],
            Isolation::Shared,
            Version {
                phase: Phase::Connect,
                expected: 5,
                found: 4,
            },
        ),
        (
            vec![5, 0, 5, 0, 7, 1, 0, 0, 0, 0, 0, 0],
            Isolation::Shared,
            ReservedByte { found: 7 },
        ),
        (
            vec![5, 0, 5, 0, 0, 9],
            Isolation::Shared,
            AddressType { found: 9 },
        ),
        (
            vec![5, 0, 5, 0, 0, 1, 1, 2],
            Isolation::Shared,
            Truncated {
                phase: Phase::Connect,
            },
        ),
        (
            vec![5, 2, 1, 0, 5, 0, 0, 3, 10, b'a'],
            Isolation::PerPeer,
            Truncated {
                phase: Phase::Connect,
            },
        ),
        (
            vec![0],
            Isolation::Shared,
            Truncated {
                phase: Phase::Greeting,
            },
        ),
        (vec![5, 1], Isolation::Shared, UnofferedMethod { method: 1 }),
        (
            vec![5, 0, 5, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 1],
            Isolation::Shared,
            Truncated {
                phase: Phase::Connect,
            },
        ),
        (
            vec![5, 0, 5, 0, 0, 1, 127, 0, 0, 1],
            Isolation::Shared,
            Truncated {
                phase: Phase::Connect,
            },
        ),
        (
            vec![5, 2, 1, 0, 4, 0, 0, 1, 0, 0, 0, 0, 0, 0],
            Isolation::PerPeer,
            Version {
                phase: Phase::Connect,
                expected: 5,
                found: 4,
            },
        ),
        (
            vec![5, 2, 1, 0, 5, 0, 0xFF, 1, 0, 0, 0, 0, 0, 0],
            Isolation::PerPeer,
            ReservedByte { found: 0xFF },
        ),
    ];
    assert_eq!(cases.len(), 20, "update the count at the top");
    for (bytes, isolation, expected) in cases {
        let server = Server::tcp(vec![Script::Raw(bytes.clone())]).await;
        let config = Config::new().with_isolation(isolation);
        let err = connect(&server.proxy, &onion_target(), None, &config)
            .await
            .unwrap_err();
        let DialError::MalformedReply {
            problem,
            proxy,
            target,
        } = &err
        else {
            panic!("{bytes:?}: {err:?}")
        };
        assert_eq!(problem, &expected, "{bytes:?}");
        assert_eq!(proxy, &server.proxy);
        assert_eq!(target, &onion_target());
        assert!(err.is_proxy_problem());
        assert!(!err.is_retryable());
        let message = err.to_string();
        assert!(message.contains(&expected.to_string()), "{message}");
        assert!(message.contains("malformed reply"), "{message}");
    }
}

#[tokio::test]
async fn garbage_bound_address_is_malformed() {
    // A domain-name bound address that is not UTF-8.
    let server = Server::tcp(vec![Script::Raw(vec![
        5, 0, 5, 0, 0, 3, 2, 0xFF, 0xFE, 0, 80,
    ])])
    .await;
    let config = Config::new().with_isolation(Isolation::Shared);
    let err = connect(&server.proxy, &onion_target(), None, &config)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            DialError::MalformedReply {
                problem: Malformed::Other { .. },
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn authentication_refusals_are_told_apart() {
    let server = Server::tcp(vec![Script::Raw(vec![5, 0xFF])]).await;
    let err = connect(&server.proxy, &onion_target(), None, &Config::new())
        .await
        .unwrap_err();
    assert!(
        matches!(err, DialError::AuthMethodsRefused { .. }),
        "{err:?}"
    );

    let server = Server::tcp(vec![Script::Raw(vec![5, 2, 1, 1])]).await;
    let err = connect(&server.proxy, &onion_target(), None, &Config::new())
        .await
        .unwrap_err();
    assert!(
        matches!(err, DialError::AuthRejected { status: 1, .. }),
        "{err:?}"
    );
    assert!(err.is_proxy_problem());
}

#[tokio::test]
async fn random_replies_never_panic() {
    // A fixed pseudo-random sequence (xorshift), so that failures reproduce.
    let mut state = 0x9E37_79B9_7F4A_7C15_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..64 {
        let len = (next() % 24) as usize;
        let mut bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        // Half the time, start like a real SOCKS5 reply so that later steps are reached.
        if next() % 2 == 0 && bytes.len() >= 4 {
            bytes[..3].copy_from_slice(&[5, 0, 5]);
        }
        let server = Server::tcp(vec![Script::Raw(bytes.clone())]).await;
        let isolation = if next() % 2 == 0 {
            Isolation::Shared
        } else {
            Isolation::PerPeer
        };
        let config = Config::new()
            .with_isolation(isolation)
            .with_descriptor_retries(0)
            .with_timeout(Duration::from_secs(10));
        match connect(&server.proxy, &onion_target(), None, &config).await {
            Ok(_) => {}
            Err(err) => assert!(
                !matches!(err, DialError::Timeout { .. }),
                "{bytes:?}: {err:?}"
            ),
        }
    }
}

/// What a "proxy" might answer: anything, or a reply that starts right (version 5, a method)
/// and goes wrong later.
fn reply_bytes() -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
    use proptest::prelude::*;
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..24),
        (
            prop_oneof![Just(0u8), Just(2), Just(0xFF), any::<u8>()],
            proptest::collection::vec(any::<u8>(), 0..20),
        )
            .prop_map(|(method, rest)| [vec![5, method], rest].concat()),
        (
            any::<u8>(),
            any::<u8>(),
            proptest::collection::vec(any::<u8>(), 0..20)
        )
            .prop_map(|(reply, atyp, rest)| [vec![5, 0, 5, reply, 0, atyp], rest].concat()),
    ]
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]

    /// Whatever the proxy answers, `connect` gives a stream or a typed, one-line error, and
    /// never waits for its timeout: the reply was read to its end, or to the connection's.
    #[test]
    fn any_reply_gives_a_stream_or_a_one_line_error(bytes in reply_bytes(), per_peer: bool) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let server = Server::tcp(vec![Script::Raw(bytes.clone())]).await;
            let isolation = if per_peer { Isolation::PerPeer } else { Isolation::Shared };
            let config = Config::new()
                .with_isolation(isolation)
                .with_descriptor_retries(0)
                .with_timeout(Duration::from_secs(10));
            if let Err(err) = connect(&server.proxy, &onion_target(), None, &config).await {
                assert!(!matches!(err, DialError::Timeout { .. }), "{bytes:?}: {err:?}");
                let message = err.to_string();
                assert!(!message.is_empty() && !message.contains('\n'), "{bytes:?}: {message}");
            }
        });
    }
}
