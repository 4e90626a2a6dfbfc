//! `GET …/{id}/logs`: a machine's stdout and stderr as a stream of lines.
//!
//! A Hangar extension to the Machines API. The answer is newline-delimited
//! JSON, one [`LogLine`] per line; with `follow=true` the server keeps the
//! answer open and sends new lines as the machine writes them.

use bytes::Bytes;
use futures_util::stream::{self, BoxStream, Stream, StreamExt};
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::{Client, ClientError};

/// One line a machine wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogLine {
    /// RFC 3339.
    pub timestamp: String,
    /// `stdout` or `stderr`.
    pub stream: String,
    pub message: String,
    /// The machine version that wrote the line.
    #[serde(default)]
    pub instance_id: String,
}

/// What part of the log to read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LogOptions {
    /// Keep the stream open and yield new lines as they are written.
    pub follow: bool,
    /// Start with at most this many of the latest lines.
    pub tail: Option<u32>,
}

/// Lines of a machine's log, in the order written. Ends when the server
/// closes the answer (right away without `follow`).
pub type LogStream = BoxStream<'static, Result<LogLine, ClientError>>;

impl Client {
    /// `GET …/{id}/logs?follow=&tail=`.
    pub async fn machine_logs(
        &self,
        app: &str,
        machine_id: &str,
        options: &LogOptions,
    ) -> Result<LogStream, ClientError> {
        let mut url = self.url(&["apps", app, "machines", machine_id, "logs"]);
        {
            let mut query = url.query_pairs_mut();
            query.append_pair("follow", if options.follow { "true" } else { "false" });
            if let Some(tail) = options.tail {
                query.append_pair("tail", &tail.to_string());
            }
        }
        let streaming = if options.follow {
            self.with_request_timeout(None)
        } else {
            self.clone()
        };
        let response = streaming.send(Method::GET, url.clone()).await?;
        let client = self.clone();
        let error_url = url.clone();
        let map_err = move |source| client.transport_error(&Method::GET, &error_url, source);
        Ok(decode_log_lines(
            response.bytes_stream(),
            url.to_string(),
            map_err,
        ))
    }
}

struct LineDecoder<S, F> {
    chunks: S,
    map_err: F,
    url: String,
    buffer: Vec<u8>,
    finished: bool,
}

/// Splits a byte stream into newline-delimited JSON values (such as
/// [`LogLine`]s). Blank lines are skipped; a transport error ends the stream
/// after being yielded.
pub(crate) fn decode_log_lines<T, S, E, F>(
    chunks: S,
    url: String,
    map_err: F,
) -> BoxStream<'static, Result<T, ClientError>>
where
    T: DeserializeOwned + Send + 'static,
    S: Stream<Item = Result<Bytes, E>> + Send + Unpin + 'static,
    E: Send + 'static,
    F: Fn(E) -> ClientError + Send + 'static,
{
    let decoder = LineDecoder {
        chunks,
        map_err,
        url,
        buffer: Vec::new(),
        finished: false,
    };
    stream::unfold(decoder, |mut decoder| async move {
        loop {
            if let Some(end) = decoder.buffer.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = decoder.buffer.drain(..=end).collect();
                if let Some(parsed) = parse_line(&line, &decoder.url) {
                    return Some((parsed, decoder));
                }
                continue;
            }
            if decoder.finished {
                let rest = std::mem::take(&mut decoder.buffer);
                return parse_line(&rest, &decoder.url).map(|parsed| (parsed, decoder));
            }
            match decoder.chunks.next().await {
                Some(Ok(chunk)) => decoder.buffer.extend_from_slice(&chunk),
                Some(Err(err)) => {
                    decoder.finished = true;
                    decoder.buffer.clear();
                    let err = (decoder.map_err)(err);
                    return Some((Err(err), decoder));
                }
                None => decoder.finished = true,
            }
        }
    })
    .boxed()
}

/// `None` for a blank line.
fn parse_line<T: DeserializeOwned>(line: &[u8], url: &str) -> Option<Result<T, ClientError>> {
    let line = line.trim_ascii();
    if line.is_empty() {
        return None;
    }
    Some(
        serde_json::from_slice(line).map_err(|source| ClientError::Decode {
            method: "GET".into(),
            url: url.to_string(),
            source,
        }),
    )
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use super::*;

    async fn lines_from(chunks: Vec<&'static str>) -> Vec<Result<LogLine, ClientError>> {
        let chunks = stream::iter(
            chunks
                .into_iter()
                .map(|c| Ok::<_, Infallible>(Bytes::from_static(c.as_bytes()))),
        );
        let decoded = decode_log_lines(chunks, "http://h/logs".into(), |never| match never {});
        decoded.collect().await
    }

    #[tokio::test]
    async fn lines_split_across_chunks_are_joined() {
        let lines = lines_from(vec![
            r#"{"timestamp":"2026-11-28T10:00:00Z","stream":"stdout","mess"#,
            "age\":\"hello\",\"instance_id\":\"01J\"}\n\n",
            r#"{"timestamp":"2026-11-28T10:00:01Z","stream":"stderr","message":"oops"}"#,
        ])
        .await;
        assert_eq!(lines.len(), 2);
        let first = lines[0].as_ref().unwrap();
        assert_eq!(first.message, "hello");
        assert_eq!(first.instance_id, "01J");
        let second = lines[1].as_ref().unwrap();
        assert_eq!(second.stream, "stderr");
        assert_eq!(second.message, "oops");
    }

    #[tokio::test]
    async fn a_garbled_line_is_a_decode_error_and_the_rest_still_flows() {
        let lines = lines_from(vec![
            "not json\n",
            "{\"timestamp\":\"t\",\"stream\":\"stdout\",\"message\":\"ok\"}\n",
        ])
        .await;
        assert!(matches!(lines[0], Err(ClientError::Decode { .. })));
        assert_eq!(lines[1].as_ref().unwrap().message, "ok");
    }
}
