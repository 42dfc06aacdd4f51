//! Entry points for the fuzz targets (`fuzz/`, run by `scripts/fuzz`), one
//! per parser of outside data: each takes any bytes and must return without
//! panicking, whatever they are. The checked-in corpora are replayed through
//! the same functions by `cargo test`, so a crash once found stays fixed.

use std::path::Path;
use std::sync::Arc;

use crate::snmp::walk::Walker;
use crate::snmp::{Response, Session, SessionStats, SnmpError};
use crate::walk::{Oid, Walk, snmprec};

/// A fuzz target: any bytes in, no panic out.
pub type Target = fn(&[u8]);

/// Every target, by the name its corpus directory has.
pub const TARGETS: [(&str, Target); 9] = [
    ("ber", ber),
    ("snmp_answer", snmp_answer),
    ("snmprec", snmprec_text),
    ("snapshot", snapshot),
    ("targets", targets),
    ("module_output", module_output),
    ("v3_report", v3_report),
    ("bundle", bundle),
    ("allowed_signers", allowed_signers),
];

/// The BER reader, as replay meets it: any datagram to the v1/v2c agent.
pub fn ber(data: &[u8]) {
    let _ = crate::snmp::ber::message_version(data);
    let mut rest = data;
    while let Some((_, content, tail)) = crate::snmp::ber::read(rest) {
        let _ = crate::snmp::ber::read(content);
        rest = tail;
    }
    thread_local! {
        static RECORDINGS: Arc<crate::replay::Recordings> = Arc::new(crate::replay::Recordings::from_walks(vec![(
            b"public".to_vec(),
            small_walk(),
        )]));
    }
    RECORDINGS.with(|r| {
        let _ = crate::replay::v2c::respond(r, &crate::replay::Simulation::default(), data);
    });
}

fn small_walk() -> Walk {
    let text = "1.3.6.1.2.1.1.1.0|4|Cisco IOS\n1.3.6.1.2.1.1.2.0|6|1.3.6.1.4.1.9.1.516\n\
                1.3.6.1.2.1.47.1.1.1.1.2.1|4|chassis\n1.3.6.1.2.1.47.1.1.1.1.5.1|2|3\n\
                1.3.6.1.2.1.47.1.1.1.1.11.1|4|FOC1111A1AA\n1.3.6.1.2.1.47.1.1.1.1.16.1|2|1\n";
    snmprec::parse(text, "fuzz").unwrap_or_default()
}

/// A scripted agent answering every request with the same decoded answer.
struct Answering(Response, usize);

impl Session for Answering {
    async fn get(&mut self, _: &[Oid]) -> Result<Response, SnmpError> {
        self.next()
    }
    async fn get_next(&mut self, _: &Oid) -> Result<Response, SnmpError> {
        self.next()
    }
    async fn get_bulk(&mut self, _: &Oid, _: u32) -> Result<Response, SnmpError> {
        self.next()
    }
    fn stats(&self) -> SessionStats {
        SessionStats::default()
    }
}

impl Answering {
    fn next(&mut self) -> Result<Response, SnmpError> {
        // A walk that makes no progress must end by itself; this bounds the script.
        self.1 += 1;
        if self.1 > 64 {
            return Err(SnmpError::Timeout(std::time::Duration::ZERO));
        }
        Ok(self.0.clone())
    }
}

/// SNMP answers into walks: a datagram decoded as the transport does, then
/// walked and parsed.
pub fn snmp_answer(data: &[u8]) {
    let Ok(pdu) = snmp2::Pdu::from_bytes(data) else {
        return;
    };
    let Ok(response) = crate::snmp::session::owned(&pdu, 32) else {
        return;
    };
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread().build() else {
        return;
    };
    let subtree: Oid = Oid::from_arcs(vec![1, 3, 6, 1, 2, 1, 47]);
    let mut walk = Walk::new();
    let mut walker = Walker::new(10, 10_000);
    let _ = runtime.block_on(walker.walk(&mut Answering(response, 0), &subtree, &mut walk));
    for vendor in [
        crate::inventory::parsers::Vendor::Generic,
        crate::inventory::parsers::Vendor::Juniper,
        crate::inventory::parsers::Vendor::Nokia,
        crate::inventory::parsers::Vendor::Cisco,
    ] {
        let _ = vendor.parse(&walk);
    }
}

