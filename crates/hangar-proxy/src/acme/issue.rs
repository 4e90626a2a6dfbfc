//! One ACME order: an HTTP-01 challenge per hostname, answered by the
//! proxy's HTTP listener, then a certificate for a fresh key.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use instant_acme::{
    Account, AccountCredentials, AuthorizationStatus, ChallengeType, Identifier, NewAccount,
    NewOrder, OrderStatus, RetryPolicy,
};

use crate::acme::http::AcmeHttp;
use crate::acme::AcmeConfig;

/// How long one order may take to become ready, and then valid.
const ORDER_TIMEOUT: Duration = Duration::from_secs(90);

/// File keeping the ACME account's credentials across restarts.
const ACCOUNT_FILE: &str = "acme-account.json";

/// A certificate chain (PEM, leaf first) and its key (PEM).
pub(crate) struct Issued {
    pub(crate) chain_pem: String,
    pub(crate) key_pem: String,
}

/// The account: loaded from the certificate directory, or registered with
/// the contact email and saved there.
pub(crate) async fn account(config: &AcmeConfig) -> Result<Account, String> {
    let http = || {
        AcmeHttp::new(config.extra_root_pem.as_deref())
            .map(|c| Box::new(c) as Box<dyn instant_acme::HttpClient>)
            .map_err(|e| e.to_string())
    };
    let saved = config.cert_dir.join(ACCOUNT_FILE);
    if let Ok(text) = std::fs::read_to_string(&saved) {
        match serde_json::from_str::<AccountCredentials>(&text) {
            Ok(credentials) => {
                match Account::builder_with_http(http()?)
                    .from_credentials(credentials)
                    .await
                {
                    Ok(account) => return Ok(account),
                    Err(error) => {
                        tracing::warn!(%error, "saved ACME account unusable; registering a new one")
                    }
                }
            }
            Err(error) => {
                tracing::warn!(%error, "saved ACME account unreadable; registering a new one")
            }
        }
    }
    let contact = config.contact_email.as_ref().map(|e| format!("mailto:{e}"));
    let contacts: Vec<&str> = contact.iter().map(String::as_str).collect();
    let (account, credentials) = Account::builder_with_http(http()?)
        .create(
            &NewAccount {
                contact: &contacts,
                terms_of_service_agreed: true,
                only_return_existing: false,
            },
            config.directory_url.clone(),
            None,
        )
        .await
        .map_err(|e| format!("registering with {}: {e}", config.directory_url))?;
    let json = serde_json::to_string(&credentials).map_err(|e| e.to_string())?;
    if let Err(error) = super::store::write_private(&config.cert_dir, ACCOUNT_FILE, &json) {
        tracing::warn!(%error, "cannot keep the ACME account on disk");
    }
    Ok(account)
}

/// Orders a certificate for `host`. While the order runs, `challenges`
/// holds `token → key authorization` for the HTTP listener to serve.
pub(crate) async fn order(
    account: &Account,
    host: &str,
    challenges: &Mutex<HashMap<String, String>>,
) -> Result<Issued, String> {
    let identifiers = [Identifier::Dns(host.to_string())];
    let mut order = account
        .new_order(&NewOrder::new(&identifiers))
        .await
        .map_err(|e| format!("creating the order: {e}"))?;
    let mut tokens = Vec::new();
    let mut authorizations = order.authorizations();
    while let Some(authorization) = authorizations.next().await {
        let mut authorization =
            authorization.map_err(|e| format!("reading the authorization: {e}"))?;
        match authorization.status {
            AuthorizationStatus::Pending => {}
            AuthorizationStatus::Valid => continue,
            other => return Err(format!("authorization is {other:?}")),
        }
        let mut challenge = authorization
            .challenge(ChallengeType::Http01)
            .ok_or("the ACME server offers no http-01 challenge")?;
        let key_authorization = challenge.key_authorization().as_str().to_string();
        lock(challenges).insert(challenge.token.clone(), key_authorization);
        tokens.push(challenge.token.clone());
        challenge
            .set_ready()
            .await
            .map_err(|e| format!("answering the challenge: {e}"))?;
    }
    let retries = RetryPolicy::new().timeout(ORDER_TIMEOUT);
    let ready = order.poll_ready(&retries).await;
    {
        let mut challenges = lock(challenges);
        for token in &tokens {
            challenges.remove(token);
        }
    }
    match ready.map_err(|e| format!("validating {host}: {e}"))? {
        OrderStatus::Ready => {}
        other => return Err(format!("validating {host} ended {other:?}")),
    }
    let key = rcgen::KeyPair::generate().map_err(|e| e.to_string())?;
    let mut params =
        rcgen::CertificateParams::new(vec![host.to_string()]).map_err(|e| e.to_string())?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    let csr = params.serialize_request(&key).map_err(|e| e.to_string())?;
    order
        .finalize_csr(csr.der())
        .await
        .map_err(|e| format!("finalizing the order: {e}"))?;
    let chain_pem = order
        .poll_certificate(&retries)
        .await
        .map_err(|e| format!("fetching the certificate: {e}"))?;
    Ok(Issued {
        chain_pem,
        key_pem: key.serialize_pem(),
    })
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
