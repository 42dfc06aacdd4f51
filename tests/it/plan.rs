//! The NetBox planner from recorded API answers (tests/fixtures/netbox/,
//! taken from a real NetBox 4.7 + inventory-monitor 15.2): pure, no network.

use chrono::{DateTime, TimeDelta, Utc};
use invmon::netbox::plan::{self, DeviceRef};
use serde_json::Value as Json;

use crate::support::*;

fn recorded(name: &str) -> Json {
    serde_json::from_str(&std::fs::read_to_string(fixtures().join("netbox").join(name)).unwrap())
        .unwrap()
}

/// The recorded probes are what `ship --to netbox` wrote for a cisco-n5000
/// snapshot, all at that snapshot's time.
fn setup() -> (
    Vec<invmon::inventory::Item>,
    Vec<Json>,
    DeviceRef,
    DateTime<Utc>,
) {
    let probes = recorded("probes-sw1.json")["results"]
        .as_array()
        .unwrap()
        .clone();
    let device = DeviceRef::from_api(&recorded("device-sw1.json")).unwrap();
    let seen = DateTime::parse_from_rfc3339(probes[0]["time"].as_str().unwrap())
        .unwrap()
        .with_timezone(&Utc);
    (expected_items("cisco-n5000"), probes, device, seen)
}

fn with_v3(mut items: Vec<invmon::inventory::Item>) -> Vec<invmon::inventory::Item> {
    for i in &mut items {
        if i.model == "N55-D160L3-V2" {
            i.model = "N55-D160L3-V3".into();
            i.ent_physical
                .insert("entPhysicalModelName".into(), i.model.clone());
        }
    }
    items
}

#[test]
fn same_rows_at_the_same_time_write_nothing() {
    let (items, probes, device, seen) = setup();
    let rows = plan::merge(&items, &[]);
    let p = plan::plan_device(&rows, &probes, &device, seen, TimeDelta::zero());
    assert_eq!((p.creates.len(), p.updates.len(), p.unchanged), (0, 0, 5));
}

#[test]
fn later_snapshot_moves_times_and_a_changed_part_gets_a_new_probe() {
    let (items, probes, device, seen) = setup();
    let later = seen + TimeDelta::hours(24);
    let items = with_v3(items);
    let rows = plan::merge(&items, &[]);
    let p = plan::plan_device(&rows, &probes, &device, later, TimeDelta::zero());
    assert_eq!((p.creates.len(), p.updates.len(), p.unchanged), (1, 4, 0));
    let created = &p.creates[0];
    assert_eq!(created["serial"], "FOC16347APX");
    assert_eq!(created["part"], "N55-D160L3-V3");
    assert_eq!(
        created["time"], created["creation_time"],
        "creation_time ≤ time"
    );
    assert_eq!(created["device"], device.id);
    assert_eq!(
        created["location_descriptor"],
        device.location.as_ref().unwrap().1.as_str()
    );
    let time = later.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    assert!(
        p.updates
            .iter()
            .all(|u| u["time"] == time.as_str() && u["id"].is_u64()),
        "{:?}",
        p.updates
    );
    // An older snapshot (shipped late, after a lost ledger) writes nothing
    // for parts NetBox knows from a newer one: no time moves backwards, no
    // stale probe is created.
    let unchanged = expected_items("cisco-n5000");
    let earlier = plan::plan_device(
        &plan::merge(&unchanged, &[]),
        &probes,
        &device,
        seen - TimeDelta::hours(1),
        TimeDelta::zero(),
    );
    assert_eq!(
        (
            earlier.creates.len(),
            earlier.updates.len(),
            earlier.unchanged,
            earlier.superseded
        ),
        (0, 0, 0, 5)
    );
    let changed = plan::plan_device(
        &rows,
        &probes,
        &device,
        seen - TimeDelta::hours(1),
        TimeDelta::zero(),
    );
    assert!(changed.creates.is_empty(), "{:?}", changed.creates);
}

#[test]
fn serials_match_exactly_and_excluded_models_are_not_shipped() {
    let (items, mut probes, device, seen) = setup();
    // The API's serial filter is a substring match: a look-alike must not count.
    let mut decoy = probes[0].clone();
    decoy["serial"] = Json::from(format!("X{}X", probes[0]["serial"].as_str().unwrap()));
    decoy["time"] = Json::from("2030-01-01T00:00:00Z");
    probes.push(decoy);
    let rows = plan::merge(&items, &["N55-PAC-750W".to_owned()]);
    let p = plan::plan_device(&rows, &probes, &device, seen, TimeDelta::zero());
    assert_eq!(
        (p.creates.len(), p.updates.len(), p.unchanged),
        (0, 0, 3),
        "two PSUs excluded, the decoy ignored"
    );
}

#[test]
fn times_move_together_once_the_touch_interval_is_due() {
    let (items, probes, device, seen) = setup();
    let rows = plan::merge(&items, &[]);
    let day = TimeDelta::hours(24);
    let within = plan::plan_device(&rows, &probes, &device, seen + TimeDelta::hours(23), day);
    assert_eq!(
        (within.creates.len(), within.updates.len(), within.unchanged),
        (0, 0, 5)
    );
    assert_eq!(within.touched, Some(seen), "the probes keep their time");
    let due = plan::plan_device(&rows, &probes, &device, seen + day, day);
    assert_eq!(
        (due.creates.len(), due.updates.len(), due.unchanged),
        (0, 5, 0)
    );
    assert_eq!(due.touched, Some(seen + day));
    // A changed part gets its probe at once; the others wait for their interval.
    let v3 = with_v3(items.clone());
    let changed = plan::merge(&v3, &[]);
    let p = plan::plan_device(&changed, &probes, &device, seen + TimeDelta::hours(1), day);
    assert_eq!((p.creates.len(), p.updates.len(), p.unchanged), (1, 0, 4));
    assert_eq!(p.touched, Some(seen));
    // Equal rows, equal keys, whatever the device: what lets a quiet device skip NetBox.
    assert_eq!(
        plan::row_keys(&rows),
        plan::row_keys(&plan::merge(&items, &[]))
    );
    assert_ne!(plan::row_keys(&rows), plan::row_keys(&changed));
}
