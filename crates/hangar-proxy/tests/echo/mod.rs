//! TCP echo servers standing for Machines of raw TCP services, and an
//! independent parser of the PROXY headers they receive.

#![allow(dead_code)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};

/// What an echo backend expects before the client's bytes.
#[derive(Clone, Copy)]
pub enum Expect {
    Nothing,
    ProxyV1,
    ProxyV2,
}

/// Addresses a PROXY header carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Relayed {
    pub source: SocketAddr,
    pub destination: SocketAddr,
}

/// A TCP echo server standing for one Machine.
pub struct EchoBackend {
    pub addr: SocketAddr,
    expect: Expect,
    /// Connections open right now.
    open: Arc<AtomicUsize>,
    /// Headers received, in order.
    pub relayed: Arc<Mutex<Vec<Relayed>>>,
    listener: Mutex<Option<TcpListener>>,
}

impl EchoBackend {
    /// Binds a port; answers only once [`EchoBackend::serve`] runs.
    pub async fn bind(expect: Expect) -> Arc<EchoBackend> {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        Arc::new(EchoBackend {
            addr: listener.local_addr().unwrap(),
            expect,
            open: Arc::default(),
            relayed: Arc::default(),
            listener: Mutex::new(Some(listener)),
        })
    }

    pub async fn start(expect: Expect) -> Arc<EchoBackend> {
        let backend = EchoBackend::bind(expect).await;
        backend.serve();
        backend
    }

    pub fn serve(&self) {
        let Some(listener) = self.listener.lock().unwrap().take() else {
            return;
        };
        let (expect, open, relayed) = (self.expect, self.open.clone(), self.relayed.clone());
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let (open, relayed) = (open.clone(), relayed.clone());
                tokio::spawn(async move {
                    open.fetch_add(1, Ordering::SeqCst);
                    let header = match expect {
                        Expect::Nothing => None,
                        Expect::ProxyV1 => Some(read_v1(&mut stream).await),
                        Expect::ProxyV2 => Some(read_v2(&mut stream).await),
                    };
                    if let Some(header) = header {
                        relayed.lock().unwrap().push(header);
                    }
                    let (mut read, mut write) = stream.split();
                    let _ = tokio::io::copy(&mut read, &mut write).await;
                    open.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
    }

    pub fn open(&self) -> usize {
        self.open.load(Ordering::SeqCst)
    }
}

/// Reads a text header: `PROXY TCP4|TCP6 src dst sport dport\r\n`.
async fn read_v1(stream: &mut TcpStream) -> Relayed {
    let mut line = Vec::new();
    while !line.ends_with(b"\r\n") {
        assert!(line.len() < 108, "a v1 header is at most 107 bytes");
        line.push(stream.read_u8().await.unwrap());
    }
    let line = String::from_utf8(line).unwrap();
    let fields: Vec<&str> = line.trim_end().split(' ').collect();
    assert_eq!(fields.len(), 6, "v1 header {line:?}");
    assert_eq!(fields[0], "PROXY");
    assert!(fields[1] == "TCP4" || fields[1] == "TCP6", "{line:?}");
    let ip = |s: &str| s.parse::<IpAddr>().unwrap();
    let port = |s: &str| s.parse::<u16>().unwrap();
    Relayed {
        source: SocketAddr::new(ip(fields[2]), port(fields[4])),
        destination: SocketAddr::new(ip(fields[3]), port(fields[5])),
    }
}

/// Reads a binary header: signature, version/command, family, length, addresses.
async fn read_v2(stream: &mut TcpStream) -> Relayed {
    let mut fixed = [0u8; 16];
    stream.read_exact(&mut fixed).await.unwrap();
    assert_eq!(&fixed[..12], b"\r\n\r\n\0\r\nQUIT\n", "v2 signature");
    assert_eq!(fixed[12], 0x21, "version 2, command PROXY");
    let length = usize::from(u16::from_be_bytes([fixed[14], fixed[15]]));
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).await.unwrap();
    let port = |at: usize| u16::from_be_bytes([body[at], body[at + 1]]);
    match fixed[13] {
        0x11 => {
            assert!(length >= 12);
            let v4 = |at: usize| {
                IpAddr::V4(Ipv4Addr::new(
                    body[at],
                    body[at + 1],
                    body[at + 2],
                    body[at + 3],
                ))
            };
            Relayed {
                source: SocketAddr::new(v4(0), port(8)),
                destination: SocketAddr::new(v4(4), port(10)),
            }
        }
        0x21 => {
            assert!(length >= 36);
            let v6 = |at: usize| {
                let octets: [u8; 16] = body[at..at + 16].try_into().unwrap();
                IpAddr::V6(Ipv6Addr::from(octets))
            };
            Relayed {
                source: SocketAddr::new(v6(0), port(32)),
                destination: SocketAddr::new(v6(16), port(34)),
            }
        }
        other => panic!("unexpected v2 family/transport byte {other:#x}"),
    }
}
