//! Devices as they behave on real networks: answers that take time, requests
//! that are lost, subtrees that are slow, PDUs that are too big, agents that
//! ignore or break on GETBULK, devices that are dead. Set by a fleet file,
//! rule by rule; every draw comes from the seed, the device's name and its
//! request count, so a run can be repeated.
//!
//! ```json
//! {"seed": 7, "latency_ms": [5, 50], "jitter_ms": 2, "loss": 0.01,
//!  "rules": [
//!    {"share": 0.02, "dead": true},
//!    {"match": "nokia-*", "slow": [{"subtree": "1.3.6.1.4.1.6527.3.1.2.2.1.8", "delay_ms": 3000}]},
//!    {"match": "c3750*", "max_pdu": 1500, "getbulk": "ignore"}],
//!  "v3_restart_after": 40}
//! ```
//!
//! The per-device settings shape v1/v2c answers (v3 contexts travel
//! encrypted, so the relay cannot tell devices apart); `v3_restart_after`
//! restarts the one SNMPv3 engine after that many requests (`v3`).

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::Deserialize;

use crate::walk::Oid;

#[derive(Debug, thiserror::Error)]
#[error("fleet file {path}: {why}")]
pub struct FleetError {
    path: String,
    why: String,
}

/// How an agent treats GETBULK.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Bulk {
    #[default]
    Answer,
    /// No answer at all, as agents that do not know the operation.
    Ignore,
    /// genErr, as agents whose bulk code is broken.
    Break,
}

/// Milliseconds: one value, or a range a device's value is drawn from.
#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(untagged)]
enum Millis {
    One(u64),
    Range([u64; 2]),
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Slow {
    subtree: Oid,
    delay_ms: u64,
}

/// The fleet's settings, or a rule's: what a rule leaves unset stays as
/// the fleet and earlier rules made it.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    /// Recording names the rule is for, `*` matching any run of characters.
    #[serde(rename = "match")]
    pattern: Option<String>,
    /// The share of matching devices the rule picks (by a draw per device).
    share: Option<f64>,
    latency_ms: Option<Millis>,
    jitter_ms: Option<u64>,
    loss: Option<f64>,
    /// The device's first requests are lost, as while the last router on
    /// the way resolves its address (ARP) or a firewall sets up state.
    lost_first: Option<u64>,
    dead: Option<bool>,
    max_pdu: Option<usize>,
    getbulk: Option<Bulk>,
    slow: Option<Vec<Slow>>,
}

#[derive(Debug, Default)]
struct FleetFile {
    seed: u64,
    settings: Settings,
    rules: Vec<Settings>,
    link: Option<Link>,
    v3_restart_after: Option<u64>,
}

/// The path to the whole fleet: beyond its rate (after a burst), requests
/// are dropped, as by a congested link or a busy firewall.
#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Link {
    answers_per_s: f64,
    burst: f64,
}

/// A token bucket for [`Link`].
#[derive(Debug)]
struct Bucket {
    link: Link,
    tokens: f64,
    at: std::time::Instant,
}

impl FleetFile {
    /// `seed` and `rules` beside the fleet's own settings.
    fn parse(text: &str) -> Result<FleetFile, String> {
        let mut top: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(text).map_err(|e| e.to_string())?;
        let seed = match top.remove("seed") {
            Some(v) => serde_json::from_value(v).map_err(|e| format!("seed: {e}"))?,
            None => 0,
        };
        let rules: Vec<Settings> = match top.remove("rules") {
            Some(v) => serde_json::from_value(v).map_err(|e| format!("rules: {e}"))?,
            None => Vec::new(),
        };
        let link: Option<Link> = match top.remove("link") {
            Some(v) => Some(serde_json::from_value(v).map_err(|e| format!("link: {e}"))?),
            None => None,
        };
        let v3_restart_after: Option<u64> = match top.remove("v3_restart_after") {
            Some(v) => {
                Some(serde_json::from_value(v).map_err(|e| format!("v3_restart_after: {e}"))?)
            }
            None => None,
        };
        if link.is_some_and(|l| l.answers_per_s <= 0.0 || l.burst < 1.0) {
            return Err("link: answers_per_s must be positive and burst at least 1".into());
        }
        let settings: Settings = serde_json::from_value(top.into()).map_err(|e| e.to_string())?;
        if settings.pattern.is_some() || settings.share.is_some() {
            return Err("match and share belong in rules".into());
        }
        check(&settings)?;
        for (n, rule) in rules.iter().enumerate() {
            check(rule).map_err(|why| format!("rule {}: {why}", n + 1))?;
        }
        Ok(FleetFile {
            seed,
            settings,
            rules,
            link,
            v3_restart_after,
        })
    }
}

/// One device's behaviour, fixed when the fleet is loaded.
#[derive(Debug, Default)]
pub struct Profile {
    pub latency: Duration,
    pub jitter: Duration,
    pub loss: f64,
    pub lost_first: u64,
    pub dead: bool,
    pub max_pdu: Option<usize>,
    pub getbulk: Bulk,
    slow: Vec<(Oid, Duration)>,
    key: u64,
    requests: AtomicU64,
}

