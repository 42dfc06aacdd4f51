//! Against a real NetBox with the inventory-monitor plugin, started by
//! scripts/netbox-up (scripts/test does). Without INVMON_NETBOX_URL these
//! tests are skipped, unless INVMON_REQUIRE_NETBOX demands them.

use invmon::netbox::client::Client;
use secrecy::SecretString;
use serde_json::{Value as Json, json};

use crate::support::*;

fn netbox() -> Option<(String, String)> {
    match (
        std::env::var("INVMON_NETBOX_URL"),
        std::env::var("INVMON_NETBOX_TOKEN"),
    ) {
        (Ok(url), Ok(token)) => Some((url, token)),
        _ => {
            assert!(
                std::env::var_os("INVMON_REQUIRE_NETBOX").is_none(),
                "INVMON_REQUIRE_NETBOX is set but NetBox is not running"
            );
            eprintln!("NetBox not running: start it with scripts/netbox-up (scripts/test does)");
            None
        }
    }
}

/// Builds devices in NetBox; names carry a per-test suffix so reruns never collide.
struct Lab {
    api: Client,
    suffix: String,
}

impl Lab {
    fn new(url: &str, token: &str) -> Lab {
        let api = Client::new(
            url,
            &SecretString::from(token.to_owned()),
            true,
            std::time::Duration::from_secs(60),
            2,
        );
        let suffix = format!(
            "{:x}",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
                & 0xffff_ffff
        );
        Lab { api, suffix }
    }

    fn post(&self, path: &str, body: Json) -> Json {
        self.api
            .request("POST", path, Some(&body))
            .unwrap_or_else(|e| panic!("POST {path} {body}: {e}"))
    }

    fn name(&self, base: &str) -> String {
        format!("{base}-{}", self.suffix)
    }

    /// A device with an interface and, optionally, a primary IP.
    fn device(
        &self,
        name: &str,
        site: i64,
        platform: Option<i64>,
        status: &str,
        tags: &[&str],
        ip: Option<&str>,
    ) -> i64 {
        let (dtype, role) = self.basics();
        let tags: Vec<Json> = tags.iter().map(|t| json!({"slug": self.name(t)})).collect();
        let dev = self.post(
            "api/dcim/devices/",
            json!({"name": self.name(name), "device_type": dtype, "role": role, "site": site, "status": status, "platform": platform, "tags": tags}),
        );
        let id = dev["id"].as_i64().unwrap();
        if let Some(address) = ip {
            let iface = self.post(
                "api/dcim/interfaces/",
                json!({"device": id, "name": "mgmt0", "type": "virtual"}),
            );
            let ipobj = self.post(
                "api/ipam/ip-addresses/",
                json!({"address": address, "assigned_object_type": "dcim.interface", "assigned_object_id": iface["id"]}),
            );
            let field = if address.contains(':') {
                "primary_ip6"
            } else {
                "primary_ip4"
            };
            self.api
                .request(
                    "PATCH",
                    &format!("api/dcim/devices/{id}/"),
                    Some(&json!({field: ipobj["id"]})),
                )
                .unwrap();
        }
        id
    }

    fn basics(&self) -> (i64, i64) {
        let slug = self.name("lab");
        let found = self
            .api
            .get_all(&format!("api/dcim/device-types/?slug={slug}"))
            .unwrap();
        if let Some(t) = found.first() {
            let role = self
                .api
                .get_all(&format!("api/dcim/device-roles/?slug={slug}"))
                .unwrap();
            return (t["id"].as_i64().unwrap(), role[0]["id"].as_i64().unwrap());
        }
        let mfr = self.post(
            "api/dcim/manufacturers/",
            json!({"name": slug, "slug": slug}),
        );
        let dtype = self.post(
            "api/dcim/device-types/",
            json!({"manufacturer": mfr["id"], "model": slug, "slug": slug}),
        );
        let role = self.post(
            "api/dcim/device-roles/",
            json!({"name": slug, "slug": slug, "color": "00ff00"}),
        );
        (dtype["id"].as_i64().unwrap(), role["id"].as_i64().unwrap())
    }
}

