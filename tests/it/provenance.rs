//! Provenance across zones: signatures OpenSSH agrees with, refusals by
//! path and reason, and bundles over a one-way link, with real keys made
//! by Debian's ssh-keygen.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::sal::SalServer;
use crate::support::*;

const KEY: &str = "k3yForTheLabGroup0123456789abcdefghijklmnopqrstuvwxyz";

/// An ed25519 key pair made by ssh-keygen: (private key path, public key line).
fn keygen(dir: &Path, name: &str) -> (PathBuf, String) {
    let key = dir.join(name);
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", name, "-f"])
        .arg(&key)
        .status()
        .expect("ssh-keygen runs (openssh-client; scripts/test installs it)");
    assert!(status.success());
    let public = std::fs::read_to_string(key.with_extension("pub")).unwrap();
    (key, public.trim().to_owned())
}

/// A collector's store: the given recordings collected with a signing key.
fn collected(work: &Path, key: &Path, id: &str, recordings_list: &[&str], runs: usize) {
    let recs = recordings(&recordings_list.iter().map(|r| (*r, *r)).collect::<Vec<_>>());
    let agent = Replay::start(recs.path(), &[]);
    let mut fleet = Fleet::new();
    for r in recordings_list {
        fleet = fleet.v2c(r, &agent.addr, r);
    }
    fleet.write(work);
    for _ in 0..runs {
        let run = collect(work)
            .args(["--raw"])
            .env("INVMON_SIGNING_KEY", key)
            .env("INVMON_COLLECTOR_ID", id)
            .run();
        assert_eq!(run.code, Some(0), "{}", run.all());
    }
}

fn snapshot_files(store: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = walkdir::WalkDir::new(store)
        .into_iter()
        .filter_map(Result::ok)
        .map(|e| e.into_path())
        .filter(|p| p.to_string_lossy().ends_with(".json.zst"))
        .collect();
    files.sort();
    files
}

fn verify(work: &Path, allowed: &Path, store: &str) -> Run {
    Invmon::new(work)
        .args(["snapshots", "verify", "--snapshots", store])
        .env("INVMON_ALLOWED_SIGNERS", allowed)
        .run()
}

fn ssh_keygen_verify(allowed: &Path, principal: &str, namespace: &str, file: &Path) -> bool {
    let sig = format!("{}.sig", file.display());
    Command::new("ssh-keygen")
        .args(["-Y", "verify", "-f"])
        .arg(allowed)
        .args(["-I", principal, "-n", namespace, "-s", &sig])
        .stdin(std::fs::File::open(file).unwrap())
        .output()
        .unwrap()
        .status
        .success()
}

#[test]
fn openssh_and_invmon_accept_each_others_signatures() {
    let work = tempfile::tempdir().unwrap();
    let (key, public) = keygen(work.path(), "east");
    let allowed = work.path().join("allowed_signers");
    std::fs::write(&allowed, format!("east {public}\n")).unwrap();
    collected(work.path(), &key, "east", &["cisco-c3750"], 1);
    let files = snapshot_files(&work.path().join("snapshots"));
    assert_eq!(files.len(), 1);
    let raw = files[0].with_file_name(
        files[0]
            .file_name()
            .unwrap()
            .to_string_lossy()
            .replace(".json.zst", ".snmprec"),
    );
    for file in [&files[0], &raw] {
        assert!(
            ssh_keygen_verify(&allowed, "east", "invmon-snapshot", file),
            "ssh-keygen -Y verify accepts {}",
            file.display()
        );
    }
    let snap = latest(work.path(), "cisco-c3750");
    assert_eq!(snap.tool.collector, "east");
    assert!(snap.tool.signer.as_deref().unwrap().starts_with("SHA256:"));
    // The other way: a signature made by ssh-keygen -Y sign.
    std::fs::remove_file(format!("{}.sig", files[0].display())).unwrap();
    let signed = Command::new("ssh-keygen")
        .args(["-q", "-Y", "sign", "-n", "invmon-snapshot", "-f"])
        .arg(&key)
        .arg(&files[0])
        .status()
        .unwrap();
    assert!(signed.success());
    let run = verify(work.path(), &allowed, "snapshots");
    assert_eq!(run.code, Some(0), "{}", run.all());
    assert!(
        run.stdout
            .contains("1 snapshot, 1 raw walk checked with their signatures: no problems"),
        "{}",
        run.stdout
    );
}

