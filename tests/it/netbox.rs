//! Against a real NetBox with the inventory-monitor plugin, started by
//! scripts/netbox-up. `scripts/test` starts it and runs these ignored tests;
//! a plain `cargo test` reports them ignored, and run without NetBox they fail.

use serde_json::{Value as Json, json};

use crate::support::netbox_api::Api;
use crate::support::*;

fn netbox() -> (String, String) {
    let var = |name: &str| {
        std::env::var(name).unwrap_or_else(|_| {
            panic!("{name} is not set: NetBox is not running (scripts/test starts it)")
        })
    };
    (var("INVMON_NETBOX_URL"), var("INVMON_NETBOX_TOKEN"))
}

/// Builds devices in NetBox; names carry a per-test suffix so reruns never collide.
struct Lab {
    api: Api,
    suffix: String,
}

impl Lab {
    fn new(url: &str, token: &str) -> Lab {
        let api = Api::new(url, token);
        let suffix = format!(
            "{:x}",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
                & 0xffff_ffff
        );
        Lab { api, suffix }
    }

    fn post(&self, path: &str, body: Json) -> Json {
        self.api
            .request("POST", path, Some(&body))
            .unwrap_or_else(|e| panic!("POST {path} {body}: {e}"))
    }

    fn name(&self, base: &str) -> String {
        format!("{base}-{}", self.suffix)
    }

    /// Per-run addresses: NetBox refuses duplicate IPs.
    fn ip4(&self, host: u8) -> String {
        let n = u32::from_str_radix(&self.suffix, 16).unwrap_or(0);
        format!("10.{}.{}.{host}", (n >> 8) & 0xff, n & 0xff)
    }

    fn ip6(&self, host: u16) -> String {
        let n = u32::from_str_radix(&self.suffix, 16).unwrap_or(0);
        format!("2001:db8:{:x}:{:x}::{host:x}", n >> 16, n & 0xffff)
    }

    /// A device with an interface and, optionally, a primary IP.
    fn device(
        &self,
        name: &str,
        site: i64,
        platform: Option<i64>,
        status: &str,
        tags: &[&str],
        ip: Option<&str>,
    ) -> i64 {
        let (dtype, role) = self.basics();
        let tags: Vec<Json> = tags.iter().map(|t| json!({"slug": self.name(t)})).collect();
        let dev = self.post(
            "api/dcim/devices/",
            json!({"name": self.name(name), "device_type": dtype, "role": role, "site": site, "status": status, "platform": platform, "tags": tags}),
        );
        let id = dev["id"].as_i64().unwrap();
        if let Some(address) = ip {
            let iface = self.post(
                "api/dcim/interfaces/",
                json!({"device": id, "name": "mgmt0", "type": "virtual"}),
            );
            let ipobj = self.post(
                "api/ipam/ip-addresses/",
                json!({"address": address, "assigned_object_type": "dcim.interface", "assigned_object_id": iface["id"]}),
            );
            let field = if address.contains(':') {
                "primary_ip6"
            } else {
                "primary_ip4"
            };
            self.api
                .request(
                    "PATCH",
                    &format!("api/dcim/devices/{id}/"),
                    Some(&json!({field: ipobj["id"]})),
                )
                .unwrap();
        }
        id
    }

    fn basics(&self) -> (i64, i64) {
        let slug = self.name("lab");
        let found = self
            .api
            .get_all(&format!("api/dcim/device-types/?slug={slug}"))
            .unwrap();
        if let Some(t) = found.first() {
            let role = self
                .api
                .get_all(&format!("api/dcim/device-roles/?slug={slug}"))
                .unwrap();
            return (t["id"].as_i64().unwrap(), role[0]["id"].as_i64().unwrap());
        }
        let mfr = self.post(
            "api/dcim/manufacturers/",
            json!({"name": slug, "slug": slug}),
        );
        let dtype = self.post(
            "api/dcim/device-types/",
            json!({"manufacturer": mfr["id"], "model": slug, "slug": slug}),
        );
        let role = self.post(
            "api/dcim/device-roles/",
            json!({"name": slug, "slug": slug, "color": "00ff00"}),
        );
        (dtype["id"].as_i64().unwrap(), role["id"].as_i64().unwrap())
    }
}

