//! Micro-benchmarks of the address codecs: parse, format, classify.
//!
//! `cargo bench -p torp2p-addr` (criterion's full settings), or with quick settings through
//! `cargo xtask bench` (which puts the medians into `target/bench/latest.json`). Inputs are the
//! known-answer vectors of `tests/vectors.rs`.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::str::FromStr;

use criterion::{Criterion, criterion_group, criterion_main};
use torp2p_addr::{DialAddr, Multiaddr, OnionAddress, OnionSocketAddr};

/// Written by tor 0.4.9.11 itself (see `tests/vectors.rs`).
const HOSTNAME: &str = "sqbhexutqt2qyu6q3armsbts7uiudgunsktlkvuhprcpwemgzaf5hvad.onion";
const PEER: &str = "12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA";

fn parse(c: &mut Criterion) {
    let bare = HOSTNAME.trim_end_matches(".onion");
    let socket = format!("{HOSTNAME}:4001");
    let onion3 = format!("/onion3/{bare}:4001/p2p/{PEER}");
    let bytes = OnionAddress::from_str(HOSTNAME).unwrap().to_libp2p_bytes();
    let mut g = c.benchmark_group("parse");
    g.bench_function("onion address (text)", |b| {
        b.iter(|| OnionAddress::from_str(black_box(HOSTNAME)).unwrap())
    });
    g.bench_function("onion socket address (text)", |b| {
        b.iter(|| OnionSocketAddr::from_str(black_box(&socket)).unwrap())
    });
    g.bench_function("onion address (libp2p bytes)", |b| {
        b.iter(|| OnionAddress::from_libp2p_bytes(black_box(&bytes)).unwrap())
    });
    g.bench_function("dial address (/onion3/p2p text)", |b| {
        b.iter(|| DialAddr::from_str(black_box(&onion3)).unwrap())
    });
    g.finish();
}

fn format(c: &mut Criterion) {
    let addr = OnionAddress::from_str(HOSTNAME).unwrap();
    let socket = OnionSocketAddr::new(addr, 4001).unwrap();
    let mut g = c.benchmark_group("format");
    g.bench_function("onion address (text)", |b| {
        b.iter(|| black_box(&addr).to_string())
    });
    g.bench_function("onion address (libp2p bytes)", |b| {
        b.iter(|| black_box(&addr).to_libp2p_bytes())
    });
    g.bench_function("onion socket address (multiaddr)", |b| {
        b.iter(|| black_box(&socket).to_multiaddr())
    });
    g.finish();
}

fn classify(c: &mut Criterion) {
    let bare = HOSTNAME.trim_end_matches(".onion");
    let cases: [(&str, Multiaddr); 4] = [
        (
            "onion3",
            format!("/onion3/{bare}:4001/p2p/{PEER}").parse().unwrap(),
        ),
        ("dns", "/dns4/example.org/tcp/443".parse().unwrap()),
        ("ip4", "/ip4/192.0.2.1/tcp/4001".parse().unwrap()),
        (
            "unsupported (quic)",
            "/ip4/192.0.2.1/udp/4001/quic-v1".parse().unwrap(),
        ),
    ];
    let mut g = c.benchmark_group("classify");
    for (name, addr) in &cases {
        g.bench_function(*name, |b| {
            b.iter(|| DialAddr::from_multiaddr(black_box(addr)))
        });
    }
    g.finish();
}

criterion_group!(benches, parse, format, classify);
criterion_main!(benches);