/// What the agent does with one request.
#[derive(Debug, PartialEq, Eq)]
pub enum Fate {
    /// Never answered.
    Lost,
    /// Answered after this long.
    After(Duration),
}

impl Profile {
    /// Draws this request's fate: `asked` are the OIDs of the request.
    pub fn fate(&self, asked: &[Oid]) -> Fate {
        if self.dead {
            return Fate::Lost;
        }
        let n = self.requests.fetch_add(1, Ordering::Relaxed);
        if n < self.lost_first {
            return Fate::Lost;
        }
        if self.loss > 0.0 && unit(mix(self.key, 2 * n)) < self.loss {
            return Fate::Lost;
        }
        let jitter = self.jitter.mul_f64(unit(mix(self.key, 2 * n + 1)));
        let slow: Duration = self
            .slow
            .iter()
            .filter(|(subtree, _)| asked.iter().any(|o| o.starts_with(subtree)))
            .map(|(_, d)| *d)
            .sum();
        Fate::After(self.latency + jitter + slow)
    }

    /// Whether an answer of `len` bytes is too big for this agent.
    pub fn too_big(&self, len: usize) -> bool {
        self.max_pdu.is_some_and(|max| len > max)
    }
}

/// Every recording's profile.
#[derive(Debug, Default)]
pub struct Simulation {
    profiles: HashMap<Vec<u8>, Profile>,
    instant: Profile,
    link: Option<std::sync::Mutex<Bucket>>,
    /// SNMPv3 requests after which the agent's engine restarts.
    pub v3_restart_after: Option<u64>,
}

impl Simulation {
    /// Reads a fleet file and fixes the profile of each of `names`.
    pub fn load<'a>(
        path: &Path,
        names: impl IntoIterator<Item = &'a [u8]>,
    ) -> Result<Simulation, FleetError> {
        let err = |why: String| FleetError {
            path: path.display().to_string(),
            why,
        };
        let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
        let fleet = FleetFile::parse(&text).map_err(err)?;
        Ok(Simulation::new(&fleet, names))
    }

    fn new<'a>(fleet: &FleetFile, names: impl IntoIterator<Item = &'a [u8]>) -> Simulation {
        let profiles = names
            .into_iter()
            .map(|name| (name.to_vec(), profile(fleet, name)))
            .collect();
        Simulation {
            profiles,
            instant: Profile::default(),
            link: fleet.link.map(|link| {
                std::sync::Mutex::new(Bucket {
                    link,
                    tokens: link.burst,
                    at: std::time::Instant::now(),
                })
            }),
            v3_restart_after: fleet.v3_restart_after,
        }
    }

    /// Whether the link lets one more request through now.
    pub fn admit(&self) -> bool {
        let Some(bucket) = &self.link else {
            return true;
        };
        let mut b = bucket.lock().unwrap_or_else(|p| p.into_inner());
        let now = std::time::Instant::now();
        let refill = now.duration_since(b.at).as_secs_f64() * b.link.answers_per_s;
        b.tokens = (b.tokens + refill).min(b.link.burst);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// The profile of the recording named `name` (an unknown name is
    /// answered at once, as without a fleet file).
    pub fn of(&self, name: &[u8]) -> &Profile {
        self.profiles.get(name).unwrap_or(&self.instant)
    }
}

fn check(s: &Settings) -> Result<(), String> {
    if s.loss.is_some_and(|l| !(0.0..=1.0).contains(&l)) {
        return Err("loss must be within 0 and 1".into());
    }
    if s.share.is_some_and(|l| !(0.0..=1.0).contains(&l)) {
        return Err("share must be within 0 and 1".into());
    }
    if let Some(Millis::Range([lo, hi])) = s.latency_ms
        && lo > hi
    {
        return Err(format!("latency_ms range [{lo}, {hi}] is reversed"));
    }
    if s.max_pdu.is_some_and(|m| m < 484) {
        return Err("max_pdu below 484 bytes, the size every SNMP agent must accept".into());
    }
    Ok(())
}

fn profile(fleet: &FleetFile, name: &[u8]) -> Profile {
    let key = mix(fleet.seed, fnv(name));
    let mut p = Profile {
        key,
        ..Profile::default()
    };
    let mut apply = |s: &Settings, draw: u64| {
        if let Some(l) = s.latency_ms {
            p.latency = Duration::from_millis(match l {
                Millis::One(ms) => ms,
                Millis::Range([lo, hi]) => lo + (unit(mix(key, draw)) * (hi - lo) as f64) as u64,
            });
        }
        if let Some(j) = s.jitter_ms {
            p.jitter = Duration::from_millis(j);
        }
        if let Some(l) = s.loss {
            p.loss = l;
        }
        if let Some(n) = s.lost_first {
            p.lost_first = n;
        }
        if let Some(d) = s.dead {
            p.dead = d;
        }
        if let Some(m) = s.max_pdu {
            p.max_pdu = Some(m);
        }
        if let Some(b) = s.getbulk {
            p.getbulk = b;
        }
        if let Some(slow) = &s.slow {
            p.slow = slow
                .iter()
                .map(|s| (s.subtree.clone(), Duration::from_millis(s.delay_ms)))
                .collect();
        }
    };
    apply(&fleet.settings, u64::MAX);
    let text = String::from_utf8_lossy(name);
    for (n, rule) in fleet.rules.iter().enumerate() {
        let picked = unit(mix(key, u64::MAX - 1 - n as u64)) < rule.share.unwrap_or(1.0);
        if rule
            .pattern
            .as_deref()
            .is_none_or(|p| crate::text::glob(p, &text))
            && picked
        {
            apply(rule, u64::MAX - 1000 - n as u64);
        }
    }
    p
}