#[test]
#[ignore = "needs NetBox: scripts/test starts it"]
fn targets_exports_the_seeds_selection() {
    let (url, token) = netbox();
    let lab = Lab::new(&url, &token);
    for tag in ["core", "decom"] {
        lab.post(
            "api/extras/tags/",
            json!({"name": lab.name(tag), "slug": lab.name(tag)}),
        );
    }
    let site = lab.post(
        "api/dcim/sites/",
        json!({"name": lab.name("prg"), "slug": lab.name("prg")}),
    )["id"]
        .as_i64()
        .unwrap();
    let junos = lab.post(
        "api/dcim/platforms/",
        json!({"name": lab.name("junos"), "slug": lab.name("junos")}),
    )["id"]
        .as_i64()
        .unwrap();
    let r1 = lab.device(
        "r1",
        site,
        Some(junos),
        "active",
        &["core"],
        Some(&format!("{}/24", lab.ip4(11))),
    );
    lab.device(
        "r2",
        site,
        None,
        "active",
        &["core", "decom"],
        Some(&format!("{}/24", lab.ip4(12))),
    );
    lab.device(
        "r3",
        site,
        None,
        "planned",
        &["core"],
        Some(&format!("{}/24", lab.ip4(13))),
    );
    lab.device("r4", site, None, "active", &["core"], None);
    let r5 = lab.device(
        "r5",
        site,
        None,
        "active",
        &["core"],
        Some(&format!("{}/64", lab.ip6(0x15))),
    );
    let work = tempfile::tempdir().unwrap();
    let run = Invmon::new(work.path())
        .args(["targets", "--out", "targets.csv"])
        .env("NETBOX_INSTANCE_URL", &url)
        .env("NETBOX_API_TOKEN", &token)
        .env("NETBOX_TAGS", lab.name("core"))
        .env("NETBOX_TAGS__N", lab.name("decom"))
        .run();
    assert_eq!(run.code, Some(0), "{}", run.all());
    let csv = std::fs::read_to_string(work.path().join("targets.csv")).unwrap();
    let expected = format!(
        "name,address,platform,site,location,netbox_id,credentials\n{},{},{},{},,{r1},\n{},[{}],,{},,{r5},\n",
        lab.name("r1"),
        lab.ip4(11),
        lab.name("junos"),
        lab.name("prg"),
        lab.name("r5"),
        lab.ip6(0x15),
        lab.name("prg")
    );
    assert_eq!(csv, expected);
    assert!(!run.all().contains(&token));
    // Per-region credential sets from NetBox: here, the site.
    let by_site = Invmon::new(work.path())
        .args([
            "targets",
            "--credentials-from",
            "site",
            "--device",
            &lab.name("r1"),
        ])
        .env("NETBOX_INSTANCE_URL", &url)
        .env("NETBOX_API_TOKEN", &token)
        .run();
    assert!(
        by_site
            .stdout
            .ends_with(&format!(",{r1},{}\n", lab.name("prg"))),
        "{}",
        by_site.all()
    );
    // The export is what collect reads.
    let (targets, errors) =
        invmon::config::targets::load(&work.path().join("targets.csv")).unwrap();
    assert_eq!((targets.len(), errors.len()), (2, 0));

    let json = Invmon::new(work.path())
        .args(["targets", "--format", "json", "--device", &lab.name("r1")])
        .env("NETBOX_INSTANCE_URL", &url)
        .env("NETBOX_API_TOKEN", &token)
        .run();
    let parsed: Json =
        serde_json::from_str(&json.stdout).unwrap_or_else(|e| panic!("{e}: {}", json.all()));
    assert_eq!(parsed[0]["netbox_id"], r1);
}

#[test]
#[ignore = "needs NetBox: scripts/test starts it"]
fn bad_token_is_explained() {
    let (url, _) = netbox();
    let work = tempfile::tempdir().unwrap();
    let run = Invmon::new(work.path())
        .args(["targets"])
        .env("NETBOX_INSTANCE_URL", &url)
        .env(
            "NETBOX_API_TOKEN",
            "nbt_invalid00000.0000000000000000000000000000000000000000",
        )
        .run();
    assert_eq!(run.code, Some(1), "{}", run.all());
    assert!(
        run.stderr.contains("NetBox refused the token") && run.stderr.contains("NETBOX_API_TOKEN"),
        "{}",
        run.stderr
    );
    assert!(
        !run.stderr
            .contains("0000000000000000000000000000000000000000"),
        "the token is never printed"
    );
}

/// Probes of a NetBox device, by serial.
fn probes(lab: &Lab, device: i64) -> Vec<Json> {
    lab.api
        .get_all(&format!(
            "api/plugins/inventory-monitor/probes/?device_id={device}&limit=1000&ordering=id"
        ))
        .unwrap()
}

fn ship(work: &std::path::Path, url: &str, token: &str) -> Run {
    Invmon::new(work)
        .args(["ship", "--to", "netbox", "--snapshots", "snapshots"])
        .env("NETBOX_INSTANCE_URL", url)
        .env("NETBOX_API_TOKEN", token)
        .run()
}

