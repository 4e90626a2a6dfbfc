//! `hangar apps destroy` removes everything the app owned, so an app
//! created again under the same name starts from nothing.

use hangar_types::CreateVolumeRequest;

use crate::support::*;
use crate::workflow::{app_image, Hangar};

/// Store keys that name `app` (as a path segment).
async fn keys_of(tb: &hangar_testbed::Testbed, app: &str, machines: &[String]) -> Vec<String> {
    let listing = tb
        .platform
        .control_plane
        .store
        .list("")
        .await
        .expect("list the store");
    listing
        .kvs
        .into_iter()
        .map(|kv| kv.key)
        .filter(|key| {
            key.split('/').any(|part| part == app)
                || machines.iter().any(|id| key.contains(id.as_str()))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apps_destroy_leaves_nothing_and_a_new_app_of_that_name_starts_afresh() {
    if hangar_testbed::skip_unless_root(
        "apps_destroy_leaves_nothing_and_a_new_app_of_that_name_starts_afresh",
    ) {
        return;
    }
    let tb = testbed().await;
    let Some(image) = app_image(&tb, "wfapps-image") else {
        return;
    };
    let image = image.reference.as_str();
    let app = "wfapps";
    let hangar = Hangar::new(&tb, app);
    std::fs::write(hangar.dir.join("index.html"), "<h1>hi</h1>\n").unwrap();
    hangar
        .run(&["launch", "--name", app, "--no-deploy"])
        .await
        .ok();
    hangar
        .run(&["secrets", "set", "--stage", "TOKEN=hunter2"])
        .await
        .ok();
    hangar.run(&["deploy", "--image", image]).await.ok();
    tb.client
        .create_volume(
            app,
            &CreateVolumeRequest {
                name: "data".into(),
                region: Some("dev".into()),
                size_gb: Some(1),
                ..Default::default()
            },
        )
        .await
        .expect("create volume");
    let machines: Vec<String> = hangar
        .machines(app)
        .await
        .into_iter()
        .map(|m| m.id)
        .collect();
    assert!(!machines.is_empty());
    assert!(!keys_of(&tb, app, &machines).await.is_empty());

    // Without a terminal and without -y/--yes, every confirmation refuses
    // and nothing changes.
    for args in [
        &["machine", "destroy", machines[0].as_str(), "--force"][..],
        &["scale", "count", "0"],
    ] {
        hangar.run(args).await.fails_with("pass --yes");
    }
    assert_eq!(hangar.machines(app).await.len(), machines.len());
    assert_eq!(tb.client.list_releases(app).await.unwrap().len(), 1);
    hangar
        .run(&["apps", "destroy", app])
        .await
        .fails_with("pass --yes");
    hangar.run(&["-y", "apps", "destroy", app]).await.ok();
    let left = keys_of(&tb, app, &machines).await;
    assert!(left.is_empty(), "the store still holds: {left:#?}");

    hangar.run(&["apps", "create", app]).await.ok();
    assert!(tb.client.list_secrets(app).await.unwrap().is_empty());
    assert!(tb.client.list_releases(app).await.unwrap().is_empty());
    assert!(tb.client.list_volumes(app).await.unwrap().is_empty());
    assert!(hangar.machines(app).await.is_empty());
    hangar.run(&["deploy", "--image", image]).await.ok();
    let releases = tb.client.list_releases(app).await.unwrap();
    assert_eq!(releases.len(), 1, "{releases:#?}");
    assert_eq!(releases[0].version, 1);
    assert_eq!(releases[0].secrets_version, 0);
    tb.stop().await;
}
