//! The lean HTTP/1.1 path over raw sockets: response framings passed on
//! intact on a kept-alive client connection, pipelined requests, request
//! bodies, and a connection handed to hyper midway (an upgrade after plain
//! requests).

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use hangar_types::MachineState;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A Machine answering by path: `/chunked` in chunks (split across
/// writes), `/until-close` with no length (then closing), `/upgrade` with
/// 101 and an echo, anything else with its body echoed and a length.
/// Counts the connections it accepted.
async fn scripted_machine(h: &Harness) -> Arc<AtomicUsize> {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counted = accepted.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            counted.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(serve_scripted(stream));
        }
    });
    let placeholder = Backend::bind("m-scripted").await;
    let mut r = route("alpha", &placeholder, "ams", MachineState::Started);
    r.services[0] = with_limits(http_service(port), 10, None);
    h.fleet.add(r, &placeholder);
    accepted
}

async fn serve_scripted(mut stream: TcpStream) {
    let mut buffer = Vec::new();
    loop {
        let (path, body, used) = loop {
            if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&buffer[..end]).to_string();
                let path = head.split(' ').nth(1).unwrap_or("/").to_string();
                let length: usize = head
                    .lines()
                    .find_map(|l| {
                        let (name, value) = l.split_once(':')?;
                        name.eq_ignore_ascii_case("content-length")
                            .then(|| value.trim().parse().ok())?
                    })
                    .unwrap_or(0);
                if buffer.len() >= end + 4 + length {
                    let body = buffer[end + 4..end + 4 + length].to_vec();
                    break (path, body, end + 4 + length);
                }
            }
            let mut chunk = [0u8; 4096];
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buffer.extend_from_slice(&chunk[..n]),
            }
        };
        buffer.drain(..used);
        match path.as_str() {
            "/chunked" => {
                let parts: [&[u8]; 3] = [
                    b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhel",
                    b"lo\r\n7\r\n, world\r\n",
                    b"0\r\nx-done: yes\r\n\r\n",
                ];
                for part in parts {
                    if stream.write_all(part).await.is_err() {
                        return;
                    }
                    stream.flush().await.unwrap();
                    tokio::task::yield_now().await;
                }
            }
            "/until-close" => {
                let _ = stream
                    .write_all(b"HTTP/1.1 200 OK\r\n\r\nall of it until the end")
                    .await;
                return;
            }
            "/upgrade" => {
                let _ = stream
                    .write_all(b"HTTP/1.1 101 Switching Protocols\r\nconnection: upgrade\r\nupgrade: echo\r\n\r\n")
                    .await;
                let mut chunk = [0u8; 1024];
                while let Ok(n) = stream.read(&mut chunk).await {
                    if n == 0 || stream.write_all(&chunk[..n]).await.is_err() {
                        return;
                    }
                }
                return;
            }
            _ => {
                let mut answer =
                    format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n", body.len())
                        .into_bytes();
                answer.extend_from_slice(&body);
                if stream.write_all(&answer).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// A raw client connection to the proxy.
struct Client {
    stream: TcpStream,
    read: Vec<u8>,
}

impl Client {
    async fn connect(h: &Harness) -> Client {
        Client {
            stream: TcpStream::connect(h.addr).await.unwrap(),
            read: Vec::new(),
        }
    }

    async fn send(&mut self, raw: &str) {
        self.stream.write_all(raw.as_bytes()).await.unwrap();
    }

    /// Reads until `what` has arrived; everything read so far.
    async fn read_until(&mut self, what: &str) -> String {
        self.read_until_count(what, 1).await
    }

    /// Reads until `what` has arrived `count` times.
    async fn read_until_count(&mut self, what: &str, count: usize) -> String {
        let found = tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                if String::from_utf8_lossy(&self.read).matches(what).count() >= count {
                    return;
                }
                let mut chunk = [0u8; 4096];
                let n = self.stream.read(&mut chunk).await.unwrap();
                assert!(
                    n > 0,
                    "closed before {what:?}: {:?}",
                    String::from_utf8_lossy(&self.read)
                );
                self.read.extend_from_slice(&chunk[..n]);
            }
        })
        .await;
        let text = String::from_utf8_lossy(&self.read).to_string();
        assert!(found.is_ok(), "no {what:?} within 10 s: {text:?}");
        text
    }

    /// Reads until the proxy closes the connection.
    async fn read_to_end(&mut self) -> String {
        tokio::time::timeout(
            Duration::from_secs(10),
            self.stream.read_to_end(&mut self.read),
        )
        .await
        .expect("closed within 10 s")
        .unwrap();
        String::from_utf8_lossy(&self.read).to_string()
    }
}

