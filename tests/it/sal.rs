//! Checkin modules during collect, and `invmon ship --to sal` against the
//! contract server.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use serde_json::Value as Json;

use crate::support::sal::SalServer;
use crate::support::*;

const KEY: &str = "k3yForTheLabGroup0123456789abcdefghijklmnopqrstuvwxyz";

fn module(dir: &Path, name: &str, script: &str) {
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{script}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Collects the given recordings (device name = recording) into `work`.
fn collect_fleet(work: &Path, recordings: &[&str], extra: &[&str]) -> Run {
    let recs = crate::support::recordings(&recordings.iter().map(|r| (*r, *r)).collect::<Vec<_>>());
    let agent = Replay::start(recs.path(), &[]);
    let mut fleet = Fleet::new();
    for r in recordings {
        fleet = fleet.v2c(r, &agent.addr, r);
    }
    fleet.write(work);
    collect(work).args(extra).run()
}

fn ship(work: &Path, url: &str, key: &str) -> Run {
    Invmon::new(work)
        .args([
            "ship",
            "--to",
            "sal",
            "--snapshots",
            "snapshots",
            "--sal-retry-delay",
            "0.05",
        ])
        .env("SAL_URL", url)
        .env("SAL_KEY", key)
        .run()
}

#[test]
fn modules_run_in_order_replace_sections_and_fail_alone() {
    let work = tempfile::tempdir().unwrap();
    let mods = work.path().join("modules");
    std::fs::create_dir(&mods).unwrap();
    module(
        &mods,
        "10-first",
        r#"echo '{"Order": {"facts": {"by": "10-first"}}, "First": {"facts": {"seen": "yes"}, "messages": [{"text": "hello", "message_type": "OTHER"}]}}'"#,
    );
    module(
        &mods,
        "20-second",
        r#"echo '{"Order": {"facts": {"by": "20-second"}, "managed_items": {"thing": {"status": "PRESENT"}}}}'"#,
    );
    module(&mods, "30-slow", "sleep 10; echo '{}'");
    module(&mods, "40-crash", "echo boom >&2; exit 3");
    module(&mods, "50-badjson", "echo 'not json'");
    module(
        &mods,
        "60-machine",
        r#"echo '{"Machine": {"extra_data": {"serial": "STOLEN"}}}'"#,
    );
    module(
        &mods,
        "70-env",
        r#"printf '{"Env": {"facts": {"env": "%s"}}}' "$(env | tr '\n' ' ' | tr -d '"\\')""#,
    );
    std::fs::write(mods.join("README"), "not executable, not run").unwrap();
    let recs = recordings(&[("cisco-c3750", "cisco-c3750"), ("timos_7750", "timos_7750")]);
    let agent = Replay::start(recs.path(), &[]);
    Fleet::new()
        .v2c("r1", &agent.addr, "cisco-c3750")
        .v2c("r2", &agent.addr, "timos_7750")
        .write(work.path());
    let run = collect(work.path())
        .args(["--modules", "modules", "--module-timeout", "1"])
        .env("SNMP_COMMUNITY", "Zq8-global-s3cret")
        .run();
    assert_eq!(run.code, Some(0), "{}", run.all());
    for device in ["r1", "r2"] {
        let snap = latest(work.path(), device);
        let sources = &snap.checkin.sources;
        assert_eq!(
            sources["Order"].facts["by"], "20-second",
            "later modules replace whole sections"
        );
        assert!(sources["Order"].managed_items.contains_key("thing"));
        assert_eq!(sources["First"].facts["seen"], "yes");
        assert_ne!(snap.checkin.machine.extra_data["serial"], "STOLEN");
        let errors = messages(&snap);
        for expected in [
            "30-slow: timed out",
            "40-crash: exit status: 3: boom",
            "50-badjson: printed invalid JSON",
            "60-machine: may not replace the \"Machine\" section",
        ] {
            assert!(
                errors.contains(expected),
                "{device}: {expected} not in {errors}"
            );
        }
        let env = &sources["Env"].facts["env"];
        assert!(
            env.contains(&format!("INVMON_DEVICE_NAME={device}")),
            "{env}"
        );
        assert!(env.contains("INVMON_SNAPSHOT_JSON="), "{env}");
        assert!(
            !env.contains("SNMP_") && !env.contains("s3cret") && !env.contains("cisco-c3750="),
            "secrets reach modules: {env}"
        );
    }
}

#[test]
fn example_module_section_reaches_the_snapshot_and_sal() {
    let work = tempfile::tempdir().unwrap();
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/checkin-modules");
    let run = collect_fleet(
        work.path(),
        &["cisco-c3750", "iosxr_asr9010"],
        &["--modules", example.to_str().unwrap()],
    );
    assert_eq!(run.code, Some(0), "{}", run.all());
    let snap = latest(work.path(), "cisco-c3750");
    let registry = &snap.checkin.sources["Site Registry"];
    assert_eq!(registry.facts["asset_tag"], "AT-0001");
    assert_eq!(
        registry.managed_items["registered chassis FDO1622Y10H"].status,
        invmon::snapshot::checkin::ItemStatus::Present
    );
    let unregistered = latest(work.path(), "iosxr_asr9010");
    let warning = &unregistered.checkin.sources["Site Registry"].messages[0];
    assert!(
        warning.text.contains("is not in the site registry"),
        "{warning:?}"
    );
    let sal = SalServer::start(&[KEY]);
    let run = ship(work.path(), &sal.url, KEY);
    assert_eq!(run.code, Some(0), "{}", run.all());
    let posted = sal.accepted();
    assert!(
        posted
            .iter()
            .any(|d| d["Site Registry"]["facts"]["asset_tag"] == "AT-0001"),
        "the module's section is posted"
    );
}

#[test]
fn ship_sends_once_and_newest_only() {
    let work = tempfile::tempdir().unwrap();
    let fleet = ["cisco-c3750", "juniper-mx960-12-3r6-6", "timos_7750"];
    assert_eq!(collect_fleet(work.path(), &fleet, &[]).code, Some(0));
    let sal = SalServer::start(&[KEY]);
    let dry = Invmon::new(work.path())
        .args([
            "ship",
            "--to",
            "sal",
            "--snapshots",
            "snapshots",
            "--dry-run",
        ])
        .env("SAL_URL", &sal.url)
        .run();
    assert_eq!(dry.code, Some(0), "{}", dry.all());
    assert!(
        dry.stdout.contains("would ship cisco-c3750"),
        "{}",
        dry.stdout
    );
    assert!(sal.accepted().is_empty(), "a dry run sends nothing");
    let run = ship(work.path(), &sal.url, KEY);
    assert_eq!(run.code, Some(0), "{}", run.all());
    assert!(
        run.stdout.contains("sal: 3 snapshots shipped, 3 checkins"),
        "{}",
        run.stdout
    );
    let posted = sal.accepted();
    assert_eq!(posted.len(), 3);
    for doc in &posted {
        assert_eq!(
            doc["Sal"]["extra_data"]["key"], KEY,
            "the key is injected at send time"
        );
    }
    let c3750 = posted
        .iter()
        .find(|d| d["Machine"]["extra_data"]["serial"] == "FDO1622Y10H")
        .expect("c3750 posted");
    assert_eq!(
        c3750["SNMP Inventory"]["managed_items"]["LIT16140TR8"]["data"]["type"],
        "PowerSupply"
    );
    // The key never lands in snapshots or logs.
    for entry in walkdir::WalkDir::new(work.path())
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
    {
        let bytes = std::fs::read(entry.path()).unwrap();
        let text = if entry.path().to_string_lossy().ends_with(".zst") {
            zstd::decode_all(&bytes[..]).unwrap()
        } else {
            bytes
        };
        assert!(
            !String::from_utf8_lossy(&text).contains(KEY),
            "{} holds the key",
            entry.path().display()
        );
    }
    assert!(!run.all().contains(KEY));
    // Nothing new: nothing sent.
    let again = ship(work.path(), &sal.url, KEY);
    assert!(
        again
            .stdout
            .contains("sal: 0 snapshots shipped, 0 checkins"),
        "{}",
        again.stdout
    );
    assert_eq!(sal.accepted().len(), 3);
    // Two new collections before the next ship: only the newest goes.
    assert_eq!(collect_fleet(work.path(), &fleet[..1], &[]).code, Some(0));
    assert_eq!(collect_fleet(work.path(), &fleet[..1], &[]).code, Some(0));
    let run = ship(work.path(), &sal.url, KEY);
    assert!(
        run.stdout.contains("sal: 1 snapshot shipped, 1 checkin"),
        "{}",
        run.stdout
    );
    let newest = invmon::snapshot::store::Store::new(work.path().join("snapshots"))
        .list("cisco-c3750")
        .unwrap()
        .pop()
        .unwrap();
    assert!(
        run.stdout.contains(&format!(
            "shipped cisco-c3750 {}: a checkin",
            newest.stamp()
        )),
        "{}",
        run.stdout
    );
    assert_eq!(sal.accepted().len(), 4);
}

#[test]
fn ship_retries_5xx_and_stops_on_permanent_answers() {
    let work = tempfile::tempdir().unwrap();
    assert_eq!(
        collect_fleet(work.path(), &["cisco-c3750"], &[]).code,
        Some(0)
    );
    let sal = SalServer::start(&[KEY]);
    sal.fail_next(&[503, 502]);
    let run = ship(work.path(), &sal.url, KEY);
    assert_eq!(run.code, Some(0), "{}", run.all());
    assert_eq!(
        sal.log().iter().map(|(s, _)| *s).collect::<Vec<_>>(),
        vec![503, 502, 200]
    );

    let work = tempfile::tempdir().unwrap();
    assert_eq!(
        collect_fleet(work.path(), &["cisco-c3750"], &[]).code,
        Some(0)
    );
    let sal = SalServer::start(&[KEY]);
    let run = ship(work.path(), &sal.url, "wrong-key");
    assert_eq!(run.code, Some(3), "{}", run.all());
    assert!(
        run.stdout.contains(
            "failed cisco-c3750: Sal refused the machine-group key (401): check SAL_KEY (--sal-key)"
        ),
        "{}",
        run.stdout
    );
    let run = ship(work.path(), &format!("{}/sal", sal.url), KEY);
    assert!(
        run.stdout.contains("/sal/checkin/ answered 404: no machine group has this key (SAL_KEY), or SAL_URL (--sal-url) is not Sal's address"),
        "{}",
        run.stdout
    );
    assert_eq!(sal.log().len(), 2, "permanent answers are not retried");
    let journals: Vec<String> = std::fs::read_dir(work.path().join("state"))
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap_or_default())
        .collect();
    assert!(
        journals.iter().all(|j| !j.contains("cisco-c3750")),
        "nothing recorded as sent: {journals:?}"
    );
    let sal_down = format!(
        "http://127.0.0.1:{}",
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    );
    let run = Invmon::new(work.path())
        .args([
            "ship",
            "--to",
            "sal",
            "--snapshots",
            "snapshots",
            "--sal-retries",
            "1",
            "--sal-retry-delay",
            "0.01",
        ])
        .env("SAL_URL", &sal_down)
        .env("SAL_KEY", KEY)
        .run();
    assert_eq!(run.code, Some(3));
    assert!(run.stdout.contains("after 2 attempts"), "{}", run.stdout);
}

