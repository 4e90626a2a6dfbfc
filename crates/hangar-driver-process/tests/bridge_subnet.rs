//! A bridge left by an earlier run with another subnet is brought to the
//! configured one at start-up, unless a Machine still uses the old subnet.

mod common;

use std::net::{Ipv4Addr, Ipv6Addr};
use std::process::Command;
use std::time::{Duration, Instant};

use hangar_driver::conformance::base_spec;
use hangar_driver::{Driver, NetworkSpec};
use hangar_driver_process::{MachineAddress, ProcessDriver, ProcessDriverConfig};
use tokio::io::AsyncReadExt;

/// This test's own bridge and subnets (10.78.1.0/24 → 10.78.2.0/24, fdaa:0:5c::/64).
const BRIDGE: &str = "hgsubnet0";
const OLD_GATEWAY4: &str = "10.78.1.1/24";
const NEW_GATEWAY4: Ipv4Addr = Ipv4Addr::new(10, 78, 2, 1);
const GATEWAY6: Ipv6Addr = Ipv6Addr::new(0xfdaa, 0, 0x5c, 0, 0, 0, 0, 1);

fn ip(args: &[&str]) -> String {
    let output = Command::new("ip").args(args).output().expect("run ip");
    assert!(
        output.status.success(),
        "ip {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The bridge's global addresses as `ip -o addr` prints them (`a.b.c.d/n`), sorted.
fn bridge_addresses() -> Vec<String> {
    let mut addresses: Vec<String> = ip(&["-o", "addr", "show", "dev", BRIDGE, "scope", "global"])
        .lines()
        .filter_map(|line| line.split_whitespace().nth(3).map(str::to_owned))
        .collect();
    addresses.sort();
    addresses
}

/// The bridge as an earlier run with 10.78.1.0/24 left it.
fn leave_old_bridge() {
    for leftover in ["hgsubnet0p", BRIDGE] {
        if std::path::Path::new("/sys/class/net")
            .join(leftover)
            .exists()
        {
            ip(&["link", "del", leftover]);
        }
    }
    ip(&["link", "add", "name", BRIDGE, "type", "bridge"]);
    ip(&["addr", "add", OLD_GATEWAY4, "dev", BRIDGE]);
    ip(&["addr", "add", "fdaa:0:5c::1/64", "dev", BRIDGE, "nodad"]);
    ip(&["link", "set", BRIDGE, "up"]);
}

fn new_subnet_driver(fixture: &common::Fixture) -> ProcessDriver {
    let mut config = ProcessDriverConfig::new(fixture.dir.path().join("state"), common::init_exe());
    config.bridge = BRIDGE.into();
    config.gateway4 = NEW_GATEWAY4;
    config.subnet4_prefix = 24;
    config.gateway6 = GATEWAY6;
    config.subnet6_prefix = 64;
    ProcessDriver::new(config).expect("process driver")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bridge_left_with_another_subnet_is_moved_to_the_configured_one() {
    if common::skip_unless_root_with_busybox(
        "a_bridge_left_with_another_subnet_is_moved_to_the_configured_one",
    ) {
        return;
    }
    let fixture = common::busybox_image();
    leave_old_bridge();
    let driver = new_subnet_driver(&fixture);

    // A Machine still holding an old address: refused, and the bridge untouched.
    let old_user = MachineAddress {
        machine_id: "m-old-subnet".into(),
        ip: "10.78.1.7".parse().unwrap(),
    };
    let err = driver
        .prepare_bridge(std::slice::from_ref(&old_user))
        .expect_err("a machine still uses the old subnet")
        .to_string();
    for part in [
        BRIDGE,
        "10.78.1.0/24",
        "10.78.2.0/24",
        "m-old-subnet (10.78.1.7)",
        "--machine-subnet 10.78.1.0/24",
        "destroy",
        "--bridge",
    ] {
        assert!(err.contains(part), "the refusal mentions {part:?}: {err}");
    }
    assert_eq!(bridge_addresses(), ["10.78.1.1/24", "fdaa:0:5c::1/64"]);

    // An interface on the bridge (a Machine this agent does not know):
    // refused too, naming it.
    ip(&[
        "link",
        "add",
        "hgsubnet0p",
        "type",
        "veth",
        "peer",
        "name",
        "hgsubnet0q",
    ]);
    ip(&["link", "set", "hgsubnet0p", "master", BRIDGE]);
    let err = driver
        .prepare_bridge(&[])
        .expect_err("the bridge still has a port")
        .to_string();
    assert!(
        err.contains("hgsubnet0p") && err.contains("--machine-subnet 10.78.1.0/24"),
        "the refusal names the attached interface: {err}"
    );
    assert_eq!(bridge_addresses(), ["10.78.1.1/24", "fdaa:0:5c::1/64"]);
    ip(&["link", "del", "hgsubnet0p"]);

    // No Machine in the old subnet: the old gateway gives way to the new one.
    let new_user = MachineAddress {
        machine_id: "m-new-subnet".into(),
        ip: "10.78.2.9".parse().unwrap(),
    };
    driver
        .prepare_bridge(&[new_user])
        .expect("prepare the bridge");
    assert_eq!(bridge_addresses(), ["10.78.2.1/24", "fdaa:0:5c::1/64"]);

    // A Machine in the new subnet is reachable from the host.
    let mut spec = base_spec(
        &fixture.image,
        &["/bin/sh", "-c", "echo reached | nc -l -p 8080"],
    );
    spec.network = Some(NetworkSpec {
        ipv4: Ipv4Addr::new(10, 78, 2, 5),
        ipv4_prefix: 24,
        gateway4: NEW_GATEWAY4,
        ipv6: Ipv6Addr::new(0xfdaa, 0, 0x5c, 0, 0, 0, 0, 5),
        ipv6_prefix: 64,
        gateway6: GATEWAY6,
    });
    let task = driver.start(&spec).await.expect("start a machine");
    let reply = read_eventually((Ipv4Addr::new(10, 78, 2, 5), 8080).into()).await;
    assert_eq!(reply.trim(), "reached");
    driver.kill(&task.handle).await.expect("kill");
    let _ = tokio::time::timeout(common::PROMPT, task.exit).await;
    driver.cleanup(&task.handle).await.expect("cleanup");
    ip(&["link", "del", BRIDGE]);
}

/// What the server at `address` sends, retried until it listens (bounded).
async fn read_eventually(address: std::net::SocketAddr) -> String {
    let deadline = Instant::now() + common::PROMPT;
    loop {
        let attempt = tokio::time::timeout(Duration::from_secs(2), async {
            let mut stream = tokio::net::TcpStream::connect(address).await?;
            let mut reply = String::new();
            stream.read_to_string(&mut reply).await?;
            Ok::<_, std::io::Error>(reply)
        })
        .await;
        match attempt {
            Ok(Ok(reply)) if !reply.is_empty() => return reply,
            other if Instant::now() >= deadline => {
                panic!("{address} kept failing: {other:?}")
            }
            _ => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}
