//! `invmon collect` end to end against the replay agent: v2c, every v3 mode,
//! raw capture, ABSENT items over two runs.

use crate::support::*;

const FLEET: [&str; 5] = [
    "cisco-c3750",
    "juniper-mx960-12-3r6-6",
    "timos_7750",
    "cisco-unmarked-0",
    "iosxr_asr9010",
];

#[test]
fn v2c_fleet_ends_in_expected_snapshots() {
    let recs = recordings(&FLEET.map(|r| (r, r)));
    let agent = Replay::start(recs.path(), &[]);
    let work = tempfile::tempdir().unwrap();
    let mut fleet = Fleet::new();
    for r in FLEET {
        fleet = fleet.v2c(r, &agent.addr, r);
    }
    fleet.write(work.path());
    let run = collect(work.path()).arg_raw().run();
    assert_eq!(run.code, Some(0), "{}", run.all());
    assert!(
        run.stdout.contains("devices: 5 ok, 0 partial, 0 failed"),
        "{}",
        run.stdout
    );
    for r in FLEET {
        let snap = latest(work.path(), r);
        assert_eq!(snap.outcome.status, invmon::snapshot::Status::Ok, "{r}");
        assert_eq!(
            sorted(present_items(&snap)),
            sorted(expected_items(r)),
            "{r}: snapshot items differ from the offline parse"
        );
        let facts = &snap.checkin.sources["SNMP Inventory"].facts;
        assert_eq!(facts["snmp_version"], "2c");
        assert_eq!(facts["walk_mode"], "getbulk");
        // The raw walk kept beside the snapshot re-parses to the same items.
        let dir = work.path().join("snapshots").join(r);
        let raw = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.extension().is_some_and(|e| e == "snmprec"))
            .unwrap();
        let walk = invmon::walk::snmprec::read(&raw).unwrap();
        let vendor: invmon::inventory::parsers::Vendor =
            serde_json::from_value(serde_json::json!(facts["vendor_parser"])).unwrap();
        assert_eq!(
            sorted(vendor.parse(&walk).items),
            sorted(expected_items(r)),
            "{r}: raw capture"
        );
    }
    let legacy = latest(work.path(), "cisco-unmarked-0");
    assert_eq!(
        legacy.checkin.machine.extra_data["serial"], "CAT0625X0DP",
        "legacy Cisco chassis serial"
    );
}

/// Every v3 mode snmp2 supports: (auth, auth key, privacy, privacy key, key extension).
const MODES: [(&str, &str, &str, &str); 10] = [
    ("", "", "", ""),
    ("MD5", "authpass123", "", ""),
    ("SHA", "authpass123", "AES", "privpass123"),
    ("MD5", "authpass123", "DES", "privpass123"),
    ("SHA-224", "authpass123", "AES", "privpass123"),
    ("SHA-256", "authpass123", "AES-256", "privpass123"),
    ("SHA-384", "authpass123", "AES-192", "privpass123"),
    ("SHA-512", "authpass123", "AES-192", "privpass123"),
    ("SHA", "authpass123", "AES-256C", "privpass123"),
    ("SHA", "authpass123", "AES-256", "privpass123"),
];

pub fn v3_users() -> Vec<String> {
    MODES
        .iter()
        .enumerate()
        .map(|(i, (a, ak, p, pk))| match (a.is_empty(), p.is_empty()) {
            (true, _) => format!("user{i}"),
            (false, true) => format!("user{i}:{a}:{ak}"),
            (false, false) => format!("user{i}:{a}:{ak}:{p}:{pk}"),
        })
        .collect()
}