fn get(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nhost: {}\r\n\r\n", host("alpha"))
}

#[tokio::test]
async fn a_chunked_answer_passes_intact_and_the_connection_serves_on() {
    let h = Harness::start(test_config()).await;
    let accepted = scripted_machine(&h).await;
    let mut client = Client::connect(&h).await;
    client.send(&get("/chunked")).await;
    let first = client.read_until("x-done: yes\r\n\r\n").await;
    assert!(
        first.contains("\r\n\r\n5\r\nhello\r\n7\r\n, world\r\n0\r\nx-done: yes\r\n\r\n"),
        "{first}"
    );
    assert!(first
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked"));
    // The same client and Machine connections carry the next request.
    client.send(&get("/after")).await;
    let both = client.read_until_count("fly-request-id", 2).await;
    assert_eq!(both.matches("HTTP/1.1 200 OK").count(), 2, "{both}");
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        1,
        "the Machine connection was reused"
    );
}

#[tokio::test]
async fn an_answer_without_length_ends_with_the_connection() {
    let h = Harness::start(test_config()).await;
    scripted_machine(&h).await;
    let mut client = Client::connect(&h).await;
    client.send(&get("/until-close")).await;
    let answer = client.read_to_end().await;
    assert!(
        answer.ends_with("\r\n\r\nall of it until the end"),
        "{answer}"
    );
    assert!(
        answer.to_ascii_lowercase().contains("connection: close"),
        "{answer}"
    );
}

#[tokio::test]
async fn pipelined_requests_with_bodies_are_answered_in_order() {
    let h = Harness::start(test_config()).await;
    scripted_machine(&h).await;
    let mut client = Client::connect(&h).await;
    let post = |body: &str| {
        format!(
            "POST /echo HTTP/1.1\r\nhost: {}\r\ncontent-length: {}\r\n\r\n{body}",
            host("alpha"),
            body.len()
        )
    };
    // Three requests in one write, the last one asking to close.
    let mut raw = post("first body") + &post("second");
    raw += &format!(
        "GET /last HTTP/1.1\r\nhost: {}\r\nconnection: close\r\n\r\n",
        host("alpha")
    );
    client.send(&raw).await;
    let answers = client.read_to_end().await;
    let first = answers.find("first body").expect(&answers);
    let second = answers.find("second").expect(&answers);
    assert!(first < second, "{answers}");
    assert_eq!(answers.matches("HTTP/1.1 200 OK").count(), 3, "{answers}");
}

#[tokio::test]
async fn an_upgrade_after_plain_requests_is_handed_to_hyper_on_the_same_connection() {
    let h = Harness::start(test_config()).await;
    scripted_machine(&h).await;
    let mut client = Client::connect(&h).await;
    client.send(&get("/plain")).await;
    client.read_until("content-length: 0").await;
    client
        .send(&format!(
            "GET /upgrade HTTP/1.1\r\nhost: {}\r\nconnection: upgrade\r\nupgrade: echo\r\n\r\n",
            host("alpha")
        ))
        .await;
    client.read_until("101 Switching Protocols").await;
    client.read_until("\r\n\r\n").await;
    client.send("ping through the tunnel").await;
    let all = client.read_until("ping through the tunnel").await;
    assert_eq!(all.matches("HTTP/1.1 200 OK").count(), 1, "{all}");
}

#[tokio::test]
async fn hyper_serves_everything_when_the_lean_path_is_off() {
    let mut config = test_config();
    config.lean_http1 = false;
    let h = Harness::start(config).await;
    scripted_machine(&h).await;
    let mut client = Client::connect(&h).await;
    client.send(&get("/chunked")).await;
    let answer = client.read_until("0\r\n\r\n").await;
    // hyper re-frames the body and drops the trailer it was not asked for.
    assert!(answer.contains("hello"), "{answer}");
    assert!(answer.contains(", world"), "{answer}");
}
