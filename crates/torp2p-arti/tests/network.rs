//! arti on torp2p-testnet's private network, against C tor: each test starts its own network
//! (`TestNet::builder().run`, which stops every tor also when the test fails) and joins it
//! with the `arti.toml` the network writes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::error::Error as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use torp2p_addr::{DialTarget, OnionSocketAddr};
use torp2p_arti::{Client, Config, DialError, Isolation, OnionService, ServiceState};
use torp2p_daemon::{LocalAddr, OnionKey, OnionServiceOptions, PortMapping, Publication};
use torp2p_testnet::TestNet;

type BoxError = Box<dyn std::error::Error>;

/// An echo server on 127.0.0.1 for C tor's onion services to forward to.
async fn echo_server() -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (mut r, mut w) = s.split();
                let _ = tokio::io::copy(&mut r, &mut w).await;
            });
        }
    });
    addr
}

/// Writes `rounds` messages and reads each back; returns the median round trip.
async fn echo<S>(stream: &mut S, rounds: u8) -> Duration
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let mut rtts = Vec::new();
    for i in 0..rounds {
        let msg = [i; 64];
        let t = Instant::now();
        stream.write_all(&msg).await.unwrap();
        // arti buffers what is written until a flush.
        stream.flush().await.unwrap();
        let mut back = [0u8; 64];
        stream.read_exact(&mut back).await.unwrap();
        rtts.push(t.elapsed());
        assert_eq!(back, msg);
    }
    rtts.sort();
    rtts[rtts.len() / 2]
}

/// Runs `test` on a runtime of its own, with a storage directory for its arti clients that
/// outlives the runtime: arti's tasks run until their runtime stops, and then save arti's
/// state (into the network's directory they would find it deleted).
fn with_runtime<F>(test: impl FnOnce(PathBuf) -> F)
where
    F: Future<Output = ()>,
{
    init_tracing();
    let storage = tempfile::Builder::new()
        .prefix("torp2p-arti-test-")
        .tempdir()
        .unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(test(storage.path().to_path_buf()));
    // arti's tasks end here, saving their state.
    drop(rt);
    drop(storage);
}

/// An arti client of `net`, its storage in `storage/name`.
async fn arti_client(net: &TestNet, storage: &Path, name: &str) -> Result<Client, BoxError> {
    let config = arti_config(net, storage, name).with_dial_timeout(Duration::from_secs(60));
    Ok(Client::bootstrap(&config).await?)
}

fn arti_config(net: &TestNet, storage: &Path, name: &str) -> Config {
    Config::new()
        .with_file(net.arti_toml_path())
        .with_storage_dir(storage.join(name))
        .with_bootstrap_timeout(Duration::from_secs(120))
}

/// Dials, and dials again on a retryable failure (as torp2p-socks retries C tor's transient
/// 0xF0) for up to 20 s, saying why on stderr: in one run of about twenty, under a heavy load
/// of other networks, the first dial right after C tor's publication failed (its error was
/// not kept).
async fn dial_retrying(
    client: &Client,
    target: &OnionSocketAddr,
    isolation: &Isolation,
) -> Result<torp2p_arti::Stream, DialError> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match client.dial(&DialTarget::Onion(*target), isolation).await {
            Err(e) if e.is_retryable() && Instant::now() < deadline => {
                eprintln!("dial failed, again in 1 s: {e}");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            r => return r,
        }
    }
}

/// Accepts every stream of `service` and echoes what it reads (flushing after each write, as
/// arti needs).
fn serve_echo(mut service: OnionService) {
    tokio::spawn(async move {
        while let Ok(mut stream) = service.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 1024];
                loop {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            if stream.write_all(&buf[..n]).await.is_err()
                                || stream.flush().await.is_err()
                            {
                                break;
                            }
                        }
                    }
                }
            });
        }
    });
}

fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "warn,tor_guardmgr=error,tor_netdir=error".into()),
        )
        .with_test_writer()
        .try_init();
}

fn assert_is_file(p: &Path) {
    assert!(p.is_file(), "{} is missing", p.display());
}

