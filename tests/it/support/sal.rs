//! A loopback Sal server for tests: a thin HTTP wrapper around
//! `invmon::sal::contract`, which enforces every rule of Sal's `/checkin/`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use invmon::sal::contract::{self, Request};
use serde_json::Value as Json;

#[derive(Default)]
struct State {
    keys: Vec<String>,
    /// Statuses to answer with before applying the contract (simulated outages).
    fail_next: Vec<u16>,
    /// Accepted checkins, in order.
    accepted: Vec<Json>,
    /// Every request: (status answered, body size).
    log: Vec<(u16, usize)>,
    /// Item history, with Sal's unique (machine, item, source, recorded).
    histories: contract::Histories,
}

pub struct SalServer {
    pub url: String,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
}

impl Drop for SalServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.url.trim_start_matches("http://"));
    }
}

impl SalServer {
    pub fn start(keys: &[&str]) -> SalServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(State {
            keys: keys.iter().map(|k| k.to_string()).collect(),
            ..State::default()
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let (state2, stop2) = (state.clone(), stop.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(stream) = stream {
                    let state = state2.clone();
                    std::thread::spawn(move || serve(stream, &state));
                }
            }
        });
        SalServer { url, state, stop }
    }

    pub fn fail_next(&self, statuses: &[u16]) {
        self.state
            .lock()
            .unwrap()
            .fail_next
            .extend_from_slice(statuses);
    }

    pub fn accepted(&self) -> Vec<Json> {
        self.state.lock().unwrap().accepted.clone()
    }

    pub fn log(&self) -> Vec<(u16, usize)> {
        self.state.lock().unwrap().log.clone()
    }
}

fn serve(stream: TcpStream, state: &Mutex<State>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
        return;
    }
    let mut parts = request_line.split_whitespace();
    let (method, path) = (
        parts.next().unwrap_or("").to_owned(),
        parts.next().unwrap_or("").to_owned(),
    );
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
        if let Some((k, v)) = line.trim_end().split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
        }
    }
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let length: usize = header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let (status, text, rule) = {
        let mut st = state.lock().unwrap();
        let verdict = if st.fail_next.is_empty() {
            let keys: Vec<&str> = st.keys.iter().map(String::as_str).collect();
            contract::check(
                &Request {
                    method: &method,
                    path: &path,
                    authorization: header("authorization"),
                    content_type: header("content-type"),
                    body: &body,
                },
                Some(&keys),
            )
        } else {
            let status = st.fail_next.remove(0);
            contract::Verdict {
                status,
                body: "<h1>Server Error</h1>".into(),
                rule: None,
            }
        };
        let verdict = match verdict.status {
            200 => {
                let doc: Json = serde_json::from_slice(&body).unwrap();
                match st
                    .histories
                    .record(&contract::Histories::serial_of(&doc), &doc)
                {
                    Ok(()) => {
                        st.accepted.push(doc);
                        verdict
                    }
                    Err(rule) => contract::Verdict {
                        status: 500,
                        body: "<h1>Server Error (500)</h1>".into(),
                        rule: Some(rule.0),
                    },
                }
            }
            _ => verdict,
        };
        st.log.push((verdict.status, body.len()));
        (verdict.status, verdict.body, verdict.rule)
    };
    let mut extra = String::new();
    if status == 401 {
        extra += "WWW-Authenticate: Basic realm=Sal\r\n";
    }
    if let Some(rule) = rule {
        extra += &format!("X-Contract-Rule: {}\r\n", rule.replace(['\r', '\n'], " "));
    }
    let mut out = stream;
    let _ = write!(
        out,
        "HTTP/1.1 {status} X\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n{extra}\r\n{text}",
        text.len()
    );
}