#[test]
fn altered_unsigned_and_untrusted_snapshots_are_refused_by_name() {
    let work = tempfile::tempdir().unwrap();
    let (key, public) = keygen(work.path(), "east");
    let (other, other_public) = keygen(work.path(), "other");
    collected(work.path(), &key, "east", &["cisco-c3750"], 1);
    let file = snapshot_files(&work.path().join("snapshots")).remove(0);
    let sig = PathBuf::from(format!("{}.sig", file.display()));
    let (bytes, sig_bytes) = (std::fs::read(&file).unwrap(), std::fs::read(&sig).unwrap());
    let allowed = work.path().join("allowed_signers");
    let refused = |signers: String, expected: &str| {
        std::fs::write(&allowed, signers).unwrap();
        let run = verify(work.path(), &allowed, "snapshots");
        assert_eq!(run.code, Some(3), "{expected}: {}", run.all());
        assert!(
            run.stdout.contains(
                &file.display().to_string()[work.path().display().to_string().len() + 1..]
            ) && run.stdout.contains(expected),
            "{expected}: {}",
            run.stdout
        );
    };
    let good = format!("east {public}\n");
    // One flipped byte in the snapshot, then in the signature.
    let mut flipped = bytes.clone();
    flipped[bytes.len() / 2] ^= 1;
    std::fs::write(&file, &flipped).unwrap();
    refused(good.clone(), "refused:");
    std::fs::write(&file, &bytes).unwrap();
    let mut bad_sig = sig_bytes.clone();
    let at = bad_sig.len() / 2;
    bad_sig[at] = if bad_sig[at] == b'A' { b'B' } else { b'A' };
    std::fs::write(&sig, &bad_sig).unwrap();
    refused(good.clone(), "refused:");
    std::fs::write(&sig, &sig_bytes).unwrap();
    // Another key, a principal not listed, an entry expired, another namespace.
    refused(
        format!("east {other_public}\n"),
        "a key allowed_signers does not list for \"east\"",
    );
    refused(
        format!("west {public}\n"),
        "a key allowed_signers does not list for \"east\"",
    );
    refused(
        format!("east valid-before=20200101 {public}\n"),
        "expired at 2020-01-01",
    );
    refused(
        format!("east namespaces=\"git\" {public}\n"),
        "does not list",
    );
    std::fs::remove_file(&sig).unwrap();
    let other_namespace = Command::new("ssh-keygen")
        .args(["-q", "-Y", "sign", "-n", "file", "-f"])
        .arg(&key)
        .arg(&file)
        .status()
        .unwrap();
    assert!(other_namespace.success());
    refused(good.clone(), "signed for \"file\", not \"invmon-snapshot\"");
    std::fs::remove_file(&sig).unwrap();
    refused(good.clone(), "not signed");
    std::fs::write(&sig, &sig_bytes).unwrap();
    // A signing key others can read is refused before anything is collected.
    let loose = work.path().join("loose");
    std::fs::copy(&other, &loose).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&loose, std::fs::Permissions::from_mode(0o644)).unwrap();
    let run = collect(work.path()).env("INVMON_SIGNING_KEY", &loose).run();
    assert_eq!(run.code, Some(2), "{}", run.all());
    assert!(
        run.stderr
            .contains("permissions 0644 let others read it; chmod 600"),
        "{}",
        run.stderr
    );
}