/// The network's `arti.toml` is arti configuration that arti reads without ignoring
/// anything; an arti client joins the network with it and dials a C tor onion service; a
/// well-formed address nobody published gives `DescriptorNotFound`.
#[test]
fn arti_dials_a_c_tor_onion_service() {
    with_runtime(async |storage| {
        let t0 = Instant::now();
        TestNet::builder()
            .run(async |net| -> Result<(), BoxError> {
                eprintln!("network ready after {:?}", t0.elapsed());
                assert_is_file(&net.client_torrc_path());
                assert_is_file(&net.arti_toml_path());
                let check = arti_config(net, &storage, "check").check()?;
                assert!(check.unrecognized.is_empty(), "{check:?}");
                assert!(check.deprecated.is_empty(), "{check:?}");

                let t = Instant::now();
                let (host, arti) =
                    tokio::join!(net.spawn_client(), arti_client(net, &storage, "arti-a"));
                let (host, arti) = (host?, arti?);
                eprintln!(
                    "C tor and arti bootstrapped in {:?} ({})",
                    t.elapsed(),
                    arti.bootstrap_status()
                );

                let key = OnionKey::generate();
                let service = host
                    .add_onion_service(
                        &key,
                        &[PortMapping {
                            virtual_port: 80,
                            target: LocalAddr::Tcp(echo_server().await),
                        }],
                        &OnionServiceOptions::new(),
                    )
                    .await?;
                let added = Instant::now();
                service
                    .wait_published(Publication::default(), Duration::from_secs(60))
                    .await?;
                eprintln!("C tor's service published after {:?}", added.elapsed());

                let target = OnionSocketAddr::new(key.onion_address(), 80)?;
                let t = Instant::now();
                let mut stream =
                    dial_retrying(&arti, &target, &Isolation::Key(b"peer-a".to_vec())).await?;
                eprintln!("arti connected in {:?}", t.elapsed());
                let rtt = echo(&mut stream, 10).await;
                eprintln!("echo round trip median {rtt:?}");
                // A second stream, isolated from the first.
                let mut other = arti
                    .dial(&DialTarget::Onion(target), &Isolation::Fresh)
                    .await?;
                echo(&mut other, 1).await;

                let nobody = OnionSocketAddr::new(OnionKey::generate().onion_address(), 80)?;
                let t = Instant::now();
                let err = arti
                    .dial(&DialTarget::Onion(nobody), &Isolation::Shared)
                    .await
                    .unwrap_err();
                eprintln!("unpublished address: {err} after {:?}", t.elapsed());
                assert!(
                    matches!(err, DialError::DescriptorNotFound { .. }),
                    "{err:?}"
                );
                assert!(err.source().is_some());
                assert!(err.is_retryable());

                host.shutdown().await;
                Ok(())
            })
            .await
            .unwrap();
        eprintln!("test done after {:?}", t0.elapsed());
    });
}

/// An arti onion service has the onion address C tor gives the same key and serves a C tor
/// client (through its SOCKS port) and another arti client; a stream to a port it does not
/// serve is refused.
#[test]
fn c_tor_and_arti_dial_an_arti_onion_service() {
    with_runtime(async |storage| {
        let t0 = Instant::now();
        TestNet::builder()
            .run(async |net| -> Result<(), BoxError> {
                eprintln!("network ready after {:?}", t0.elapsed());
                let values = net.shared_random_values().await?;
                assert!(
                    matches!(values, (Some(_), Some(_))),
                    "both shared random values from the start: {values:?}"
                );
                let t = Instant::now();
                let (c_tor, host, dialer) = tokio::join!(
                    net.spawn_client(),
                    arti_client(net, &storage, "arti-host"),
                    arti_client(net, &storage, "arti-dialer"),
                );
                let (c_tor, host, dialer) = (c_tor?, host?, dialer?);
                eprintln!("C tor and two artis bootstrapped in {:?}", t.elapsed());

                let key = OnionKey::generate();
                assert_eq!(
                    torp2p_arti::onion_address(key.expanded_secret())?,
                    key.onion_address()
                );
                let t = Instant::now();
                let mut service = host.listen(key.expanded_secret(), 80)?;
                assert_eq!(service.onion_address(), key.onion_address());
                assert_eq!(service.address().port(), 80);
                let state = service.state();
                assert!(!state.is_reachable(), "{state:?}");
                // arti calls its service reachable once descriptors for two time periods are
                // uploaded, which needs the two shared random values the testnet seeds.
                service.wait_reachable(Duration::from_secs(120)).await?;
                assert_eq!(service.state(), ServiceState::Reachable);
                eprintln!(
                    "arti's service reachable {:?} after the launch",
                    t.elapsed()
                );
                let target = OnionSocketAddr::new(key.onion_address(), 80)?;
                serve_echo(service);

                let proxy = c_tor.socks_addr().expect("a SOCKS port").clone();
                let socks = torp2p_socks::Config::new().with_timeout(Duration::from_secs(60));
                let mut stream =
                    torp2p_socks::connect(&proxy, &DialTarget::Onion(target), Some("c"), &socks)
                        .await?;
                eprintln!("C tor connected {:?} after the launch", t.elapsed());
                let rtt = echo(&mut stream, 10).await;
                eprintln!("C tor -> arti echo round trip median {rtt:?}");

                // Another arti (the descriptor is published by now).
                let t = Instant::now();
                let mut stream = dialer
                    .dial(&DialTarget::Onion(target), &Isolation::Shared)
                    .await?;
                eprintln!("arti connected in {:?}", t.elapsed());
                let rtt = echo(&mut stream, 10).await;
                eprintln!("arti -> arti echo round trip median {rtt:?}");

                // Port 81 is not served: the stream is refused, the service keeps serving.
                let other_port = OnionSocketAddr::new(key.onion_address(), 81)?;
                let err = dialer
                    .dial(&DialTarget::Onion(other_port), &Isolation::Shared)
                    .await
                    .unwrap_err();
                eprintln!("port 81: {err}");
                assert!(matches!(err, DialError::Other { .. }), "{err:?}");
                echo(&mut stream, 1).await;

                c_tor.shutdown().await;
                Ok(())
            })
            .await
            .unwrap();
        eprintln!("test done after {:?}", t0.elapsed());
    });
}