#[test]
fn targets_exports_the_seeds_selection() {
    let Some((url, token)) = netbox() else { return };
    let lab = Lab::new(&url, &token);
    for tag in ["core", "decom"] {
        lab.post(
            "api/extras/tags/",
            json!({"name": lab.name(tag), "slug": lab.name(tag)}),
        );
    }
    let site = lab.post(
        "api/dcim/sites/",
        json!({"name": lab.name("prg"), "slug": lab.name("prg")}),
    )["id"]
        .as_i64()
        .unwrap();
    let junos = lab.post(
        "api/dcim/platforms/",
        json!({"name": lab.name("junos"), "slug": lab.name("junos")}),
    )["id"]
        .as_i64()
        .unwrap();
    let r1 = lab.device(
        "r1",
        site,
        Some(junos),
        "active",
        &["core"],
        Some("192.0.2.11/24"),
    );
    lab.device(
        "r2",
        site,
        None,
        "active",
        &["core", "decom"],
        Some("192.0.2.12/24"),
    );
    lab.device(
        "r3",
        site,
        None,
        "planned",
        &["core"],
        Some("192.0.2.13/24"),
    );
    lab.device("r4", site, None, "active", &["core"], None);
    let r5 = lab.device(
        "r5",
        site,
        None,
        "active",
        &["core"],
        Some("2001:db8::15/64"),
    );
    let work = tempfile::tempdir().unwrap();
    let run = Invmon::new(work.path())
        .args(["targets", "--out", "targets.csv"])
        .env("NETBOX_INSTANCE_URL", &url)
        .env("NETBOX_API_TOKEN", &token)
        .env("NETBOX_TAGS", lab.name("core"))
        .env("NETBOX_TAGS__N", lab.name("decom"))
        .run();
    assert_eq!(run.code, Some(0), "{}", run.all());
    let csv = std::fs::read_to_string(work.path().join("targets.csv")).unwrap();
    let expected = format!(
        "name,address,platform,site,location,netbox_id\n{},192.0.2.11,{},{},,{r1}\n{},[2001:db8::15],,{},,{r5}\n",
        lab.name("r1"),
        lab.name("junos"),
        lab.name("prg"),
        lab.name("r5"),
        lab.name("prg")
    );
    assert_eq!(csv, expected);
    assert!(!run.all().contains(&token));
    // The export is what collect reads.
    let (targets, errors) =
        invmon::config::targets::load(&work.path().join("targets.csv")).unwrap();
    assert_eq!((targets.len(), errors.len()), (2, 0));

    let json = Invmon::new(work.path())
        .args(["targets", "--format", "json", "--device", &lab.name("r1")])
        .env("NETBOX_INSTANCE_URL", &url)
        .env("NETBOX_API_TOKEN", &token)
        .run();
    let parsed: Json =
        serde_json::from_str(&json.stdout).unwrap_or_else(|e| panic!("{e}: {}", json.all()));
    assert_eq!(parsed[0]["netbox_id"], r1);
}

#[test]
fn bad_token_is_explained() {
    let Some((url, _)) = netbox() else { return };
    let work = tempfile::tempdir().unwrap();
    let run = Invmon::new(work.path())
        .args(["targets"])
        .env("NETBOX_INSTANCE_URL", &url)
        .env(
            "NETBOX_API_TOKEN",
            "nbt_invalid00000.0000000000000000000000000000000000000000",
        )
        .run();
    assert_eq!(run.code, Some(1), "{}", run.all());
    assert!(
        run.stderr.contains("NetBox refused the token") && run.stderr.contains("NETBOX_API_TOKEN"),
        "{}",
        run.stderr
    );
    assert!(
        !run.stderr
            .contains("0000000000000000000000000000000000000000"),
        "the token is never printed"
    );
}
