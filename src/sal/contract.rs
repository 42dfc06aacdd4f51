//! The Sal 4 server's `/checkin/` contract, as code: what it accepts, and the
//! status and body it answers otherwise. Used to validate checkin-module
//! output, to check documents before shipping, and by the test server.
//!
//! Sal answers 400/401/404/405 with these exact texts; documents that break
//! its database rules (NOT NULL, lengths, NUL bytes, bad dates) end in a 500.

use base64::Engine;
use serde_json::{Map, Value as Json};

/// Django's DATA_UPLOAD_MAX_MEMORY_SIZE in Sal's settings.
pub const MAX_BODY: usize = 5 * 1024 * 1024;
pub const MESSAGE_TYPES: [&str; 4] = ["ERROR", "WARNING", "DEBUG", "OTHER"];
pub const ITEM_STATUSES: [&str; 5] = ["PRESENT", "ABSENT", "PENDING", "ERROR", "UNKNOWN"];
/// Sources whose `extra_data` Sal processes itself; a checkin module may not supply them.
pub const RESERVED: [&str; 3] = ["Machine", "Sal", "plugin_results"];

/// An HTTP request as the server sees it.
pub struct Request<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub authorization: Option<&'a str>,
    pub content_type: Option<&'a str>,
    pub body: &'a [u8],
}

/// Sal's answer, with the rule that decided it when it is an error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    pub status: u16,
    pub body: String,
    pub rule: Option<String>,
}

impl Verdict {
    fn new(status: u16, body: &str) -> Verdict {
        Verdict {
            status,
            body: body.to_owned(),
            rule: None,
        }
    }

    fn server_error(rule: String) -> Verdict {
        Verdict {
            status: 500,
            body: "<h1>Server Error (500)</h1>".into(),
            rule: Some(rule),
        }
    }
}

/// Sal's Machine.serial normalisation (SERIAL_TRANSLATE).
pub fn normalize_serial(serial: &str) -> String {
    serial
        .to_uppercase()
        .chars()
        .filter(|c| !matches!(c, '+' | '/'))
        .collect()
}

/// `keys`: the machine-group keys that exist (`None` skips the checks that
/// need them: Basic auth and the group lookup).
pub fn check(req: &Request<'_>, keys: Option<&[&str]>) -> Verdict {
    if req.method != "POST" {
        return Verdict::new(405, "");
    }
    if req.path != "/checkin/" {
        return Verdict::new(if req.path == "/checkin" { 301 } else { 404 }, "");
    }
    if let Some(keys) = keys
        && !basic_auth_ok(req.authorization, keys)
    {
        return Verdict::new(401, "");
    }
    let media = req
        .content_type
        .and_then(|c| c.split(';').next())
        .map(str::trim);
    if media != Some("application/json") {
        return Verdict::new(400, "Checkin must be content-type \"application/json\"!");
    }
    if req.body.len() > MAX_BODY {
        // RequestDataTooBig is a SuspiciousOperation: Django answers 400.
        return Verdict {
            status: 400,
            body: "<h1>Bad Request (400)</h1>".into(),
            rule: Some(format!("body of {} bytes is over 5 MiB", req.body.len())),
        };
    }
    // Sal decodes the body as UTF-8 before parsing; a UnicodeDecodeError
    // (gzip, Latin-1) is not the JSON error it catches, so it is a 500.
    let Ok(text) = std::str::from_utf8(req.body) else {
        return Verdict::server_error("the body is not UTF-8 (compressed?)".into());
    };
    let Ok(doc) = serde_json::from_str::<Json>(text) else {
        return Verdict::new(400, "Checkin has invalid JSON!");
    };
    let Some(machine) = doc.as_object().and_then(|d| d.get("Machine")) else {
        return Verdict::new(400, "Checkin JSON is missing required key \"Machine\"!");
    };
    let Some(machine_extra) = machine.get("extra_data").and_then(Json::as_object) else {
        return Verdict::server_error("Machine.extra_data is missing or not an object".into());
    };
    let serial = match machine_extra.get("serial") {
        Some(Json::String(s)) if !s.is_empty() => normalize_serial(s),
        _ => {
            return Verdict::new(
                400,
                "Checkin JSON is missing required \"Machine\" key \"serial\"!",
            );
        }
    };
    let Some(sal_extra) = doc
        .get("Sal")
        .and_then(|s| s.get("extra_data"))
        .and_then(Json::as_object)
    else {
        return Verdict::server_error("Sal or Sal.extra_data is missing (KeyError)".into());
    };
    if let Some(keys) = keys {
        let key = sal_extra.get("key").and_then(Json::as_str).unwrap_or("");
        if !keys.contains(&key) {
            return Verdict::new(404, "");
        }
    }
    if let Some(doc) = doc.as_object()
        && let Err(rule) = check_document(doc, &serial)
    {
        return Verdict::server_error(rule.0);
    }
    Verdict::new(200, &format!("Sal report submitted for {serial}"))
}

