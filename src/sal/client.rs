//! Posting checkins to a Sal server over the shared HTTP client.
//!
//! A checkin is safe to send twice: Sal replaces the machine's facts and
//! items with the document's and writes item history only on a status
//! change, so the same document again changes nothing but `last_checkin`.
//! It is therefore retried like any idempotent request.

use std::time::Duration;

use reqwest::Method;
use reqwest::header::HeaderValue;
use secrecy::{ExposeSecret, SecretString};

use crate::http::{self, HttpError, RetryPolicy, Safety};

#[derive(Debug, thiserror::Error)]
pub enum SalError {
    #[error("Sal refused the machine-group key (401): check SAL_KEY (--sal-key)")]
    BadKey,
    #[error(
        "{url} answered 404: no machine group has this key (SAL_KEY), or SAL_URL (--sal-url) is not Sal's address"
    )]
    NotFound { url: String },
    #[error("Sal refused the checkin ({status}): {line}")]
    Refused { status: u16, line: String },
    #[error(transparent)]
    Http(#[from] HttpError),
}

impl SalError {
    pub fn is_unknown(&self) -> bool {
        matches!(self, SalError::Http(HttpError::Unknown { .. }))
    }
}

pub struct Client {
    http: http::Client,
    url: String,
    key: SecretString,
}

/// Sal's base URL, also when given with the endpoint (`…/checkin/`).
pub fn base_url(url: &str) -> String {
    let base = url.trim().trim_end_matches('/');
    base.strip_suffix("/checkin").unwrap_or(base).to_owned()
}

impl Client {
    pub fn new(
        url: &str,
        key: SecretString,
        timeout: Duration,
        policy: RetryPolicy,
    ) -> Result<Client, SalError> {
        Ok(Client {
            http: http::Client::new(timeout, true, policy)?,
            url: format!("{}/checkin/", base_url(url)),
            key,
        })
    }

    pub fn endpoint(&self) -> &str {
        &self.url
    }

    pub fn key(&self) -> &SecretString {
        &self.key
    }

    pub fn counters(&self) -> &http::Counters {
        &self.http.counters
    }

    /// Posts one checkin document; returns Sal's answer text.
    pub async fn checkin(&self, body: Vec<u8>) -> Result<String, SalError> {
        let mut auth =
            HeaderValue::from_str(&super::contract::basic_auth(self.key.expose_secret()))
                .map_err(|_| SalError::BadKey)?;
        auth.set_sensitive(true);
        let headers = [
            ("authorization", auth),
            ("content-type", HeaderValue::from_static("application/json")),
        ];
        match self
            .http
            .send(
                Method::POST,
                &self.url,
                &headers,
                Some(body),
                Safety::Idempotent,
            )
            .await
        {
            Ok(answer) => Ok(http::one_line(&answer.body)),
            Err(HttpError::Refused { status: 401, .. }) => Err(SalError::BadKey),
            Err(HttpError::Refused { status: 404, .. }) => Err(SalError::NotFound {
                url: self.url.clone(),
            }),
            Err(HttpError::Refused { status, line, .. }) => Err(SalError::Refused { status, line }),
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_endpoint_is_never_doubled() {
        for url in [
            "https://sal.example",
            "https://sal.example/",
            "https://sal.example/checkin/",
            "https://sal.example/checkin",
        ] {
            assert_eq!(super::base_url(url), "https://sal.example", "{url}");
        }
    }
}