#[test]
fn oversized_checkin_is_trimmed_below_five_mib() {
    use invmon::inventory::Item;
    use invmon::snapshot::checkin::{self, Collected};
    use invmon::snapshot::{Device, Outcome, Snapshot, Status};
    let work = tempfile::tempdir().unwrap();
    let store = invmon::snapshot::store::Store::new(work.path().join("snapshots"));
    let items: Vec<Item> = (0..14000)
        .map(|i| Item {
            index: i.to_string(),
            class: if i % 3 == 0 { "sensor" } else { "port" }.into(),
            name: format!("Port {i}"),
            description: "x".repeat(200),
            serial: format!("SN{i:08}"),
            is_fru: Some(i % 3 != 0),
            ent_physical: (0..15)
                .map(|c| (format!("entPhysicalColumn{c}"), "y".repeat(20)))
                .collect(),
            ..Item::default()
        })
        .collect();
    let device = Device {
        name: "big".into(),
        ..Device::default()
    };
    let at = chrono::Utc::now();
    let checkin = checkin::build(Collected {
        device: &device,
        at,
        status: Status::Ok,
        items: items.clone(),
        notices: &[],
        facts: Default::default(),
        os_family: "Network",
        previous: None,
    });
    let outcome = Outcome {
        status: Status::Ok,
        reason: None,
        duration_ms: 0,
    };
    let mut snap = Snapshot::new(at, device, outcome, checkin);
    assert!(
        serde_json::to_vec(&snap.checkin).unwrap().len() > 6 << 20,
        "the test document must be over 6 MiB"
    );
    store.write(&mut snap).unwrap();
    let sal = SalServer::start(&[KEY]);
    let run = ship(work.path(), &sal.url, KEY);
    assert_eq!(run.code, Some(0), "{}", run.all());
    let (status, size) = sal.log()[0];
    assert_eq!(status, 200);
    assert!(size < invmon::sal::contract::MAX_BODY, "{size}");
    let doc: &Json = &sal.accepted()[0];
    let texts: Vec<&str> = doc["SNMP Inventory"]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    assert!(
        texts
            .iter()
            .any(|t| t.contains("trimmed") && t.contains("5 MiB")),
        "{texts:?}"
    );
}