fn basic_auth_ok(header: Option<&str>, keys: &[&str]) -> bool {
    let Some(encoded) = header.and_then(|h| h.strip_prefix("Basic ")) else {
        return false;
    };
    let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded.trim()) else {
        return false;
    };
    let Ok(text) = String::from_utf8(decoded) else {
        return false;
    };
    matches!(text.split_once(':'), Some(("sal", key)) if keys.contains(&key))
}

/// The `Authorization` header value for a machine-group key.
pub fn basic_auth(key: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("sal:{key}"))
    )
}

/// The rule of Sal's a document breaks (Sal itself answers 500 for it).
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0}")]
pub struct Broken(pub String);

impl From<String> for Broken {
    fn from(rule: String) -> Broken {
        Broken(rule)
    }
}

impl From<&str> for Broken {
    fn from(rule: &str) -> Broken {
        Broken(rule.to_owned())
    }
}

fn check_document(doc: &Map<String, Json>, serial: &str) -> Result<(), Broken> {
    if serial.chars().count() > 100 {
        return Err(Broken(format!(
            "Machine.serial {serial:?} is longer than 100 characters"
        )));
    }
    no_nul(&Json::Object(doc.clone()), "checkin")?;
    for (name, source) in doc {
        if name == "plugin_results" {
            if !source.is_array() {
                return Err("plugin_results is not a list".into());
            }
            continue;
        }
        check_source(name, source)?;
    }
    let extra = doc["Machine"]["extra_data"]
        .as_object()
        .into_iter()
        .flatten();
    for (field, value) in extra {
        match field.as_str() {
            "memory_kb" | "hd_space" | "hd_total" if !(value.is_i64() || value.is_u64()) => {
                return Err(Broken(format!(
                    "Machine.extra_data.{field} must be an integer, not {value}"
                )));
            }
            _ if value.is_null() => {
                return Err(Broken(format!("Machine.extra_data.{field} is null")));
            }
            _ => {}
        }
        if let Some(s) = value.as_str()
            && s.chars().count() > 256
        {
            return Err(Broken(format!(
                "Machine.extra_data.{field} is longer than 256 characters"
            )));
        }
    }
    Ok(())
}

fn no_nul(value: &Json, at: &str) -> Result<(), Broken> {
    match value {
        Json::String(s) if s.contains('\0') => {
            Err(Broken(format!("{at} contains a NUL character")))
        }
        Json::Array(items) => items.iter().try_for_each(|v| no_nul(v, at)),
        Json::Object(map) => map.iter().try_for_each(|(k, v)| {
            if k.contains('\0') {
                Err(Broken(format!("{at} has a key with a NUL character")))
            } else {
                no_nul(v, &format!("{at}.{k}"))
            }
        }),
        _ => Ok(()),
    }
}

fn is_date(text: &str) -> bool {
    chrono::DateTime::parse_from_rfc3339(text).is_ok()
        || chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S").is_ok()
        || chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S").is_ok()
        || chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").is_ok()
}

/// `value` must be a string from `allowed` (Sal's NOT NULL, max-7-character enum columns).
fn one_of(value: Option<&Json>, allowed: &[&str], at: &str) -> Result<(), Broken> {
    match value.and_then(Json::as_str) {
        Some(v) if allowed.contains(&v) => Ok(()),
        other => Err(Broken(format!("{at} {other:?} is not one of {allowed:?}"))),
    }
}

/// An optional date must parse (Sal parses it; garbage is a 500).
fn optional_date(value: Option<&Json>, at: &str) -> Result<(), Broken> {
    match value {
        Some(date) if !date.as_str().is_some_and(is_date) => {
            Err(Broken(format!("{at} {date} is not a date")))
        }
        _ => Ok(()),
    }
}

