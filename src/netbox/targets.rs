//! `invmon targets`: NetBox's device list as a targets file, selected the way
//! the seed tool selects devices.

use serde_json::Value as Json;

use super::client::{Client, NetboxError};
use crate::config::targets::Target;

/// What to export: the seed's filters.
#[derive(Clone, Debug, Default)]
pub struct Selection {
    /// Devices must carry all of these tags (slugs).
    pub tags: Vec<String>,
    /// Devices must carry none of these.
    pub tags_exclude: Vec<String>,
    /// Only this device, by name.
    pub device: Option<String>,
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
pub fn target(device: &Json) -> Option<Target> {
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
        credentials: None,
    })
}

/// Devices NetBox lists, as targets; devices it returns without a usable
/// name or address are reported by id.
pub fn fetch(client: &Client, sel: &Selection) -> Result<(Vec<Target>, Vec<String>), NetboxError> {
    let mut targets = Vec::new();
    let mut skipped = Vec::new();
    for device in client.get_all(&query(sel))? {
        match target(&device).filter(|t| !t.name.is_empty()) {
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
    w.write_record([
        "name",
        "address",
        "platform",
        "site",
        "location",
        "netbox_id",
    ])
    .expect("in-memory write");
    for t in targets {
        let id = t.netbox_id.map(|i| i.to_string()).unwrap_or_default();
        w.write_record([&t.name, &t.address, &t.platform, &t.site, &t.location, &id])
            .expect("in-memory write");
    }
    String::from_utf8(w.into_inner().expect("in-memory write")).expect("CSV of UTF-8 fields")
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
        let t = target(&d).unwrap();
        assert_eq!(
            (
                t.address.as_str(),
                t.platform.as_str(),
                t.site.as_str(),
                t.netbox_id
            ),
            ("192.0.2.1", "junos", "prg", Some(7))
        );
        let v6 = target(&json!({"id": 8, "name": "r2", "primary_ip4": null, "primary_ip6": {"address": "2001:db8::2/64"}, "platform": null})).unwrap();
        assert_eq!(v6.address, "[2001:db8::2]");
        assert_eq!(v6.platform, "");
        assert!(target(&json!({"id": 9, "name": "r3"})).is_none());
        let csv = to_csv(&[t]);
        assert_eq!(
            csv,
            "name,address,platform,site,location,netbox_id\nr1,192.0.2.1,junos,prg,Room 1,7\n"
        );
    }
}