/// Writes a snapshot of `device` at `at` holding `items`, as collect does.
fn snapshot_at(
    store: &invmon::snapshot::store::Store,
    device: &str,
    at: &str,
    items: &[invmon::inventory::Item],
) -> invmon::snapshot::Snapshot {
    use invmon::snapshot::checkin::{self, Collected};
    use invmon::snapshot::{Device, Outcome, Snapshot, Status};
    let at = chrono::DateTime::parse_from_rfc3339(at)
        .unwrap()
        .with_timezone(&chrono::Utc);
    let device = Device {
        name: device.into(),
        ..Device::default()
    };
    let (previous, _) = store.latest_ok(&device.name);
    let checkin = checkin::build(Collected {
        device: &device,
        at,
        status: Status::Ok,
        items: items.to_vec(),
        notices: &[],
        facts: [(
            "sysDescr".to_owned(),
            "Cisco IOS Software, C3750 Software (C3750-IPBASE-M), Version 12.2(50)SE5".to_owned(),
        )]
        .into(),
        os_family: "Linux",
        previous: previous.as_ref(),
    });
    let mut s = Snapshot::new(
        at,
        device,
        Outcome {
            status: Status::Ok,
            reason: None,
            duration_ms: 0,
        },
        checkin,
    );
    store.write(&mut s).unwrap();
    s
}

