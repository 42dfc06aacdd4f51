//! `invmon history`: a part's life read back from a store written by
//! invmon's own snapshot writer.

use invmon::inventory::Item;
use invmon::snapshot::Status;
use invmon::snapshot::store::Store;

use crate::support::{Invmon, write_snapshot as write};

fn part(serial: &str, slot: &str) -> Item {
    Item {
        index: "7".into(),
        class: "module".into(),
        name: format!("module in {slot}"),
        model: "SFP-10G-LR".into(),
        serial: serial.into(),
        path: vec!["Chassis".into(), slot.into()],
        ..Item::default()
    }
}

/// `invmon history FNS123 --format json` of the store in `dir`.
fn history_json(dir: &std::path::Path) -> serde_json::Value {
    let run = Invmon::new(dir)
        .args([
            "history",
            "FNS123",
            "--snapshots",
            "snapshots",
            "--format",
            "json",
        ])
        .run();
    assert_eq!(run.code, Some(0), "{}", run.all());
    serde_json::from_str(&run.stdout).unwrap()
}

#[test]
fn a_parts_moves_absences_and_unknown_periods_are_told_in_order() {
    let work = tempfile::tempdir().unwrap();
    let store = Store::new(work.path().join("snapshots"));
    let chassis = Item {
        class: "chassis".into(),
        serial: "CH1".into(),
        model: "C9300".into(),
        ..Item::default()
    };
    let optic = |slot| part("FNS123", slot);
    write(
        &store,
        "core-1",
        "2026-11-01T06:00:00Z",
        Status::Ok,
        &[chassis.clone(), optic("Te1/1")],
    );
    write(
        &store,
        "core-1",
        "2026-11-02T06:00:00Z",
        Status::Failed,
        &[],
    );
    write(
        &store,
        "core-1",
        "2026-11-03T06:00:00Z",
        Status::Ok,
        &[chassis.clone(), optic("Te1/2")],
    );
    write(
        &store,
        "core-1",
        "2026-11-04T06:00:00Z",
        Status::Ok,
        std::slice::from_ref(&chassis),
    );
    write(
        &store,
        "edge-7",
        "2026-11-05T06:00:00Z",
        Status::Ok,
        &[optic("Te0/9")],
    );
    write(
        &store,
        "edge-7",
        "2026-11-06T06:00:00Z",
        Status::Ok,
        &[optic("Te0/9")],
    );

    let json = history_json(work.path());
    let events: Vec<(String, String, String)> = json["parts"][0]["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["kind"].as_str().unwrap().to_owned(),
                e["device"].as_str().unwrap().to_owned(),
                e["position"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let want = [
        ("first_seen", "core-1", "Chassis / Te1/1 / module in Te1/1"),
        ("unknown", "core-1", "Chassis / Te1/1 / module in Te1/1"),
        ("moved", "core-1", "Chassis / Te1/2 / module in Te1/2"),
        ("absent", "core-1", "Chassis / Te1/2 / module in Te1/2"),
        ("moved", "edge-7", "Chassis / Te0/9 / module in Te0/9"),
        ("last_seen", "edge-7", "Chassis / Te0/9 / module in Te0/9"),
    ];
    let want: Vec<(String, String, String)> = want
        .iter()
        .map(|(k, d, p)| (k.to_string(), d.to_string(), p.to_string()))
        .collect();
    assert_eq!(events, want);
    assert_eq!(json["snapshots"], 6);

    // The index beside the store is rebuilt when it is unreadable and
    // follows snapshots added since it was written.
    let index = work.path().join("snapshots/.index/history-1");
    let files: Vec<_> = std::fs::read_dir(&index)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 2, "one index per device: {files:?}");
    std::fs::write(&files[0], "not an index").unwrap();
    write(&store, "edge-7", "2026-11-07T06:00:00Z", Status::Ok, &[]);
    let json = history_json(work.path());
    let kinds: Vec<&str> = json["parts"][0]["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "first_seen",
            "unknown",
            "moved",
            "absent",
            "moved",
            "last_seen",
            "absent"
        ]
    );
    assert_eq!(json["snapshots"], 7);

    let text = Invmon::new(work.path())
        .args(["history", "--model", "SFP-*", "--snapshots", "snapshots"])
        .run();
    assert_eq!(text.code, Some(0), "{}", text.all());
    assert!(
        text.stdout.starts_with("FNS123 SFP-10G-LR (module)\n"),
        "{}",
        text.stdout
    );
    assert!(text.stdout.contains("unknown     core-1  Chassis / Te1/1 / module in Te1/1  (collection failed: no SNMP answer)"), "{}", text.stdout);
    assert!(
        !text.stdout.contains("CH1"),
        "the chassis is not an SFP: {}",
        text.stdout
    );

    let none = Invmon::new(work.path())
        .args(["history", "NOPE", "--snapshots", "snapshots"])
        .run();
    assert_eq!(none.code, Some(0));
    assert_eq!(none.stdout, "no part with serial \"NOPE\" in 7 snapshots\n");
}
