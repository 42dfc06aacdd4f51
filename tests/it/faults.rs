//! Bad input ends in a clear message, a failed (or partial) snapshot where
//! applicable, and every other device collected.

use invmon::snapshot::Status;

use crate::collect::v3_users;
use crate::support::misbehave::{Fault, Misbehaving};
use crate::support::*;

/// A copy of the c3750 recording under each name, for a simulated fleet.
fn c3750s<S: AsRef<str>>(names: &[S]) -> tempfile::TempDir {
    let pairs: Vec<(&str, &str)> = names.iter().map(|n| ("cisco-c3750", n.as_ref())).collect();
    recordings(&pairs)
}

/// One v2c device per name on `agent`, the community naming its recording.
fn each_on<S: AsRef<str>>(agent: &Replay, names: &[S]) -> Fleet {
    names.iter().fold(Fleet::new(), |fleet, n| {
        fleet.v2c(n.as_ref(), &agent.addr, n.as_ref())
    })
}

/// One good device plus one faulty one; returns the faulty one's snapshot.
fn with_good_neighbour(
    faulty: impl FnOnce(Fleet) -> Fleet,
) -> (tempfile::TempDir, Run, invmon::snapshot::Snapshot) {
    let recs = recordings(&[("cisco-c3750", "good")]);
    let agent = Replay::start(recs.path(), &[]);
    let work = tempfile::tempdir().unwrap();
    faulty(Fleet::new().v2c("good", &agent.addr, "good")).write(work.path());
    let run = collect(work.path()).run();
    let good = latest(work.path(), "good");
    assert_eq!(
        good.outcome.status,
        Status::Ok,
        "the healthy device is collected: {}",
        run.all()
    );
    assert_eq!(run.code, Some(3), "{}", run.all());
    let bad = latest(work.path(), "bad");
    (work, run, bad)
}

#[test]
fn wrong_community_times_out_into_a_failed_snapshot() {
    let recs = recordings(&[("cisco-c3750", "cisco-c3750")]);
    let agent = Replay::start(recs.path(), &[]);
    let (_w, run, bad) = with_good_neighbour(|f| f.v2c("bad", &agent.addr, "no-such-community"));
    assert_eq!(bad.outcome.status, Status::Failed);
    assert!(
        bad.outcome
            .reason
            .as_deref()
            .unwrap()
            .contains("no answer within"),
        "{:?}",
        bad.outcome
    );
    assert!(
        run.stdout.contains("failed bad: no SNMP answer"),
        "{}",
        run.stdout
    );
    assert!(
        bad.checkin.sources["SNMP Inventory"]
            .managed_items
            .is_empty()
    );
}

/// Public recordings carry lines snmpsim itself skips: the agent serves the
/// rest of the file and names each skipped line once, its value cut short.
#[test]
fn replay_serves_recordings_around_their_bad_lines() {
    let recs = recordings(&[("cisco-c3750", "c3750")]);
    let file = recs.path().join("c3750.snmprec");
    let good = std::fs::read_to_string(&file).unwrap();
    let good = good.trim_end();
    let lines = good.lines().count();
    let long = "ab".repeat(3000);
    std::fs::write(
        &file,
        format!(
            "{good}\n1.3.6.1.4.1.9.9.999.1|70|\n1.3.6.1.4.1.9.9.999.2|40|1\n\
             1.3.6.1.4.1.9.9.999.3|64|<private>\n1.3.6.1.4.1.9.9.999.4|4x|{long}a\n"
        ),
    )
    .unwrap();
    std::fs::write(recs.path().join("junk.snmprec"), "not a recording\n").unwrap();
    let agent = Replay::start(recs.path(), &[]);
    let work = tempfile::tempdir().unwrap();
    Fleet::new()
        .v2c("c3750", &agent.addr, "c3750")
        .write(work.path());
    let run = collect(work.path()).run();
    assert_eq!(run.code, Some(0), "{}", run.all());
    let snapshot = latest(work.path(), "c3750");
    assert_eq!(
        sorted(present_items(&snapshot)),
        sorted(expected_items("cisco-c3750"))
    );
    let log = agent.stderr();
    let name = file.display().to_string();
    for (n, why) in [
        (1, "invalid Counter64 \"\""),
        (2, "unsupported type tag \"40\""),
        (3, "invalid IpAddress \"<private>\""),
        (
            4,
            "invalid hex value \"abababababababababababababababababababab\"… (6001 characters)",
        ),
    ] {
        let line = format!("{name}:{}: {why}; line skipped", lines + n);
        assert_eq!(log.matches(&line).count(), 1, "{line} in {log}");
    }
    assert!(!log.contains(&long[..100]), "{log}");
    assert!(
        log.contains("junk.snmprec:1: expected OID|TYPE|VALUE; line skipped")
            && log.contains("junk.snmprec: no readable line; not served"),
        "{log}"
    );
}

