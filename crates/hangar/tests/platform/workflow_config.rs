//! `hangar config save` writes the deployed config to fly.toml, asks before
//! overwriting a different file, and refuses without a terminal or `--yes`.

use crate::support::*;
use crate::workflow::{app_image, Hangar};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_save_writes_the_deployed_config() {
    if hangar_testbed::skip_unless_root("config_save_writes_the_deployed_config") {
        return;
    }
    let tb = testbed().await;
    let Some(image) = app_image(&tb, "wfsave-image") else {
        return;
    };
    let app = "wfsave";
    let hangar = Hangar::new(&tb, app);
    // Before any deploy there is nothing to save.
    hangar.run(&["apps", "create", app]).await.ok();
    hangar
        .run(&["config", "save", "-a", app])
        .await
        .fails_with("deploy it first");
    assert!(!hangar.fly_toml().exists(), "nothing written");

    let deployed = format!(
        "# the deployed config\napp = \"{app}\"\nprimary_region = \"dev\"\n\n[env]\n  GREETING = \"saved\"\n"
    );
    std::fs::write(hangar.fly_toml(), &deployed).unwrap();
    hangar
        .run(&["deploy", "--image", &image.reference])
        .await
        .ok();

    // A different local file is kept unless --yes says to replace it.
    let edited = deployed.replace("saved", "edited locally");
    std::fs::write(hangar.fly_toml(), &edited).unwrap();
    hangar
        .run(&["config", "save"])
        .await
        .fails_with("pass --yes");
    assert_eq!(std::fs::read_to_string(hangar.fly_toml()).unwrap(), edited);
    let saved = hangar.run(&["config", "save", "-y"]).await.ok();
    assert!(saved.out.contains("v1"), "{}", saved.out);
    assert_eq!(
        std::fs::read_to_string(hangar.fly_toml()).unwrap(),
        deployed
    );

    // Into a new path, with the app named by -a: the file names the app.
    let elsewhere = hangar.dir.join("elsewhere/fly.toml");
    let elsewhere_arg = elsewhere.to_str().unwrap();
    hangar
        .run(&["config", "save", "-a", app, "-c", elsewhere_arg])
        .await
        .ok();
    let text = std::fs::read_to_string(&elsewhere).unwrap();
    assert!(text.contains(&format!("app = \"{app}\"")), "{text}");
    assert!(text.contains("GREETING = \"saved\""), "{text}");
    hangar
        .run(&["config", "validate", "-c", elsewhere_arg])
        .await
        .ok();
    tb.stop().await;
}
