//! One keep-alive HTTP/1.1 connection per virtual user (hyper's low-level client), so the
//! driver adds as little CPU as it can to the machine it measures.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// A request a virtual user sends again and again: POST `path` with a JSON body.
#[derive(Clone)]
pub struct Prepared {
    pub path: String,
    pub authorization: Option<String>,
    pub body: Bytes,
}

/// One open connection.
pub struct Conn {
    addr: String,
    sender: SendRequest<Full<Bytes>>,
}

impl Conn {
    /// Opens a connection to `addr` (`host:port`).
    pub async fn open(addr: &str) -> anyhow::Result<Self> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(Self {
            addr: addr.to_string(),
            sender,
        })
    }

    /// Sends one request; reconnects once if the connection was closed.
    pub async fn send(&mut self, req: &Prepared) -> anyhow::Result<(StatusCode, Bytes)> {
        if self.sender.ready().await.is_err() {
            *self = Self::open(&self.addr).await?;
        }
        let mut builder = Request::post(req.path.as_str())
            .header("host", self.addr.as_str())
            .header("content-type", "application/json");
        if let Some(auth) = &req.authorization {
            builder = builder.header("authorization", auth.as_str());
        }
        let response = self
            .sender
            .send_request(builder.body(Full::new(req.body.clone()))?)
            .await?;
        let status = response.status();
        let body = response.into_body().collect().await?.to_bytes();
        Ok((status, body))
    }
}

/// A GraphQL answer counts as a success when it is 200 and carries no `errors`.
pub fn is_success(status: StatusCode, body: &[u8]) -> bool {
    status == StatusCode::OK && !contains(body, b"\"errors\"") && contains(body, b"\"data\"")
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// GET `url` (`http://host:port/path`) with a fresh connection; the body as text.
pub async fn get_text(url: &str) -> anyhow::Result<String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| anyhow::anyhow!("only http:// URLs: {url}"))?;
    let (addr, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let path = if path.is_empty() { "/" } else { path };
    let stream = TcpStream::connect(addr).await?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let response = sender
        .send_request(
            Request::get(path)
                .header("host", addr)
                .body(Full::new(Bytes::new()))?,
        )
        .await?;
    let body = response.into_body().collect().await?.to_bytes();
    Ok(String::from_utf8_lossy(&body).into_owned())
}