/// One management source: what Sal's processing needs to not fail.
pub fn check_source(name: &str, source: &Json) -> Result<(), Broken> {
    if name.chars().count() > 255 {
        return Err(Broken(format!(
            "source name {name:?} is longer than 255 characters"
        )));
    }
    let Some(source) = source.as_object() else {
        return Err(Broken(format!("{name} is not an object")));
    };
    if let Some(facts) = source.get("facts") {
        let facts = facts
            .as_object()
            .ok_or_else(|| Broken::from(format!("{name}.facts is not an object")))?;
        for (fact, value) in facts {
            if value.is_null() {
                return Err(Broken(format!("{name}.facts.{fact} is null")));
            }
            if fact.chars().count() > 255 {
                return Err(Broken(format!(
                    "{name}.facts has a name longer than 255 characters"
                )));
            }
        }
    }
    if let Some(messages) = source.get("messages") {
        let messages = messages
            .as_array()
            .ok_or_else(|| Broken::from(format!("{name}.messages is not a list")))?;
        for (i, m) in messages.iter().enumerate() {
            let m = m
                .as_object()
                .ok_or_else(|| Broken::from(format!("{name}.messages[{i}] is not an object")))?;
            one_of(
                m.get("message_type"),
                &MESSAGE_TYPES,
                &format!("{name}.messages[{i}].message_type"),
            )?;
            if !m.get("text").is_some_and(Json::is_string) {
                return Err(Broken(format!("{name}.messages[{i}].text is missing")));
            }
            optional_date(m.get("date"), &format!("{name}.messages[{i}].date"))?;
        }
    }
    if let Some(items) = source.get("managed_items") {
        let items = items
            .as_object()
            .ok_or_else(|| Broken::from(format!("{name}.managed_items is not an object")))?;
        for (item, value) in items {
            if item.chars().count() > 255 {
                return Err(Broken(format!(
                    "{name}.managed_items has a name longer than 255 characters: {item:?}"
                )));
            }
            let value = value.as_object().ok_or_else(|| {
                Broken::from(format!("{name}.managed_items.{item} is not an object"))
            })?;
            one_of(
                value.get("status"),
                &ITEM_STATUSES,
                &format!("{name}.managed_items.{item}.status"),
            )?;
            optional_date(
                value.get("date_managed"),
                &format!("{name}.managed_items.{item}.date_managed"),
            )?;
        }
    }
    if let Some(extra) = source.get("extra_data")
        && !extra.is_object()
    {
        return Err(Broken(format!("{name}.extra_data is not an object")));
    }
    Ok(())
}

/// Sal's item history (`ManagedItemHistory`), per machine serial: a row per
/// status change, `recorded` = the item's `date_managed`, unique on
/// (machine, item, source, recorded). A status change whose date repeats an
/// existing row's fails the whole checkin with a 500, and so does every
/// later checkin that repeats it.
/// (machine serial, source, item name).
type ItemKey = (String, String, String);
/// (status, recorded).
type HistoryRow = (String, chrono::DateTime<chrono::Utc>);

#[derive(Clone, Debug, Default)]
pub struct Histories {
    rows: std::collections::HashMap<ItemKey, Vec<HistoryRow>>,
}

impl Histories {
    /// Records what an accepted checkin adds; `Err` is the rule Sal's
    /// database would enforce with an IntegrityError.
    pub fn record(&mut self, serial: &str, doc: &Json) -> Result<(), Broken> {
        let mut added = Vec::new();
        for (source, value) in doc.as_object().into_iter().flatten() {
            let Some(items) = value.get("managed_items").and_then(Json::as_object) else {
                continue;
            };
            for (name, item) in items {
                let status = item["status"].as_str().unwrap_or("UNKNOWN").to_owned();
                let recorded = item["date_managed"]
                    .as_str()
                    .and_then(|d| chrono::DateTime::parse_from_rfc3339(d).ok())
                    .map_or_else(chrono::Utc::now, |d| d.with_timezone(&chrono::Utc));
                let key = (serial.to_owned(), source.clone(), name.clone());
                let rows = self.rows.get(&key).map(Vec::as_slice).unwrap_or_default();
                let latest = rows.iter().max_by_key(|(_, at)| *at);
                if latest.is_some_and(|(s, _)| *s == status) {
                    continue;
                }
                if rows.iter().any(|(_, at)| *at == recorded) {
                    return Err(Broken(format!(
                        "duplicate key value violates unique constraint: Key (machine, name, management_source, recorded)=({serial}, {name}, {source}, {recorded}) already exists"
                    )));
                }
                added.push((key, (status, recorded)));
            }
        }
        // Sal creates the rows in bulk: none on error.
        for (key, row) in added {
            self.rows.entry(key).or_default().push(row);
        }
        Ok(())
    }