#[test]
#[ignore = "needs NetBox: scripts/test starts it"]
fn ship_creates_the_seeds_probes_once_and_follows_changes() {
    let (url, token) = netbox();
    let lab = Lab::new(&url, &token);
    let site = lab.post(
        "api/dcim/sites/",
        json!({"name": lab.name("brn"), "slug": lab.name("brn")}),
    )["id"]
        .as_i64()
        .unwrap();
    let location = lab.post(
        "api/dcim/locations/",
        json!({"name": lab.name("room"), "slug": lab.name("room"), "site": site}),
    )["id"]
        .as_i64()
        .unwrap();
    let r1 = lab.device(
        "sw1",
        site,
        None,
        "active",
        &[],
        Some(&format!("{}/24", lab.ip4(21))),
    );
    lab.api
        .request(
            "PATCH",
            &format!("api/dcim/devices/{r1}/"),
            Some(&json!({"location": location})),
        )
        .unwrap();
    let work = tempfile::tempdir().unwrap();
    // The DMZ side exports targets; the collector side points them at the
    // (replayed) devices it can reach.
    let export = Invmon::new(work.path())
        .args([
            "targets",
            "--device",
            &lab.name("sw1"),
            "--out",
            "exported.csv",
        ])
        .env("NETBOX_INSTANCE_URL", &url)
        .env("NETBOX_API_TOKEN", &token)
        .run();
    assert_eq!(export.code, Some(0), "{}", export.all());
    let recs = tempfile::tempdir().unwrap();
    let recording = std::fs::read_to_string(walks().join("cisco-n5000.snmprec")).unwrap();
    std::fs::write(recs.path().join("sw1.snmprec"), &recording).unwrap();
    let exported = std::fs::read_to_string(work.path().join("exported.csv")).unwrap();
    let point_at = |addr: &str| {
        let row = exported.lines().nth(1).unwrap().replace(&lab.ip4(21), addr);
        std::fs::write(
            work.path().join("targets.csv"),
            format!("name,address,platform,site,location,netbox_id\n{row}\n"),
        )
        .unwrap();
    };
    let collect_from = |community: &str| {
        let run = Invmon::new(work.path())
            .args([
                "collect",
                "--targets",
                "targets.csv",
                "--snapshots",
                "snapshots",
                "--snmp-timeout",
                "5",
            ])
            .env("SNMP_VERSION", "2")
            .env("SNMP_COMMUNITY", community)
            .run();
        assert_eq!(run.code, Some(0), "{}", run.all());
    };
    // The first collection from snmpsim (the third-party agent) when the suite runs it.
    match std::env::var("INVMON_SNMPSIM") {
        Ok(snmpsim) => {
            point_at(&snmpsim);
            collect_from("cisco-n5000");
        }
        Err(_) => {
            let agent = Replay::start(recs.path(), &[]);
            point_at(&agent.addr);
            collect_from("sw1");
        }
    }
    let run = ship(work.path(), &url, &token);
    assert_eq!(run.code, Some(0), "{}", run.all());

    // Field by field: what the seed's rules give for the merged rows.
    let snap = latest(work.path(), &lab.name("sw1"));
    let items = present_items(&snap);
    let rows = invmon::netbox::plan::merge(&items, &[]);
    let dev = invmon::netbox::plan::DeviceRef::from_api(
        &lab.api
            .request("GET", &format!("api/dcim/devices/{r1}/"), None)
            .unwrap(),
    )
    .unwrap();
    let stored = probes(&lab, r1);
    assert_eq!(stored.len(), rows.len(), "one probe per serial");
    for item in rows.values() {
        let want = invmon::netbox::plan::probe_fields(item, &dev);
        let got = stored
            .iter()
            .find(|p| p["serial"] == want["serial"])
            .unwrap_or_else(|| panic!("no probe for {}", want["serial"]));
        for field in [
            "name",
            "part",
            "category",
            "description",
            "device_descriptor",
            "site_descriptor",
            "location_descriptor",
        ] {
            assert_eq!(
                got[field].as_str().unwrap_or(""),
                want[field].as_str().unwrap_or(""),
                "{} {field}",
                want["serial"]
            );
        }
        assert_eq!(got["device"]["id"], r1);
        assert_eq!(got["location"]["id"], location);
        let time = chrono::DateTime::parse_from_rfc3339(got["time"].as_str().unwrap()).unwrap();
        assert_eq!(time, snap.collected_at, "time is when the part was seen");
        assert_eq!(
            got["discovered_data"]["entPhysicalSerialNum"],
            want["serial"]
        );
    }

    // Nothing new: zero writes.
    let again = ship(work.path(), &url, &token);
    assert!(
        again
            .stdout
            .contains("netbox: 0 snapshots shipped, 0 new probes, 0 time updates"),
        "{}",
        again.stdout
    );

    // A ledger lost after NetBox took the writes (an interrupted run): no duplicates.
    let ledger = std::fs::read_dir(work.path().join("state"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with(".journal"))
        .unwrap();
    std::fs::remove_file(&ledger).unwrap();
    let rerun = ship(work.path(), &url, &token);
    assert!(
        rerun.stdout.contains(&format!(
            "0 new probes, 0 time updates, {} unchanged",
            rows.len()
        )),
        "{}",
        rerun.stdout
    );
    assert_eq!(probes(&lab, r1).len(), rows.len());

    // One module changes, and three collections wait: shipped in order, each with its time.
    // The daughter card's model (hex-encoded in the recording) changes.
    let changed = recording.replace("4e35352d443136304c332d5632", "4e35352d443136304c332d5633");
    assert!(
        changed != recording,
        "the recording holds the module's model"
    );
    std::fs::write(recs.path().join("sw1.snmprec"), changed).unwrap();
    let agent = Replay::start(recs.path(), &[]);
    point_at(&agent.addr);
    collect_from("sw1");
    collect_from("sw1");
    collect_from("sw1");
    // NetBox unreachable: a clean failure, and the ledger does not move.
    let before = std::fs::read(&ledger).unwrap();
    let closed = format!(
        "http://127.0.0.1:{}/",
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    );
    let down = ship(work.path(), &closed, &token);
    assert_eq!(down.code, Some(3), "{}", down.all());
    assert_eq!(std::fs::read(&ledger).unwrap(), before);
    let backlog = ship(work.path(), &url, &token);
    assert_eq!(backlog.code, Some(0), "{}", backlog.all());
    let shipped: Vec<&str> = backlog
        .stdout
        .lines()
        .filter(|l| l.starts_with("shipped"))
        .collect();
    assert_eq!(shipped.len(), 3, "{}", backlog.stdout);
    assert!(
        shipped[0].contains(": 1 new probes, "),
        "the changed module: {}",
        shipped[0]
    );
    assert!(
        shipped[1].contains(": 0 new probes, ") && shipped[2].contains(": 0 new probes, "),
        "{}",
        backlog.stdout
    );
    let stamps: Vec<String> = invmon::snapshot::store::Store::new(work.path().join("snapshots"))
        .list(&lab.name("sw1"))
        .unwrap()
        .iter()
        .map(|e| e.stamp())
        .collect();
    let order: Vec<&str> = shipped
        .iter()
        .map(|l| l.split_whitespace().nth(2).unwrap().trim_end_matches(':'))
        .collect();
    assert_eq!(
        order,
        stamps[stamps.len() - 3..]
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        "oldest first"
    );
    let after = probes(&lab, r1);
    assert_eq!(after.len(), rows.len() + 1, "exactly one new probe");
    let newest = invmon::snapshot::codec::read(
        &invmon::snapshot::store::Store::new(work.path().join("snapshots"))
            .list(&lab.name("sw1"))
            .unwrap()
            .pop()
            .unwrap()
            .path,
    )
    .unwrap();
    let module = after
        .iter()
        .filter(|p| p["part"] == "N55-D160L3-V3")
        .collect::<Vec<_>>();
    assert_eq!(module.len(), 1);
    let newest_time =
        chrono::DateTime::parse_from_rfc3339(module[0]["time"].as_str().unwrap()).unwrap();
    assert_eq!(
        newest_time, newest.collected_at,
        "the last snapshot of the backlog sets the time"
    );
}

/// Items of a large synthetic device; `variant` changes five models.
fn big_items(variant: u32) -> Vec<invmon::inventory::Item> {
    (0..300u32)
        .map(|n| {
            let model = if variant > 0 && n < 5 {
                format!("MODEL-{n}-V{variant}")
            } else {
                format!("MODEL-{n}")
            };
            let serial = format!("KILL{n:06}");
            let mut item = invmon::inventory::Item {
                index: n.to_string(),
                class: "module".into(),
                name: format!("Slot {n}"),
                model: model.clone(),
                serial: serial.clone(),
                ..Default::default()
            };
            item.ent_physical = [
                ("entPhysicalSerialNum", serial),
                ("entPhysicalModelName", model),
                ("entPhysicalName", format!("Slot {n}")),
                ("entPhysicalClass", "module".to_owned()),
                ("entPhysicalDescr", format!("Line card {n}")),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
            item
        })
        .collect()
}

#[test]
#[ignore = "needs NetBox: scripts/test starts it"]
fn ship_killed_mid_apply_reruns_to_exactly_the_clean_result() {
    let (url, token) = netbox();
    let lab = Lab::new(&url, &token);
    let site = lab.post(
        "api/dcim/sites/",
        json!({"name": lab.name("k"), "slug": lab.name("k")}),
    )["id"]
        .as_i64()
        .unwrap();
    let id = lab.device("big", site, None, "active", &[], None);
    // The collector's store: three snapshots, the second with five changed modules.
    let collector = tempfile::tempdir().unwrap();
    let store = invmon::snapshot::store::Store::new(collector.path().join("snapshots"));
    let t0 = chrono::Utc::now() - chrono::TimeDelta::hours(3);
    for (k, variant) in [(0, 0), (1, 1), (2, 1)] {
        let at = t0 + chrono::TimeDelta::hours(k);
        let device = invmon::snapshot::Device {
            name: lab.name("big"),
            netbox_id: Some(id as u64),
            ..Default::default()
        };
        let items = big_items(variant);
        let checkin = invmon::snapshot::checkin::build(invmon::snapshot::checkin::Collected {
            device: &device,
            at,
            status: invmon::snapshot::Status::Ok,
            items: items.clone(),
            notices: &[],
            facts: Default::default(),
            os_family: "Network",
            previous: None,
        });
        let outcome = invmon::snapshot::Outcome {
            status: invmon::snapshot::Status::Ok,
            reason: None,
            duration_ms: 0,
        };
        store
            .write(&mut invmon::snapshot::Snapshot::new(
                at, device, outcome, checkin,
            ))
            .unwrap();
    }
    // The shipping host shares only files with the collector: a copy of the store.
    let dmz = tempfile::tempdir().unwrap();
    let copy = std::process::Command::new("cp")
        .arg("-r")
        .arg(collector.path().join("snapshots"))
        .arg(dmz.path())
        .status()
        .unwrap();
    assert!(copy.success());
    let ship_cmd = || {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_invmon"));
        cmd.current_dir(dmz.path())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("NETBOX_INSTANCE_URL", &url)
            .env("NETBOX_API_TOKEN", &token)
            .args(["ship", "--to", "netbox", "--snapshots", "snapshots"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        cmd
    };
    // Kill it once NetBox has taken some writes, wherever it is.
    let mut child = ship_cmd().spawn().unwrap();
    let started = std::time::Instant::now();
    while probes(&lab, id).is_empty() && started.elapsed() < std::time::Duration::from_secs(60) {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        ship_cmd().status().unwrap().success(),
        "the re-run completes"
    );
    let stored = probes(&lab, id);
    assert_eq!(
        stored.len(),
        305,
        "300 probes plus five for the changed modules, no duplicate"
    );
    let mut keys: Vec<(String, String)> = stored
        .iter()
        .map(|p| {
            (
                p["serial"].as_str().unwrap().to_owned(),
                p["part"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), 305, "each (serial, part) once");
    // The newest probe of every serial carries the last snapshot's time.
    let last = (t0 + chrono::TimeDelta::hours(2)).timestamp_micros();
    let mut newest: std::collections::BTreeMap<String, i64> = Default::default();
    for p in &stored {
        let t = chrono::DateTime::parse_from_rfc3339(p["time"].as_str().unwrap())
            .unwrap()
            .timestamp_micros();
        let e = newest
            .entry(p["serial"].as_str().unwrap().to_owned())
            .or_insert(t);
        *e = (*e).max(t);
    }
    assert!(
        newest.values().all(|t| *t == last),
        "every serial's newest probe is at the last snapshot's time"
    );
    assert!(
        !collector.path().join("snapshots/.ledger").exists()
            && !dmz.path().join("snapshots/.ledger").exists(),
        "ledgers live beside the store, never in it"
    );
}

/// A store with one device's snapshots written as collect writes them, at
/// the given times, each with `items(k)`.
fn store_with(
    dir: &std::path::Path,
    device: &str,
    netbox_id: Option<i64>,
    times: &[chrono::DateTime<chrono::Utc>],
    items: impl Fn(usize) -> Vec<invmon::inventory::Item>,
) {
    let store = invmon::snapshot::store::Store::new(dir.join("snapshots"));
    for (k, at) in times.iter().enumerate() {
        let device = invmon::snapshot::Device {
            name: device.to_owned(),
            netbox_id: netbox_id.map(|i| i as u64),
            ..Default::default()
        };
        let (previous, _) = store.latest_ok(&device.name);
        let items = items(k);
        let checkin = invmon::snapshot::checkin::build(invmon::snapshot::checkin::Collected {
            device: &device,
            at: *at,
            status: invmon::snapshot::Status::Ok,
            items: items.clone(),
            notices: &[],
            facts: Default::default(),
            os_family: "Linux",
            previous: previous.as_ref(),
        });
        let outcome = invmon::snapshot::Outcome {
            status: invmon::snapshot::Status::Ok,
            reason: None,
            duration_ms: 0,
        };
        store
            .write(&mut invmon::snapshot::Snapshot::new(
                *at, device, outcome, checkin,
            ))
            .unwrap();
    }
}

/// (serial, part) of every probe, sorted: duplicates show as repeats.
fn probe_keys(lab: &Lab, device: i64) -> Vec<(String, String)> {
    let mut keys: Vec<(String, String)> = probes(lab, device)
        .iter()
        .map(|p| {
            (
                p["serial"].as_str().unwrap_or("").to_owned(),
                p["part"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    keys.sort();
    keys
}

fn ship_via(work: &std::path::Path, url: &str, token: &str, extra: &[&str]) -> Run {
    Invmon::new(work)
        .args(["ship", "--to", "netbox", "--snapshots", "snapshots"])
        .args(extra)
        .env("NETBOX_INSTANCE_URL", url)
        .env("NETBOX_API_TOKEN", token)
        .run()
}

/// Nine parts on one device: the issue's case.
fn nine_items() -> Vec<invmon::inventory::Item> {
    big_items(0).into_iter().take(9).collect()
}

#[test]
#[ignore = "needs NetBox: scripts/test starts it"]
fn every_fault_on_the_way_ends_in_exactly_one_probe_per_serial() {
    use crate::support::proxy::{Fault, Proxy};
    let (url, token) = netbox();
    let lab = Lab::new(&url, &token);
    let site = lab.post(
        "api/dcim/sites/",
        json!({"name": lab.name("f"), "slug": lab.name("f")}),
    )["id"]
        .as_i64()
        .unwrap();
    let cases: [(&str, &str, &str, usize, Fault, &str); 5] = [
        (
            "lost",
            "POST",
            "/probes/",
            1,
            Fault::LostAnswer,
            "1 re-plan",
        ),
        (
            "reset",
            "POST",
            "/probes/",
            1,
            Fault::ResetAfterCommit,
            "1 re-plan",
        ),
        (
            "late",
            "POST",
            "/probes/",
            1,
            Fault::LateAnswer(std::time::Duration::from_secs(4)),
            "1 re-plan",
        ),
        ("busy", "*", "/probes/", 3, Fault::Unavailable, "re-plan"),
        (
            "slow-down",
            "POST",
            "/probes/",
            1,
            Fault::TooMany(1),
            "1 retry",
        ),
    ];
    for (name, method, path, times, fault, said) in cases {
        let id = lab.device(name, site, None, "active", &[], None);
        let work = tempfile::tempdir().unwrap();
        store_with(
            work.path(),
            &lab.name(name),
            Some(id),
            &[chrono::Utc::now()],
            |_| nine_items(),
        );
        let proxy = Proxy::start(&url);
        proxy.inject(method, path, times, fault.clone());
        // The late answer comes after the client stopped waiting; an unknown
        // outcome is re-read once the request can no longer land (the timeout).
        let timeout: &[&str] = if name == "late" {
            &["--netbox-timeout", "2"]
        } else {
            &["--netbox-timeout", "10"]
        };
        let run = ship_via(work.path(), &proxy.url, &token, timeout);
        let keys = probe_keys(&lab, id);
        let mut unique = keys.clone();
        unique.dedup();
        assert_eq!(
            keys.len(),
            9,
            "{name}: one probe per serial: {keys:?}\n{}\n{:?}",
            run.all(),
            proxy.log()
        );
        assert_eq!(unique.len(), 9, "{name}");
        assert_eq!(
            run.code,
            Some(0),
            "{name}: {}\n{:?}",
            run.all(),
            proxy.log()
        );
        assert!(
            run.stdout.contains("1 snapshot shipped, 9 new probes") && run.stdout.contains(said),
            "{name}: the summary tells what happened: {}\n{:?}",
            run.all(),
            proxy.log()
        );
        // And a plain re-run writes nothing.
        let again = ship_via(work.path(), &proxy.url, &token, &[]);
        assert!(
            again.stdout.contains("0 snapshots shipped"),
            "{name}: {}",
            again.stdout
        );
        assert_eq!(probe_keys(&lab, id).len(), 9, "{name}");
    }
}

#[test]
#[ignore = "needs NetBox: scripts/test starts it"]
fn two_ships_at_once_write_once() {
    let (url, token) = netbox();
    let lab = Lab::new(&url, &token);
    let site = lab.post(
        "api/dcim/sites/",
        json!({"name": lab.name("two"), "slug": lab.name("two")}),
    )["id"]
        .as_i64()
        .unwrap();
    let id = lab.device("twice", site, None, "active", &[], None);
    let work = tempfile::tempdir().unwrap();
    let t0 = chrono::Utc::now() - chrono::TimeDelta::hours(2);
    let times = [t0, t0 + chrono::TimeDelta::hours(1)];
    store_with(work.path(), &lab.name("twice"), Some(id), &times, |k| {
        big_items(k as u32)
    });
    let spawn = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_invmon"))
            .current_dir(work.path())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("NETBOX_INSTANCE_URL", &url)
            .env("NETBOX_API_TOKEN", &token)
            .args(["ship", "--to", "netbox", "--snapshots", "snapshots"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    assert!(a.status.success() && b.status.success(), "{a:?}\n{b:?}");
    let keys = probe_keys(&lab, id);
    let mut unique = keys.clone();
    unique.dedup();
    assert_eq!(keys.len(), unique.len(), "no duplicate");
    assert_eq!(keys.len(), 305);
    // Not willing to wait: its own exit code and a clear message.
    let _held = {
        let state = work.path().join("state");
        let lock = std::fs::read_dir(&state)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.extension().is_some_and(|e| e == "lock"))
            .unwrap();
        let f = std::fs::OpenOptions::new().write(true).open(lock).unwrap();
        f.lock().unwrap();
        f
    };
    let busy = ship_via(work.path(), &url, &token, &["--lock-wait", "0.5"]);
    assert_eq!(busy.code, Some(4), "{}", busy.all());
    assert!(
        busy.stderr.contains("is in use by another invmon"),
        "{}",
        busy.stderr
    );
}

#[test]
#[ignore = "needs NetBox: scripts/test starts it"]
fn ship_killed_at_twenty_instants_reruns_to_the_clean_result_every_time() {
    let (url, token) = netbox();
    let lab = Lab::new(&url, &token);
    let site = lab.post(
        "api/dcim/sites/",
        json!({"name": lab.name("kk"), "slug": lab.name("kk")}),
    )["id"]
        .as_i64()
        .unwrap();
    let t0 = chrono::Utc::now() - chrono::TimeDelta::hours(3);
    let times = [
        t0,
        t0 + chrono::TimeDelta::hours(1),
        t0 + chrono::TimeDelta::hours(2),
    ];
    let items = |k: usize| {
        big_items(u32::from(k > 0))
            .into_iter()
            .take(60)
            .collect::<Vec<_>>()
    };
    // The clean result, shipped without interruption.
    let clean_id = lab.device("clean", site, None, "active", &[], None);
    let clean = tempfile::tempdir().unwrap();
    store_with(
        clean.path(),
        &lab.name("clean"),
        Some(clean_id),
        &times,
        items,
    );
    assert_eq!(ship_via(clean.path(), &url, &token, &[]).code, Some(0));
    let probe_set = |id: i64| {
        let mut v: Vec<(String, String, String, String)> = probes(&lab, id)
            .iter()
            .map(|p| {
                let s = |k: &str| p[k].as_str().unwrap_or("").to_owned();
                (s("serial"), s("part"), s("time"), s("creation_time"))
            })
            .collect();
        v.sort();
        v
    };
    let want = probe_set(clean_id);
    // A deterministic spread of kill instants over the run, 0–1.9 s.
    for round in 0..20u64 {
        let name = format!("kill{round}");
        let id = lab.device(&name, site, None, "active", &[], None);
        let work = tempfile::tempdir().unwrap();
        store_with(work.path(), &lab.name(&name), Some(id), &times, items);
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_invmon"))
            .current_dir(work.path())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("NETBOX_INSTANCE_URL", &url)
            .env("NETBOX_API_TOKEN", &token)
            .env("NETBOX_TIMEOUT", "10")
            .args(["ship", "--to", "netbox", "--snapshots", "snapshots"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis((round * 7919) % 1900));
        let _ = child.kill();
        let _ = child.wait();
        let rerun = ship_via(work.path(), &url, &token, &["--netbox-timeout", "10"]);
        assert_eq!(rerun.code, Some(0), "round {round}: {}", rerun.all());
        assert_eq!(
            probe_set(id),
            want,
            "round {round}: exactly the clean result"
        );
    }
}

#[test]
#[ignore = "needs NetBox: scripts/test starts it"]
fn shipping_is_robust_to_how_its_inputs_are_spelt_and_kept() {
    let (url, token) = netbox();
    let lab = Lab::new(&url, &token);
    let site = lab.post(
        "api/dcim/sites/",
        json!({"name": lab.name("sp"), "slug": lab.name("sp")}),
    )["id"]
        .as_i64()
        .unwrap();
    let id = lab.device("spelt", site, None, "active", &[], None);
    let work = tempfile::tempdir().unwrap();
    let t0 = chrono::Utc::now() - chrono::TimeDelta::hours(2);
    store_with(work.path(), &lab.name("spelt"), Some(id), &[t0], |_| {
        nine_items()
    });
    // The URL with /api/, and the same NetBox by another name: one ledger.
    let with_api = format!("{}api/", url.trim_end_matches('/').to_owned() + "/");
    assert_eq!(ship_via(work.path(), &with_api, &token, &[]).code, Some(0));
    let localhost = url.replace("127.0.0.1", "localhost");
    let again = ship_via(work.path(), &localhost, &token, &[]);
    assert!(
        again.stdout.contains("0 snapshots shipped"),
        "{}",
        again.stdout
    );
    // An unreadable snapshot already shipped never blocks later ones.
    let store = invmon::snapshot::store::Store::new(work.path().join("snapshots"));
    let first = store.list(&lab.name("spelt")).unwrap().remove(0);
    std::fs::write(&first.path, b"garbage").unwrap();
    store_with(
        work.path(),
        &lab.name("spelt"),
        Some(id),
        &[t0 + chrono::TimeDelta::hours(1)],
        |_| nine_items(),
    );
    let later = ship_via(work.path(), &url, &token, &[]);
    assert_eq!(later.code, Some(0), "{}", later.all());
    assert!(
        later
            .stdout
            .contains("1 snapshot shipped, 0 new probes, 9 time updates"),
        "{}",
        later.stdout
    );
    // An unreadable one not yet shipped is named, passed over, and the run says so.
    store_with(
        work.path(),
        &lab.name("spelt"),
        Some(id),
        &[t0 + chrono::TimeDelta::minutes(90)],
        |_| nine_items(),
    );
    store_with(
        work.path(),
        &lab.name("spelt"),
        Some(id),
        &[t0 + chrono::TimeDelta::minutes(100)],
        |_| nine_items(),
    );
    let unshipped = store.list(&lab.name("spelt")).unwrap();
    std::fs::write(&unshipped[unshipped.len() - 2].path, b"garbage").unwrap();
    let run = ship_via(work.path(), &url, &token, &[]);
    assert_eq!(run.code, Some(3), "{}", run.all());
    assert!(
        run.stdout.contains("(passed over)") && run.stdout.contains("1 snapshot shipped"),
        "{}",
        run.stdout
    );
    // A netbox_id that belongs to another device: refused, nothing shipped.
    let other = lab.device("other", site, None, "active", &[], None);
    let wrong = tempfile::tempdir().unwrap();
    store_with(wrong.path(), &lab.name("spelt"), Some(other), &[t0], |_| {
        nine_items()
    });
    let refused = ship_via(wrong.path(), &url, &token, &[]);
    assert_eq!(refused.code, Some(3), "{}", refused.all());
    assert!(
        refused.stdout.contains(&format!(
            "is NetBox device {:?}, not {:?}",
            lab.name("other"),
            lab.name("spelt")
        )),
        "{}",
        refused.stdout
    );
    assert!(probes(&lab, other).is_empty());
    // No such device in the store: an error, not silence.
    let none = ship_via(work.path(), &url, &token, &["-d", "nosuch"]);
    assert_eq!(none.code, Some(1), "{}", none.all());
    assert!(
        none.stderr.contains("no snapshots of device \"nosuch\""),
        "{}",
        none.stderr
    );
    // The dry run's JSON parses whole; the summary goes to stderr and counts what waits.
    let fresh = tempfile::tempdir().unwrap();
    let dry_id = lab.device("dry", site, None, "active", &[], None);
    store_with(
        fresh.path(),
        &lab.name("dry"),
        Some(dry_id),
        &[
            t0,
            t0 + chrono::TimeDelta::hours(1),
            t0 + chrono::TimeDelta::hours(2),
        ],
        |_| nine_items(),
    );
    let dry = ship_via(
        fresh.path(),
        &url,
        &token,
        &["--dry-run", "--format", "json"],
    );
    assert_eq!(dry.code, Some(0), "{}", dry.all());
    let plan: Json =
        serde_json::from_str(&dry.stdout).unwrap_or_else(|e| panic!("{e}: {}", dry.stdout));
    assert_eq!(plan["devices"][0]["waiting"], 2, "{plan:#}");
    assert!(
        dry.stderr
            .contains("1 snapshot planned (the next of each device), 9 new probes")
            && dry.stderr.contains("2 more wait behind them"),
        "{}",
        dry.stderr
    );
    assert!(probes(&lab, dry_id).is_empty(), "a dry run writes nothing");
}

/// With a touch interval an unchanged device costs nothing between touches,
/// its probes' times move together once due, and a changed part gets its
/// probe at once; with 0 every snapshot moves every time, as the seed did.
#[test]
#[ignore = "needs NetBox: scripts/test starts it"]
fn the_touch_interval_moves_times_when_due_and_quiet_snapshots_cost_no_request() {
    use chrono::{DateTime, SubsecRound, TimeDelta, Utc};
    let (url, token) = netbox();
    let lab = Lab::new(&url, &token);
    let site = lab.post(
        "api/dcim/sites/",
        json!({"name": lab.name("tch"), "slug": lab.name("tch")}),
    )["id"]
        .as_i64()
        .unwrap();
    let id = lab.device("quiet", site, None, "active", &[], None);
    let name = lab.name("quiet");
    let work = tempfile::tempdir().unwrap();
    let h = TimeDelta::hours;
    let t0 = (Utc::now() - h(72)).trunc_subsecs(0);
    let nine = |variant| big_items(variant).into_iter().take(9).collect::<Vec<_>>();
    let day = ["--touch-interval", "1d"];
    // The latest time of each serial's probes, and how many probes there are.
    let times = || {
        let all = probes(&lab, id);
        let mut latest = std::collections::BTreeMap::new();
        for p in &all {
            let t: DateTime<Utc> = p["time"].as_str().unwrap().parse().unwrap();
            let e = latest
                .entry(p["serial"].as_str().unwrap().to_owned())
                .or_insert(t);
            *e = (*e).max(t);
        }
        (
            all.len(),
            latest
                .into_values()
                .collect::<std::collections::BTreeSet<_>>(),
        )
    };
    let shipped = |times: &[DateTime<Utc>], variant: u32, args: &[&str], says: &[&str]| {
        store_with(work.path(), &name, Some(id), times, |_| nine(variant));
        let run = ship_via(work.path(), &url, &token, args);
        assert_eq!(run.code, Some(0), "{}", run.all());
        for s in says {
            assert!(run.stdout.contains(s), "{s:?} in {}", run.stdout);
        }
    };

    shipped(&[t0], 0, &day, &["9 new probes"]);
    assert_eq!(times(), (9, [t0].into()));
    // Within the day: not a single request, and the times stay.
    shipped(
        &[t0 + h(1), t0 + h(2), t0 + h(23)],
        0,
        &day,
        &[
            "3 snapshots as the last sent, no touch due (no request)",
            " 0 requests,",
        ],
    );
    assert_eq!(times(), (9, [t0].into()));
    // A day on: all nine move together, in one PATCH.
    shipped(
        &[t0 + h(25)],
        0,
        &day,
        &["0 new probes, 9 time updates", " 3 requests,"],
    );
    assert_eq!(times(), (9, [t0 + h(25)].into()));
    // A changed part is written at once; the others wait for their day.
    shipped(
        &[t0 + h(26)],
        1,
        &day,
        &["5 new probes, 0 time updates, 4 unchanged"],
    );
    assert_eq!(times(), (14, [t0 + h(25), t0 + h(26)].into()));
    shipped(&[t0 + h(27)], 1, &day, &["1 snapshot as the last sent"]);
    // Interval 0, the seed's rule: every snapshot moves every time.
    shipped(&[t0 + h(28)], 1, &[], &["0 new probes, 9 time updates"]);
    assert_eq!(times(), (14, [t0 + h(28)].into()));
}
