//! An in-process SOCKS5 server that answers as scripted and records what clients sent.

#![allow(clippy::unwrap_used, dead_code, unreachable_pub)]

use std::collections::VecDeque;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, UnixListener};
use tokio::sync::mpsc;
use torp2p_addr::{OnionAddress, OnionSocketAddr};
use torp2p_socks::{Config, DialTarget, LocalAddr};

/// What the server does with one connection.
#[derive(Debug, Clone)]
pub enum Script {
    /// Complete the handshake (choosing username/password when offered), then answer the
    /// CONNECT request with this reply code; after 0x00, echo every byte.
    Reply(u8),
    /// After the greeting, send these bytes instead of a proper answer, then close the writing
    /// half and read until the client goes away.
    Raw(Vec<u8>),
    /// Complete the handshake up to the CONNECT request and never answer it.
    Silent,
}

/// What a client sent on one connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The methods offered in the greeting.
    pub methods: Vec<u8>,
    /// Username and password, when the client authenticated.
    pub auth: Option<(String, String)>,
    /// The CONNECT request's address type: 0x01 IPv4, 0x03 domain name, 0x04 IPv6.
    pub atyp: u8,
    /// The host as text (the domain name as sent, or the IP address).
    pub host: String,
    /// The port.
    pub port: u16,
}

/// Something the server saw, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A CONNECT request was read (and recorded) before answering it.
    Request,
    /// A connection ended (the client closed it).
    Closed,
}

struct Shared {
    scripts: Mutex<VecDeque<Script>>,
    requests: Mutex<Vec<Request>>,
    connections: Mutex<usize>,
    events: mpsc::UnboundedSender<Event>,
}

impl Shared {
    /// The next script; the last one is repeated.
    fn next_script(&self) -> Script {
        *self.connections.lock().unwrap() += 1;
        let mut scripts = self.scripts.lock().unwrap();
        if scripts.len() > 1 {
            scripts.pop_front().unwrap()
        } else {
            scripts.front().cloned().unwrap_or(Script::Reply(0))
        }
    }
}

/// A running scripted SOCKS5 server.
pub struct Server {
    /// Its address, to give to `connect`.
    pub proxy: LocalAddr,
    shared: Arc<Shared>,
    events: mpsc::UnboundedReceiver<Event>,
    _dir: Option<tempfile::TempDir>,
}

impl Server {
    /// A server on 127.0.0.1 answering each connection with the next of `scripts`.
    pub async fn tcp(scripts: Vec<Script>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let proxy = LocalAddr::Tcp(listener.local_addr().unwrap());
        let (shared, events) = shared(scripts);
        let state = shared.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                tokio::spawn(serve(socket, state.clone()));
            }
        });
        Self {
            proxy,
            shared,
            events,
            _dir: None,
        }
    }

    /// A server on a unix socket in a fresh temporary directory.
    pub async fn unix(scripts: Vec<Script>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("socks.sock");
        let listener = UnixListener::bind(&path).unwrap();
        let (shared, events) = shared(scripts);
        let state = shared.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                tokio::spawn(serve(socket, state.clone()));
            }
        });
        Self {
            proxy: LocalAddr::Unix(path),
            shared,
            events,
            _dir: Some(dir),
        }
    }

    /// The requests recorded so far.
    pub fn requests(&self) -> Vec<Request> {
        self.shared.requests.lock().unwrap().clone()
    }

    /// The one request recorded so far.
    pub fn only_request(&self) -> Request {
        let requests = self.requests();
        assert_eq!(requests.len(), 1, "{requests:?}");
        requests[0].clone()
    }

    /// How many connections were accepted.
    pub fn connections(&self) -> usize {
        *self.shared.connections.lock().unwrap()
    }

    /// Waits for the next event.
    pub async fn next_event(&mut self) -> Event {
        self.events.recv().await.unwrap()
    }
}

fn shared(scripts: Vec<Script>) -> (Arc<Shared>, mpsc::UnboundedReceiver<Event>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let shared = Arc::new(Shared {
        scripts: Mutex::new(scripts.into()),
        requests: Mutex::new(Vec::new()),
        connections: Mutex::new(0),
        events: tx,
    });
    (shared, rx)
}

