//! `invmon diff` on stored snapshots: golden outputs for the common stories,
//! no noise from volatile values, and the algebra diff(A, A) = ∅ and
//! diff(B, A) = mirror of diff(A, B).

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, Utc};
use invmon::diff::{self, Change, Pair, Side};
use invmon::inventory::Item;
use invmon::snapshot::checkin::{self, Collected};
use invmon::snapshot::store::Store;
use invmon::snapshot::{Device, Outcome, Snapshot, Status};

use crate::support::*;

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

fn item(serial: &str, class: &str, name: &str, model: &str, fw: &str, path: &[&str]) -> Item {
    let mut item = Item {
        index: serial.to_lowercase(),
        class: class.into(),
        name: name.into(),
        model: model.into(),
        serial: serial.into(),
        fw_rev: fw.into(),
        is_fru: Some(true),
        path: path.iter().map(|p| p.to_string()).collect(),
        ..Item::default()
    };
    item.ent_physical = BTreeMap::from([("entPhysicalSerialNum".to_owned(), serial.to_owned())]);
    item
}

/// Writes a snapshot the way collect does (ABSENT items and all).
fn write(
    store: &Store,
    device: &str,
    when: &str,
    status: Status,
    items: &[Item],
    facts: &[(&str, &str)],
) {
    let (previous, _) = store.latest_ok(device);
    let dev = Device {
        name: device.into(),
        address: "192.0.2.1".into(),
        ..Device::default()
    };
    let notices = match status {
        Status::Ok => vec![],
        _ => vec![invmon::inventory::Notice::error("no answer within 1s")],
    };
    let checkin = checkin::build(Collected {
        device: &dev,
        at: at(when),
        status,
        items: items.to_vec(),
        notices: &notices,
        facts: facts
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        os_family: "Network",
        previous: previous.as_ref(),
    });
    let mut snapshot = Snapshot::new(
        at(when),
        dev,
        Outcome {
            status,
            reason: (status != Status::Ok).then(|| "no SNMP answer from 192.0.2.1:161".to_owned()),
            duration_ms: 1234,
        },
        checkin,
    );
    store.write(&mut snapshot).unwrap();
}

const T1: &str = "2026-11-01T06:00:00Z";
const T2: &str = "2026-11-02T06:00:00Z";
const T3: &str = "2026-11-03T06:00:00Z";

/// r1 gains a module, loses a PSU, its module's firmware changes and an optic
/// moves to r2; r3 disappears; r4 fails once between two complete runs.
fn scenario(dir: &Path) {
    let store = Store::new(dir.join("snapshots"));
    let chassis = |s: &str| item(s, "chassis", "Chassis", "C9300-48P", "", &[]);
    let psu = item(
        "LIT1111PSU1",
        "powerSupply",
        "Power Supply 1",
        "PWR-C1-715WAC",
        "",
        &["Chassis"],
    );
    let module = |fw: &str| {
        item(
            "FOC1111MOD1",
            "module",
            "Slot 1",
            "C9300-NM-8X",
            fw,
            &["Chassis"],
        )
    };
    let optic = |name: &str| {
        item(
            "FNS1111SFP1",
            "port",
            name,
            "SFP-10G-LR",
            "",
            &["Chassis", "Slot 1"],
        )
    };
    let long_fw = "Cisco IOS XE Software, Version 16.9.1, RELEASE SOFTWARE (fc2)";
    write(
        &store,
        "r1",
        T1,
        Status::Ok,
        &[
            chassis("FOC1111A1AA"),
            psu.clone(),
            module(long_fw),
            optic("Te1/1/1"),
        ],
        &[("sysUpTime", "100")],
    );
    write(&store, "r2", T1, Status::Ok, &[chassis("FOC2222A2AA")], &[]);
    write(&store, "r3", T1, Status::Ok, &[chassis("FOC3333A3AA")], &[]);
    let r4 = [
        chassis("FOC4444A4AA"),
        item(
            "LIT4444PSU1",
            "powerSupply",
            "Power Supply 1",
            "PWR-C1-350WAC",
            "",
            &["Chassis"],
        ),
    ];
    write(&store, "r4", T1, Status::Ok, &r4, &[]);
    let new_module = item(
        "FOC1111MOD2",
        "module",
        "Slot 2",
        "C9300-NM-2Q",
        "",
        &["Chassis"],
    );
    let new_fw = "Cisco IOS XE Software, Version 17.3.4, RELEASE SOFTWARE (fc3)";
    write(
        &store,
        "r1",
        T2,
        Status::Ok,
        &[chassis("FOC1111A1AA"), module(new_fw), new_module],
        &[("sysUpTime", "8640100")],
    );
    write(
        &store,
        "r2",
        T2,
        Status::Ok,
        &[chassis("FOC2222A2AA"), optic("Te1/1/4")],
        &[],
    );
    write(&store, "r4", T2, Status::Failed, &[], &[]);
    write(&store, "r4", T3, Status::Ok, &r4, &[]);
}

