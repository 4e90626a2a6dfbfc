//! Machine checks gate a rolling deploy: a test Machine pointed at each
//! updated Machine must exit 0, else the deploy reverts with its output.

use hangar_types::DeployState;

use crate::server_deploys_support::*;

/// `[[http_service.machine_checks]]` printing the tested Machine's address
/// and exiting with `code`.
fn machine_check(code: i32) -> String {
    format!(
        "\n  [[http_service.machine_checks]]\n    command = [\"sh\", \"-c\", \"echo testing $FLY_TEST_MACHINE_IP; exit {code}\"]\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_machine_check_reverts_the_rollout_and_a_passing_one_lets_it_finish() {
    let app = "machine-checks";
    let Some((tb, image)) = testbed_with_app(
        "a_failing_machine_check_reverts_the_rollout_and_a_passing_one_lets_it_finish",
        app,
    )
    .await
    else {
        return;
    };
    deploy_ok(
        &tb,
        app,
        &request(&image.reference, &fly_toml(app, "v1", false, "")),
    )
    .await;
    let before = managed(&tb, app).await;

    // The check goes inside [http_service]: the [[vm]] table comes after it
    // in fly_toml, so the check is spliced in before it.
    let with_check = |mark: &str, code: i32| {
        fly_toml(app, mark, false, "")
            .replace("[[vm]]", &format!("{}\n[[vm]]", machine_check(code)))
    };
    let (failed, events) = deploy(&tb, app, &request(&image.reference, &with_check("v2", 1))).await;
    let log = messages(&events);
    assert_eq!(failed.state, DeployState::Reverted, "{log}");
    let error = failed.error.clone().unwrap_or_default();
    assert!(
        error.contains("machine check") && error.contains("exit code 1"),
        "{error}"
    );
    let tested = events
        .iter()
        .find(|e| e.phase == "machine_check" && e.message.starts_with("testing "))
        .and_then(|e| e.machine_id.clone());
    let tested = before
        .iter()
        .find(|m| Some(&m.id) == tested.as_ref())
        .unwrap_or_else(|| panic!("the check names a tested Machine: {log}"));
    assert!(
        log.contains(&format!("testing {}", tested.private_ip)),
        "the check's output, with FLY_TEST_MACHINE_IP, is in the events: {log}"
    );
    assert!(log.contains("[revert]"), "{log}");
    for m in managed(&tb, app).await {
        assert_eq!(
            m.config.env.get("MARK").map(String::as_str),
            Some("v1"),
            "{}",
            m.id
        );
    }

    let (passed, events) = deploy(&tb, app, &request(&image.reference, &with_check("v3", 0))).await;
    let log = messages(&events);
    assert_eq!(passed.state, DeployState::Succeeded, "{log}");
    assert_eq!(
        events
            .iter()
            .filter(|e| e.phase == "machine_check" && e.message == "passed")
            .count(),
        before.len(),
        "one check per updated Machine: {log}"
    );
    for m in managed(&tb, app).await {
        assert_eq!(
            m.config.env.get("MARK").map(String::as_str),
            Some("v3"),
            "{}",
            m.id
        );
    }
    let left: Vec<_> = tb
        .client
        .list_machines(app, &Default::default())
        .await
        .unwrap()
        .into_iter()
        .filter(|m| m.state.to_string() != "destroyed")
        .filter(|m| before.iter().all(|b| b.id != m.id))
        .collect();
    assert!(
        left.is_empty(),
        "every test Machine is destroyed: {left:#?}"
    );
    tb.stop().await;
}
