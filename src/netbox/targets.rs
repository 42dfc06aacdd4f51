//! `invmon targets`: NetBox's device list as a targets file, selected the way
//! the seed tool selects devices.

use serde_json::Value as Json;

use super::client::{Client, NetboxError};
use crate::config::targets::Target;

/// Where a device's credential set comes from in NetBox, so that a site
/// with per-region SNMP secrets needs no hand-edited exports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CredentialSource {
    /// The site's slug.
    Site,
    /// The first tag whose slug starts with the prefix, without it (`snmp-east` → `east`).
    Tag(String),
    /// A custom field's value.
    CustomField(String),
}

impl std::str::FromStr for CredentialSource {
    type Err = crate::config::ValueError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s == "site" {
            return Ok(CredentialSource::Site);
        }
        if let Some(prefix) = s.strip_prefix("tag:").filter(|p| !p.is_empty()) {
            return Ok(CredentialSource::Tag(prefix.to_owned()));
        }
        if let Some(field) = s.strip_prefix("cf:").filter(|p| !p.is_empty()) {
            return Ok(CredentialSource::CustomField(field.to_owned()));
        }
        Err(crate::config::ValueError(format!(
            "{s:?} is not a credential source: site, tag:PREFIX or cf:FIELD"
        )))
    }
}

impl CredentialSource {
    fn of(&self, device: &Json) -> Option<String> {
        let found = match self {
            CredentialSource::Site => device["site"]["slug"].as_str().map(str::to_owned),
            CredentialSource::Tag(prefix) => device["tags"].as_array().and_then(|tags| {
                tags.iter()
                    .filter_map(|t| t["slug"].as_str())
                    .find_map(|slug| slug.strip_prefix(prefix.as_str()))
                    .map(str::to_owned)
            }),
            CredentialSource::CustomField(field) => match &device["custom_fields"][field] {
                Json::String(s) => Some(s.clone()),
                Json::Number(n) => Some(n.to_string()),
                _ => None,
            },
        };
        found.filter(|c| !c.trim().is_empty())
    }
}

/// What to export: the seed's filters.
#[derive(Clone, Debug, Default)]
pub struct Selection {
    /// Devices must carry all of these tags (slugs).
    pub tags: Vec<String>,
    /// Devices must carry none of these.
    pub tags_exclude: Vec<String>,
    /// Only this device, by name.
    pub device: Option<String>,
    /// Fills the `credentials` column.
    pub credentials_from: Option<CredentialSource>,
}

