//! No configured secret appears in snapshots, logs, output or `--help`.

use std::path::Path;

use crate::support::*;

const COMMUNITY: &str = "Zq8-community-s3cret";
const AUTH: &str = "Zq8authS3cret";
const PRIV: &str = "Zq8privS3cret";

fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .collect()
}

fn assert_clean(what: &str, text: &str) {
    for secret in [COMMUNITY, AUTH, PRIV] {
        assert!(!text.contains(secret), "{what} contains a secret");
    }
}

#[test]
fn secrets_stay_out_of_snapshots_logs_and_output() {
    let recs = recordings(&[
        ("cisco-c3750", COMMUNITY),
        ("juniper-mx960-12-3r6-6", "ctx1"),
    ]);
    let agent = Replay::start(recs.path(), &[&format!("admin:SHA:{AUTH}:AES:{PRIV}")]);
    let work = tempfile::tempdir().unwrap();
    std::fs::write(
        work.path().join("targets.csv"),
        format!(
            "name,address,credentials\nr1,{a}\nr2,{a},V3\nr3,{a},WRONG\n",
            a = agent.addr
        ),
    )
    .unwrap();
    std::fs::write(
        work.path().join(".env"),
        format!(
            "SNMP_VERSION=2\nSNMP_COMMUNITY={COMMUNITY}\n\
             SNMP_VERSION__V3=3\nSNMP_USER__V3=admin\nSNMP_AUTH__V3={AUTH}\nSNMP_PRIVACY__V3={PRIV}\nSNMP_CONTEXT__V3=ctx1\n\
             SNMP_VERSION__WRONG=3\nSNMP_USER__WRONG=admin\nSNMP_AUTH__WRONG={AUTH}x\nSNMP_PRIVACY__WRONG={PRIV}x\nSNMP_CONTEXT__WRONG=ctx1\n"
        ),
    )
    .unwrap();
    let run = Invmon::new(work.path())
        .args([
            "collect",
            "--targets",
            "targets.csv",
            "--raw",
            "--debug-dump",
            "dump.json",
            "--log-level",
            "DEBUG",
            "--snmp-timeout",
            "0.5",
        ])
        .run();
    assert_eq!(run.code, Some(3), "{}", run.all());
    assert_eq!(
        latest(work.path(), "r1").outcome.status,
        invmon::snapshot::Status::Ok
    );
    assert_eq!(
        latest(work.path(), "r2").outcome.status,
        invmon::snapshot::Status::Ok
    );
    assert_clean("output", &run.all());
    let files = files_under(work.path());
    assert!(
        files.iter().any(|f| f.ends_with("logs/all.log")),
        "{files:?}"
    );
    assert!(files.iter().any(|f| f.ends_with("logs/errors.log")));
    for file in files.iter().filter(|f| !f.ends_with(".env")) {
        let bytes = std::fs::read(file).unwrap();
        let text = if file.to_string_lossy().ends_with(".zst") {
            String::from_utf8(zstd::decode_all(&bytes[..]).unwrap()).unwrap()
        } else {
            String::from_utf8_lossy(&bytes).into_owned()
        };
        assert_clean(&file.display().to_string(), &text);
    }
    // The same secrets given as flags: warned about, still never echoed.
    let run = Invmon::new(work.path())
        .args([
            "collect",
            "--targets",
            "targets.csv",
            "--device",
            "r1",
            "--snmp-community",
            COMMUNITY,
            "--snmp-auth",
            AUTH,
            "--snmp-privacy",
            PRIV,
        ])
        .run();
    assert!(
        run.stderr
            .contains("--snmp-community was given on the command line"),
        "{}",
        run.stderr
    );
    assert_clean("flag run output", &run.all());
}

#[test]
fn help_never_shows_secret_values() {
    let work = tempfile::tempdir().unwrap();
    for args in [
        vec!["--help"],
        vec!["collect", "--help"],
        vec!["replay", "--help"],
        vec!["snapshots", "show", "--help"],
    ] {
        let run = Invmon::new(work.path())
            .args(&args)
            .env("SNMP_COMMUNITY", COMMUNITY)
            .env("SNMP_AUTH", AUTH)
            .env("SNMP_PRIVACY", PRIV)
            .env("SNMP_USER", "someuser")
            .run();
        assert_eq!(run.code, Some(0), "{args:?}: {}", run.all());
        assert_clean(&format!("{args:?}"), &run.all());
        if args == ["collect", "--help"] {
            let flat = run.stdout.split_whitespace().collect::<Vec<_>>().join(" ");
            assert!(flat.contains("[env: SNMP_COMMUNITY]"), "{}", run.stdout);
            assert!(!run.stdout.contains("someuser"));
        }
    }
}
