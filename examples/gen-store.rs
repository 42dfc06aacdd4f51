//! Generates a synthetic snapshot store for the benchmarks: DEVICES devices
//! with ITEMS items each, collected twice a day apart; between the runs
//! CHANGES percent of the items are added, removed, changed or moved to
//! another device. With RUNS, that many runs an hour apart, the last one
//! with the changes and the others all the same. Devices are named
//! `dev00000`…, or with the prefix in GEN_PREFIX.
//!
//! cargo run --release --example gen-store -- DIR DEVICES ITEMS CHANGES [RUNS]

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use invmon::inventory::Item;
use invmon::snapshot::checkin::{self, Collected};
use invmon::snapshot::store::Store;
use invmon::snapshot::{Device, Outcome, Snapshot, Status};

const CLASSES: [&str; 5] = ["module", "port", "powerSupply", "fan", "module"];

fn item(device: usize, n: usize) -> Item {
    let class = if n == 0 {
        "chassis"
    } else {
        CLASSES[n % CLASSES.len()]
    };
    let serial = format!("SN{device:05}X{n:04}");
    Item {
        index: format!("{}", 1000 + n),
        class: class.into(),
        name: format!("{class} {n}"),
        description: format!("Synthetic {class} number {n} of device {device}"),
        model: format!("MODEL-{}", n % 17),
        serial: serial.clone(),
        hw_rev: "V01".into(),
        fw_rev: "1.0.0".into(),
        is_fru: Some(true),
        path: if n == 0 {
            vec![]
        } else {
            vec!["Chassis".into(), format!("Slot {}", n / 10)]
        },
        ent_physical: BTreeMap::from([
            ("entPhysicalSerialNum".into(), serial),
            ("entPhysicalClass".into(), class.into()),
            ("entPhysicalName".into(), format!("{class} {n}")),
            ("entPhysicalModelName".into(), format!("MODEL-{}", n % 17)),
            (
                "entPhysicalDescr".into(),
                format!("Synthetic {class} number {n} of device {device}"),
            ),
        ]),
        ..Item::default()
    }
}

fn snapshot(store: &Store, prefix: &str, device: usize, at: DateTime<Utc>, items: &[Item]) {
    let name = format!("{prefix}{device:05}");
    let (previous, _) = store.latest_ok(&name);
    let dev = Device {
        name: name.clone(),
        address: format!("10.{}.{}.1", device / 256, device % 256),
        ..Device::default()
    };
    let facts = BTreeMap::from([("sysUpTime".to_owned(), at.timestamp().to_string())]);
    let checkin = checkin::build(Collected {
        device: &dev,
        at,
        status: Status::Ok,
        items: items.to_vec(),
        notices: &[],
        facts,
        os_family: "Network",
        previous: previous.as_ref(),
    });
    let mut s = Snapshot::new(
        at,
        dev,
        Outcome {
            status: Status::Ok,
            reason: None,
            duration_ms: 100,
        },
        checkin,
    );
    store.write(&mut s).expect("snapshot written");
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (dir, devices, items, changes, runs) = match &args[1..] {
        [dir, devices, items, changes] => (dir, devices, items, changes, None),
        [dir, devices, items, changes, runs] => (dir, devices, items, changes, Some(runs)),
        _ => {
            eprintln!("usage: gen-store DIR DEVICES ITEMS CHANGE_PERCENT [RUNS]");
            std::process::exit(2);
        }
    };
    let (devices, items, changes): (usize, usize, f64) = (
        devices.parse().unwrap(),
        items.parse().unwrap(),
        changes.parse().unwrap(),
    );
    let runs: Option<usize> = runs.map(|r| r.parse().unwrap());
    let prefix = std::env::var("GEN_PREFIX").unwrap_or_else(|_| "dev".into());
    let store = Store::new(dir);
    let t1: DateTime<Utc> = "2026-11-01T06:00:00Z".parse().unwrap();
    // One time per run: a day apart, or RUNS an hour apart.
    let times: Vec<DateTime<Utc>> = match runs {
        None => vec![t1, "2026-11-02T06:00:00Z".parse().unwrap()],
        Some(n) => (0..n.max(1))
            .map(|k| t1 + chrono::TimeDelta::hours(k as i64))
            .collect(),
    };
    let every = (100.0 / changes).round().max(1.0) as usize;
    let fleet: Vec<Vec<Item>> = (0..devices)
        .map(|d| (0..items).map(|n| item(d, n)).collect())
        .collect();
    // Second run: every `every`-th item (by a global counter) changes, by
    // turns: firmware change, removal, addition, move to the next device.
    let mut second = fleet.clone();
    let mut moved: Vec<(usize, Item)> = Vec::new();
    let mut counter = 0usize;
    for (d, list) in second.iter_mut().enumerate() {
        let mut kept = Vec::with_capacity(list.len());
        for it in list.drain(..) {
            counter += 1;
            if it.class == "chassis" || !counter.is_multiple_of(every) {
                kept.push(it);
                continue;
            }
            match (counter / every) % 4 {
                0 => kept.push(Item {
                    fw_rev: "2.0.0".into(),
                    ..it
                }),
                1 => {}
                2 => {
                    kept.push(it);
                    kept.push(item(d, items + counter));
                }
                _ => moved.push(((d + 1) % devices, it)),
            }
        }
        *list = kept;
    }
    for (d, it) in moved {
        second[d].push(it);
    }
    std::thread::scope(|scope| {
        let chunks = 4;
        for c in 0..chunks {
            let (store, fleet, second, times, prefix) = (&store, &fleet, &second, &times, &prefix);
            scope.spawn(move || {
                for d in (c..devices).step_by(chunks) {
                    let (last, same) = times.split_last().expect("one run at least");
                    for at in same {
                        snapshot(store, prefix, d, *at, &fleet[d]);
                    }
                    let changed = if same.is_empty() {
                        &fleet[d]
                    } else {
                        &second[d]
                    };
                    snapshot(store, prefix, d, *last, changed);
                }
            });
        }
    });
    println!(
        "{devices} devices x {items} items, {} runs, the last ~{changes}% changed, in {dir}",
        times.len()
    );
}