#[test]
fn closed_port_fails_fast() {
    let port = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let (_w, _run, bad) = with_good_neighbour(|f| f.v2c("bad", &port.to_string(), "x"));
    assert_eq!(bad.outcome.status, Status::Failed);
    let reason = bad.outcome.reason.unwrap();
    assert!(
        reason.contains("connection refused") || reason.contains("no answer"),
        "{reason}"
    );
}

#[test]
fn each_wrong_v3_secret_names_the_setting() {
    let recs = recordings(&[("cisco-c3750", "cisco-c3750")]);
    let users = v3_users();
    let agent = Replay::start(
        recs.path(),
        &users.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    // user2 is SHA + AES.
    let cases = [
        (("SNMP_USER", "nobody"), "SNMP_USER"),
        (("SNMP_AUTH", "wrongauth1"), "SNMP_AUTH"),
        (("SNMP_AUTH_METHOD", "MD5"), "SNMP_AUTH"),
        (("SNMP_PRIVACY", "wrongpriv1"), "SNMP_PRIVACY"),
        (("SNMP_PRIVACY_METHOD", "DES"), "SNMP_PRIVACY"),
    ];
    for ((key, value), named) in cases {
        let mut settings = vec![
            ("SNMP_USER", "user2"),
            ("SNMP_CONTEXT", "cisco-c3750"),
            ("SNMP_AUTH_METHOD", "SHA"),
            ("SNMP_AUTH", "authpass123"),
            ("SNMP_PRIVACY_METHOD", "AES"),
            ("SNMP_PRIVACY", "privpass123"),
        ];
        settings
            .iter_mut()
            .filter(|(k, _)| *k == key)
            .for_each(|s| s.1 = value);
        let (_w, _run, bad) = with_good_neighbour(|f| f.v3("bad", &agent.addr, &settings));
        assert_eq!(bad.outcome.status, Status::Failed, "{key}");
        let reason = bad.outcome.reason.unwrap();
        assert!(
            reason.contains(&format!("check {named}")),
            "wrong {key}: {reason}"
        );
        assert!(
            !reason.contains(value) || key == "SNMP_USER" || key.ends_with("METHOD"),
            "secret in message: {reason}"
        );
    }
}

#[test]
fn device_that_stops_answering_mid_walk_is_partial() {
    let agent = Misbehaving::start("cisco-c3750", Fault::SilentAfter(6));
    let (_w, _run, bad) = with_good_neighbour(|f| f.v2c("bad", &agent.addr, "x"));
    assert_eq!(bad.outcome.status, Status::Partial, "{:?}", bad.outcome);
    assert!(
        bad.outcome
            .reason
            .unwrap()
            .contains("walk of 1.3.6.1.2.1.47.1.1.1.1 failed: no answer")
    );
}

#[test]
fn non_increasing_oids_stop_the_walk() {
    let agent = Misbehaving::start("cisco-c3750", Fault::NonIncreasing);
    let (_w, _run, bad) = with_good_neighbour(|f| f.v2c("bad", &agent.addr, "x"));
    assert_eq!(bad.outcome.status, Status::Partial, "{:?}", bad.outcome);
    assert!(bad.outcome.reason.unwrap().contains("non-increasing OIDs"));
}

#[test]
fn undecodable_value_stops_the_walk() {
    let agent = Misbehaving::start("cisco-c3750", Fault::UnknownTag);
    let (_w, _run, bad) = with_good_neighbour(|f| f.v2c("bad", &agent.addr, "x"));
    assert_ne!(bad.outcome.status, Status::Ok, "{:?}", bad.outcome);
    let reason = bad.outcome.reason.unwrap();
    assert!(
        reason.contains("cannot read after 1.3.6.1.2.1.47.1.1.1.1.10."),
        "{reason}"
    );
}

#[test]
fn late_reply_does_not_poison_the_session() {
    let agent = Misbehaving::start(
        "cisco-c3750",
        Fault::LateFirstBulk(std::time::Duration::from_millis(700)),
    );
    let work = tempfile::tempdir().unwrap();
    Fleet::new().v2c("r1", &agent.addr, "x").write(work.path());
    let run = collect(work.path()).args(["--snmp-retries", "2"]).run();
    assert_eq!(run.code, Some(0), "{}", run.all());
    let snap = latest(work.path(), "r1");
    assert_eq!(
        sorted(present_items(&snap)),
        sorted(expected_items("cisco-c3750"))
    );
    let facts = &snap.checkin.sources["SNMP Inventory"].facts;
    assert!(
        facts["walk_reconnects"].parse::<u32>().unwrap() >= 1,
        "{facts:?}"
    );
}

#[test]
fn agents_ignoring_or_breaking_on_getbulk_are_walked_with_getnext() {
    let recs = recordings(&[("cisco-c3750", "ignores"), ("cisco-c3750", "breaks")]);
    let agent = Replay::simulating(
        recs.path(),
        r#"{"rules": [{"match": "ignores", "getbulk": "ignore"}, {"match": "breaks", "getbulk": "break"}]}"#,
    );
    let work = tempfile::tempdir().unwrap();
    Fleet::new()
        .v2c("ignores", &agent.addr, "ignores")
        .v2c("breaks", &agent.addr, "breaks")
        .write(work.path());
    let run = collect(work.path()).run();
    assert_eq!(run.code, Some(0), "{}", run.all());
    for (device, why) in [
        ("ignores", "no answer to GETBULK"),
        ("breaks", "GETBULK with genErr"),
    ] {
        let snap = latest(work.path(), device);
        assert_eq!(
            snap.checkin.sources["SNMP Inventory"].facts["walk_mode"],
            "getnext"
        );
        assert!(
            messages(&snap).contains("walked with GETNEXT"),
            "{}",
            messages(&snap)
        );
        assert!(
            messages(&snap).contains(why),
            "{device}: {}",
            messages(&snap)
        );
        assert_eq!(
            sorted(present_items(&snap)),
            sorted(expected_items("cisco-c3750"))
        );
    }
}

/// The simulator at small size: each behaviour of a real fleet reaches the
/// collector as it would from real devices (a test of behaviour, not of time).
#[test]
fn a_simulated_fleet_behaves_as_its_fleet_file_says() {
    let names = ["plain", "dead", "lossy", "small", "slow"];
    let recs = c3750s(&names);
    let agent = Replay::simulating(
        recs.path(),
        r#"{"seed": 3, "latency_ms": [5, 30], "jitter_ms": 5, "rules": [
            {"match": "dead", "dead": true},
            {"match": "lossy", "loss": 0.2},
            {"match": "small", "max_pdu": 600},
            {"match": "slow", "slow": [{"subtree": "1.3.6.1.2.1.47.1.1.1.1.11", "delay_ms": 2500}]}]}"#,
    );
    let work = tempfile::tempdir().unwrap();
    each_on(&agent, &names).write(work.path());
    let run = collect(work.path())
        .args(["--snmp-timeout", "1", "--snmp-retries", "4"])
        .run();
    assert_eq!(run.code, Some(3), "two devices fail: {}", run.all());
    let expected = sorted(expected_items("cisco-c3750"));
    for n in ["plain", "lossy", "small"] {
        let snap = latest(work.path(), n);
        assert_eq!(snap.outcome.status, Status::Ok, "{n}: {:?}", snap.outcome);
        assert_eq!(sorted(present_items(&snap)), expected, "{n}");
    }
    let fact = |n: &str, f: &str| -> f64 {
        latest(work.path(), n).checkin.sources["SNMP Inventory"].facts[f]
            .parse()
            .unwrap()
    };
    assert!(
        fact("lossy", "walk_timeouts") > 0.0,
        "requests were lost and retried"
    );
    assert_eq!(fact("plain", "walk_timeouts"), 0.0);
    assert!(
        fact("small", "walk_max_repetitions") < 50.0,
        "tooBig shrank GETBULK"
    );
    assert!(
        fact("plain", "walk_rtt_mean_ms") >= 5.0,
        "latency reaches the collector"
    );
    let dead = latest(work.path(), "dead");
    assert_eq!(dead.outcome.status, Status::Failed);
    assert!(
        dead.outcome
            .reason
            .as_deref()
            .unwrap()
            .contains("no answer within"),
        "{:?}",
        dead.outcome
    );
    // Serials slower than the timeout: the walk stops there, and nothing is
    // taken for removed.
    let slow = latest(work.path(), "slow");
    assert_ne!(slow.outcome.status, Status::Ok, "{:?}", slow.outcome);
    assert!(
        slow.outcome
            .reason
            .as_deref()
            .unwrap()
            .contains("1.3.6.1.2.1.47"),
        "{:?}",
        slow.outcome
    );
    assert!(
        slow.checkin.sources["SNMP Inventory"]
            .managed_items
            .values()
            .all(|m| m.status != invmon::snapshot::checkin::ItemStatus::Absent)
    );
}

