//! Shared test helpers: the invmon binary with a clean environment, a replay
//! agent, fleets of recorded devices, and a misbehaving agent.

pub mod misbehave;
pub mod netbox_api;
pub mod proxy;
pub mod sal;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use invmon::snapshot::Snapshot;
use invmon::snapshot::checkin::INVENTORY_SOURCE;
use invmon::snapshot::store::{Selector, Store};

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

pub fn walks() -> PathBuf {
    fixtures().join("walks")
}

/// Recordings of shapes no public recording has, made from real ones.
pub fn derived() -> PathBuf {
    fixtures().join("derived")
}

/// A plain HTTP client for tests (rustls with the crypto provider invmon uses).
pub fn blocking_http() -> reqwest::blocking::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap()
}

/// `invmon` run in `dir` with only the environment a test gives it.
pub struct Invmon {
    cmd: Command,
}

impl Invmon {
    pub fn new(dir: &Path) -> Self {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_invmon"));
        cmd.current_dir(dir)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default());
        Invmon { cmd }
    }

    pub fn args<I: IntoIterator<Item = S>, S: AsRef<std::ffi::OsStr>>(mut self, args: I) -> Self {
        self.cmd.args(args);
        self
    }

    pub fn arg(mut self, arg: impl AsRef<std::ffi::OsStr>) -> Self {
        self.cmd.arg(arg);
        self
    }

    pub fn env(mut self, key: &str, value: impl AsRef<std::ffi::OsStr>) -> Self {
        self.cmd.env(key, value);
        self
    }

    /// Starts the command with stdout piped, for a reader that stops early.
    pub fn spawn_piped(mut self) -> Child {
        self.cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("invmon starts")
    }

    pub fn run(mut self) -> Run {
        let out: Output = self.cmd.output().expect("invmon runs");
        Run {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

#[derive(Debug)]
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn all(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}

/// `invmon replay` on a free loopback port; stopped when dropped.
pub struct Replay {
    child: Child,
    pub addr: String,
    work: tempfile::TempDir,
}

impl Replay {
    pub fn start(dir: &Path, users: &[&str]) -> Replay {
        Replay::start_with(dir, users, None)
    }

    /// With a fleet file (docs/replay.md) of this JSON text.
    pub fn simulating(dir: &Path, fleet: &str) -> Replay {
        Replay::start_with(dir, &[], Some(fleet))
    }

    /// With SNMPv3 users and a fleet file.
    pub fn simulating_v3(dir: &Path, users: &[&str], fleet: &str) -> Replay {
        Replay::start_with(dir, users, Some(fleet))
    }

    fn start_with(dir: &Path, users: &[&str], fleet: Option<&str>) -> Replay {
        let scratch = tempfile::tempdir().unwrap();
        let work = scratch.path().to_owned();
        let users_file = work.join("users");
        std::fs::write(&users_file, users.join("\n")).unwrap();
        let ready = work.join("ready");
        let mut command = Command::new(env!("CARGO_BIN_EXE_invmon"));
        command.arg("replay");
        if let Some(fleet) = fleet {
            std::fs::write(work.join("fleet.json"), fleet).unwrap();
            command.arg("--fleet").arg(work.join("fleet.json"));
        }
        let child = command
            .current_dir(&work)
            .env_clear()
            .args(["--listen", "127.0.0.1:0", "--log-level", "WARNING"])
            .arg("--dir")
            .arg(dir)
            .arg("--v3-users-file")
            .arg(&users_file)
            .arg("--ready-file")
            .arg(&ready)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(work.join("stderr")).unwrap())
            .spawn()
            .expect("replay starts");
        let mut replay = Replay {
            child,
            addr: String::new(),
            work: scratch,
        };
        let started = Instant::now();
        loop {
            if let Ok(addr) = std::fs::read_to_string(&ready)
                && !addr.is_empty()
            {
                replay.addr = addr;
                return replay;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "replay agent did not start: {}",
                replay.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Replay {
    /// What the agent has printed so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.work.path().join("stderr")).unwrap_or_default()
    }
}

impl Drop for Replay {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Devices for a targets file: (device name, address, community or context, extra set lines).
pub struct Fleet {
    rows: Vec<String>,
    env: Vec<String>,
}

impl Fleet {
    pub fn new() -> Fleet {
        Fleet {
            rows: vec!["name,address,platform,site,location,netbox_id,credentials".into()],
            // Loopback agents answer in milliseconds; flags still override this.
            env: vec!["SNMP_TIMEOUT=0.5".to_owned()],
        }
    }

    /// A device answering v2c with `community`.
    pub fn v2c(mut self, name: &str, addr: &str, community: &str) -> Fleet {
        let set = format!("S{}", self.rows.len());
        self.rows.push(format!("{name},{addr},,,,,{set}"));
        self.env.push(format!("SNMP_VERSION__{set}=2"));
        self.env.push(format!("SNMP_COMMUNITY__{set}={community}"));
        self
    }

    /// A device answering v3 with the given set variables (without the `__SET` suffix).
    pub fn v3(mut self, name: &str, addr: &str, settings: &[(&str, &str)]) -> Fleet {
        let set = format!("S{}", self.rows.len());
        self.rows.push(format!("{name},{addr},,,,,{set}"));
        self.env.push(format!("SNMP_VERSION__{set}=3"));
        for (k, v) in settings {
            self.env.push(format!("{k}__{set}={v}"));
        }
        self
    }

    /// Writes `targets.csv` and `fleet.env` into `dir`.
    pub fn write(&self, dir: &Path) {
        std::fs::write(dir.join("targets.csv"), self.rows.join("\n") + "\n").unwrap();
        std::fs::write(dir.join("fleet.env"), self.env.join("\n") + "\n").unwrap();
    }
}

/// `invmon collect` of the fleet written into `dir`, store `dir/snapshots`.
pub fn collect(dir: &Path) -> Invmon {
    Invmon::new(dir).args([
        "collect",
        "--env-file",
        "fleet.env",
        "--targets",
        "targets.csv",
        "--snapshots",
        "snapshots",
    ])
}

/// The device's newest snapshot; every snapshot a test looks at must also
/// be a checkin Sal accepts.
pub fn latest(dir: &Path, device: &str) -> Snapshot {
    let store = Store::new(dir.join("snapshots"));
    let entry = store.select(device, &Selector::Latest(0)).unwrap();
    let snapshot = invmon::snapshot::codec::read(&entry.path).unwrap();
    assert_sal_accepts(&snapshot);
    snapshot
}

pub fn assert_sal_accepts(snapshot: &Snapshot) {
    use invmon::sal::contract::{Request, basic_auth, check};
    let body =
        invmon::sal::document::body(&invmon::sal::document::document(snapshot, None), "testkey");
    let auth = basic_auth("testkey");
    let request = Request {
        method: "POST",
        path: "/checkin/",
        authorization: Some(&auth),
        content_type: Some("application/json"),
        body: &body,
    };
    let verdict = check(&request, Some(&["testkey"]));
    assert_eq!(
        verdict.status, 200,
        "{}: Sal would refuse this checkin: {verdict:?}",
        snapshot.device.name
    );
}

pub fn messages(snapshot: &Snapshot) -> String {
    snapshot.checkin.sources[INVENTORY_SOURCE]
        .messages
        .iter()
        .map(|m| format!("{:?}: {}", m.message_type, m.text))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The items a snapshot records as present.
pub fn present_items(snapshot: &Snapshot) -> Vec<invmon::inventory::Item> {
    snapshot.checkin.sources[INVENTORY_SOURCE]
        .managed_items
        .values()
        .filter(|m| m.status == invmon::snapshot::checkin::ItemStatus::Present)
        .map(|m| m.item().expect("item data"))
        .collect()
}

/// What the parser makes of a fixture recording, offline.
pub fn expected_items(recording: &str) -> Vec<invmon::inventory::Item> {
    let walk = invmon::walk::snmprec::read(&walks().join(format!("{recording}.snmprec"))).unwrap();
    let oid = "1.3.6.1.2.1.1.2.0".parse().unwrap();
    let sys = match walk.get(&oid) {
        Some(invmon::walk::Value::ObjectIdentifier(o)) => Some(o.clone()),
        _ => None,
    };
    invmon::inventory::parsers::Vendor::choose("", sys.as_deref())
        .parse(&walk)
        .items
}

/// Copies fixture recordings (from walks/, else derived/) into a fresh
/// directory, optionally renamed.
pub fn recordings(pairs: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (from, to) in pairs {
        let file = format!("{from}.snmprec");
        let source = if walks().join(&file).exists() {
            walks().join(&file)
        } else {
            derived().join(&file)
        };
        std::fs::copy(source, dir.path().join(format!("{to}.snmprec"))).unwrap();
    }
    dir
}

pub fn sorted(mut items: Vec<invmon::inventory::Item>) -> Vec<invmon::inventory::Item> {
    items.sort_by(|a, b| a.index.cmp(&b.index));
    items
}

/// Writes a snapshot of `items` with invmon's own writer, as collect would.
pub fn write_snapshot(
    store: &Store,
    device: &str,
    at: &str,
    status: invmon::snapshot::Status,
    items: &[invmon::inventory::Item],
) {
    let at: chrono::DateTime<chrono::Utc> = at.parse().unwrap();
    let (previous, _) = store.latest_ok(device);
    let dev = invmon::snapshot::Device {
        name: device.into(),
        ..invmon::snapshot::Device::default()
    };
    let checkin = invmon::snapshot::checkin::build(invmon::snapshot::checkin::Collected {
        device: &dev,
        at,
        status,
        items: items.to_vec(),
        notices: &[],
        facts: [("vendor_parser".to_owned(), "cisco".to_owned())].into(),
        os_family: "Network",
        previous: previous.as_ref(),
    });
    let reason = (status != invmon::snapshot::Status::Ok).then(|| "no SNMP answer".to_owned());
    let mut s = Snapshot::new(
        at,
        dev,
        invmon::snapshot::Outcome {
            status,
            reason,
            duration_ms: 1,
        },
        checkin,
    );
    store.write(&mut s).unwrap();
}
