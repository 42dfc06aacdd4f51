//! The one HTTP client and retry policy of every destination (NetBox, Sal):
//! reqwest on the tokio runtime, rustls with the platform's trust store.
//!
//! A request is either *idempotent* (GET, the PATCH of a probe's `time`, a
//! Sal checkin: sending it twice does no harm) or *once* (creating probes:
//! sending it twice writes twice). Idempotent requests are retried with
//! backoff after timeouts, connection errors, 429 and 5xx. A once-request is
//! re-sent only when it certainly did not reach the server (the connection
//! could not be made) or the server said so (429, with its Retry-After);
//! after anything else (a timeout after sending, a reset, a 5xx) its outcome
//! is [`HttpError::Unknown`] and the caller re-reads and re-plans instead.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue};

/// Whether a request may be sent twice.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Safety {
    Idempotent,
    Once,
}

#[derive(Clone, Debug)]
pub struct RetryPolicy {
    /// Further attempts after the first.
    pub retries: u32,
    /// Delay before the first retry; doubled after each.
    pub backoff: Duration,
    /// The longest wait a Retry-After may ask for before the attempt counts as failed.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            retries: 3,
            backoff: Duration::from_millis(500),
            max_retry_after: Duration::from_secs(120),
        }
    }
}

/// Requests made, retries and requests whose outcome is unknown, for summaries.
#[derive(Debug, Default)]
pub struct Counters {
    pub requests: AtomicU64,
    pub retries: AtomicU64,
    pub unknown: AtomicU64,
}

impl Counters {
    pub fn get(&self) -> (u64, u64, u64) {
        (
            self.requests.load(Ordering::Relaxed),
            self.retries.load(Ordering::Relaxed),
            self.unknown.load(Ordering::Relaxed),
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The server answered, and not with success; sending again would not help.
    #[error("{method} {url} answered {status}: {line}")]
    Refused {
        method: &'static str,
        url: String,
        status: u16,
        /// The answer's body, cut to one line.
        line: String,
        /// The whole body, for callers that read structured errors.
        body: String,
    },
    /// No usable answer after every retry; nothing was written.
    #[error("{method} {url}: {why}")]
    Unavailable {
        method: &'static str,
        url: String,
        why: String,
    },
    /// A once-request may or may not have been carried out.
    #[error("{method} {url}: outcome unknown ({why})")]
    Unknown {
        method: &'static str,
        url: String,
        why: String,
    },
}

/// A successful answer.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: String,
}

pub struct Client {
    inner: reqwest::Client,
    policy: RetryPolicy,
    pub counters: Arc<Counters>,
}

/// An error body as one readable line: an HTML page's title or first
/// heading, else the first line, at most 300 characters.
pub fn one_line(body: &str) -> String {
    let tag = |name: &str| {
        let lower = body.to_ascii_lowercase();
        let start = lower.find(&format!("<{name}"))?;
        let open_end = start + lower[start..].find('>')? + 1;
        let end = open_end + lower[open_end..].find(&format!("</{name}"))?;
        Some(body[open_end..end].trim().to_owned())
    };
    let text = if body.trim_start().starts_with('<') {
        tag("title")
            .filter(|t| !t.is_empty())
            .or_else(|| tag("h1"))
            .unwrap_or_else(|| "an HTML page".into())
    } else {
        body.lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .unwrap_or("")
            .to_owned()
    };
    let text: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.chars().count() > 300 {
        text.chars().take(300).collect::<String>() + "…"
    } else {
        text
    }
}

/// How long a 429 or 503 asks to wait (`Retry-After`: seconds or an HTTP date).
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    if let Ok(seconds) = value.trim().parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let when = chrono::DateTime::parse_from_rfc2822(value.trim()).ok()?;
    (when.with_timezone(&chrono::Utc) - chrono::Utc::now())
        .to_std()
        .ok()
}

/// One name for one server, however its URL is spelt: scheme and host in
/// lower case, no default port, no path suffix, loopback names as
/// `localhost`. Ledgers and locks are keyed by it.
pub fn instance_key(url: &str) -> String {
    let base = url.trim().trim_end_matches('/');
    let base = base.strip_suffix("/api").unwrap_or(base);
    let (scheme, rest) = base.split_once("://").unwrap_or(("http", base));
    let scheme = scheme.to_ascii_lowercase();
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let authority = authority.rsplit('@').next().unwrap_or(authority);
    let (host, port) = match authority.rfind(':') {
        Some(i) if !authority[i..].contains(']') => (&authority[..i], Some(&authority[i + 1..])),
        _ => (authority, None),
    };
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase();
    let loopback = host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    let host = if loopback {
        "localhost".to_owned()
    } else {
        host
    };
    let default = if scheme == "https" { "443" } else { "80" };
    let port = port
        .filter(|p| *p != default)
        .map(|p| format!(":{p}"))
        .unwrap_or_default();
    format!("{scheme}://{host}{port}{path}")
}

impl Client {
    /// A client that gives up on any request after `timeout`, verifying TLS
    /// against the system's trust store unless `verify_tls` is false.
    pub fn new(
        timeout: Duration,
        verify_tls: bool,
        policy: RetryPolicy,
    ) -> Result<Client, HttpError> {
        // One process-wide crypto provider (ring, no C toolchain needed).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let inner = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .danger_accept_invalid_certs(!verify_tls)
            .user_agent(concat!("invmon/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| HttpError::Unavailable {
                method: "-",
                url: String::new(),
                why: format!("cannot set up HTTP: {e}"),
            })?;
        Ok(Client {
            inner,
            policy,
            counters: Arc::new(Counters::default()),
        })
    }

