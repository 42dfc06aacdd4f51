//! A small NetBox REST client: token auth, paging, retries, and errors that
//! say what NetBox said.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde_json::Value as Json;

#[derive(Debug, thiserror::Error)]
pub enum NetboxError {
    #[error(
        "NetBox refused the token for {url} (403): {detail}. Check NETBOX_API_TOKEN (--netbox-api-token) and its permissions"
    )]
    Forbidden { url: String, detail: String },
    #[error("{url}: not found (404); is the inventory-monitor plugin installed in this NetBox?")]
    NoPlugin { url: String },
    #[error("{method} {url} answered {status}: {body}")]
    Refused {
        method: String,
        url: String,
        status: u16,
        body: String,
    },
    #[error("{method} {url}: {why}")]
    Unavailable {
        method: String,
        url: String,
        why: String,
    },
    #[error("{url}: unexpected answer: {why}")]
    Malformed { url: String, why: String },
}

pub struct Client {
    agent: ureq::Agent,
    base: String,
    auth: String,
    retries: u32,
    backoff: Duration,
}

impl Client {
    /// `verify_tls` false accepts any certificate (the seed's NETBOX_VERIFY_SSL=false).
    pub fn new(
        base: &str,
        token: &SecretString,
        verify_tls: bool,
        timeout: Duration,
        retries: u32,
    ) -> Client {
        let agent = crate::http::agent(timeout, verify_tls);
        // NetBox 4.7 picks the token version by the `nbt_` prefix; Bearer works for both.
        let auth = format!("Bearer {}", token.expose_secret().trim());
        Client {
            agent,
            base: base.trim_end_matches('/').to_owned(),
            auth,
            retries,
            backoff: Duration::from_millis(500),
        }
    }

    fn url(&self, path: &str) -> String {
        if path.starts_with("http://") || path.starts_with("https://") {
            path.to_owned()
        } else {
            format!("{}/{}", self.base, path.trim_start_matches('/'))
        }
    }

    /// One request with retries on connection errors, timeouts, 429 and 5xx.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<&Json>,
    ) -> Result<Json, NetboxError> {
        let url = self.url(path);
        let payload = body.map(|b| serde_json::to_vec(b).expect("JSON serializes"));
        let mut delay = self.backoff;
        let mut last = String::new();
        for attempt in 0..=self.retries {
            if attempt > 0 {
                std::thread::sleep(delay);
                delay *= 2;
            }
            let result = match (method, &payload) {
                ("GET", _) => self
                    .agent
                    .get(&url)
                    .header("Authorization", &self.auth)
                    .header("Accept", "application/json")
                    .call(),
                (m, Some(p)) => {
                    let req = match m {
                        "POST" => self.agent.post(&url),
                        "PATCH" => self.agent.patch(&url),
                        _ => self.agent.put(&url),
                    };
                    req.header("Authorization", &self.auth)
                        .header("Accept", "application/json")
                        .header("Content-Type", "application/json")
                        .send(&p[..])
                }
                (m, None) => unreachable!("{m} without a body"),
            };
            let mut response = match result {
                Ok(r) => r,
                Err(e) => {
                    last = e.to_string();
                    continue;
                }
            };
            let status = response.status().as_u16();
            let text = response.body_mut().read_to_string().unwrap_or_default();
            match status {
                200..=299 => {
                    return serde_json::from_str(&text).or_else(|e| {
                        if text.is_empty() {
                            Ok(Json::Null)
                        } else {
                            Err(NetboxError::Malformed {
                                url: url.clone(),
                                why: e.to_string(),
                            })
                        }
                    });
                }
                403 => {
                    let detail = serde_json::from_str::<Json>(&text)
                        .ok()
                        .and_then(|j| j["detail"].as_str().map(str::to_owned))
                        .unwrap_or(text);
                    return Err(NetboxError::Forbidden { url, detail });
                }
                404 if url.contains("/plugins/inventory-monitor/") && method == "GET" => {
                    return Err(NetboxError::NoPlugin { url });
                }
                429 | 500..=599 => {
                    last = format!("{status}: {}", text.chars().take(300).collect::<String>())
                }
                _ => {
                    return Err(NetboxError::Refused {
                        method: method.into(),
                        url,
                        status,
                        body: text.chars().take(2000).collect(),
                    });
                }
            }
        }
        Err(NetboxError::Unavailable {
            method: method.into(),
            url,
            why: format!("{last} (after {} attempts)", self.retries + 1),
        })
    }

    /// Every object of a list endpoint, following `next` links.
    pub fn get_all(&self, path: &str) -> Result<Vec<Json>, NetboxError> {
        let mut out = Vec::new();
        let mut next = Some(path.to_owned());
        while let Some(page) = next {
            let body = self.request("GET", &page, None)?;
            let results = body["results"]
                .as_array()
                .ok_or_else(|| NetboxError::Malformed {
                    url: self.url(&page),
                    why: "no results list".into(),
                })?;
            out.extend(results.iter().cloned());
            next = body["next"].as_str().map(str::to_owned);
        }
        Ok(out)
    }
}
