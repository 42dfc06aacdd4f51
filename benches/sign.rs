//! Signing and verifying real snapshots, one at a time, as `collect` and
//! the readers do: microseconds per file. Run by scripts/bench-bundle:
//!   cargo bench --bench sign -- KEY ALLOWED_SIGNERS FILE...

use std::path::PathBuf;
use std::time::Instant;

use invmon::provenance::{SNAPSHOT_NAMESPACE, Signer, Trust};

fn main() {
    // `cargo test --all-targets` runs benches too, without `--bench`: nothing to time then.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let [key, allowed, files @ ..] = args.as_slice() else {
        eprintln!("usage: sign KEY ALLOWED_SIGNERS FILE...");
        std::process::exit(2);
    };
    let signer = Signer::load(&PathBuf::from(key), "east").expect("signing key");
    let trust = Trust::load(&PathBuf::from(allowed)).expect("allowed_signers");
    let contents: Vec<Vec<u8>> = files
        .iter()
        .map(|f| std::fs::read(f).expect("file"))
        .collect();
    let bytes: usize = contents.iter().map(Vec::len).sum();
    let rounds = (20_000 / contents.len().max(1)).max(1);
    let started = Instant::now();
    let mut sigs = Vec::with_capacity(contents.len());
    for _ in 0..rounds {
        sigs.clear();
        for c in &contents {
            sigs.push(signer.sign(SNAPSHOT_NAMESPACE, c).expect("sign"));
        }
    }
    let n = (rounds * contents.len()) as f64;
    let sign = started.elapsed().as_secs_f64() / n;
    let started = Instant::now();
    for _ in 0..rounds {
        for (c, s) in contents.iter().zip(&sigs) {
            trust
                .verify("east", SNAPSHOT_NAMESPACE, c, s)
                .expect("verify");
        }
    }
    let verify = started.elapsed().as_secs_f64() / n;
    println!(
        "{} files of {:.1} KiB on average, {n} operations each: sign {:.1} µs, verify {:.1} µs per file",
        contents.len(),
        bytes as f64 / contents.len() as f64 / 1024.0,
        sign * 1e6,
        verify * 1e6
    );
}