    /// The serial Sal files a checkin under.
    pub fn serial_of(doc: &Json) -> String {
        normalize_serial(
            doc["Machine"]["extra_data"]["serial"]
                .as_str()
                .unwrap_or(""),
        )
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn post(doc: &Json) -> Verdict {
        let body = serde_json::to_vec(doc).unwrap();
        let auth = basic_auth("k1");
        check(
            &Request {
                method: "POST",
                path: "/checkin/",
                authorization: Some(&auth),
                content_type: Some("application/json"),
                body: &body,
            },
            Some(&["k1"]),
        )
    }

    fn good() -> Json {
        json!({
            "Machine": {"extra_data": {"serial": "ab+c/12", "hostname": "r1", "os_family": "Network"}, "facts": {"checkin_module_version": "1"}},
            "Sal": {"extra_data": {"key": "k1", "sal_version": "invmon 0.1.0"}},
            "SNMP Inventory": {
                "facts": {"items": "1"},
                "messages": [{"text": "ok", "message_type": "DEBUG", "date": "2026-11-01T00:00:00Z"}],
                "managed_items": {"FOC1": {"date_managed": "2026-11-01T00:00:00Z", "status": "PRESENT", "data": {"type": "Chassis"}}},
                "extra_data": {}
            },
            "plugin_results": []
        })
    }

    #[test]
    fn accepts_a_good_checkin() {
        assert_eq!(
            post(&good()),
            Verdict::new(200, "Sal report submitted for ABC12")
        );
    }

    #[test]
    fn http_rules() {
        let body = serde_json::to_vec(&good()).unwrap();
        let auth = basic_auth("k1");
        let req = |method, path, auth: Option<&str>, ct: Option<&str>| {
            check(
                &Request {
                    method,
                    path,
                    authorization: auth,
                    content_type: ct,
                    body: &body,
                },
                Some(&["k1"]),
            )
            .status
        };
        assert_eq!(
            req("GET", "/checkin/", Some(&auth), Some("application/json")),
            405
        );
        assert_eq!(
            req("POST", "/checkin", Some(&auth), Some("application/json")),
            301
        );
        assert_eq!(
            req("POST", "/checkin/", None, Some("application/json")),
            401
        );
        assert_eq!(
            req(
                "POST",
                "/checkin/",
                Some(&basic_auth("nope")),
                Some("application/json")
            ),
            401
        );
        assert_eq!(
            req("POST", "/checkin/", Some(&auth), Some("text/plain")),
            400
        );
        assert_eq!(
            req(
                "POST",
                "/checkin/",
                Some(&auth),
                Some("application/json; charset=utf-8")
            ),
            200
        );
        let big = vec![b' '; MAX_BODY + 1];
        let v = check(
            &Request {
                method: "POST",
                path: "/checkin/",
                authorization: Some(&auth),
                content_type: Some("application/json"),
                body: &big,
            },
            Some(&["k1"]),
        );
        assert_eq!(v.status, 400);
        let v = check(
            &Request {
                method: "POST",
                path: "/checkin/",
                authorization: Some(&auth),
                content_type: Some("application/json"),
                body: b"{nope",
            },
            Some(&["k1"]),
        );
        assert_eq!(v, Verdict::new(400, "Checkin has invalid JSON!"));
    }

    #[test]
    fn document_rules_with_sal_messages() {
        let mut d = good();
        d.as_object_mut().unwrap().remove("Machine");
        assert_eq!(
            post(&d),
            Verdict::new(400, "Checkin JSON is missing required key \"Machine\"!")
        );
        let mut d = good();
        d["Machine"]["extra_data"]["serial"] = json!("");
        assert_eq!(
            post(&d),
            Verdict::new(
                400,
                "Checkin JSON is missing required \"Machine\" key \"serial\"!"
            )
        );
        let mut d = good();
        d["Sal"]["extra_data"]["key"] = json!("other");
        assert_eq!(post(&d).status, 404);
        let mut d = good();
        d.as_object_mut().unwrap().remove("Sal");
        assert_eq!(post(&d).status, 500);
        for (path, value) in [
            (&["SNMP Inventory", "facts", "items"][..], json!(null)),
            (&["SNMP Inventory", "messages"][..], json!([{"text": "x"}])),
            (
                &["SNMP Inventory", "messages"][..],
                json!([{"text": "x", "message_type": "INFO"}]),
            ),
            (
                &["SNMP Inventory", "messages"][..],
                json!([{"text": "x", "message_type": "ERROR", "date": "yesterday"}]),
            ),
            (
                &["SNMP Inventory", "managed_items", "FOC1", "status"][..],
                json!(null),
            ),
            (
                &["SNMP Inventory", "managed_items", "FOC1", "status"][..],
                json!("GONE"),
            ),
            (&["Machine", "extra_data", "memory_kb"][..], json!(null)),
            (
                &["Machine", "extra_data", "hostname"][..],
                json!("x".repeat(257)),
            ),
            (&["Machine", "extra_data", "hostname"][..], json!("r1\u{0}")),
            (&["SNMP Inventory", "facts"][..], json!("not a dict")),
        ] {
            let mut d = good();
            let mut at = &mut d;
            for p in &path[..path.len() - 1] {
                at = &mut at[*p];
            }
            at[path[path.len() - 1]] = value.clone();
            let v = post(&d);
            assert_eq!(v.status, 500, "{path:?} = {value}");
            assert!(v.rule.is_some());
        }
        let mut d = good();
        d["Machine"]["extra_data"]["serial"] = json!("S".repeat(101));
        assert_eq!(post(&d).status, 500);
    }
}
