//! The test harness: boots a whole single-host platform in-process (store,
//! agent with the process driver, API on 127.0.0.1:0), builds small OCI
//! images from files the test writes, and waits on conditions with a bound.

mod images;
mod wait;

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use hangar::platform::{DriverChoice, Platform, PlatformOptions};
use hangar_agent::Subnets;
use hangar_client::Client;

pub use images::{busybox_image, busybox_path, BusyboxImage};
pub use wait::{wait_until, wait_until_async};

/// Whether the tests run as root (isolation, cgroups, networks need it).
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Prints a loud skip notice; returns true when the test must skip.
pub fn skip_unless_root(test: &str) -> bool {
    if is_root() {
        return false;
    }
    eprintln!("SKIPPED {test}: needs root (namespaces, cgroups, bridge networking); run the tests as root");
    true
}

static NEXT_NET: AtomicU32 = AtomicU32::new(0);

/// A testbed network number `N` (bridge `hgtN`, subnet 172.31.N.0/24) that
/// no bridge and no route on the host uses yet: a subnet left behind by an
/// earlier test binary would otherwise shadow this one's and make Machines
/// unreachable.
fn free_net() -> u8 {
    let routes = std::fs::read_to_string("/proc/net/route").unwrap_or_default();
    let routed: Vec<(u32, u32)> = routes
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let parse = |hex: &str| u32::from_str_radix(hex, 16).ok();
            // Destination and mask are printed as raw network-order words.
            let dest = u32::from_be_bytes(parse(fields.get(1)?)?.to_ne_bytes());
            let mask = u32::from_be_bytes(parse(fields.get(7)?)?.to_ne_bytes());
            (mask != 0).then_some((dest, mask))
        })
        .collect();
    let mut candidate = 0;
    for _ in 0..250 {
        candidate =
            ((std::process::id() * 7 + NEXT_NET.fetch_add(1, Ordering::Relaxed)) % 250) as u8;
        let subnet = u32::from(Ipv4Addr::new(172, 31, candidate, 0));
        let overlaps = routed
            .iter()
            .any(|(dest, mask)| dest & mask == subnet & mask || dest & 0xffff_ff00 == subnet);
        let bridge_exists = Path::new(&format!("/sys/class/net/hgt{candidate}")).exists();
        if !overlaps && !bridge_exists {
            return candidate;
        }
    }
    candidate
}

/// A running platform with a client, in a temporary directory.
pub struct Testbed {
    pub platform: Platform,
    pub client: Client,
    pub init_exe: PathBuf,
    dir: tempfile::TempDir,
    net: u8,
    driver: DriverChoice,
}

/// Where the Machine init program is: `$HANGAR_INIT_EXE`, else the `hangar`
/// binary beside the test executable (target/<profile>/hangar).
fn default_init_exe() -> PathBuf {
    if let Some(p) = std::env::var_os("HANGAR_INIT_EXE") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("test executable path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps");
    profile_dir.join("hangar")
}

impl Testbed {
    /// Boots a platform; `init_exe` is the `hangar` binary (tests of the
    /// `hangar` crate pass `env!("CARGO_BIN_EXE_hangar")`).
    pub async fn start(init_exe: Option<&str>) -> anyhow::Result<Testbed> {
        Self::start_with_driver(init_exe, DriverChoice::Process).await
    }

    /// [`Testbed::start`] with Machines run by `driver`.
    pub async fn start_with_driver(
        init_exe: Option<&str>,
        driver: DriverChoice,
    ) -> anyhow::Result<Testbed> {
        let dir = tempfile::Builder::new()
            .prefix("hangar-testbed-")
            .tempdir()?;
        let init_exe = init_exe.map(PathBuf::from).unwrap_or_else(default_init_exe);
        let net = free_net();
        let mut testbed = Testbed {
            platform: Self::boot(dir.path(), &init_exe, net, driver).await?,
            client: Client::new("http://127.0.0.1:1", "x")?,
            init_exe,
            dir,
            net,
            driver,
        };
        testbed.client = Client::new(&testbed.platform.url, testbed.platform.token.clone())?;
        Ok(testbed)
    }

    async fn boot(
        data_dir: &Path,
        init_exe: &Path,
        net: u8,
        driver: DriverChoice,
    ) -> anyhow::Result<Platform> {
        Platform::start(PlatformOptions {
            data_dir: data_dir.to_path_buf(),
            api_listen: "127.0.0.1:0".parse()?,
            token: None,
            region: "dev".into(),
            init_exe: init_exe.to_path_buf(),
            init_args: vec!["machine-init".into()],
            bridge: format!("hgt{net}"),
            subnets: Subnets {
                ipv4: Ipv4Addr::new(172, 31, net, 0),
                ipv4_prefix: 24,
                ipv6: format!("fdaa:0:49:{net:x}::").parse()?,
                ipv6_prefix: 64,
            },
            allowed_image_sources: Vec::new(),
            proxy: Some(hangar::platform::ProxyOptions {
                listen: "127.0.0.1:0".parse()?,
                app_domain: "localhost".into(),
                public_port: 80,
                metrics_listen: None,
                tcp_ip: Some(std::net::IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1))),
                tls_listen: Some("127.0.0.1:0".parse()?),
                tls_cert_dir: None,
                workers: 2,
            }),
            driver,
        })
        .await
    }

    /// Stops the API and the agent's actors and boots a new platform on the
    /// same data directory, as a restart of `hangar dev` would.
    pub async fn restart(self) -> anyhow::Result<Testbed> {
        let Testbed {
            platform,
            init_exe,
            dir,
            net,
            driver,
            ..
        } = self;
        platform.stop().await;
        let platform = Self::boot(dir.path(), &init_exe, net, driver).await?;
        let client = Client::new(&platform.url, platform.token.clone())?;
        Ok(Testbed {
            platform,
            client,
            init_exe,
            dir,
            net,
            driver,
        })
    }

    /// Stops the platform, freeing what its Machines hold on the host,
    /// and removes the testbed's bridge.
    pub async fn stop(self) {
        self.platform.stop().await;
        let _ = tokio::process::Command::new("ip")
            .args(["link", "del", &format!("hgt{}", self.net)])
            .output()
            .await;
    }

    /// The platform's data directory.
    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    /// A directory for test files.
    pub fn scratch(&self, name: &str) -> PathBuf {
        let p = self.dir.path().join("scratch").join(name);
        std::fs::create_dir_all(&p).expect("scratch dir");
        p
    }
}
