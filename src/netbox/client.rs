//! NetBox's REST API over the shared HTTP client: token auth, paging, and
//! errors that say what NetBox said (and which setting to look at).

use std::time::Duration;

use reqwest::Method;
use reqwest::header::HeaderValue;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value as Json;

pub use crate::http::instance_key;
use crate::http::{self, HttpError, RetryPolicy, Safety};

#[derive(Debug, thiserror::Error)]
pub enum NetboxError {
    #[error(
        "NetBox refused the token for {url} (403): {detail}. Check NETBOX_API_TOKEN (--netbox-api-token) and its permissions"
    )]
    Forbidden { url: String, detail: String },
    #[error("{url}: not found (404); is the inventory-monitor plugin installed in this NetBox?")]
    NoPlugin { url: String },
    #[error(
        "{url} answered {status} with a web page, not NetBox's API: check NETBOX_INSTANCE_URL (--netbox-url), the address of NetBox itself (https://netbox.example.com)"
    )]
    NotNetbox { url: String, status: u16 },
    #[error("{url}: unexpected answer: {why}")]
    Malformed { url: String, why: String },
    #[error(transparent)]
    Http(#[from] HttpError),
}

impl NetboxError {
    /// The request may have been carried out: re-read before writing again.
    pub fn is_unknown(&self) -> bool {
        matches!(self, NetboxError::Http(HttpError::Unknown { .. }))
    }

    /// NetBox said 404 for this API object (a JSON answer, not a web page).
    pub fn is_not_found(&self) -> bool {
        matches!(
            self,
            NetboxError::Http(HttpError::Refused { status: 404, .. })
        )
    }
}

pub struct Client {
    http: http::Client,
    base: String,
    auth: HeaderValue,
}

/// The base URL as NetBox's users write it, without `/api` or trailing slashes.
pub fn base_url(url: &str) -> String {
    let mut base = url.trim().trim_end_matches('/').to_owned();
    if let Some(stripped) = base.strip_suffix("/api") {
        base = stripped.to_owned();
    }
    base
}

impl Client {
    pub fn new(
        url: &str,
        token: &SecretString,
        verify_tls: bool,
        timeout: Duration,
        policy: RetryPolicy,
    ) -> Result<Client, NetboxError> {
        // NetBox 4.7 picks the token version by the `nbt_` prefix; Bearer works for both.
        let mut auth = HeaderValue::from_str(&format!("Bearer {}", token.expose_secret().trim()))
            .map_err(|_| NetboxError::Malformed {
            url: "NETBOX_API_TOKEN".into(),
            why: "the token has characters a header cannot carry".into(),
        })?;
        auth.set_sensitive(true);
        Ok(Client {
            http: http::Client::new(timeout, verify_tls, policy)?,
            base: base_url(url),
            auth,
        })
    }

    pub fn counters(&self) -> &http::Counters {
        &self.http.counters
    }

    fn url(&self, path: &str) -> String {
        if path.starts_with("http://") || path.starts_with("https://") {
            path.to_owned()
        } else {
            format!("{}/{}", self.base, path.trim_start_matches('/'))
        }
    }

    async fn request(
        &self,
        method: Method,
        path: &str,
        body: Option<&Json>,
        safety: Safety,
    ) -> Result<Json, NetboxError> {
        let url = self.url(path);
        let mut headers = vec![
            ("authorization", self.auth.clone()),
            ("accept", HeaderValue::from_static("application/json")),
        ];
        if body.is_some() {
            headers.push(("content-type", HeaderValue::from_static("application/json")));
        }
        let payload = body.map(|b| b.to_string().into_bytes());
        let get = method == Method::GET;
        match self
            .http
            .send(method, &url, &headers, payload, safety)
            .await
        {
            Ok(answer) if answer.body.trim().is_empty() => Ok(Json::Null),
            Ok(answer) => serde_json::from_str(&answer.body).map_err(|e| NetboxError::Malformed {
                url,
                why: if answer.body.trim_start().starts_with('<') {
                    "a web page instead of JSON: check NETBOX_INSTANCE_URL (--netbox-url)".into()
                } else {
                    e.to_string()
                },
            }),
            Err(HttpError::Refused {
                status: 403,
                body,
                line,
                ..
            }) => {
                let detail = serde_json::from_str::<Json>(&body)
                    .ok()
                    .and_then(|j| j["detail"].as_str().map(str::to_owned))
                    .unwrap_or(line);
                Err(NetboxError::Forbidden { url, detail })
            }
            Err(HttpError::Refused { status, body, .. }) if body.trim_start().starts_with('<') => {
                // Django's HTML 404: the URL is not NetBox's API at all.
                Err(NetboxError::NotNetbox { url, status })
            }
            Err(HttpError::Refused { status: 404, .. })
                if get && url.contains("/plugins/inventory-monitor/") =>
            {
                Err(NetboxError::NoPlugin { url })
            }
            Err(e) => Err(e.into()),
        }
    }

    pub async fn get(&self, path: &str) -> Result<Json, NetboxError> {
        self.request(Method::GET, path, None, Safety::Idempotent)
            .await
    }

    /// Creates objects: never re-sent once it may have reached NetBox.
    pub async fn post(&self, path: &str, body: &Json) -> Result<Json, NetboxError> {
        self.request(Method::POST, path, Some(body), Safety::Once)
            .await
    }

    /// Sets fields to given values: the same request twice leaves the same state.
    pub async fn patch(&self, path: &str, body: &Json) -> Result<Json, NetboxError> {
        self.request(Method::PATCH, path, Some(body), Safety::Idempotent)
            .await
    }

    /// Every object of a list endpoint, following `next` links.
    pub async fn get_all(&self, path: &str) -> Result<Vec<Json>, NetboxError> {
        let mut out = Vec::new();
        let mut next = Some(path.to_owned());
        while let Some(page) = next {
            let body = self.get(&page).await?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_key_per_server() {
        use super::instance_key;
        for url in [
            "http://localhost:8000",
            "http://127.0.0.1:8000/",
            "HTTP://LOCALHOST:8000/api/",
            "http://[::1]:8000/api",
        ] {
            assert_eq!(instance_key(url), "http://localhost:8000", "{url}");
        }
        assert_eq!(
            instance_key("https://nb.example.net:443/"),
            "https://nb.example.net"
        );
        assert_eq!(
            instance_key("https://nb.example.net/netbox/api/"),
            "https://nb.example.net/netbox"
        );
        assert_eq!(
            base_url("https://nb.example.net/api/"),
            "https://nb.example.net"
        );
    }
}