fn optic_items(with_optic: bool) -> Vec<invmon::inventory::Item> {
    let part = |serial: &str, class: &str| invmon::inventory::Item {
        index: serial.to_lowercase(),
        class: class.into(),
        name: serial.into(),
        serial: serial.into(),
        ..Default::default()
    };
    let mut items = vec![part("FOC1424CHAS", "chassis")];
    if with_optic {
        items.push(part("AGC1424U781", "port"));
    }
    items
}

/// Gone and back within one second (also at one instant): Sal's history,
/// unique on (machine, item, source, date), takes every change.
#[test]
fn an_item_removed_and_restored_within_a_second_ships_without_error() {
    let sal = SalServer::start(&[KEY]);
    for times in [
        [
            "2026-12-01T20:18:11.100Z",
            "2026-12-01T20:18:11.400Z",
            "2026-12-01T20:18:11.700Z",
        ],
        ["2026-12-01T21:00:00.000Z"; 3],
    ] {
        let work = tempfile::tempdir().unwrap();
        let store = invmon::snapshot::store::Store::new(work.path().join("snapshots"));
        for (at, with_optic) in times.iter().zip([true, false, true]) {
            snapshot_at(&store, "sw1", at, &optic_items(with_optic));
            let run = ship(work.path(), &sal.url, KEY);
            assert_eq!(run.code, Some(0), "{}", run.all());
        }
    }
    assert!(
        sal.log().iter().all(|(status, _)| *status == 200),
        "{:?}",
        sal.log()
    );
    assert_eq!(sal.accepted().len(), 6);
}