/// Rewrites a snapshot as a forger would: valid JSON, valid zstd, one
/// serial number changed, the collector's signature left beside it.
fn forge_serial(file: &Path, forged: &str) {
    let snapshot = invmon::snapshot::codec::read(file).unwrap();
    let serial = snapshot
        .checkin
        .sources
        .values()
        .flat_map(|s| s.managed_items.values())
        .filter_map(|m| m.item())
        .map(|i| i.serial)
        .find(|s| s.len() > 6)
        .expect("an item with a serial");
    let json =
        String::from_utf8(zstd::decode_all(&std::fs::read(file).unwrap()[..]).unwrap()).unwrap();
    let json = json.replace(&format!("\"{serial}\""), &format!("\"{forged}\""));
    std::fs::write(file, zstd::encode_all(json.as_bytes(), 3).unwrap()).unwrap();
}

#[test]
fn ship_and_diff_read_only_what_the_allowed_signers_allow() {
    let work = tempfile::tempdir().unwrap();
    let (key, public) = keygen(work.path(), "east");
    collected(work.path(), &key, "east", &["cisco-c3750", "timos_7750"], 2);
    let allowed = work.path().join("allowed_signers");
    std::fs::write(&allowed, format!("east {public}\n")).unwrap();
    // The newest snapshot of the c3750 is altered on the way: a serial swapped.
    let files = snapshot_files(&work.path().join("snapshots/cisco-c3750"));
    forge_serial(files.last().unwrap(), "FORGED0001");
    let diff = |trusted: bool| {
        let mut cmd = Invmon::new(work.path()).args(["diff", "cisco-c3750"]);
        if trusted {
            cmd = cmd.env("INVMON_ALLOWED_SIGNERS", &allowed);
        }
        cmd.run()
    };
    let refused = diff(true);
    assert_eq!(refused.code, Some(2), "{}", refused.all());
    assert!(
        refused
            .stderr
            .contains("refused: the signature does not match the content"),
        "{}",
        refused.stderr
    );
    assert!(!refused.stdout.contains("FORGED0001"), "{}", refused.stdout);
    // The whole network: the other device is compared, the refused file named.
    let all = Invmon::new(work.path())
        .args(["diff", "--all"])
        .env("INVMON_ALLOWED_SIGNERS", &allowed)
        .run();
    assert_eq!(all.code, Some(2), "{}", all.all());
    assert!(
        all.stderr.contains("refused: the signature does not match"),
        "{}",
        all.stderr
    );
    assert!(all.stdout.contains("2 devices:"), "{}", all.stdout);
    assert!(!all.stdout.contains("FORGED0001"), "{}", all.stdout);
    // Without allowed signers nothing is checked: the forgery reads as any snapshot.
    let unchecked = diff(false);
    assert!(
        unchecked.stdout.contains("FORGED0001"),
        "{}",
        unchecked.all()
    );

    let sal = SalServer::start(&[KEY]);
    let ship = |trusted: bool| {
        let mut cmd = Invmon::new(work.path())
            .args([
                "ship",
                "--to",
                "sal",
                "--state-dir",
                if trusted { "state-a" } else { "state-b" },
            ])
            .env("SAL_URL", &sal.url)
            .env("SAL_KEY", KEY);
        if trusted {
            cmd = cmd.env("INVMON_ALLOWED_SIGNERS", &allowed);
        }
        cmd.run()
    };
    let run = ship(true);
    assert_eq!(run.code, Some(3), "{}", run.all());
    assert!(
        run.stdout.contains("cisco-c3750")
            && run.stdout.contains("refused: the signature does not match"),
        "{}",
        run.stdout
    );
    // The other device only: the c3750 is held, not shipped from an older snapshot behind the refused one.
    let accepted = sal.accepted();
    assert_eq!(accepted.len(), 1, "{accepted:?}");
    assert!(!format!("{accepted:?}").contains("FORGED0001"));
    let again = ship(true);
    assert_eq!(again.code, Some(3), "held until resolved: {}", again.all());
    assert_eq!(sal.accepted().len(), 1);
    // Without allowed signers the forgery is shipped: what the check is for.
    let unchecked = ship(false);
    assert_eq!(unchecked.code, Some(0), "{}", unchecked.all());
    assert!(format!("{:?}", sal.accepted()).contains("FORGED0001"));
    // Resolved by removing the forgery: the held device ships again.
    std::fs::remove_file(files.last().unwrap()).unwrap();
    let resolved = ship(true);
    assert_eq!(resolved.code, Some(0), "{}", resolved.all());
}

