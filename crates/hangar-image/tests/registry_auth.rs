//! Pulling with credentials from `HANGAR_REGISTRY_AUTH`: basic auth, and a token service
//! that wants a login. One test in its own binary, because it sets the environment.

mod common;

use common::distribution::{TestRegistry, LOGIN};
use common::*;
use hangar_image::{ImageError, ImageStore, REGISTRY_AUTH_ENV};

#[tokio::test]
async fn credentials_from_the_environment_unlock_private_repositories() {
    let dir = tempfile::tempdir().unwrap();
    let (layout, digest) = sample_layout(dir.path());
    let with_login = TestRegistry::start(layout.clone()).await;
    let without_login = TestRegistry::start(layout).await;
    // Set before any store reads it; nothing else in this binary touches the environment.
    std::env::set_var(
        REGISTRY_AUTH_ENV,
        format!("{}={}:{}", with_login.address, LOGIN.0, LOGIN.1),
    );
    let store = ImageStore::open(&dir.path().join("store")).unwrap();

    for repository in ["private/app", "secret/app"] {
        let image = store
            .resolve(&format!("{}/{repository}:v1", with_login.address))
            .await
            .unwrap();
        assert_eq!(image.digest, digest, "{repository}");
        assert!(image.layers[0].join("bin/busybox").is_file());

        let err = store
            .resolve(&format!("{}/{repository}:v1", without_login.address))
            .await
            .unwrap_err();
        assert!(
            matches!(err, ImageError::Unauthorized { .. }),
            "{repository}: {err}"
        );
        assert!(err.is_client_error());
    }
}
