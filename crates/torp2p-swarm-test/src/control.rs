//! A control connection of the test's own to a tor, as another program of this user would
//! open: [`RawControl`].

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use torp2p_transport::addr::LocalAddr;

use crate::STEP;

/// A byte stream to a local address: TCP or unix.
pub trait LocalStream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> LocalStream for T {}

/// Connects to a loopback TCP address or a unix socket.
pub async fn connect_local(addr: &LocalAddr) -> std::io::Result<Box<dyn LocalStream>> {
    Ok(match addr {
        LocalAddr::Tcp(a) => Box::new(tokio::net::TcpStream::connect(a).await?),
        LocalAddr::Unix(p) => Box::new(tokio::net::UnixStream::connect(p).await?),
    })
}

/// A control connection authenticated with tor's cookie (`COOKIE`), beside the daemon's own:
/// what another controller of the same tor can do.
pub struct RawControl {
    reader: BufReader<tokio::io::ReadHalf<Box<dyn LocalStream>>>,
    writer: tokio::io::WriteHalf<Box<dyn LocalStream>>,
}

impl RawControl {
    /// Connects to the control port at `addr` and authenticates with the cookie file tor
    /// names in `PROTOCOLINFO`.
    pub async fn connect(addr: &LocalAddr) -> Self {
        let (r, w) = tokio::io::split(connect_local(addr).await.unwrap());
        let mut c = Self {
            reader: BufReader::new(r),
            writer: w,
        };
        let (code, lines) = c.command("PROTOCOLINFO 1").await;
        assert_eq!(code, 250, "PROTOCOLINFO: {lines:?}");
        let cookie_file = lines
            .iter()
            .find_map(|l| l.split_once("COOKIEFILE=\"")?.1.split_once('"'))
            .map(|(path, _)| path.to_string())
            .expect("tor names its cookie file");
        let cookie: String = std::fs::read(cookie_file)
            .unwrap()
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect();
        let (code, lines) = c.command(&format!("AUTHENTICATE {cookie}")).await;
        assert_eq!(code, 250, "AUTHENTICATE: {lines:?}");
        c
    }

    /// Sends `command`; returns the reply's status code and its lines (without the code), at
    /// most [`STEP`] later.
    pub async fn command(&mut self, command: &str) -> (u16, Vec<String>) {
        tokio::time::timeout(STEP, self.exchange(command))
            .await
            .unwrap_or_else(|_| panic!("tor did not answer {command:?} within {STEP:?}"))
    }

    /// `GETINFO key`'s one-line value; panics on any other answer.
    pub async fn get_info(&mut self, key: &str) -> String {
        let (code, lines) = self.command(&format!("GETINFO {key}")).await;
        assert_eq!(code, 250, "GETINFO {key}: {lines:?}");
        let prefix = format!("{key}=");
        lines
            .iter()
            .find_map(|l| l.strip_prefix(&prefix))
            .unwrap_or_else(|| panic!("no {prefix} in {lines:?}"))
            .to_string()
    }

    async fn exchange(&mut self, command: &str) -> (u16, Vec<String>) {
        self.writer
            .write_all(format!("{command}\r\n").as_bytes())
            .await
            .unwrap();
        let mut lines = Vec::new();
        loop {
            let line = self.line().await;
            let (code, rest) = line.split_at(3);
            let code: u16 = code.parse().unwrap();
            let (kind, text) = rest.split_at(1);
            lines.push(text.to_string());
            match kind {
                " " => return (code, lines),
                // A data reply: lines up to a lone ".".
                "+" => loop {
                    let data = self.line().await;
                    if data == "." {
                        break;
                    }
                    lines.push(data);
                },
                _ => {}
            }
        }
    }

    async fn line(&mut self) -> String {
        let mut line = String::new();
        let n = self.reader.read_line(&mut line).await.unwrap();
        assert!(n > 0, "tor closed the connection");
        line.trim_end().to_string()
    }
}
