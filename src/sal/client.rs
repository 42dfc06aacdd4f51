//! Posting checkins to a Sal server.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PostError {
    /// Sal refused the document; sending it again will not help.
    #[error("Sal answered {status}: {body}")]
    Refused { status: u16, body: String },
    /// No usable answer after every retry.
    #[error("{0}")]
    Unavailable(String),
}

pub struct Client {
    agent: ureq::Agent,
    url: String,
    key: SecretString,
    retries: u32,
    backoff: Duration,
}

impl Client {
    /// `url` is the server's base URL; checkins go to `<url>/checkin/`.
    pub fn new(
        url: &str,
        key: SecretString,
        timeout: Duration,
        retries: u32,
        backoff: Duration,
    ) -> Client {
        let agent = crate::http::agent(timeout, true);
        Client {
            agent,
            url: format!("{}/checkin/", url.trim_end_matches('/')),
            key,
            retries,
            backoff,
        }
    }

    pub fn endpoint(&self) -> &str {
        &self.url
    }

    /// Posts one checkin document; retries connection errors and 5xx with
    /// doubling delays. Returns Sal's answer text.
    pub fn checkin(&self, body: &[u8]) -> Result<String, PostError> {
        let auth = super::contract::basic_auth(self.key.expose_secret());
        let mut delay = self.backoff;
        let mut last = String::new();
        for attempt in 0..=self.retries {
            if attempt > 0 {
                std::thread::sleep(delay);
                delay *= 2;
            }
            let sent = self
                .agent
                .post(&self.url)
                .header("Authorization", &auth)
                .header("Content-Type", "application/json")
                .send(body);
            match sent {
                Ok(mut response) => {
                    let status = response.status().as_u16();
                    let text = response.body_mut().read_to_string().unwrap_or_default();
                    match status {
                        200..=299 => return Ok(text),
                        500..=599 => last = format!("Sal answered {status}: {}", text.trim()),
                        _ => {
                            return Err(PostError::Refused {
                                status,
                                body: text.trim().to_owned(),
                            });
                        }
                    }
                }
                // Transport errors never carry the Authorization header.
                Err(e) => last = format!("{}: {e}", self.url),
            }
        }
        Err(PostError::Unavailable(format!(
            "{last} (after {} attempts)",
            self.retries + 1
        )))
    }
}