/// `.snmprec` recordings (any bytes, read as `snmprec::read` reads files),
/// and whatever the parsers make of them.
pub fn snmprec_text(data: &[u8]) {
    let text: String = match std::str::from_utf8(data) {
        Ok(t) => t.to_owned(),
        Err(_) => data.iter().map(|&b| char::from(b)).collect(),
    };
    if let Ok(walk) = snmprec::parse(&text, "fuzz") {
        let _ = crate::inventory::parsers::Vendor::choose("", None).parse(&walk);
        let _ = crate::inventory::parsers::Vendor::Juniper.parse(&walk);
        let _ = crate::inventory::parsers::Vendor::Nokia.parse(&walk);
        let mut out = Vec::new();
        let _ = snmprec::write(&walk, &mut out);
    }
}

/// Snapshot files: the codec (zstd, JSON, header checks) into the full
/// document and the lean view diffs read, then what readers do with them.
pub fn snapshot(data: &[u8]) {
    let path = Path::new("fuzz.json.zst");
    // Plain JSON too, compressed here, so the fuzzer reaches the JSON layer.
    let compressed = zstd::bulk::compress(data, 1).unwrap_or_default();
    for bytes in [data, compressed.as_slice()] {
        if let Ok(s) = crate::snapshot::codec::decode::<crate::snapshot::Snapshot>(bytes, path) {
            let _ =
                crate::sal::document::body(&crate::sal::document::document(&s, Some(&s)), "key");
            if let Some(source) = s
                .checkin
                .sources
                .get(crate::snapshot::checkin::INVENTORY_SOURCE)
            {
                let items: Vec<_> = source
                    .managed_items
                    .values()
                    .filter_map(|m| m.item())
                    .collect();
                let _ = crate::netbox::plan::merge(&items, &[]);
            }
        }
        if let Ok(lean) = crate::snapshot::codec::decode::<crate::diff::side::Lean>(bytes, path) {
            let side = crate::diff::side::Side::from_lean(path, lean);
            let pair = || crate::diff::Pair {
                device: side.device.clone(),
                from: Some(side.clone()),
                to: Some(side.clone()),
                events: Vec::new(),
            };
            let _ = crate::diff::compare(vec![pair()], "a", "b", Vec::new());
        }
    }
}

/// Targets files, CSV or JSON.
pub fn targets(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let _ = crate::config::targets::parse(&text, "fuzz.csv");
}

/// What a checkin module prints.
pub fn module_output(data: &[u8]) {
    let _ = crate::collect::modules::parse_output(data, "2026-11-01T00:00:00Z");
}

/// SNMPv3 reports the diagnosis reads (engine discovery, usmStats).
pub fn v3_report(data: &[u8]) {
    crate::snmp::diagnose::read_report(data);
}

/// Bundles as `bundle import` meets them: tar, manifest, member checks and
/// signatures (by any key), before anything is written.
pub fn bundle(data: &[u8]) {
    let _ = crate::provenance::bundle::verify_bytes(data);
}

/// allowed_signers files.
pub fn allowed_signers(data: &[u8]) {
    if let Ok(trust) =
        crate::provenance::Trust::parse(&String::from_utf8_lossy(data), Path::new("fuzz"))
    {
        let _ = trust.verify("east", "invmon-snapshot", b"x", data);
    }
}

#[cfg(test)]
mod tests {
    /// Every checked-in corpus input, through its target: crashes found by
    /// fuzzing stay fixed.
    #[test]
    fn fuzz_corpora_replay_without_panicking() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
        let mut replayed = 0;
        for (name, target) in super::TARGETS {
            let dir = root.join(name);
            let entries = std::fs::read_dir(&dir)
                .unwrap_or_else(|e| panic!("{}: {e} (every target has a corpus)", dir.display()));
            let mut here = 0;
            for entry in entries {
                let path = entry.unwrap().path();
                target(&std::fs::read(&path).unwrap());
                here += 1;
            }
            assert!(here > 0, "{name}: empty corpus");
            replayed += here;
        }
        assert!(replayed >= super::TARGETS.len());
    }
}
