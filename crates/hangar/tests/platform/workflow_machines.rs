//! `hangar machine clone` with `--standby-for`, `--rm` and `--schedule`:
//! the copies carry what the flags say, and a standby stays stopped.

use hangar_types::MachineState;

use crate::support::*;
use crate::workflow::{app_image, Hangar};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn machine_clone_makes_standbys_and_one_off_copies() {
    if hangar_testbed::skip_unless_root("machine_clone_makes_standbys_and_one_off_copies") {
        return;
    }
    let tb = testbed().await;
    let Some(image) = app_image(&tb, "wfclone-image") else {
        return;
    };
    let app = "wfclone";
    let hangar = Hangar::new(&tb, app);
    hangar.run(&["apps", "create", app]).await.ok();
    hangar
        .run(&[
            "machine",
            "run",
            &image.reference,
            "-a",
            app,
            "--name",
            "source",
        ])
        .await
        .ok();
    let source = hangar.machines(app).await.remove(0);

    hangar
        .run(&[
            "machine",
            "clone",
            &source.id,
            "-a",
            app,
            "--name",
            "standby",
            "--standby-for",
            &source.id,
        ])
        .await
        .ok();
    hangar
        .run(&[
            "machine",
            "clone",
            &source.id,
            "-a",
            app,
            "--name",
            "oneoff",
            "--rm",
            "--schedule",
            "daily",
            "--detach",
        ])
        .await
        .ok();
    let machines = hangar.machines(app).await;
    let named = |name: &str| {
        machines
            .iter()
            .find(|m| m.name == name)
            .unwrap_or_else(|| panic!("no machine named {name}: {machines:?}"))
            .clone()
    };
    let standby = named("standby");
    assert_eq!(standby.config.standbys, vec![source.id.clone()]);
    assert!(
        matches!(standby.state, MachineState::Created | MachineState::Stopped),
        "a standby is not started: {:?}",
        standby.state
    );
    let oneoff = named("oneoff");
    assert_eq!(oneoff.config.auto_destroy, Some(true));
    assert_eq!(oneoff.config.schedule.as_deref(), Some("daily"));
    tb.stop().await;
}