/// A fleet using every v3 mode once, all served `recording`.
pub fn v3_fleet(addr: &str, recording: &str) -> Fleet {
    let mut fleet = Fleet::new();
    for (i, (a, ak, p, pk)) in MODES.iter().enumerate() {
        let user = format!("user{i}");
        let mut settings = vec![("SNMP_USER", user.as_str()), ("SNMP_CONTEXT", recording)];
        if !a.is_empty() {
            settings.extend([("SNMP_AUTH_METHOD", *a), ("SNMP_AUTH", *ak)]);
        }
        if !p.is_empty() {
            settings.extend([("SNMP_PRIVACY_METHOD", *p), ("SNMP_PRIVACY", *pk)]);
        }
        fleet = fleet.v3(&format!("mode{i}"), addr, &settings);
    }
    fleet
}

/// Every device of `v3_fleet` collected completely as its user, with the recording's items.
fn assert_every_mode_collected(dir: &std::path::Path) {
    for i in 0..MODES.len() {
        let snap = latest(dir, &format!("mode{i}"));
        assert_eq!(
            snap.outcome.status,
            invmon::snapshot::Status::Ok,
            "mode {i}: {:?}",
            snap.outcome
        );
        assert_eq!(
            snap.checkin.sources["SNMP Inventory"].facts["snmp_identity"],
            format!("user{i}")
        );
        assert_eq!(
            sorted(present_items(&snap)),
            sorted(expected_items("cisco-c3750")),
            "mode {i}"
        );
    }
}

/// A device whose SNMPv3 engine restarts mid-walk (engineBoots 2,
/// engineTime 0) answers the next requests with notInTimeWindow reports;
/// the session takes the new boots and time and goes on, for every mode.
#[test]
fn a_v3_engine_restart_mid_walk_is_ridden_out_in_every_mode() {
    let recs = recordings(&[("cisco-c3750", "cisco-c3750")]);
    let users = v3_users();
    let agent = Replay::simulating_v3(
        recs.path(),
        &users.iter().map(String::as_str).collect::<Vec<_>>(),
        r#"{"v3_restart_after": 40}"#,
    );
    let work = tempfile::tempdir().unwrap();
    v3_fleet(&agent.addr, "cisco-c3750").write(work.path());
    let run = collect(work.path()).run();
    assert_eq!(run.code, Some(0), "{}", run.all());
    assert!(
        agent
            .stderr()
            .contains("SNMPv3 engine restarted after 40 requests"),
        "{}",
        agent.stderr()
    );
    assert_every_mode_collected(work.path());
}

