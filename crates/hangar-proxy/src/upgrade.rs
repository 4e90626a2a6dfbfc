//! Protocol upgrades (WebSocket and others) through the proxy.

use hyper::header::HeaderValue;
use hyper::upgrade::OnUpgrade;
use hyper::{Request, Version};
use hyper_util::rt::TokioIo;

use crate::load::LoadGuard;

/// Copies bytes both ways between an upgraded client connection and the
/// Machine's, holding the Machine's load slot until both sides close.
pub(crate) async fn tunnel(client_side: OnUpgrade, machine_side: OnUpgrade, guard: LoadGuard) {
    let _guard = guard;
    let (client_io, machine_io) = match tokio::try_join!(client_side, machine_side) {
        Ok(both) => both,
        Err(error) => {
            tracing::debug!(%error, "protocol upgrade did not complete");
            return;
        }
    };
    let mut client_io = TokioIo::new(client_io);
    let mut machine_io = TokioIo::new(machine_io);
    if let Err(error) = tokio::io::copy_bidirectional(&mut client_io, &mut machine_io).await {
        tracing::debug!(%error, "upgraded connection ended with an error");
    }
}

/// The protocol an HTTP/1.1 request asks to upgrade to (WebSocket, …).
pub(crate) fn requested_protocol<B>(request: &Request<B>) -> Option<HeaderValue> {
    if request.version() != Version::HTTP_11 {
        return None;
    }
    let asks = request
        .headers()
        .get_all(hyper::header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|token| token.trim().eq_ignore_ascii_case("upgrade"));
    asks.then(|| request.headers().get(hyper::header::UPGRADE).cloned())
        .flatten()
}
