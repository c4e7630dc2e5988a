//! A loopback DNS server speaking the real wire format (hickory's codec) over UDP and TCP on
//! one port, serving the zones a test writes: TXT (as the strings given, so a record can be
//! split), MX, SERVFAIL, or no answer at all (a timeout). A UDP answer larger than the
//! client's EDNS payload size (512 without EDNS) is sent truncated (TC), as a real server
//! does, so the client must ask again over TCP. Every query is counted by name, type and
//! transport, and the most queries it held at once is kept.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hickory_proto::op::{Message, MessageType, ResponseCode};
use hickory_proto::rr::rdata::{MX, TXT};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};

/// What a name answers for one type.
#[derive(Debug, Clone)]
pub enum Answer {
    /// TXT records, each given as its character-strings.
    Txt(Vec<Vec<String>>),
    /// MX records: (preference, exchange).
    Mx(Vec<(u16, String)>),
    /// SERVFAIL.
    ServFail,
    /// No reply at all (the client times out).
    Silent,
}

/// How a query arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// UDP.
    Udp,
    /// TCP.
    Tcp,
}

/// One query the server received.
#[derive(Debug, Clone)]
pub struct Query {
    /// The name, lower case, no trailing dot.
    pub name: String,
    /// The type.
    pub kind: RecordType,
    /// UDP or TCP.
    pub transport: Transport,
}

#[derive(Default)]
struct State {
    zone: HashMap<(String, RecordType), Answer>,
    queries: Vec<Query>,
}

/// The running server.
#[derive(Clone)]
pub struct DnsServer {
    /// Its address (UDP and TCP).
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
    inflight: Arc<AtomicUsize>,
    peak: Arc<AtomicUsize>,
    delay: Arc<Mutex<Duration>>,
}

fn key(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

impl DnsServer {
    /// Starts a server with an empty zone.
    pub async fn start() -> Self {
        // One port for both: take a free UDP port, then the same TCP port (again if taken).
        let (udp, tcp) = loop {
            let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            if let Ok(tcp) = TcpListener::bind(udp.local_addr().unwrap()).await {
                break (udp, tcp);
            }
        };
        let addr = udp.local_addr().unwrap();
        let server = Self {
            addr,
            state: Arc::default(),
            inflight: Arc::default(),
            peak: Arc::default(),
            delay: Arc::default(),
        };
        let udp = Arc::new(udp);
        let s = server.clone();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 4096];
            loop {
                let Ok((n, from)) = udp.recv_from(&mut buf).await else {
                    return;
                };
                let request = buf[..n].to_vec();
                let (s, udp) = (s.clone(), Arc::clone(&udp));
                tokio::spawn(async move {
                    if let Some(reply) = s.answer(&request, Transport::Udp).await {
                        let _ = udp.send_to(&reply, from).await;
                    }
                });
            }
        });
        let s = server.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut stream, _)) = tcp.accept().await else {
                    return;
                };
                let s = s.clone();
                tokio::spawn(async move {
                    loop {
                        let Ok(len) = stream.read_u16().await else {
                            return;
                        };
                        let mut request = vec![0u8; usize::from(len)];
                        if stream.read_exact(&mut request).await.is_err() {
                            return;
                        }
                        let Some(reply) = s.answer(&request, Transport::Tcp).await else {
                            continue;
                        };
                        let len = u16::try_from(reply.len()).unwrap();
                        if stream.write_u16(len).await.is_err()
                            || stream.write_all(&reply).await.is_err()
                        {
                            return;
                        }
                    }
                });
            }
        });
        server
    }

    /// Sets what `name` answers for `kind`.
    pub fn set(&self, name: &str, kind: RecordType, answer: Answer) {
        self.state
            .lock()
            .unwrap()
            .zone
            .insert((key(name), kind), answer);
    }

    /// Removes `name`'s records of `kind`.
    pub fn remove(&self, name: &str, kind: RecordType) {
        self.state.lock().unwrap().zone.remove(&(key(name), kind));
    }

    /// TXT records at `name`, one string each.
    pub fn txt(&self, name: &str, values: &[&str]) {
        self.set(
            name,
            RecordType::TXT,
            Answer::Txt(values.iter().map(|v| vec![(*v).to_owned()]).collect()),
        );
    }

    /// Holds every answer for `delay` (to see queries overlap).
    pub fn delay_answers(&self, delay: Duration) {
        *self.delay.lock().unwrap() = delay;
    }

    /// Every query so far.
    pub fn queries(&self) -> Vec<Query> {
        self.state.lock().unwrap().queries.clone()
    }

    /// Forgets the queries so far.
    pub fn clear_queries(&self) {
        self.state.lock().unwrap().queries.clear();
    }

    /// The most queries held at once.
    pub fn peak_inflight(&self) -> usize {
        self.peak.load(Ordering::Relaxed)
    }

    async fn answer(&self, request: &[u8], transport: Transport) -> Option<Vec<u8>> {
        let request = Message::from_vec(request).ok()?;
        let query = request.queries.first()?.clone();
        let name = key(&query.name().to_ascii());
        let kind = query.query_type();
        let answer = {
            let mut state = self.state.lock().unwrap();
            state.queries.push(Query {
                name: name.clone(),
                kind,
                transport,
            });
            let known_name = state.zone.keys().any(|(n, _)| *n == name);
            (state.zone.get(&(name.clone(), kind)).cloned(), known_name)
        };
        let now = self.inflight.fetch_add(1, Ordering::Relaxed) + 1;
        self.peak.fetch_max(now, Ordering::Relaxed);
        let delay = *self.delay.lock().unwrap();
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        self.inflight.fetch_sub(1, Ordering::Relaxed);
        let mut reply = Message::response(request.metadata.id, request.metadata.op_code);
        reply.metadata.message_type = MessageType::Response;
        reply.metadata.recursion_desired = request.metadata.recursion_desired;
        reply.metadata.recursion_available = true;
        reply.add_query(query.clone());
        let owner = Name::from_ascii(format!("{name}.")).ok()?;
        match answer {
            (Some(Answer::Silent), _) => return None,
            (Some(Answer::ServFail), _) => reply.metadata.response_code = ResponseCode::ServFail,
            (Some(Answer::Txt(records)), _) => {
                for strings in records {
                    let txt = TXT::new(strings);
                    reply.add_answer(Record::from_rdata(owner.clone(), 300, RData::TXT(txt)));
                }
            }
            (Some(Answer::Mx(records)), _) => {
                for (preference, exchange) in records {
                    let exchange = Name::from_ascii(format!("{}.", key(&exchange))).ok()?;
                    let mx = MX::new(preference, exchange);
                    reply.add_answer(Record::from_rdata(owner.clone(), 300, RData::MX(mx)));
                }
            }
            (None, true) => {}
            (None, false) => reply.metadata.response_code = ResponseCode::NXDomain,
        }
        if let Some(edns) = &request.edns {
            reply.set_edns(edns.clone());
        }
        let bytes = reply.to_vec().ok()?;
        let limit = usize::from(request.max_payload().max(512));
        if transport == Transport::Udp && bytes.len() > limit {
            return reply.truncate().to_vec().ok();
        }
        Some(bytes)
    }
}