    /// Sends one request, retrying as its `safety` allows.
    pub async fn send(
        &self,
        method: reqwest::Method,
        url: &str,
        headers: &[(&'static str, HeaderValue)],
        body: Option<Vec<u8>>,
        safety: Safety,
    ) -> Result<Answer, HttpError> {
        let name: &'static str = match method.as_str() {
            "GET" => "GET",
            "POST" => "POST",
            "PATCH" => "PATCH",
            "PUT" => "PUT",
            "DELETE" => "DELETE",
            _ => "HTTP",
        };
        let mut delay = self.policy.backoff;
        let mut last = String::new();
        for attempt in 0..=self.policy.retries {
            if attempt > 0 {
                self.counters.retries.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
            let mut request = self.inner.request(method.clone(), url);
            for (name, value) in headers {
                request = request.header(*name, value.clone());
            }
            if let Some(b) = &body {
                request = request.body(b.clone());
            }
            self.counters.requests.fetch_add(1, Ordering::Relaxed);
            let response = match request.send().await {
                Ok(r) => r,
                // Transport errors never carry the request's headers (tokens).
                Err(e) if e.is_connect() => {
                    last = format!("cannot connect: {}", describe(&e));
                    continue;
                }
                Err(e) if safety == Safety::Idempotent => {
                    last = describe(&e);
                    continue;
                }
                Err(e) => return Err(self.unknown(name, url, describe(&e))),
            };
            let status = response.status().as_u16();
            let wait = retry_after(response.headers());
            let text = match response.text().await {
                Ok(t) => t,
                Err(e) if safety == Safety::Idempotent => {
                    last = format!("answer {status} cut off: {}", describe(&e));
                    continue;
                }
                Err(e) => {
                    return Err(self.unknown(
                        name,
                        url,
                        format!("answer {status} cut off: {}", describe(&e)),
                    ));
                }
            };
            match status {
                200..=299 => return Ok(Answer { status, body: text }),
                429 => {
                    // Refused before doing anything: always safe to send again.
                    last = format!("429 {}", one_line(&text));
                    if let Some(w) = wait {
                        if w > self.policy.max_retry_after {
                            break;
                        }
                        delay = w.max(self.policy.backoff);
                    }
                }
                500..=599 if safety == Safety::Idempotent => {
                    last = format!("{status} {}", one_line(&text));
                    if let Some(w) = wait.filter(|w| *w <= self.policy.max_retry_after) {
                        delay = w;
                    }
                }
                500..=599 => {
                    return Err(self.unknown(name, url, format!("{status} {}", one_line(&text))));
                }
                _ => {
                    return Err(HttpError::Refused {
                        method: name,
                        url: url.to_owned(),
                        status,
                        line: one_line(&text),
                        body: text,
                    });
                }
            }
        }
        Err(HttpError::Unavailable {
            method: name,
            url: url.to_owned(),
            why: format!("{last} (after {} attempts)", self.policy.retries + 1),
        })
    }

    fn unknown(&self, method: &'static str, url: &str, why: String) -> HttpError {
        self.counters.unknown.fetch_add(1, Ordering::Relaxed);
        HttpError::Unknown {
            method,
            url: url.to_owned(),
            why,
        }
    }
}

/// A transport error in words, without the URL reqwest repeats.
fn describe(e: &reqwest::Error) -> String {
    let mut text = if e.is_timeout() {
        "no answer in time".to_owned()
    } else {
        let mut s = e.without_url_ref().to_string();
        let mut source = std::error::Error::source(e);
        while let Some(cause) = source {
            s.push_str(": ");
            s.push_str(&cause.to_string());
            source = cause.source();
        }
        s
    };
    text.truncate(300);
    text
}

trait WithoutUrl {
    fn without_url_ref(&self) -> String;
}

impl WithoutUrl for reqwest::Error {
    fn without_url_ref(&self) -> String {
        let s = self.to_string();
        match self.url() {
            Some(url) => s.replace(&format!(" for url ({url})"), ""),
            None => s,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_pages_become_one_line() {
        let sal = "<!doctype html>\n<html><head><title>Server Error (500)</title></head><body><h1>Server Error (500)</h1>\n<p>lots</p></body></html>";
        assert_eq!(one_line(sal), "Server Error (500)");
        assert_eq!(one_line("<h1>Not Found</h1><p>x</p>"), "Not Found");
        assert_eq!(
            one_line("\n{\"detail\": \"Invalid v2 token\"}\n"),
            "{\"detail\": \"Invalid v2 token\"}"
        );
        assert_eq!(one_line(&"x".repeat(500)).chars().count(), 301);
    }

    #[test]
    fn retry_after_in_seconds_and_as_a_date() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", HeaderValue::from_static("7"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
        let later = (chrono::Utc::now() + chrono::TimeDelta::seconds(30)).to_rfc2822();
        h.insert("retry-after", HeaderValue::from_str(&later).unwrap());
        let d = retry_after(&h).unwrap();
        assert!(
            d <= Duration::from_secs(30) && d >= Duration::from_secs(25),
            "{d:?}"
        );
    }
}
