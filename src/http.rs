//! What the NetBox and Sal clients share: one way to build an HTTP agent.

use std::time::Duration;

/// An agent that reports every HTTP status as an answer (the callers decide
/// what is retried), verifies TLS against the system's trust store unless
/// told not to, and gives up on any request after `timeout`.
pub fn agent(timeout: Duration, verify_tls: bool) -> ureq::Agent {
    let tls = ureq::tls::TlsConfig::builder()
        .root_certs(ureq::tls::RootCerts::PlatformVerifier)
        .disable_verification(!verify_tls)
        .build();
    ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .tls_config(tls)
        .build()
        .into()
}