/// Percent-encodes a query value.
pub fn encode(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The device-list query: active, with a primary IP, tag filters, paged by 1000.
pub fn query(sel: &Selection) -> String {
    let mut q = vec![
        "status=active".to_owned(),
        "has_primary_ip=true".into(),
        "limit=1000".into(),
        "ordering=id".into(),
    ];
    if let Some(d) = &sel.device {
        q.push(format!("name={}", encode(d)));
    }
    q.extend(sel.tags.iter().map(|t| format!("tag={}", encode(t))));
    q.extend(
        sel.tags_exclude
            .iter()
            .map(|t| format!("tag__n={}", encode(t))),
    );
    format!("api/dcim/devices/?{}", q.join("&"))
}

/// One NetBox device as a target: primary IPv4, else IPv6, without the prefix length.
pub fn target(device: &Json, credentials: Option<&CredentialSource>) -> Option<Target> {
    let ip = ["primary_ip4", "primary_ip6"]
        .iter()
        .find_map(|k| device[*k]["address"].as_str())?
        .split('/')
        .next()?
        .to_owned();
    let address = if ip.contains(':') {
        format!("[{ip}]")
    } else {
        ip
    };
    let text = |v: &Json| v.as_str().unwrap_or("").to_owned();
    Some(Target {
        name: text(&device["name"]),
        address,
        platform: text(&device["platform"]["slug"]),
        site: text(&device["site"]["slug"]),
        location: text(&device["location"]["name"]),
        netbox_id: device["id"].as_u64(),
        credentials: credentials.and_then(|c| c.of(device)),
    })
}

/// Devices NetBox lists, as targets; devices it returns without a usable
/// name or address are reported by id.
pub async fn fetch(
    client: &Client,
    sel: &Selection,
) -> Result<(Vec<Target>, Vec<String>), NetboxError> {
    let mut targets = Vec::new();
    let mut skipped = Vec::new();
    for device in client.get_all(&query(sel)).await? {
        match target(&device, sel.credentials_from.as_ref()).filter(|t| !t.name.is_empty()) {
            Some(t) => targets.push(t),
            None => skipped.push(format!(
                "device id {} has no name or primary IP",
                device["id"]
            )),
        }
    }
    Ok((targets, skipped))
}

/// CSV in the column order `collect` reads.
pub fn to_csv(targets: &[Target]) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    let header = [
        "name",
        "address",
        "platform",
        "site",
        "location",
        "netbox_id",
        "credentials",
    ];
    // Writing to memory cannot fail; the fields are UTF-8 strings.
    let _ = w.write_record(header);
    for t in targets {
        let id = t.netbox_id.map(|i| i.to_string()).unwrap_or_default();
        let credentials = t.credentials.clone().unwrap_or_default();
        let _ = w.write_record([
            &t.name,
            &t.address,
            &t.platform,
            &t.site,
            &t.location,
            &id,
            &credentials,
        ]);
    }
    String::from_utf8_lossy(&w.into_inner().unwrap_or_default()).into_owned()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn seed_selection_as_a_query() {
        let q = query(&Selection {
            tags: vec!["core".into(), "prod".into()],
            tags_exclude: vec!["decom".into()],
            device: None,
            credentials_from: None,
        });
        assert_eq!(
            q,
            "api/dcim/devices/?status=active&has_primary_ip=true&limit=1000&ordering=id&tag=core&tag=prod&tag__n=decom"
        );
        assert!(
            query(&Selection {
                device: Some("r 1".into()),
                ..Selection::default()
            })
            .contains("name=r%201")
        );
    }

    #[test]
    fn devices_become_targets() {
        let d = json!({"id": 7, "name": "r1", "primary_ip4": {"address": "192.0.2.1/24"}, "primary_ip6": {"address": "2001:db8::1/64"},
                       "platform": {"slug": "junos", "name": "Junos"}, "site": {"slug": "prg"}, "location": {"name": "Room 1"}});
        let t = target(&d, None).unwrap();
        assert_eq!(
            (
                t.address.as_str(),
                t.platform.as_str(),
                t.site.as_str(),
                t.netbox_id
            ),
            ("192.0.2.1", "junos", "prg", Some(7))
        );
        let v6 = target(&json!({"id": 8, "name": "r2", "primary_ip4": null, "primary_ip6": {"address": "2001:db8::2/64"}, "platform": null}), None).unwrap();
        assert_eq!(v6.address, "[2001:db8::2]");
        assert_eq!(v6.platform, "");
        assert!(target(&json!({"id": 9, "name": "r3"}), None).is_none());
        let tagged = json!({"id": 10, "name": "r4", "primary_ip4": {"address": "192.0.2.4/32"},
                            "site": {"slug": "prg"}, "tags": [{"slug": "core"}, {"slug": "snmp-east"}],
                            "custom_fields": {"snmp_set": "WEST"}});
        let set = |s: &str| {
            target(&tagged, Some(&s.parse().unwrap()))
                .unwrap()
                .credentials
        };
        assert_eq!(set("site").as_deref(), Some("prg"));
        assert_eq!(set("tag:snmp-").as_deref(), Some("east"));
        assert_eq!(set("cf:snmp_set").as_deref(), Some("WEST"));
        assert_eq!(set("cf:missing"), None);
        assert!("region".parse::<CredentialSource>().is_err());
        let csv = to_csv(&[t]);
        assert_eq!(
            csv,
            "name,address,platform,site,location,netbox_id,credentials\nr1,192.0.2.1,junos,prg,Room 1,7,\n"
        );
    }
}
