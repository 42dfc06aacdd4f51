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
    let checkin = checkin::build(&Collected {
        device: &dev,
        at: at(when),
        status,
        items,
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

fn golden(name: &str, run: &Run) {
    let path = fixtures().join("diff").join(name);
    if std::env::var_os("INVMON_BLESS").is_some() {
        std::fs::write(&path, &run.stdout).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (INVMON_BLESS=1 creates it)", path.display()));
    pretty_assertions::assert_eq!(expected, run.stdout, "{name}");
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
        golden(file, &run);
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
    golden("r4-after-failure.txt", &run);
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
    golden("r4-skip-failed.txt", &run);
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
        run.stdout
            .contains("would delete snapshots/r1/2026-11-01T06-00-00.000Z.json.zst"),
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
