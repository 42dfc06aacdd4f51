//! Interoperability with snmpsim, a third-party agent serving the same real
//! recordings. `scripts/test` starts it, sets INVMON_SNMPSIM and runs these
//! ignored tests; a plain `cargo test` reports them ignored, and run without
//! snmpsim they fail.

use invmon::snapshot::Status;

use crate::collect::v3_fleet;
use crate::support::*;

fn agent() -> String {
    std::env::var("INVMON_SNMPSIM")
        .expect("INVMON_SNMPSIM is not set: snmpsim is not running (scripts/test starts it)")
}

const RECORDINGS: [&str; 6] = [
    "cisco-c3750",
    "juniper-mx960-16-1r6-7-a",
    "timos_7750",
    "iosxr_asr9010",
    "arista-dcs-7150s-52-cl",
    "cisco-unmarked-0",
];

#[test]
#[ignore = "needs snmpsim: scripts/test starts it"]
fn snmpsim_v2c_fleet() {
    let addr = agent();
    let work = tempfile::tempdir().unwrap();
    let mut fleet = Fleet::new();
    for r in RECORDINGS {
        fleet = fleet.v2c(r, &addr, r);
    }
    fleet.write(work.path());
    // snmpsim is slow and single-threaded: few devices at a time, patient timeouts.
    let run = collect(work.path())
        .args(["--snmp-timeout", "5", "--parallel-jobs", "2"])
        .run();
    assert_eq!(run.code, Some(0), "{}", run.all());
    for r in RECORDINGS {
        let snap = latest(work.path(), r);
        assert_eq!(snap.outcome.status, Status::Ok, "{r}");
        assert_eq!(
            sorted(present_items(&snap)),
            sorted(expected_items(r)),
            "{r}"
        );
    }
}

#[test]
#[ignore = "needs snmpsim: scripts/test starts it"]
fn snmpsim_every_v3_mode() {
    let addr = agent();
    let work = tempfile::tempdir().unwrap();
    v3_fleet(&addr, "cisco-c3750").write(work.path());
    let run = collect(work.path())
        .args(["--snmp-timeout", "5", "--parallel-jobs", "2"])
        .run();
    assert_eq!(run.code, Some(0), "{}", run.all());
    for i in 0..10 {
        let snap = latest(work.path(), &format!("mode{i}"));
        assert_eq!(
            snap.outcome.status,
            Status::Ok,
            "mode {i}: {:?}",
            snap.outcome
        );
        assert_eq!(
            sorted(present_items(&snap)),
            sorted(expected_items("cisco-c3750")),
            "mode {i}"
        );
    }
}

#[test]
#[ignore = "needs snmpsim: scripts/test starts it"]
fn snmpsim_wrong_v3_secrets_are_named() {
    let addr = agent();
    let base = [
        ("SNMP_USER", "user2"),
        ("SNMP_CONTEXT", "cisco-c3750"),
        ("SNMP_AUTH_METHOD", "SHA"),
        ("SNMP_AUTH", "authpass123"),
        ("SNMP_PRIVACY_METHOD", "AES"),
        ("SNMP_PRIVACY", "privpass123"),
    ];
    let work = tempfile::tempdir().unwrap();
    let mut fleet = Fleet::new();
    let cases = [
        ("SNMP_USER", "nobody", "SNMP_USER"),
        ("SNMP_AUTH", "wrongauth1", "SNMP_AUTH"),
        ("SNMP_PRIVACY", "wrongpriv1", "SNMP_PRIVACY"),
    ];
    for (i, (key, value, _)) in cases.iter().enumerate() {
        let settings: Vec<(&str, &str)> = base
            .iter()
            .map(|&(k, v)| if k == *key { (k, *value) } else { (k, v) })
            .collect();
        fleet = fleet.v3(&format!("bad{i}"), &addr, &settings);
    }
    fleet.write(work.path());
    let run = collect(work.path())
        .args(["--snmp-timeout", "3", "--snmp-retries", "0"])
        .run();
    assert_eq!(run.code, Some(3), "{}", run.all());
    for (i, (key, _, named)) in cases.iter().enumerate() {
        let snap = latest(work.path(), &format!("bad{i}"));
        assert_eq!(snap.outcome.status, Status::Failed);
        let reason = snap.outcome.reason.unwrap();
        assert!(
            reason.contains(&format!("check {named}")),
            "wrong {key}: {reason}"
        );
    }
}

#[test]
#[ignore = "needs snmpsim: scripts/test starts it"]
fn snmpsim_unsorted_recording_gives_non_increasing_oids() {
    let addr = agent();
    let work = tempfile::tempdir().unwrap();
    Fleet::new()
        .v2c("unsorted", &addr, "unsorted-c3750")
        .v2c("good", &addr, "cisco-c3750")
        .write(work.path());
    let run = collect(work.path()).args(["--snmp-timeout", "5"]).run();
    assert_eq!(run.code, Some(3), "{}", run.all());
    assert_eq!(latest(work.path(), "good").outcome.status, Status::Ok);
    let snap = latest(work.path(), "unsorted");
    assert_eq!(snap.outcome.status, Status::Partial, "{:?}", snap.outcome);
    assert!(snap.outcome.reason.unwrap().contains("non-increasing OIDs"));
}