/// splitmix64 of two words: the one source of every draw.
fn mix(a: u64, b: u64) -> u64 {
    let mut z = a ^ b.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// A draw in [0, 1).
fn unit(x: u64) -> f64 {
    (x >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fleet(json: &str, names: &[&str]) -> Simulation {
        let f = FleetFile::parse(json).unwrap();
        Simulation::new(&f, names.iter().map(|n| n.as_bytes()))
    }

    #[test]
    fn patterns() {
        use crate::text::glob;
        assert!(glob("*", "anything"));
        assert!(glob("c3750*", "c3750-2"));
        assert!(glob("*-core-*", "brn-core-1"));
        assert!(!glob("c3750*", "x-c3750"));
        assert!(glob("exact", "exact") && !glob("exact", "exactly"));
    }

    #[test]
    fn draws_are_repeatable_and_near_their_share() {
        let names: Vec<String> = (0..10_000).map(|i| format!("d{i:05}")).collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let json =
            r#"{"seed": 7, "latency_ms": [5, 50], "rules": [{"share": 0.02, "dead": true}]}"#;
        let (a, b) = (fleet(json, &refs), fleet(json, &refs));
        let dead = refs.iter().filter(|n| a.of(n.as_bytes()).dead).count();
        assert!((150..250).contains(&dead), "{dead} of 10000 dead");
        for n in &refs {
            assert_eq!(a.of(n.as_bytes()).dead, b.of(n.as_bytes()).dead);
            assert_eq!(a.of(n.as_bytes()).latency, b.of(n.as_bytes()).latency);
            let l = a.of(n.as_bytes()).latency;
            assert!(Duration::from_millis(5) <= l && l <= Duration::from_millis(50));
        }
        let other = fleet(&json.replace("7", "8"), &refs);
        assert!(
            refs.iter()
                .any(|n| other.of(n.as_bytes()).dead != a.of(n.as_bytes()).dead)
        );
    }

    #[test]
    fn fates() {
        let s = fleet(
            r#"{"latency_ms": 10, "loss": 0.25, "rules": [{"match": "slow", "loss": 0,
                "slow": [{"subtree": "1.3.6.1.2.1.47", "delay_ms": 3000}]}]}"#,
            &["fast", "slow"],
        );
        let lost = (0..4000)
            .filter(|_| s.of(b"fast").fate(&[]) == Fate::Lost)
            .count();
        assert!((800..1200).contains(&lost), "{lost} of 4000 lost");
        let entity: Oid = "1.3.6.1.2.1.47.1.1.1.1.2".parse().unwrap();
        let system: Oid = "1.3.6.1.2.1.1.1.0".parse().unwrap();
        assert_eq!(
            s.of(b"slow").fate(&[entity]),
            Fate::After(Duration::from_millis(3010))
        );
        assert_eq!(
            s.of(b"slow").fate(&[system]),
            Fate::After(Duration::from_millis(10))
        );
        assert_eq!(s.of(b"unknown").fate(&[]), Fate::After(Duration::ZERO));
        let late = fleet(r#"{"lost_first": 2}"#, &["late"]);
        let fates: Vec<_> = (0..3).map(|_| late.of(b"late").fate(&[])).collect();
        assert_eq!(fates, [Fate::Lost, Fate::Lost, Fate::After(Duration::ZERO)]);
    }

    #[test]
    fn bad_fleet_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        for (text, says) in [
            (r#"{"loss": 2}"#, "loss must be within 0 and 1"),
            (r#"{"rules": [{"share": 1.5}]}"#, "rule 1: share"),
            (r#"{"latency": 5}"#, "unknown field"),
            (r#"{"max_pdu": 100}"#, "below 484"),
            (
                r#"{"rules": [{"getbulk": "sometimes"}]}"#,
                "unknown variant",
            ),
            (
                r#"{"link": {"answers_per_s": 0, "burst": 5}}"#,
                "link: answers_per_s",
            ),
        ] {
            let path = dir.path().join("fleet.json");
            std::fs::write(&path, text).unwrap();
            let e = Simulation::load(&path, []).unwrap_err().to_string();
            assert!(
                e.starts_with(&format!("fleet file {}: ", path.display())),
                "{e}"
            );
            assert!(e.contains(says), "{e}");
        }
    }
}