/// Sets a directory's modification time.
/// A ship with nothing new does not list a device directory whose
/// status-change time has not moved since a listing left nothing to ship.
/// A snapshot copied in as `rsync -a` copies it (the directory's
/// modification time set back to the source's) is found all the same, and
/// so is one written a moment ago.
#[test]
fn an_unchanged_device_directory_is_not_listed_again() {
    let sal = SalServer::start(&[KEY]);
    let work = tempfile::tempdir().unwrap();
    let store = invmon::snapshot::store::Store::new(work.path().join("snapshots"));
    let dir = store.device_dir("sw1");
    // Longer than ship's settling time, so the directory's time vouches for it.
    let settle = || std::thread::sleep(std::time::Duration::from_millis(2100));
    let shipped = |n: usize| {
        let run = Invmon::new(work.path())
            .args(["ship", "--to", "sal", "--snapshots", "snapshots"])
            .args(["--log-level", "DEBUG"])
            .env("SAL_URL", &sal.url)
            .env("SAL_KEY", KEY)
            .run();
        assert_eq!(run.code, Some(0), "{}", run.all());
        assert_eq!(sal.accepted().len(), n, "{}", run.all());
        run.all().contains("not listed")
    };
    snapshot_at(&store, "sw1", "2026-12-01T20:00:00Z", &optic_items(true));
    settle();
    assert!(!shipped(1));
    assert!(shipped(1), "an unchanged directory is taken at its word");

    let copied_from = std::fs::metadata(&dir).unwrap().modified().unwrap();
    snapshot_at(&store, "sw1", "2026-12-01T21:00:00Z", &optic_items(false));
    std::fs::File::open(&dir)
        .unwrap()
        .set_modified(copied_from)
        .unwrap();
    settle();
    assert!(!shipped(2), "a copied-in snapshot is listed");

    snapshot_at(&store, "sw1", "2026-12-01T22:00:00Z", &optic_items(true));
    assert!(!shipped(3), "a snapshot written a moment ago is listed");
}

/// A device collected twice in one second before dates had milliseconds:
/// its PRESENT item repeats the date of its ABSENT row, and Sal refuses it
/// and every later checkin. The next ship moves the date on and un-sticks it.
#[test]
fn a_device_stuck_on_a_repeated_date_recovers_on_its_next_ship() {
    let sal = SalServer::start(&[KEY]);
    let work = tempfile::tempdir().unwrap();
    let store = invmon::snapshot::store::Store::new(work.path().join("snapshots"));
    snapshot_at(
        &store,
        "sw1",
        "2026-12-01T20:18:10.000Z",
        &optic_items(true),
    );
    assert_eq!(ship(work.path(), &sal.url, KEY).code, Some(0));
    let gone = snapshot_at(
        &store,
        "sw1",
        "2026-12-01T20:18:11.000Z",
        &optic_items(false),
    );
    assert_eq!(ship(work.path(), &sal.url, KEY).code, Some(0));
    // What an older invmon wrote next: PRESENT again, dated like the ABSENT row.
    let mut back = snapshot_at(
        &store,
        "sw1",
        "2026-12-01T20:18:11.600Z",
        &optic_items(true),
    );
    let absent_date = gone.checkin.sources["SNMP Inventory"].managed_items["AGC1424U781"]
        .date_managed
        .clone();
    let item = back
        .checkin
        .sources
        .get_mut("SNMP Inventory")
        .unwrap()
        .managed_items
        .get_mut("AGC1424U781")
        .unwrap();
    item.date_managed = absent_date;
    // Sent as it is, the contract server refuses it as Sal does.
    let raw = invmon::sal::document::body(&invmon::sal::document::document(&back, None), KEY);
    let refused = blocking_http()
        .post(format!("{}/checkin/", sal.url))
        .basic_auth("sal", Some(KEY))
        .header("Content-Type", "application/json")
        .body(raw)
        .send()
        .unwrap();
    assert_eq!(refused.status().as_u16(), 500);
    assert!(
        refused
            .headers()
            .get("X-Contract-Rule")
            .unwrap()
            .to_str()
            .unwrap()
            .contains("already exists")
    );
    // invmon moves the date past the last one it sent.
    let entry = store.list("sw1").unwrap().pop().unwrap();
    std::fs::remove_file(&entry.path).unwrap();
    let mut stuck = back;
    store.write(&mut stuck).unwrap();
    let run = ship(work.path(), &sal.url, KEY);
    assert_eq!(run.code, Some(0), "{}", run.all());
    let last = sal.accepted().pop().unwrap();
    assert_eq!(
        last["SNMP Inventory"]["managed_items"]["AGC1424U781"]["date_managed"],
        "2026-12-01T20:18:11.001Z"
    );
}