#[test]
fn every_v3_mode_collects() {
    let recs = recordings(&[("cisco-c3750", "cisco-c3750")]);
    let users = v3_users();
    let agent = Replay::start(
        recs.path(),
        &users.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let work = tempfile::tempdir().unwrap();
    v3_fleet(&agent.addr, "cisco-c3750").write(work.path());
    let run = collect(work.path()).run();
    assert_eq!(run.code, Some(0), "{}", run.all());
    assert_every_mode_collected(work.path());
}

/// Drops every row of one ENTITY-MIB entity from a recording.
fn without_entity(recording: &str, index: &str) -> String {
    std::fs::read_to_string(walks().join(format!("{recording}.snmprec")))
        .unwrap()
        .lines()
        .filter(|l| {
            let oid = l.split('|').next().unwrap();
            !(oid.starts_with("1.3.6.1.2.1.47.1.1.1.1.") && oid.ends_with(&format!(".{index}")))
        })
        .map(|l| format!("{l}\n"))
        .collect()
}

#[test]
fn removed_part_is_absent_once_and_partial_walk_infers_nothing() {
    let work = tempfile::tempdir().unwrap();
    let recs = tempfile::tempdir().unwrap();
    let run_with = |text: String| {
        std::fs::write(recs.path().join("r1.snmprec"), text).unwrap();
        let agent = Replay::start(recs.path(), &[]);
        Fleet::new().v2c("r1", &agent.addr, "r1").write(work.path());
        collect(work.path()).run()
    };
    let full = std::fs::read_to_string(walks().join("cisco-c3750.snmprec")).unwrap();
    assert_eq!(run_with(full.clone()).code, Some(0));
    // The power supply LIT16140TR8 (entity 1003) is pulled.
    assert_eq!(
        run_with(without_entity("cisco-c3750", "1003")).code,
        Some(0)
    );
    let snap = latest(work.path(), "r1");
    let psu = &snap.checkin.sources["SNMP Inventory"].managed_items["LIT16140TR8"];
    assert_eq!(psu.status, invmon::snapshot::checkin::ItemStatus::Absent);
    assert_eq!(psu.item().unwrap().class, "powerSupply");
    // Seen again in a third run, it is present with a new "since" date.
    assert_eq!(run_with(full).code, Some(0));
    let snap = latest(work.path(), "r1");
    assert_eq!(
        snap.checkin.sources["SNMP Inventory"].managed_items["LIT16140TR8"].status,
        invmon::snapshot::checkin::ItemStatus::Present
    );

    // A walk that breaks off after a few requests: partial, nothing inferred absent.
    let bad = misbehave::Misbehaving::start("cisco-c3750", misbehave::Fault::SilentAfter(4));
    Fleet::new().v2c("r1", &bad.addr, "r1").write(work.path());
    let run = collect(work.path()).run();
    assert_eq!(run.code, Some(3), "{}", run.all());
    let snap = latest(work.path(), "r1");
    assert_eq!(
        snap.outcome.status,
        invmon::snapshot::Status::Partial,
        "{:?}",
        snap.outcome
    );
    assert!(
        snap.outcome
            .reason
            .as_deref()
            .unwrap()
            .contains("no answer"),
        "{:?}",
        snap.outcome
    );
    let items = &snap.checkin.sources["SNMP Inventory"].managed_items;
    assert!(
        items
            .values()
            .all(|m| m.status == invmon::snapshot::checkin::ItemStatus::Present)
    );
}

trait RawFlag {
    fn arg_raw(self) -> Self;
}

impl RawFlag for Invmon {
    fn arg_raw(self) -> Self {
        self.args(["--raw"])
    }
}

#[test]
fn cron_runs_leave_their_summary_and_version_fallbacks_in_all_log() {
    let recs = recordings(&[("cisco-c3750", "sw")]);
    let agent = Replay::start(recs.path(), &[]);
    let work = tempfile::tempdir().unwrap();
    std::fs::write(
        work.path().join("targets.csv"),
        format!("name,address\nsw,{}\n", agent.addr),
    )
    .unwrap();
    // v3 first, for a user the agent does not know: collected over v2c.
    std::fs::write(
        work.path().join("fleet.env"),
        "SNMP_TIMEOUT=0.5\nSNMP_VERSION=3,2\nSNMP_USER=nobody\nSNMP_COMMUNITY=sw\n",
    )
    .unwrap();
    let run = collect(work.path())
        .args(["--log-level", "WARNING", "--log-dir", "logs"])
        .run();
    assert_eq!(run.code, Some(0), "{}", run.all());
    assert!(run.stdout.contains("devices: 1 ok"), "{}", run.stdout);
    assert!(
        !run.stderr.contains("devices: 1 ok"),
        "the summary once on the console: {}",
        run.stderr
    );
    let log = std::fs::read_to_string(work.path().join("logs/all.log")).unwrap();
    assert!(
        log.contains("devices: 1 ok"),
        "the summary is kept at any log level: {log}"
    );
    assert!(
        log.contains("WARN")
            && log.contains("Answered to SNMPv2c")
            && log.contains("SNMPv3 as user \"nobody\""),
        "the fallback is a warning: {log}"
    );
    assert!(!log.contains("SNMP GETBULK"), "requests only at DEBUG");
    let debug = collect(work.path())
        .args(["--log-level", "DEBUG", "--log-dir", "logs"])
        .run();
    assert_eq!(debug.code, Some(0), "{}", debug.all());
    let log = std::fs::read_to_string(work.path().join("logs/all.log")).unwrap();
    assert!(
        log.contains("SNMP GETBULK 1.3.6.1.2.1.47.1.1.1.1 x50"),
        "DEBUG shows each request: {log}"
    );
}
