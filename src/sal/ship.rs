//! Sal as a ship destination: each device's newest complete snapshot, once,
//! as a checkin document (older unsent ones are covered by it: Sal keeps the
//! present state, not the history of snapshots).

use secrecy::ExposeSecret;

use super::client::Client;
use super::contract;
use super::document::{self, Document};
use crate::ship::{Backlog, Counts, Destination, ShipError};
use crate::snapshot::Snapshot;

pub struct Sal {
    client: Client,
    instance: String,
}

impl Sal {
    pub fn new(client: Client, url: &str) -> Sal {
        Sal {
            client,
            instance: crate::http::instance_key(&super::client::base_url(url)),
        }
    }
}

impl Destination for Sal {
    type Device = ();
    type Plan = Document;

    fn kind(&self) -> &'static str {
        "sal"
    }

    fn instance(&self) -> &str {
        &self.instance
    }

    fn backlog(&self) -> Backlog {
        Backlog::NewestComplete
    }

    fn needs_last_sent(&self) -> bool {
        true
    }

    async fn device(&self, _snapshot: &Snapshot) -> Result<(), ShipError> {
        Ok(())
    }

    async fn plan(
        &self,
        _device: &(),
        snapshot: &Snapshot,
        last_sent: Option<&Snapshot>,
    ) -> Result<Document, ShipError> {
        let doc = document::document(snapshot, last_sent);
        if let Some(note) = &doc.trimmed {
            tracing::warn!(device = %snapshot.device.name, "{note}.");
        }
        // What real Sal would refuse or fail on is not sent at all.
        let body = document::body(&doc, "preflight");
        let verdict = contract::check(
            &contract::Request {
                method: "POST",
                path: "/checkin/",
                authorization: None,
                content_type: Some("application/json"),
                body: &body,
            },
            None,
        );
        if verdict.status != 200 {
            return Err(ShipError::Contract(format!(
                "the checkin breaks Sal's contract ({}); not sent",
                verdict.rule.unwrap_or(verdict.body)
            )));
        }
        Ok(doc)
    }

    fn counts(_plan: &Document) -> Counts {
        Counts {
            documents: 1,
            ..Counts::default()
        }
    }

    async fn apply(
        &self,
        _device: &(),
        plan: &Document,
        _before_once: &(dyn Fn() -> Result<(), ShipError> + Sync),
    ) -> Result<(), ShipError> {
        let body = document::body(plan, self.client.key().expose_secret());
        let answer = self.client.checkin(body).await?;
        tracing::info!("Sent to Sal: {answer}.");
        Ok(())
    }

    fn requests(&self) -> (u64, u64, u64) {
        self.client.counters().get()
    }
}