#[test]
fn what_sal_gets_is_what_sal_can_show() {
    let work = tempfile::tempdir().unwrap();
    let fleet = ["juniper-mx960-12-3r6-6", "timos_7750"];
    assert_eq!(collect_fleet(work.path(), &fleet, &[]).code, Some(0));
    let sal = SalServer::start(&[KEY]);
    let dry = Invmon::new(work.path())
        .args([
            "ship",
            "--to",
            "sal",
            "--snapshots",
            "snapshots",
            "--dry-run",
            "--format",
            "json",
        ])
        .env("SAL_URL", format!("{}/checkin/", sal.url))
        .run();
    assert_eq!(dry.code, Some(0), "{}", dry.all());
    let plan: Json =
        serde_json::from_str(&dry.stdout).unwrap_or_else(|e| panic!("{e}: {}", dry.stdout));
    assert_eq!(plan["destination"], "sal");
    let run = ship(work.path(), &format!("{}/checkin/", sal.url), KEY);
    assert_eq!(run.code, Some(0), "{}", run.all());
    let docs = sal.accepted();
    let machine = |i: usize| &docs[i]["Machine"]["extra_data"];
    let mut oses: Vec<&str> = (0..2)
        .map(|i| machine(i)["operating_system"].as_str().unwrap())
        .collect();
    oses.sort();
    assert_eq!(oses, ["JUNOS 12.3R6.6", "TiMOS-C-23.10.R3"]);
    for (i, doc) in docs.iter().enumerate() {
        assert_eq!(machine(i)["os_family"], "Linux");
        assert!(!machine(i)["machine_model"].as_str().unwrap().is_empty());
        for item in doc["SNMP Inventory"]["managed_items"]
            .as_object()
            .unwrap()
            .values()
        {
            assert!(
                item["data"]
                    .as_object()
                    .unwrap()
                    .values()
                    .all(Json::is_string),
                "flat strings only: {}",
                item["data"]
            );
        }
        let facts = &doc["SNMP Inventory"]["facts"];
        assert!(
            facts["sysDescr"].as_str().unwrap().len() > 20,
            "the whole sysDescr stays a fact"
        );
    }
}

#[test]
fn ship_without_to_goes_everywhere_configured_and_says_when_nowhere() {
    let work = tempfile::tempdir().unwrap();
    assert_eq!(
        collect_fleet(work.path(), &["cisco-c3750"], &[]).code,
        Some(0)
    );
    let nowhere = Invmon::new(work.path()).args(["ship"]).run();
    assert_eq!(nowhere.code, Some(2), "{}", nowhere.all());
    assert!(
        nowhere
            .stderr
            .contains("nothing to ship to: set NETBOX_INSTANCE_URL"),
        "{}",
        nowhere.stderr
    );
    let sal = SalServer::start(&[KEY]);
    let run = Invmon::new(work.path())
        .args(["ship"])
        .env("SAL_URL", &sal.url)
        .env("SAL_KEY", KEY)
        .run();
    assert_eq!(run.code, Some(0), "{}", run.all());
    assert!(
        run.stdout.contains("sal: 1 snapshot shipped"),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("netbox"), "{}", run.stdout);
    assert_eq!(sal.accepted().len(), 1);
}

/// A NetBox URL that points at some other web server is named as the fault.
#[test]
fn a_netbox_url_that_is_not_netbox_is_named() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            use std::io::{Read, Write};
            let mut stream = stream;
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let page = "<!DOCTYPE html><html><head><title>Page not found</title></head><body>no</body></html>";
            let _ = write!(
                stream,
                "HTTP/1.1 404 Not Found\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{page}",
                page.len()
            );
        }
    });
    let work = tempfile::tempdir().unwrap();
    assert_eq!(
        collect_fleet(work.path(), &["cisco-c3750"], &[]).code,
        Some(0)
    );
    let store = invmon::snapshot::store::Store::new(work.path().join("snapshots"));
    let mut s = latest(work.path(), "cisco-c3750");
    s.device.netbox_id = Some(1);
    s.collected_at += chrono::TimeDelta::seconds(1);
    store.write(&mut s).unwrap();
    let run = Invmon::new(work.path())
        .args(["ship", "--to", "netbox"])
        .env("NETBOX_INSTANCE_URL", &url)
        .env("NETBOX_API_TOKEN", "nbt_x.y")
        .run();
    assert_eq!(run.code, Some(3), "{}", run.all());
    assert!(
        run.stdout
            .contains("answered 404 with a web page, not NetBox's API: check NETBOX_INSTANCE_URL"),
        "{}",
        run.stdout
    );
    assert!(!run.all().contains("Some(1)"), "{}", run.all());
}
