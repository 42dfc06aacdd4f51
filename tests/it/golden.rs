//! Golden tests: every recording in tests/fixtures/walks parsed to items and
//! compared with the checked-in expected output, and with what the seed tool
//! reported on the same recording; the recordings derived from them for
//! shapes no public recording has (tests/fixtures/derived,
//! scripts/derive-recordings) against expected output only.
//!
//! `INVMON_BLESS=1 cargo test --test integration golden` rewrites the expected
//! files; review the diff before committing it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use invmon::inventory::parsers::Vendor;
use invmon::walk::Oid;
use invmon::walk::snmprec;
use serde_json::{Value as Json, json};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn bless() -> bool {
    std::env::var_os("INVMON_BLESS").is_some()
}

fn names_in(dir: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(fixtures().join(dir))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "snmprec"))
        .filter_map(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .collect();
    names.sort();
    names
}

fn recordings() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(fixtures().join("walks"))
        .unwrap()
        .filter_map(|e| {
            e.unwrap()
                .path()
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
        })
        .collect();
    names.sort();
    assert!(
        names.len() >= 33,
        "expected the 29 snmpsim-data and 4 LibreNMS recordings, found {}",
        names.len()
    );
    names
}

fn parse(name: &str) -> (Vendor, invmon::inventory::Parsed) {
    parse_in("walks", name)
}

fn parse_in(dir: &str, name: &str) -> (Vendor, invmon::inventory::Parsed) {
    let walk = snmprec::read(&fixtures().join(dir).join(format!("{name}.snmprec"))).unwrap();
    let sys_object_id = match walk.get(&"1.3.6.1.2.1.1.2.0".parse::<Oid>().unwrap()) {
        Some(invmon::walk::Value::ObjectIdentifier(o)) => Some(o.clone()),
        _ => None,
    };
    let vendor = Vendor::choose("", sys_object_id.as_deref());
    (vendor, vendor.parse(&walk))
}

fn check_or_bless(path: &Path, actual: &Json) {
    let text = serde_json::to_string_pretty(actual).unwrap() + "\n";
    if bless() {
        std::fs::write(path, text).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (run with INVMON_BLESS=1 to create it)",
            path.display()
        )
    });
    pretty_assertions::assert_eq!(expected, text, "{} differs", path.display());
}

#[test]
fn parsers_match_expected_output() {
    let all = recordings()
        .into_iter()
        .map(|n| ("walks", n))
        .chain(names_in("derived").into_iter().map(|n| ("derived", n)));
    for (dir, name) in all {
        let (vendor, parsed) = parse_in(dir, &name);
        let actual = json!({
            "recording": name,
            "vendor": vendor,
            "items": parsed.items,
            "notices": parsed.notices,
        });
        check_or_bless(
            &fixtures().join("golden").join(format!("{name}.json")),
            &actual,
        );
    }
}

type Key = (String, String, String, String, String);

fn key_of(view: &BTreeMap<String, String>) -> Key {
    let f = |k: &str| view.get(k).cloned().unwrap_or_default();
    (
        f("entPhysicalSerialNum"),
        f("entPhysicalModelName"),
        f("entPhysicalName"),
        f("entPhysicalClass"),
        f("entPhysicalDescr"),
    )
}

/// Multiset difference a − b.
fn minus(a: &[Key], b: &[Key]) -> Vec<Key> {
    let mut pool: BTreeMap<&Key, usize> = BTreeMap::new();
    for k in b {
        *pool.entry(k).or_default() += 1;
    }
    let mut out = Vec::new();
    for k in a {
        match pool.get_mut(k) {
            Some(n) if *n > 0 => *n -= 1,
            _ => out.push(k.clone()),
        }
    }
    out
}

/// Compares, per recording, the seed's rows (`seed_field` of its output)
/// with ours, and checks the differences against the checked-in list.
fn compare_with_seed(
    seed_field: &str,
    ours: impl Fn(&invmon::inventory::Parsed) -> Vec<Key>,
    differences: &str,
) {
    let mut all = serde_json::Map::new();
    let mut matched = 0usize;
    for name in recordings() {
        let seed: Json = serde_json::from_str(
            &std::fs::read_to_string(fixtures().join("seed").join(format!("{name}.json"))).unwrap(),
        )
        .unwrap();
        let rows = &seed[seed_field];
        let values: Vec<&Json> = match rows {
            Json::Array(a) => a.iter().collect(),
            Json::Object(o) => o.values().collect(),
            _ => panic!("{name}: no {seed_field}"),
        };
        let seed_keys: Vec<Key> = values
            .into_iter()
            .map(|item| key_of(&serde_json::from_value(item.clone()).unwrap()))
            .collect();
        let (_, parsed) = parse(&name);
        let our_keys = ours(&parsed);
        let (seed_only, invmon_only) = (minus(&seed_keys, &our_keys), minus(&our_keys, &seed_keys));
        matched += seed_keys.len() - seed_only.len();
        if !seed_only.is_empty() || !invmon_only.is_empty() {
            let rows = |keys: Vec<Key>| -> Json {
                keys.into_iter()
                    .map(|k| json!([k.0, k.1, k.2, k.3, k.4]))
                    .collect()
            };
            all.insert(
                name,
                json!({"seed_only": rows(seed_only), "invmon_only": rows(invmon_only)}),
            );
        }
    }
    eprintln!("{seed_field}: {matched} seed rows matched");
    check_or_bless(&fixtures().join(differences), &Json::Object(all));
}

#[test]
fn seed_items_are_matched_except_documented_differences() {
    compare_with_seed(
        "inventory",
        |parsed| {
            parsed
                .items
                .iter()
                .filter(|i| i.seed_eligible())
                .map(|i| key_of(&i.ent_physical))
                .collect()
        },
        "seed-differences.json",
    );
}

/// The serial-merged rows (what the seed uploads, one probe per serial)
/// match the seed's `sn_inventory` except for the documented fixes.
#[test]
fn merged_rows_match_the_seed_except_documented_differences() {
    compare_with_seed(
        "sn_inventory",
        |parsed| {
            invmon::netbox::plan::merge(&parsed.items, &[])
                .values()
                .map(|i| key_of(&i.ent_physical))
                .collect()
        },
        "seed-merge-differences.json",
    );
}