#[test]
fn unwritable_store_is_refused_before_walking() {
    let work = tempfile::tempdir().unwrap();
    std::fs::write(work.path().join("not-a-dir"), "").unwrap();
    let run = Invmon::new(work.path())
        .args([
            "collect",
            "--device",
            "r1",
            "--address",
            "127.0.0.1:9",
            "--snapshots",
            "not-a-dir/store",
        ])
        .env("SNMP_COMMUNITY", "x")
        .run();
    assert_eq!(run.code, Some(1), "{}", run.all());
    assert!(
        run.stderr.contains(&format!(
            "snapshot store {}/not-a-dir/store",
            work.path().display()
        )),
        "{}",
        run.stderr
    );
}

#[test]
fn hostile_device_name_stays_inside_the_store() {
    let recs = recordings(&[("cisco-c3750", "cisco-c3750")]);
    let agent = Replay::start(recs.path(), &[]);
    let work = tempfile::tempdir().unwrap();
    let run = Invmon::new(work.path())
        .args([
            "collect",
            "--device",
            "../../etc/x",
            "--address",
            &agent.addr,
            "--snapshots",
            "store/inner",
        ])
        .env("SNMP_VERSION", "2")
        .env("SNMP_COMMUNITY", "cisco-c3750")
        .run();
    assert_eq!(run.code, Some(0), "{}", run.all());
    let dirs: Vec<String> = std::fs::read_dir(work.path().join("store/inner"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .collect();
    assert_eq!(dirs, vec!["%2E.%2F..%2Fetc%2Fx"]);
    assert!(!work.path().join("etc").exists() && !work.path().join("store/etc").exists());
    let snap = invmon::snapshot::codec::read(
        &std::fs::read_dir(work.path().join("store/inner/%2E.%2F..%2Fetc%2Fx"))
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path(),
    )
    .unwrap();
    assert_eq!(
        snap.device.name, "../../etc/x",
        "the real name is kept inside"
    );
    let show = Invmon::new(work.path())
        .args([
            "snapshots",
            "show",
            "../../etc/x",
            "--snapshots",
            "store/inner",
        ])
        .run();
    assert_eq!(show.code, Some(0), "{}", show.all());
}

#[test]
fn bad_target_rows_are_reported_and_others_run() {
    let recs = recordings(&[("cisco-c3750", "good")]);
    let agent = Replay::start(recs.path(), &[]);
    let work = tempfile::tempdir().unwrap();
    Fleet::new()
        .v2c("good", &agent.addr, "good")
        .write(work.path());
    let mut csv = std::fs::read_to_string(work.path().join("targets.csv")).unwrap();
    csv += "bad1,not an address,,,,,S1\n,127.0.0.1,,,,,S1\nbad3,127.0.0.1,,,,,NOSUCHSET\n";
    std::fs::write(work.path().join("targets.csv"), csv).unwrap();
    let run = collect(work.path()).run();
    assert_eq!(run.code, Some(3), "{}", run.all());
    assert!(run.stderr.contains("targets.csv:3: "), "{}", run.stderr);
    assert!(
        run.stderr.contains("targets.csv:4: name is empty"),
        "{}",
        run.stderr
    );
    // A row naming a set nobody defined is a bad row too, named with its device.
    assert!(
        run.stderr
            .contains("bad3: credential set \"NOSUCHSET\" is not defined"),
        "{}",
        run.stderr
    );
    assert!(
        run.stdout.contains("3 target rows skipped"),
        "{}",
        run.stdout
    );
    assert_eq!(latest(work.path(), "good").outcome.status, Status::Ok);
    assert!(!work.path().join("snapshots/bad3").exists());
}

#[test]
fn corrupt_truncated_and_foreign_snapshots_are_named() {
    let recs = recordings(&[("cisco-c3750", "r1")]);
    let agent = Replay::start(recs.path(), &[]);
    let work = tempfile::tempdir().unwrap();
    Fleet::new().v2c("r1", &agent.addr, "r1").write(work.path());
    assert_eq!(collect(work.path()).run().code, Some(0));
    let dir = work.path().join("snapshots/r1");
    let good = std::fs::read_dir(&dir)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let bytes = std::fs::read(&good).unwrap();
    let cases: [(&str, Vec<u8>, &str); 4] = [
        (
            "2030-01-01T00-00-00.000Z",
            bytes[..bytes.len() / 2].to_vec(),
            "truncated or corrupt",
        ),
        (
            "2030-01-02T00-00-00.000Z",
            b"hello".to_vec(),
            "not a zstd-compressed snapshot",
        ),
        (
            "2030-01-03T00-00-00.000Z",
            zstd::encode_all(&b"{\"some\": \"json\"}"[..], 3).unwrap(),
            "not an invmon snapshot",
        ),
        (
            "2030-01-04T00-00-00.000Z",
            zstd::encode_all(&b"{\"format\": \"invmon-snapshot\", \"schema\": 99}"[..], 3).unwrap(),
            "written by a newer invmon",
        ),
    ];
    for (stamp, content, expected) in cases {
        let path = dir.join(format!("{stamp}.json.zst"));
        std::fs::write(&path, content).unwrap();
        let run = Invmon::new(work.path())
            .args(["snapshots", "show", "r1", "--at", stamp])
            .run();
        // Named, and the newest readable one before it is shown instead.
        assert_eq!(run.code, Some(3), "{}", run.all());
        let named = format!("snapshots/r1/{stamp}.json.zst");
        assert!(
            run.stderr.contains(&named) && run.stderr.contains(expected),
            "{}",
            run.stderr
        );
        let shown: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
        assert_eq!(shown["device"]["name"], "r1");
        std::fs::remove_file(path).unwrap();
    }
}

/// Timeouts on many devices at once (a congested path, simulated by a link
/// of limited rate): fewer devices in flight, and those that timed out in
/// the surge collected again: no device lost to the surge.
#[test]
fn a_congested_path_means_fewer_in_flight_not_failed_devices() {
    let mut names: Vec<String> = (0..120).map(|i| format!("c{i:03}")).collect();
    names.extend((0..5).map(|i| format!("dead{i}")));
    let recs = c3750s(&names);
    let agent = Replay::simulating(
        recs.path(),
        r#"{"latency_ms": 20, "link": {"answers_per_s": 400, "burst": 40},
            "rules": [{"match": "dead*", "dead": true}]}"#,
    );
    let work = tempfile::tempdir().unwrap();
    each_on(&agent, &names).write(work.path());
    let run = collect(work.path())
        .args(["--parallel-jobs", "125", "--snmp-timeout", "1"])
        .run();
    assert_eq!(run.code, Some(3), "the dead fail: {}", run.all());
    assert!(
        run.all().contains("devices in flight now, from 125"),
        "{}",
        run.all()
    );
    // Collected again while that brings devices back; the dead ones alone
    // are not collected over and over.
    let again = run.all().matches("Collecting again").count();
    assert!((1..=2).contains(&again), "{}", run.all());
    let expected = sorted(expected_items("cisco-c3750"));
    for n in &names {
        let snap = latest(work.path(), n);
        if n.starts_with("dead") {
            assert_eq!(snap.outcome.status, Status::Failed, "{n}");
            continue;
        }
        assert_eq!(snap.outcome.status, Status::Ok, "{n}: {:?}", snap.outcome);
        assert_eq!(sorted(present_items(&snap)), expected, "{n}");
    }
}

/// Started together, the dead of a fleet (a quarter here) time out together:
/// no surge, as their requests are few against those of the devices that
/// answer. Neither run cuts the window or collects them again.
#[test]
fn dead_devices_timing_out_together_are_no_surge() {
    let mut names: Vec<String> = (0..30).map(|i| format!("c{i:03}")).collect();
    names.extend((0..10).map(|i| format!("dead{i}")));
    let recs = c3750s(&names);
    let agent = Replay::simulating(
        recs.path(),
        r#"{"latency_ms": 5, "rules": [{"match": "dead*", "dead": true}]}"#,
    );
    let work = tempfile::tempdir().unwrap();
    each_on(&agent, &names).write(work.path());
    let args = ["--parallel-jobs", "40", "--snmp-timeout", "0.5"];
    for _ in ["first", "next"] {
        let run = collect(work.path()).args(args).run();
        assert_eq!(run.code, Some(3), "the dead fail: {}", run.all());
        assert!(
            !run.all().contains("in flight now") && !run.all().contains("Collecting again"),
            "{}",
            run.all()
        );
        assert!(
            run.all().contains("devices: 30 ok, 0 partial, 10 failed"),
            "{}",
            run.all()
        );
    }
}

/// A device that answered in the last run and not once now is tried once
/// more before it is written as failed; one never heard from is not.
#[test]
fn a_device_silent_after_answering_last_run_is_tried_again() {
    let names = ["c000", "c001", "flaky", "dead0"];
    let recs = c3750s(&names);
    let work = tempfile::tempdir().unwrap();
    let args = ["--snmp-timeout", "0.5"];
    let mut codes = Vec::new();
    for fleet_file in [
        r#"{"rules": [{"match": "dead*", "dead": true}]}"#,
        r#"{"rules": [{"match": "dead*", "dead": true}, {"match": "flaky", "dead": true}]}"#,
    ] {
        let agent = Replay::simulating(recs.path(), fleet_file);
        each_on(&agent, &names).write(work.path());
        let run = collect(work.path()).args(args).run();
        codes.push(run.code);
        let again = run.all().matches("Collecting again").count();
        if codes.len() == 1 {
            assert_eq!(again, 0, "nothing known yet: {}", run.all());
        } else {
            assert!(
                run.all()
                    .contains("Collecting again 1 device that answered in the last run"),
                "{}",
                run.all()
            );
            assert_eq!(again, 1, "{}", run.all());
            assert!(
                run.all().contains("devices: 2 ok, 0 partial, 2 failed"),
                "{}",
                run.all()
            );
        }
    }
    assert_eq!(codes, [Some(3), Some(3)]);
    assert_eq!(latest(work.path(), "flaky").outcome.status, Status::Failed);
}

/// The first requests to a device can be lost (an ARP entry being resolved,
/// a firewall setting up state) before anything is known of it. A device
/// not known to be dead gets one attempt more at its first request, after
/// RFC 6298's initial wait; one that was dead in the last run does not,
/// while one new to the store does.
#[test]
fn a_first_request_lost_twice_is_sent_once_more_unless_the_device_was_dead() {
    let names = ["c000", "late", "dead0", "late-new"];
    let recs = c3750s(&names);
    let work = tempfile::tempdir().unwrap();
    let requests = |n: &str| -> u64 {
        latest(work.path(), n).checkin.sources["SNMP Inventory"].facts["walk_requests"]
            .parse()
            .unwrap()
    };
    let mut dead_requests = Vec::new();
    for run_no in 0..2 {
        let agent = Replay::simulating(
            recs.path(),
            r#"{"rules": [{"match": "dead*", "dead": true}, {"match": "late*", "lost_first": 2}]}"#,
        );
        // The fleet grows by one device after the first run.
        each_on(&agent, &names[..names.len() - 1 + run_no]).write(work.path());
        let run = collect(work.path()).args(["--snmp-timeout", "0.5"]).run();
        assert_eq!(run.code, Some(3), "the dead one fails: {}", run.all());
        assert!(!run.all().contains("Collecting again"), "{}", run.all());
        for n in ["late", "late-new"].iter().take(1 + run_no) {
            let late = latest(work.path(), n);
            let status = late.outcome.status;
            assert_eq!(status, Status::Ok, "{n}, run {run_no}: {:?}", late.outcome);
        }
        assert_eq!(latest(work.path(), "dead0").outcome.status, Status::Failed);
        dead_requests.push(requests("dead0"));
    }
    // SNMP_RETRIES=1: sent twice, and once more while nothing was known of it.
    assert_eq!(dead_requests, [3, 2]);
}

/// Snapshots are put in place a group at a time, and a group does not wait
/// for the run to end: killed while one device is still being walked, a run
/// has put in place the snapshots of the devices done a moment before.
#[test]
fn a_killed_run_keeps_the_snapshots_of_the_devices_it_had_done() {
    let names = ["c000", "c001", "slow"];
    let recs = c3750s(&names);
    let agent = Replay::simulating(
        recs.path(),
        r#"{"rules": [{"match": "slow", "slow": [{"subtree": "1.3.6.1.2.1.47", "delay_ms": 30000}]}]}"#,
    );
    let work = tempfile::tempdir().unwrap();
    each_on(&agent, &names).write(work.path());
    let mut child = collect(work.path())
        .args(["--snmp-timeout", "60"])
        .spawn_piped();
    let store = invmon::snapshot::store::Store::new(work.path().join("snapshots"));
    let done = || {
        ["c000", "c001"]
            .iter()
            .all(|d| store.list(d).is_ok_and(|l| !l.is_empty()))
    };
    let waited = std::time::Instant::now();
    while !done() {
        // The slow device alone holds the run for minutes.
        assert!(
            waited.elapsed() < std::time::Duration::from_secs(25),
            "the snapshots of the devices done wait for the run's end"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(child.try_wait().unwrap().is_none(), "the run goes on");
    child.kill().unwrap();
    child.wait().unwrap();
    for n in ["c000", "c001"] {
        assert_eq!(latest(work.path(), n).outcome.status, Status::Ok, "{n}");
    }
}