async fn serve<S: AsyncRead + AsyncWrite + Unpin>(mut socket: S, shared: Arc<Shared>) {
    let script = shared.next_script();
    // Errors end the connection; the client sees whatever was sent so far.
    let _ = handle(&mut socket, script, &shared).await;
    let _ = shared.events.send(Event::Closed);
}

async fn handle<S: AsyncRead + AsyncWrite + Unpin>(
    socket: &mut S,
    script: Script,
    shared: &Shared,
) -> io::Result<()> {
    // Greeting: VER NMETHODS METHODS...
    let version = socket.read_u8().await?;
    assert_eq!(version, 5, "the client must speak SOCKS5");
    let count = socket.read_u8().await?;
    let mut methods = vec![0; usize::from(count)];
    socket.read_exact(&mut methods).await?;

    if let Script::Raw(bytes) = script {
        socket.write_all(&bytes).await?;
        socket.shutdown().await?;
        return drain(socket).await;
    }

    let method = if methods.contains(&2) { 2 } else { 0 };
    socket.write_all(&[5, method]).await?;
    let auth = if method == 2 {
        let version = socket.read_u8().await?;
        assert_eq!(version, 1, "username/password version");
        let username = read_string(socket).await?;
        let password = read_string(socket).await?;
        socket.write_all(&[1, 0]).await?;
        Some((username, password))
    } else {
        None
    };

    // CONNECT request: VER CMD RSV ATYP ADDR PORT.
    let mut head = [0; 4];
    socket.read_exact(&mut head).await?;
    assert_eq!(head[..3], [5, 1, 0], "a CONNECT request");
    let atyp = head[3];
    let host = match atyp {
        1 => {
            let mut ip = [0; 4];
            socket.read_exact(&mut ip).await?;
            Ipv4Addr::from(ip).to_string()
        }
        3 => read_string(socket).await?,
        4 => {
            let mut ip = [0; 16];
            socket.read_exact(&mut ip).await?;
            Ipv6Addr::from(ip).to_string()
        }
        other => panic!("unknown address type {other}"),
    };
    let port = socket.read_u16().await?;
    shared.requests.lock().unwrap().push(Request {
        methods,
        auth,
        atyp,
        host,
        port,
    });
    let _ = shared.events.send(Event::Request);

    match script {
        Script::Reply(code) => {
            socket.write_all(&[5, code, 0, 1, 0, 0, 0, 0, 0, 0]).await?;
            if code == 0 {
                echo(socket).await
            } else {
                drain(socket).await
            }
        }
        Script::Silent => drain(socket).await,
        Script::Raw(_) => unreachable!(),
    }
}

async fn read_string<S: AsyncRead + Unpin>(socket: &mut S) -> io::Result<String> {
    let len = socket.read_u8().await?;
    let mut bytes = vec![0; usize::from(len)];
    socket.read_exact(&mut bytes).await?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

async fn drain<S: AsyncRead + Unpin>(socket: &mut S) -> io::Result<()> {
    let mut buf = [0; 256];
    while socket.read(&mut buf).await? > 0 {}
    Ok(())
}

async fn echo<S: AsyncRead + AsyncWrite + Unpin>(socket: &mut S) -> io::Result<()> {
    let mut buf = [0; 1024];
    loop {
        let n = socket.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        socket.write_all(&buf[..n]).await?;
    }
}

/// An onion target nobody runs.
pub fn onion_target() -> DialTarget {
    let address = OnionAddress::from_public_key([7; 32]);
    DialTarget::Onion(OnionSocketAddr::new(address, 4242).unwrap())
}

/// A DNS target on port 443.
pub fn dns_target(name: &str) -> DialTarget {
    DialTarget::Dns {
        name: name.to_owned(),
        port: 443,
    }
}

/// The default dial without the 0xF0 retry.
pub fn no_retry() -> Config {
    Config::new().with_descriptor_retries(0)
}