/// Compares `run`'s output with the golden file `name`, with the work
/// directory `dir` (paths are shown absolute) taken out.
fn golden(name: &str, dir: &Path, run: &Run) {
    let path = fixtures().join("diff").join(name);
    let stdout = run.stdout.replace(&format!("{}/", dir.display()), "");
    if std::env::var_os("INVMON_BLESS").is_some() {
        std::fs::write(&path, &stdout).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (INVMON_BLESS=1 creates it)", path.display()));
    pretty_assertions::assert_eq!(expected, stdout, "{name}");
}

fn diff_cmd(dir: &Path, args: &[&str]) -> Run {
    Invmon::new(dir).args(["diff"]).args(args).run()
}

#[test]
fn whole_store_between_two_days() {
    let work = tempfile::tempdir().unwrap();
    scenario(work.path());
    for (format, file) in [
        ("text", "all.txt"),
        ("json", "all.json"),
        ("markdown", "all.md"),
    ] {
        let run = diff_cmd(
            work.path(),
            &[
                "--all",
                "--from",
                "2026-11-01T06",
                "--to",
                "2026-11-02T06-00-00.000Z",
                "--format",
                format,
            ],
        );
        assert_eq!(run.code, Some(1), "{}", run.all());
        golden(file, work.path(), &run);
    }
    let json: serde_json::Value = serde_json::from_str(
        &diff_cmd(
            work.path(),
            &[
                "--all",
                "--from",
                "2026-11-01T06",
                "--to",
                "2026-11-02T06",
                "--format",
                "json",
            ],
        )
        .stdout,
    )
    .unwrap();
    assert_eq!(json["stats"]["moved"], 1);
    assert_eq!(json["stats"]["added"], 1);
    assert_eq!(json["stats"]["removed"], 1);
    assert_eq!(json["stats"]["changed"], 1);
    assert_eq!(json["stats"]["missing_devices"], 1);
    let r2 = json["devices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["device"] == "r2")
        .unwrap();
    assert_eq!(r2["changes"][0]["kind"], "moved");
    assert_eq!(r2["changes"][0]["from"]["device"], "r1");
}

#[test]
fn failed_collection_in_between_is_never_removal() {
    let work = tempfile::tempdir().unwrap();
    scenario(work.path());
    // T3 (ok) against T2 (failed): nothing added, only unknown.
    let run = diff_cmd(work.path(), &["r4"]);
    assert_eq!(run.code, Some(1), "{}", run.all());
    golden("r4-after-failure.txt", work.path(), &run);
    // `-d r4` names the device as every other command does.
    assert_eq!(diff_cmd(work.path(), &["-d", "r4"]).stdout, run.stdout);
    assert!(
        !run.stdout.contains("\n  + ") && !run.stdout.contains("\n  - "),
        "{}",
        run.stdout
    );
    // T2 (failed) against T1: nothing removed.
    let run = diff_cmd(
        work.path(),
        &[
            "r4", "--from", "latest~2", "--to", "latest~1", "--format", "json",
        ],
    );
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(json["stats"]["removed"], 0);
    assert_eq!(json["stats"]["unknown"], 2);
    // --skip-failed compares with the last complete snapshot: no difference.
    let run = diff_cmd(work.path(), &["r4", "--skip-failed"]);
    assert_eq!(run.code, Some(0), "{}", run.all());
    golden("r4-skip-failed.txt", work.path(), &run);
}

#[test]
fn volatile_values_are_not_changes() {
    let work = tempfile::tempdir().unwrap();
    let store = Store::new(work.path().join("snapshots"));
    let items = expected_items("cisco-c3750");
    write(
        &store,
        "r1",
        T1,
        Status::Ok,
        &items,
        &[
            ("sysUpTime", "100"),
            ("walk_duration_ms", "80"),
            ("walk_requests", "22"),
        ],
    );
    write(
        &store,
        "r1",
        T2,
        Status::Ok,
        &items,
        &[
            ("sysUpTime", "9999"),
            ("walk_duration_ms", "95"),
            ("walk_requests", "23"),
        ],
    );
    let run = diff_cmd(work.path(), &["r1"]);
    assert_eq!(run.code, Some(0), "{}", run.all());
    assert!(
        run.stdout
            .contains("1 device: 0 added, 0 removed, 0 moved, 0 changed, 0 unknown, 9 unchanged"),
        "{}",
        run.stdout
    );
    let files: Vec<_> = store
        .list("r1")
        .unwrap()
        .into_iter()
        .map(|e| e.path.display().to_string())
        .collect();
    let run = diff_cmd(work.path(), &[&files[0], &files[1], "--format", "markdown"]);
    assert_eq!(run.code, Some(0), "{}", run.all());
}

#[test]
fn unreadable_snapshots_are_named_and_skipped() {
    let work = tempfile::tempdir().unwrap();
    scenario(work.path());
    std::fs::write(
        work.path()
            .join("snapshots/r2/2026-11-02T07-00-00.000Z.json.zst"),
        b"garbage",
    )
    .unwrap();
    let run = diff_cmd(
        work.path(),
        &["--all", "--from", "2026-11-01", "--to", "2026-11-02T23"],
    );
    assert_eq!(run.code, Some(2), "{}", run.all());
    assert!(
        run.stderr.contains(
            "snapshots/r2/2026-11-02T07-00-00.000Z.json.zst: not a zstd-compressed snapshot"
        ),
        "{}",
        run.stderr
    );
    assert!(
        run.stdout.contains("+ FOC1111MOD2"),
        "the rest is still compared: {}",
        run.stdout
    );
    let run = diff_cmd(work.path(), &["nosuchdevice"]);
    assert_eq!(run.code, Some(2));
    assert!(
        run.stderr
            .contains("no snapshots of device \"nosuchdevice\"")
    );
}

#[test]
fn prune_keeps_what_it_must() {
    let work = tempfile::tempdir().unwrap();
    scenario(work.path());
    let run = Invmon::new(work.path())
        .args(["snapshots", "prune", "--keep-last", "1", "--dry-run"])
        .run();
    assert_eq!(run.code, Some(0), "{}", run.all());
    // r4's latest is complete; its older complete and failed ones go; r1 keeps only T2.
    assert!(
        run.stdout.contains(&format!(
            "would delete {}/snapshots/r1/2026-11-01T06-00-00.000Z.json.zst",
            work.path().display()
        )),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("4 snapshots to delete, 4 kept"),
        "{}",
        run.stdout
    );
    let run = Invmon::new(work.path())
        .args(["snapshots", "prune", "--keep-last", "1"])
        .run();
    assert_eq!(run.code, Some(0));
    assert_eq!(
        Store::new(work.path().join("snapshots"))
            .list("r4")
            .unwrap()
            .len(),
        1
    );
}

/// The same sightings seen the other way round.
fn flip(list: Vec<diff::Sighting>) -> Vec<diff::Sighting> {
    list.into_iter()
        .map(|s| diff::Sighting {
            change: if s.change == "added" {
                "removed"
            } else {
                "added"
            },
            ..s
        })
        .collect()
}

/// Swaps the roles of "from" and "to" in a change.
fn mirror(c: &Change) -> Change {
    match c.clone() {
        Change::Added {
            key,
            item,
            elsewhere,
        } => Change::Removed {
            key,
            item,
            elsewhere: flip(elsewhere),
        },
        Change::Removed {
            key,
            item,
            elsewhere,
        } => Change::Added {
            key,
            item,
            elsewhere: flip(elsewhere),
        },
        Change::Moved {
            key,
            item,
            from,
            to,
            fields,
        } => Change::Moved {
            key,
            item,
            from: to,
            to: from,
            fields: fields
                .into_iter()
                .map(|f| diff::FieldChange {
                    old: f.new,
                    new: f.old,
                    ..f
                })
                .collect(),
        },
        Change::Changed { key, item, fields } => Change::Changed {
            key,
            item,
            fields: fields
                .into_iter()
                .map(|f| diff::FieldChange {
                    old: f.new,
                    new: f.old,
                    ..f
                })
                .collect(),
        },
        unknown => unknown,
    }
}

fn side(device: &str, items: Vec<Item>, path: &str, when: &str) -> Side {
    let mut keyed = BTreeMap::new();
    for i in items {
        let key = if i.serial_issue.is_none() {
            i.serial.clone()
        } else {
            format!("{}:{}#{}", i.class, i.name, i.index)
        };
        keyed.insert(key, i);
    }
    Side::from_items(path, device, at(when), keyed)
}

/// Normalises a change for comparison across the two directions: the item
/// shown is the "to" side's, which differs in the mirror.
fn shape(c: &Change) -> String {
    let mut c = c.clone();
    match &mut c {
        Change::Moved { item, .. } | Change::Changed { item, .. } => *item = Item::default(),
        _ => {}
    }
    format!("{c:?}")
}

#[test]
fn self_diff_is_empty_and_reversed_diff_is_the_mirror() {
    let names: Vec<String> = std::fs::read_dir(walks())
        .unwrap()
        .map(|e| {
            e.unwrap()
                .path()
                .file_stem()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    let mut sorted_names = names.clone();
    sorted_names.sort();
    let parsed: Vec<Vec<Item>> = sorted_names.iter().map(|n| expected_items(n)).collect();
    let mut checked = 0;
    for i in 0..parsed.len() {
        let a = side("r1", parsed[i].clone(), "a", T1);
        let same = diff::compare(
            vec![Pair {
                device: "r1".into(),
                from: Some(a.clone()),
                to: Some(a.clone()),
                events: vec![],
            }],
            "a",
            "a",
            vec![],
        );
        assert!(
            !same.has_changes(),
            "{}: diff(A, A) not empty",
            sorted_names[i]
        );
        // Against the next recording, as if the device had been swapped or rebuilt,
        // and spread over two devices so that cross-device moves are exercised.
        let j = (i + 1) % parsed.len();
        let (b1, b2) = parsed[j].split_at(parsed[j].len() / 2);
        let (a1, a2) = parsed[i].split_at(parsed[i].len() / 2);
        // x at time tx, y at time ty: the reversed diff runs back in time.
        let pairs = |x1: &[Item], x2: &[Item], y1: &[Item], y2: &[Item], tx: &str, ty: &str| {
            vec![
                Pair {
                    device: "r1".into(),
                    from: Some(side("r1", x1.to_vec(), "x1", tx)),
                    to: Some(side("r1", y1.to_vec(), "y1", ty)),
                    events: vec![],
                },
                Pair {
                    device: "r2".into(),
                    from: Some(side("r2", x2.to_vec(), "x2", tx)),
                    to: Some(side("r2", y2.to_vec(), "y2", ty)),
                    events: vec![],
                },
            ]
        };
        // Give both the same second half so some serials move between devices.
        let forward = diff::compare(pairs(a1, b2, b1, a2, T1, T2), "a", "b", vec![]);
        let backward = diff::compare(pairs(b1, a2, a1, b2, T2, T1), "b", "a", vec![]);
        let mut f: Vec<String> = forward
            .devices
            .iter()
            .flat_map(|d| d.changes.iter().map(|c| shape(&mirror(c))))
            .collect();
        let mut b: Vec<String> = backward
            .devices
            .iter()
            .flat_map(|d| d.changes.iter().map(shape))
            .collect();
        f.sort();
        b.sort();
        assert_eq!(f, b, "{} vs {}", sorted_names[i], sorted_names[j]);
        assert_eq!(forward.stats.added, backward.stats.removed);
        assert_eq!(forward.stats.moved, backward.stats.moved);
        assert_eq!(forward.stats.unchanged, backward.stats.unchanged);
        checked += 1;
    }
    assert!(checked >= 33);
}

fn json_of(run: &Run) -> serde_json::Value {
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.all()))
}

fn device<'a>(report: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    report["devices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["device"] == name)
        .unwrap_or_else(|| panic!("no {name} in {report}"))
}

/// The same serials arriving on two devices in one window: reported on
/// both, flagged, none lost.
#[test]
fn a_serial_arriving_on_two_devices_is_reported_on_each() {
    let work = tempfile::tempdir().unwrap();
    let store = Store::new(work.path().join("snapshots"));
    let chassis = |s: &str| item(s, "chassis", "Chassis", "C9300-48P", "", &[]);
    let stack = |s: &str| item(s, "module", "Stack member", "C9300-24T", "", &["Chassis"]);
    for (dev, serial) in [
        ("sw1", "FOC1111A1AA"),
        ("sw2", "FOC2222A2AA"),
        ("sw3", "FOC3333A3AA"),
    ] {
        write(
            &store,
            dev,
            T1,
            Status::Ok,
            &[chassis(serial), stack(&format!("{serial}-OLD"))],
            &[],
        );
    }
    // sw1 and sw2 both report the new member; sw3 loses its member, which also shows up on both.
    let shared = [stack("FOC9999M9MM"), stack("FOC3333A3AA-OLD")];
    write(
        &store,
        "sw1",
        T2,
        Status::Ok,
        &[
            chassis("FOC1111A1AA"),
            stack("FOC1111A1AA-OLD"),
            shared[0].clone(),
            shared[1].clone(),
        ],
        &[],
    );
    write(
        &store,
        "sw2",
        T2,
        Status::Ok,
        &[
            chassis("FOC2222A2AA"),
            stack("FOC2222A2AA-OLD"),
            shared[0].clone(),
            shared[1].clone(),
        ],
        &[],
    );
    write(
        &store,
        "sw3",
        T2,
        Status::Ok,
        &[chassis("FOC3333A3AA")],
        &[],
    );
    let run = diff_cmd(work.path(), &["--all", "--format", "json"]);
    assert_eq!(run.code, Some(1), "{}", run.all());
    let report = json_of(&run);
    assert_eq!(report["stats"]["on_several_devices"], 2, "{report:#}");
    assert_eq!(
        report["stats"]["moved"], 0,
        "no move can be told apart: {report:#}"
    );
    assert_eq!(report["stats"]["added"], 4);
    assert_eq!(report["stats"]["removed"], 1);
    for dev in ["sw1", "sw2"] {
        let changes = device(&report, dev)["changes"].as_array().unwrap();
        let keys: Vec<&str> = changes.iter().map(|c| c["key"].as_str().unwrap()).collect();
        assert_eq!(keys, ["FOC3333A3AA-OLD", "FOC9999M9MM"], "{dev}");
        assert!(
            changes
                .iter()
                .all(|c| c["kind"] == "added" && !c["elsewhere"].as_array().unwrap().is_empty())
        );
    }
    let gone = &device(&report, "sw3")["changes"][0];
    assert_eq!(gone["kind"], "removed");
    assert_eq!(gone["elsewhere"].as_array().unwrap().len(), 2);
    let text = diff_cmd(work.path(), &["--all"]);
    assert!(
        text.stdout.contains("+ FOC9999M9MM  module C9300-24T \"Stack member\"  (serial on several devices: also added on sw2 at 2026-11-02T06:00:00Z)"),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout.contains("2 serials on several devices"),
        "{}",
        text.stdout
    );
}

/// Devices collected at different times: a move is reported only in the
/// order the snapshots saw it.
#[test]
fn a_move_is_never_reported_backwards_in_time() {
    let work = tempfile::tempdir().unwrap();
    let store = Store::new(work.path().join("snapshots"));
    let chassis = |s: &str| item(s, "chassis", "Chassis", "C9300-48P", "", &[]);
    let optic = item(
        "FNS1111SFP1",
        "port",
        "Te1/1/1",
        "SFP-10G-LR",
        "",
        &["Chassis"],
    );
    // rb got the optic early (T0b) and was not collected since; ra had it later (T1) and lost it (T3).
    write(
        &store,
        "rb",
        "2026-10-30T06:00:00Z",
        Status::Ok,
        &[chassis("FOC2222A2AA")],
        &[],
    );
    write(
        &store,
        "rb",
        "2026-10-31T06:00:00Z",
        Status::Ok,
        &[chassis("FOC2222A2AA"), optic.clone()],
        &[],
    );
    write(
        &store,
        "ra",
        T1,
        Status::Ok,
        &[chassis("FOC1111A1AA"), optic.clone()],
        &[],
    );
    write(&store, "ra", T3, Status::Ok, &[chassis("FOC1111A1AA")], &[]);
    let report = json_of(&diff_cmd(work.path(), &["--all", "--format", "json"]));
    assert_eq!(report["stats"]["moved"], 0, "{report:#}");
    assert_eq!(device(&report, "ra")["changes"][0]["kind"], "removed");
    // rb's pair lies before the window: it is missing, not a destination.
    assert!(
        device(&report, "rb")["events"][0]["event"] == "missing",
        "{report:#}"
    );
    // In order (rc gets it after ra last had it), it is a move.
    let work = tempfile::tempdir().unwrap();
    let store = Store::new(work.path().join("snapshots"));
    write(
        &store,
        "ra",
        T1,
        Status::Ok,
        &[chassis("FOC1111A1AA"), optic.clone()],
        &[],
    );
    write(&store, "ra", T3, Status::Ok, &[chassis("FOC1111A1AA")], &[]);
    write(&store, "rc", T1, Status::Ok, &[chassis("FOC3333A3AA")], &[]);
    write(
        &store,
        "rc",
        "2026-11-05T06:00:00Z",
        Status::Ok,
        &[chassis("FOC3333A3AA"), optic],
        &[],
    );
    let report = json_of(&diff_cmd(work.path(), &["--all", "--format", "json"]));
    assert_eq!(report["stats"]["moved"], 1, "{report:#}");
    let moved = &device(&report, "rc")["changes"][0];
    assert_eq!(
        (
            moved["from"]["device"].as_str(),
            moved["to"]["device"].as_str()
        ),
        (Some("ra"), Some("rc"))
    );
}

#[test]
fn new_and_missing_are_judged_against_the_window_start() {
    let work = tempfile::tempdir().unwrap();
    let store = Store::new(work.path().join("snapshots"));
    let chassis = |s: &str| item(s, "chassis", "Chassis", "C9300-48P", "", &[]);
    write(
        &store,
        "old",
        "2026-09-01T06:00:00Z",
        Status::Ok,
        &[chassis("FOC0000A0AA")],
        &[],
    );
    for t in [T1, T2, T3] {
        write(&store, "r1", t, Status::Ok, &[chassis("FOC1111A1AA")], &[]);
    }
    write(
        &store,
        "fresh",
        T3,
        Status::Ok,
        &[chassis("FOC5555A5AA")],
        &[],
    );
    let report = json_of(&diff_cmd(work.path(), &["--all", "--format", "json"]));
    assert_eq!(
        device(&report, "old")["events"][0]["event"],
        "missing",
        "collected once, long ago: {report:#}"
    );
    assert_eq!(device(&report, "fresh")["events"][0]["event"], "new");
    assert_eq!(report["stats"]["new_devices"], 1);
    assert_eq!(report["stats"]["unknown"], 0);
    // A window that starts after the last collection: nothing changed, nothing missing.
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let run = diff_cmd(work.path(), &["--all", "--from", &today, "--to", "latest"]);
    assert_eq!(run.code, Some(0), "{}", run.all());
    assert!(
        run.stdout.contains("0 new, 0 missing, 0 incomplete"),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains('?'), "{}", run.stdout);
}

#[test]
fn a_corrupt_newest_snapshot_hides_nothing() {
    let work = tempfile::tempdir().unwrap();
    scenario(work.path());
    std::fs::write(
        work.path()
            .join("snapshots/r2/2026-11-09T00-00-00.000Z.json.zst"),
        b"garbage",
    )
    .unwrap();
    let run = diff_cmd(
        work.path(),
        &["--all", "--from", "2026-11-01T06", "--format", "json"],
    );
    assert_eq!(run.code, Some(2), "{}", run.all());
    assert!(
        run.stderr
            .contains("r2/2026-11-09T00-00-00.000Z.json.zst: not a zstd-compressed snapshot"),
        "{}",
        run.stderr
    );
    let report = json_of(&run);
    assert_eq!(
        device(&report, "r2")["changes"][0]["kind"],
        "moved",
        "{report:#}"
    );
    let show = Invmon::new(work.path())
        .args(["snapshots", "show", "r2"])
        .run();
    assert_eq!(show.code, Some(3), "{}", show.all());
    assert!(show.stdout.contains("FNS1111SFP1"), "{}", show.all());
}

#[test]
fn one_device_out_of_range_is_an_error_and_a_replaced_side_is_no_difference() {
    let work = tempfile::tempdir().unwrap();
    scenario(work.path());
    let run = diff_cmd(work.path(), &["r4", "--from", "latest~5"]);
    assert_eq!(run.code, Some(2), "{}", run.all());
    assert!(
        run.stderr
            .contains("device \"r4\" has 3 snapshots; latest~5 is out of range"),
        "{}",
        run.stderr
    );
    let run = diff_cmd(work.path(), &["r4", "--skip-failed"]);
    assert_eq!(run.code, Some(0), "{}", run.all());
    assert!(
        !run.stdout.contains('!'),
        "a passed-over snapshot is a note, not an event: {}",
        run.stdout
    );
}
