//! Machine leases: an exclusive, TTL-bounded right to change one Machine.
//! While a lease is held, every mutating call must carry its nonce.

use hangar_store::StoreExt;
use hangar_types::{ids, Lease};

use crate::http::error::{HttpError, HttpResult};
use crate::platform::{now_secs, ControlPlane};

/// Lease TTL when none is given (flyctl's default).
pub const DEFAULT_TTL_SECS: i64 = 13;
/// The longest lease granted.
pub const MAX_TTL_SECS: i64 = 3600;

fn key(app: &str, machine: &str) -> String {
    format!("leases/{app}/{machine}")
}

fn held_elsewhere(machine: &str, lease: &Lease) -> HttpError {
    HttpError::conflict(format!(
        "machine {machine} is leased by {:?} ({}) until unix time {}; send its nonce in the fly-machine-lease-nonce header, or wait for it to expire",
        lease.owner, lease.description, lease.expires_at
    ))
}

impl ControlPlane {
    /// The unexpired lease on a Machine, with its store revision.
    async fn current_lease(&self, app: &str, machine: &str) -> HttpResult<(Option<Lease>, i64)> {
        match self.store.get_json::<Lease>(&key(app, machine)).await? {
            Some((lease, rev)) if lease.expires_at > now_secs() => Ok((Some(lease), rev)),
            Some((_, rev)) => Ok((None, rev)),
            None => Ok((None, 0)),
        }
    }

    pub async fn lease(&self, app: &str, machine: &str) -> HttpResult<Option<Lease>> {
        Ok(self.current_lease(app, machine).await?.0)
    }

    /// Acquires a lease, or refreshes it when `nonce` is the holder's.
    pub async fn acquire_lease(
        &self,
        app: &str,
        machine: &str,
        ttl: Option<i64>,
        description: Option<String>,
        nonce: Option<String>,
        version: String,
    ) -> HttpResult<Lease> {
        let ttl = ttl.unwrap_or(DEFAULT_TTL_SECS);
        if !(1..=MAX_TTL_SECS).contains(&ttl) {
            return Err(HttpError::bad_request(format!(
                "lease ttl must be between 1 and {MAX_TTL_SECS} seconds (got {ttl})"
            )));
        }
        let (current, rev) = self.current_lease(app, machine).await?;
        let lease = match current {
            Some(held) if nonce.as_deref() == Some(held.nonce.as_str()) => Lease {
                expires_at: now_secs() + ttl,
                description: description.unwrap_or(held.description.clone()),
                ..held
            },
            Some(held) => return Err(held_elsewhere(machine, &held)),
            None => Lease {
                nonce: ids::new_nonce(),
                expires_at: now_secs() + ttl,
                owner: "hangar-token".into(),
                description: description.unwrap_or_default(),
                version,
            },
        };
        match self.store.cas_json(&key(app, machine), &lease, rev).await? {
            Ok(_) => Ok(lease),
            Err(_) => Err(HttpError::conflict(format!(
                "machine {machine} was leased concurrently by another client; retry"
            ))),
        }
    }

    /// Releases a lease; the holder's nonce is required.
    pub async fn release_lease(
        &self,
        app: &str,
        machine: &str,
        nonce: Option<String>,
    ) -> HttpResult<()> {
        let Some(nonce) = nonce else {
            return Err(HttpError::bad_request(
                "releasing a lease needs its nonce in the fly-machine-lease-nonce header",
            ));
        };
        let (current, _) = self.current_lease(app, machine).await?;
        match current {
            None => Err(HttpError::not_found(format!(
                "machine {machine} has no active lease"
            ))),
            Some(held) if held.nonce != nonce => Err(held_elsewhere(machine, &held)),
            Some(_) => {
                self.store.delete(&key(app, machine)).await?;
                Ok(())
            }
        }
    }

    /// Refuses a mutating call on a Machine leased by someone else.
    pub async fn check_lease(
        &self,
        app: &str,
        machine: &str,
        nonce: &Option<String>,
    ) -> HttpResult<()> {
        match self.current_lease(app, machine).await?.0 {
            Some(held) if nonce.as_deref() != Some(held.nonce.as_str()) => {
                Err(held_elsewhere(machine, &held))
            }
            _ => Ok(()),
        }
    }

    /// Drops a destroyed Machine's lease.
    pub async fn forget_lease(&self, app: &str, machine: &str) -> HttpResult<()> {
        self.store.delete(&key(app, machine)).await?;
        Ok(())
    }
}
