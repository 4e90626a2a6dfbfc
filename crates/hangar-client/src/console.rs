//! The console WebSocket (`GET /v1/apps/{app}/machines/{id}/console`, a
//! Hangar extension): binary frames carry terminal bytes, text frames
//! carry [`hangar_types::ConsoleControl`] messages.

use std::sync::Arc;

use hangar_types::ConsoleSize;
use reqwest::StatusCode;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::header::{HeaderValue, AUTHORIZATION};
use tokio_tungstenite::WebSocketStream;

pub use tokio_tungstenite::tungstenite::Message as ConsoleMessage;

use crate::error::{error_message, ClientError};
use crate::Client;

/// What to run in the console and on what terminal.
#[derive(Debug, Clone)]
pub struct ConsoleOptions {
    /// The command line (split like a shell would); `None` runs `/bin/sh`.
    pub command: Option<String>,
    pub size: ConsoleSize,
    /// `TERM` inside the Machine.
    pub term: Option<String>,
}

/// A byte stream a console runs over (TCP, or TLS over TCP).
pub trait ConsoleIo: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> ConsoleIo for T {}

/// An open console.
pub type ConsoleSocket = WebSocketStream<Box<dyn ConsoleIo>>;

impl Client {
    /// Opens a console in a started Machine. An unknown or stopped Machine is
    /// refused with the API's error before any terminal exists.
    pub async fn open_console(
        &self,
        app: &str,
        machine_id: &str,
        options: &ConsoleOptions,
    ) -> Result<ConsoleSocket, ClientError> {
        let mut url = self.url(&["apps", app, "machines", machine_id, "console"]);
        {
            let mut query = url.query_pairs_mut();
            if let Some(command) = &options.command {
                query.append_pair("command", command);
            }
            query.append_pair("cols", &options.size.cols.to_string());
            query.append_pair("rows", &options.size.rows.to_string());
            if let Some(term) = &options.term {
                query.append_pair("term", term);
            }
        }
        let failed = |reason: String| ClientError::Console {
            url: self.base_url().to_string(),
            reason,
        };
        let tls = url.scheme() == "https";
        let host = url
            .host_str()
            .ok_or_else(|| failed("the API URL has no host".into()))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let port = url
            .port_or_known_default()
            .ok_or_else(|| failed("the API URL has no port".into()))?;
        url.set_scheme(if tls { "wss" } else { "ws" })
            .map_err(|()| failed("cannot make a WebSocket URL of the API URL".into()))?;

        let tcp = TcpStream::connect((host.as_str(), port))
            .await
            .map_err(|e| failed(format!("connecting to {host}:{port}: {e}")))?;
        let _ = tcp.set_nodelay(true);
        let stream: Box<dyn ConsoleIo> = if tls {
            let roots =
                rustls::RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            let config = rustls::ClientConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .map_err(|e| failed(format!("TLS setup: {e}")))?
            .with_root_certificates(roots)
            .with_no_client_auth();
            let name = rustls::pki_types::ServerName::try_from(host.clone())
                .map_err(|e| failed(format!("{host} is not a TLS server name: {e}")))?;
            let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
            let tls_stream = connector
                .connect(name, tcp)
                .await
                .map_err(|e| failed(format!("TLS handshake with {host}: {e}")))?;
            Box::new(tls_stream)
        } else {
            Box::new(tcp)
        };

        let mut request = url
            .as_str()
            .into_client_request()
            .map_err(|e| failed(format!("building the request: {e}")))?;
        let bearer = HeaderValue::from_str(&format!("Bearer {}", self.token()))
            .map_err(|_| failed("the API token is not a valid header value".into()))?;
        request.headers_mut().insert(AUTHORIZATION, bearer);
        match tokio_tungstenite::client_async(request, stream).await {
            Ok((socket, _)) => Ok(socket),
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                let status = StatusCode::from_u16(response.status().as_u16())
                    .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                let body = response.body().clone().unwrap_or_default();
                let message = error_message(status, &body);
                if status == StatusCode::UNAUTHORIZED {
                    return Err(ClientError::Unauthorized {
                        url: self.base_url().to_string(),
                        message,
                    });
                }
                Err(ClientError::Api {
                    status: status.as_u16(),
                    message,
                })
            }
            Err(e) => Err(failed(e.to_string())),
        }
    }
}