/// Writes a tar holding `members` (name, bytes) exactly as given, names
/// unchecked, so that a test can build what a hostile sender would.
fn raw_tar(path: &Path, members: &[(&str, Vec<u8>, tar::EntryType)]) {
    let mut builder = tar::Builder::new(Vec::new());
    for (name, bytes, kind) in members {
        let mut header = tar::Header::new_gnu();
        header.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_entry_type(*kind);
        if *kind == tar::EntryType::Symlink {
            header.set_size(0);
            header.set_link_name("/etc/passwd").unwrap();
        }
        header.set_cksum();
        if *kind == tar::EntryType::Symlink {
            builder.append(&header, &[][..]).unwrap();
        } else {
            builder.append(&header, &bytes[..]).unwrap();
        }
    }
    std::fs::write(path, builder.into_inner().unwrap()).unwrap();
}

#[test]
fn bundles_carry_snapshots_one_way_verified_whole_and_once() {
    let work = tempfile::tempdir().unwrap();
    let collector = work.path().join("collector");
    let dmz = work.path().join("dmz");
    let diode = work.path().join("diode");
    std::fs::create_dir_all(&collector).unwrap();
    std::fs::create_dir_all(&dmz).unwrap();
    let (key, public) = keygen(work.path(), "east");
    let allowed = work.path().join("allowed_signers");
    std::fs::write(&allowed, format!("east {public}\n")).unwrap();
    let bundle = |dir: &Path| {
        Invmon::new(dir)
            .args(["bundle", "create", "--out"])
            .arg(&diode)
            .env("INVMON_SIGNING_KEY", &key)
            .env("INVMON_COLLECTOR_ID", "east")
            .run()
    };
    let import = |files: &[PathBuf]| {
        Invmon::new(&dmz)
            .args(["bundle", "import"])
            .args(files)
            .env("INVMON_ALLOWED_SIGNERS", &allowed)
            .run()
    };
    // Three collections, each bundled: sequences 1, 2, 3.
    let recs = recordings(&[("cisco-c3750", "r1")]);
    let agent = Replay::start(recs.path(), &[]);
    Fleet::new().v2c("r1", &agent.addr, "r1").write(&collector);
    let mut bundles = Vec::new();
    for _ in 0..3 {
        let run = collect(&collector)
            .args(["--raw"])
            .env("INVMON_SIGNING_KEY", &key)
            .env("INVMON_COLLECTOR_ID", "east")
            .run();
        assert_eq!(run.code, Some(0), "{}", run.all());
        let made = bundle(&collector);
        assert_eq!(made.code, Some(0), "{}", made.all());
        bundles.push(PathBuf::from(
            made.stdout.split_whitespace().nth(1).unwrap(),
        ));
    }
    assert!(bundle(&collector).stdout.contains("nothing new to bundle"));
    // Readable with the enclave's own tools: the manifest first.
    let listing = Command::new("tar")
        .arg("-tf")
        .arg(&bundles[0])
        .output()
        .unwrap();
    let names = String::from_utf8_lossy(&listing.stdout);
    assert!(
        names.starts_with("manifest.json\nmanifest.json.sig\nsnapshots/r1/"),
        "{names}"
    );
    // 1 and 3 arrive, 2 is lost on the way.
    let run = import(&[bundles[0].clone(), bundles[2].clone()]);
    assert_eq!(run.code, Some(0), "{}", run.all());
    assert!(
        run.stdout.contains("bundles 2 from east not received"),
        "{}",
        run.stdout
    );
    let again = import(&[bundles[0].clone()]);
    assert!(
        again.stdout.contains("0 files written, 4 already present"),
        "{}",
        again.stdout
    );
    let verified = verify(&dmz, &allowed, "snapshots");
    assert_eq!(verified.code, Some(0), "{}", verified.all());
    assert!(
        verified.stdout.contains("2 snapshots, 2 raw walks checked"),
        "{}",
        verified.stdout
    );
    assert!(import(&[bundles[1].clone()]).code == Some(0));
    let store = invmon::snapshot::store::Store::new(dmz.join("snapshots"));
    assert_eq!(store.list("r1").unwrap().len(), 3);
    // The collector's bundle ledger keeps what was never bundled from prune.
    for _ in 0..2 {
        let run = collect(&collector)
            .env("INVMON_SIGNING_KEY", &key)
            .env("INVMON_COLLECTOR_ID", "east")
            .run();
        assert_eq!(run.code, Some(0));
    }
    let collector_store = invmon::snapshot::store::Store::new(collector.join("snapshots"));
    let unbundled: Vec<String> = collector_store.list("r1").unwrap()[3..]
        .iter()
        .map(|e| e.stamp())
        .collect();
    let prune = Invmon::new(&collector)
        .args(["snapshots", "prune", "--keep-last", "1", "--dry-run"])
        .run();
    assert!(
        prune.stdout.contains("3 snapshots to delete, 2 kept"),
        "{}",
        prune.stdout
    );
    assert!(
        unbundled.iter().all(|s| !prune.stdout.contains(s.as_str())),
        "{}",
        prune.stdout
    );

    // Hostile and broken bundles: refused whole, nothing written.
    let original = std::fs::read(&bundles[0]).unwrap();
    let before = snapshot_files(&dmz.join("snapshots")).len();
    let mut truncated = original.clone();
    truncated.truncate(original.len() / 2);
    let cut = work.path().join("cut.tar");
    std::fs::write(&cut, truncated).unwrap();
    let mut flipped = original.clone();
    let at = 512 + 40; // inside manifest.json's data
    flipped[at] ^= 1;
    let altered = work.path().join("altered.tar");
    std::fs::write(&altered, flipped).unwrap();
    // Unpack the genuine bundle to forge from its parts.
    let mut parts: Vec<(String, Vec<u8>)> = Vec::new();
    let mut archive = tar::Archive::new(&original[..]);
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let name = entry.path().unwrap().to_string_lossy().into_owned();
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut bytes).unwrap();
        parts.push((name, bytes));
    }
    let regular = tar::EntryType::Regular;
    let forged = |name: &str, members: Vec<(&str, Vec<u8>, tar::EntryType)>| {
        let path = work.path().join(name);
        raw_tar(&path, &members);
        path
    };
    let unlisted = forged(
        "unlisted.tar",
        vec![
            (&parts[0].0, parts[0].1.clone(), regular),
            (&parts[1].0, parts[1].1.clone(), regular),
            (
                "snapshots/r1/2030-01-01T00-00-00.000Z.json.zst",
                b"x".to_vec(),
                regular,
            ),
        ],
    );
    // A manifest listing a path out of the store, signed by the collector itself.
    let signer = invmon::provenance::Signer::load(&key, "east").unwrap();
    let mut manifest: serde_json::Value = serde_json::from_slice(&parts[0].1).unwrap();
    let evil = b"evil".to_vec();
    manifest["members"] = serde_json::json!([{"path": "../../etc/cron.d/x.json.zst", "size": 4,
        "sha256": "6fcb2ba4f4b6a0e1eaf0f5a46ee0ba8c83a7c86e0e9a7a9c3c6e18b4e0e5d2a0"}]);
    let manifest_bytes = serde_json::to_vec(&manifest).unwrap();
    let manifest_sig = signer.sign("invmon-bundle", &manifest_bytes).unwrap();
    let escaping = forged(
        "escaping.tar",
        vec![
            ("manifest.json", manifest_bytes, regular),
            ("manifest.json.sig", manifest_sig, regular),
            ("../../etc/cron.d/x.json.zst", evil, regular),
        ],
    );
    // Cut at a member boundary: a well-formed tar, short of what its manifest lists.
    let short = forged(
        "short.tar",
        parts[..3]
            .iter()
            .map(|(name, bytes)| (name.as_str(), bytes.clone(), regular))
            .collect(),
    );
    // A signed manifest listing an ordinary member that arrives as a symlink.
    manifest["members"] = serde_json::json!([{"path": "snapshots/r1/x.json.zst", "size": 0,
        "sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}]);
    let link_manifest = serde_json::to_vec(&manifest).unwrap();
    let link_sig = signer.sign("invmon-bundle", &link_manifest).unwrap();
    let linked = forged(
        "linked.tar",
        vec![
            ("manifest.json", link_manifest, regular),
            ("manifest.json.sig", link_sig, regular),
            (
                "snapshots/r1/x.json.zst",
                Vec::new(),
                tar::EntryType::Symlink,
            ),
        ],
    );
    // A member whose header claims more than any snapshot could be.
    let oversize = {
        let mut builder = tar::Builder::new(Vec::new());
        for (name, bytes) in &parts[..2] {
            let mut header = tar::Header::new_gnu();
            header.set_size(bytes.len() as u64);
            header.set_mode(0o644);
            builder.append_data(&mut header, name, &bytes[..]).unwrap();
        }
        let mut header = tar::Header::new_gnu();
        header.set_path(&parts[2].0).unwrap();
        header.set_size(1 << 40);
        header.set_mode(0o644);
        header.set_cksum();
        builder.get_mut().extend_from_slice(header.as_bytes());
        builder.get_mut().extend_from_slice(&[0; 4096]);
        builder.get_ref().clone()
    };
    let oversize_path = work.path().join("oversize.tar");
    std::fs::write(&oversize_path, oversize).unwrap();
    let twice = forged(
        "twice.tar",
        [&parts[0], &parts[1], &parts[2], &parts[2]]
            .iter()
            .map(|(name, bytes)| (name.as_str(), bytes.clone(), regular))
            .collect(),
    );
    for (file, expected) in [
        (&oversize_path, "is larger than"),
        (&twice, "appears twice"),
        (&cut, "truncated or corrupt"),
        (&short, "members missing"),
        (&altered, "manifest"),
        (&unlisted, "is not in the manifest"),
        (&escaping, "would land outside the store"),
        (&linked, "is a link or device, not a plain file"),
    ] {
        let run = import(std::slice::from_ref(file));
        assert_eq!(run.code, Some(3), "{expected}: {}", run.all());
        assert!(
            run.stdout.contains(&format!("refused {}", file.display()))
                && run.stdout.contains(expected),
            "{expected}: {}",
            run.stdout
        );
    }
    assert_eq!(
        snapshot_files(&dmz.join("snapshots")).len(),
        before,
        "nothing written"
    );
    assert!(!work.path().join("etc").exists());

    // Another collector with a device of the same name: a conflict, not merged.
    let (west_key, west_public) = keygen(work.path(), "west");
    std::fs::write(&allowed, format!("east {public}\nwest {west_public}\n")).unwrap();
    let west = work.path().join("west-collector");
    std::fs::create_dir_all(&west).unwrap();
    Fleet::new().v2c("r1", &agent.addr, "r1").write(&west);
    assert_eq!(
        collect(&west)
            .env("INVMON_SIGNING_KEY", &west_key)
            .env("INVMON_COLLECTOR_ID", "west")
            .run()
            .code,
        Some(0)
    );
    let west_bundle = Invmon::new(&west)
        .args(["bundle", "create", "--out"])
        .arg(&diode)
        .env("INVMON_SIGNING_KEY", &west_key)
        .env("INVMON_COLLECTOR_ID", "west")
        .run();
    let file = PathBuf::from(west_bundle.stdout.split_whitespace().nth(1).unwrap());
    let run = import(&[file]);
    assert_eq!(run.code, Some(3), "{}", run.all());
    assert!(run.stdout.contains("device \"r1\" comes from collector \"west\", but the store has it from \"east\": not merged"), "{}", run.stdout);
    assert_eq!(store.list("r1").unwrap().len(), 3);

    // The DMZ's ship ledger lives outside the store: a mirror copy of the store does not reset it.
    let sal = SalServer::start(&[KEY]);
    let ship = || {
        Invmon::new(&dmz)
            .args(["ship", "--to", "sal"])
            .env("SAL_URL", &sal.url)
            .env("SAL_KEY", KEY)
            .env("INVMON_ALLOWED_SIGNERS", &allowed)
            .run()
    };
    assert_eq!(ship().code, Some(0));
    let copy = Command::new("cp")
        .arg("-a")
        .arg(dmz.join("snapshots"))
        .arg(work.path().join("mirror"))
        .status()
        .unwrap();
    assert!(copy.success());
    std::fs::remove_dir_all(dmz.join("snapshots")).unwrap();
    std::fs::rename(work.path().join("mirror"), dmz.join("snapshots")).unwrap();
    let again = ship();
    assert!(
        again.stdout.contains("sal: 0 snapshots shipped"),
        "{}",
        again.stdout
    );
    assert_eq!(sal.accepted().len(), 1);
}

#[test]
fn bundles_split_by_size_and_leave_unsigned_snapshots_out() {
    let work = tempfile::tempdir().unwrap();
    let collector = work.path().join("collector");
    let dmz = work.path().join("dmz");
    let out = work.path().join("out");
    std::fs::create_dir_all(&collector).unwrap();
    std::fs::create_dir_all(&dmz).unwrap();
    let (key, public) = keygen(work.path(), "east");
    let allowed = work.path().join("allowed_signers");
    std::fs::write(&allowed, format!("east {public}\n")).unwrap();
    let recs = recordings(&[("cisco-c3750", "r1"), ("timos_7750", "r2")]);
    let agent = Replay::start(recs.path(), &[]);
    Fleet::new()
        .v2c("r1", &agent.addr, "r1")
        .v2c("r2", &agent.addr, "r2")
        .write(&collector);
    // One run before the key was set, two after.
    assert_eq!(collect(&collector).run().code, Some(0));
    for _ in 0..2 {
        let run = collect(&collector)
            .env("INVMON_SIGNING_KEY", &key)
            .env("INVMON_COLLECTOR_ID", "east")
            .run();
        assert_eq!(run.code, Some(0), "{}", run.all());
    }
    let made = Invmon::new(&collector)
        .args(["bundle", "create", "--max-bytes", "1", "--out"])
        .arg(&out)
        .env("INVMON_SIGNING_KEY", &key)
        .env("INVMON_COLLECTOR_ID", "east")
        .run();
    assert_eq!(made.code, Some(0), "{}", made.all());
    // Four signed snapshots, one per bundle at this size; the two unsigned ones named.
    let bundles: Vec<PathBuf> = made
        .stdout
        .lines()
        .filter(|l| l.starts_with("bundle "))
        .map(|l| PathBuf::from(l.split_whitespace().nth(1).unwrap()))
        .collect();
    assert_eq!(bundles.len(), 4, "{}", made.stdout);
    assert!(
        made.stdout.contains("sequence 4, 1 snapshot,"),
        "{}",
        made.stdout
    );
    assert!(
        made.stdout
            .contains("not bundled: 2 files without a signature"),
        "{}",
        made.stdout
    );
    let import = Invmon::new(&dmz)
        .args(["bundle", "import"])
        .args(&bundles)
        .env("INVMON_ALLOWED_SIGNERS", &allowed)
        .run();
    assert_eq!(import.code, Some(0), "{}", import.all());
    assert!(!import.stdout.contains("not received"), "{}", import.stdout);
    let verified = verify(&dmz, &allowed, "snapshots");
    assert!(
        verified.stdout.contains("2 devices, 4 snapshots"),
        "{}",
        verified.all()
    );
    // Nothing left to carry, and the unsigned ones are not offered again.
    let again = Invmon::new(&collector)
        .args(["bundle", "create", "--out"])
        .arg(&out)
        .env("INVMON_SIGNING_KEY", &key)
        .env("INVMON_COLLECTOR_ID", "east")
        .run();
    assert_eq!(
        again.stdout.trim(),
        "nothing new to bundle",
        "{}",
        again.all()
    );
}
