//! A plain blocking NetBox client for setting up and checking test data,
//! independent of invmon's own client under test.

use serde_json::Value as Json;

pub struct Api {
    http: reqwest::blocking::Client,
    base: String,
    token: String,
}

impl Api {
    pub fn new(url: &str, token: &str) -> Api {
        Api {
            http: super::blocking_http(),
            base: url.trim_end_matches('/').to_owned(),
            token: token.to_owned(),
        }
    }

    fn url(&self, path: &str) -> String {
        if path.starts_with("http") {
            path.to_owned()
        } else {
            format!("{}/{}", self.base, path.trim_start_matches('/'))
        }
    }

    /// One request; panics on anything but success, naming the request.
    pub fn request(&self, method: &str, path: &str, body: Option<&Json>) -> Result<Json, String> {
        let method: reqwest::Method = method.parse().unwrap();
        let mut req = self
            .http
            .request(method.clone(), self.url(path))
            .header("Authorization", format!("Bearer {}", self.token))
            .header("Accept", "application/json");
        if let Some(b) = body {
            req = req.json(b);
        }
        let response = req.send().map_err(|e| e.to_string())?;
        let status = response.status();
        let text = response.text().map_err(|e| e.to_string())?;
        if !status.is_success() {
            return Err(format!("{method} {path} answered {status}: {text}"));
        }
        Ok(if text.trim().is_empty() {
            Json::Null
        } else {
            serde_json::from_str(&text).map_err(|e| e.to_string())?
        })
    }

    pub fn get_all(&self, path: &str) -> Result<Vec<Json>, String> {
        let mut out = Vec::new();
        let mut next = Some(path.to_owned());
        while let Some(page) = next {
            let body = self.request("GET", &page, None)?;
            out.extend(body["results"].as_array().cloned().unwrap_or_default());
            next = body["next"].as_str().map(str::to_owned);
        }
        Ok(out)
    }
}
