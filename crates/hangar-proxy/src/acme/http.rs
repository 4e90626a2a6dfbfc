//! The HTTP client the ACME account talks through: reqwest with rustls
//! (ring), trusting the web PKI roots and, when configured, one more CA
//! (a test ACME server's).

use std::future::Future;
use std::path::Path;
use std::pin::Pin;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response};
use instant_acme::{BodyWrapper, BytesResponse, HttpClient};

/// Why the client could not be built.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ClientError {
    #[error("cannot read the ACME server's root CA {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("the ACME server's root CA {path} is not a PEM certificate: {source}")]
    Pem {
        path: String,
        source: reqwest::Error,
    },
    #[error("cannot build the ACME HTTP client: {0}")]
    Build(reqwest::Error),
}

/// reqwest behind instant-acme's client trait.
pub(crate) struct AcmeHttp(reqwest::Client);

impl AcmeHttp {
    pub(crate) fn new(extra_root: Option<&Path>) -> Result<AcmeHttp, ClientError> {
        let mut builder = reqwest::Client::builder().timeout(std::time::Duration::from_secs(30));
        if let Some(path) = extra_root {
            let shown = path.display().to_string();
            let pem = std::fs::read(path).map_err(|source| ClientError::Read {
                path: shown.clone(),
                source,
            })?;
            let root = reqwest::Certificate::from_pem(&pem).map_err(|source| ClientError::Pem {
                path: shown,
                source,
            })?;
            builder = builder.add_root_certificate(root);
        }
        builder.build().map(AcmeHttp).map_err(ClientError::Build)
    }
}

type Boxed<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl HttpClient for AcmeHttp {
    fn request(
        &self,
        request: Request<BodyWrapper<Bytes>>,
    ) -> Boxed<Result<BytesResponse, instant_acme::Error>> {
        let client = self.0.clone();
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            let body = match body.collect().await {
                Ok(collected) => collected.to_bytes(),
                Err(never) => match never {},
            };
            let response = client
                .request(parts.method, parts.uri.to_string())
                .headers(parts.headers)
                .body(body)
                .send()
                .await
                .map_err(|e| instant_acme::Error::Other(Box::new(e)))?;
            let mut builder = Response::builder().status(response.status());
            if let Some(headers) = builder.headers_mut() {
                *headers = response.headers().clone();
            }
            let bytes = response
                .bytes()
                .await
                .map_err(|e| instant_acme::Error::Other(Box::new(e)))?;
            let response = builder
                .body(Full::new(bytes))
                .map_err(|e| instant_acme::Error::Other(Box::new(e)))?;
            Ok(BytesResponse::from(response))
        })
    }
}
