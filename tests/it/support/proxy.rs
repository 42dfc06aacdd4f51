//! A fault-injecting HTTP proxy in front of a real server (NetBox): each
//! request is forwarded as is, unless a rule says to break it in one of the
//! ways networks and load balancers do, before or after the server acted.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Clone, Debug)]
pub enum Fault {
    /// The server commits, the client gets 502 (a proxy lost the answer).
    LostAnswer,
    /// The server commits, the connection is reset with no answer.
    ResetAfterCommit,
    /// The server commits; the answer comes after this delay (past the client's timeout).
    LateAnswer(Duration),
    /// 503 without forwarding: the server never saw the request.
    Unavailable,
    /// 429 with `Retry-After: n` without forwarding.
    TooMany(u64),
}

struct Rule {
    method: String,
    path: String,
    times: usize,
    fault: Fault,
}

#[derive(Default)]
struct State {
    rules: Vec<Rule>,
    /// Every request: "METHOD path → what happened".
    log: Vec<String>,
}

pub struct Proxy {
    pub url: String,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.url.trim_start_matches("http://").trim_end_matches('/'));
    }
}

impl Proxy {
    /// A proxy on a free loopback port for `upstream` (`http://127.0.0.1:8000/`).
    pub fn start(upstream: &str) -> Proxy {
        let upstream = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(State::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (state2, stop2) = (state.clone(), stop.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(stream) = stream {
                    let (state, upstream) = (state2.clone(), upstream.clone());
                    std::thread::spawn(move || serve(stream, &upstream, &state));
                }
            }
        });
        Proxy { url, state, stop }
    }

    /// Breaks the next `times` requests whose method is `method` ("*" for
    /// any) and whose path contains `path`.
    pub fn inject(&self, method: &str, path: &str, times: usize, fault: Fault) {
        self.state.lock().unwrap().rules.push(Rule {
            method: method.to_owned(),
            path: path.to_owned(),
            times,
            fault,
        });
    }

    pub fn log(&self) -> Vec<String> {
        self.state.lock().unwrap().log.clone()
    }
}

fn read_request(stream: &TcpStream) -> Option<(String, String, Vec<u8>)> {
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut head = Vec::new();
    let mut length = 0usize;
    let mut first = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        if first.is_empty() {
            first = line.clone();
        }
        if line == "\r\n" {
            break;
        }
        let lower = line.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
        // One request per connection: the answer closes it.
        if lower.starts_with("connection:") {
            continue;
        }
        head.extend_from_slice(line.as_bytes());
    }
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body).ok()?;
    let mut request = head;
    request.extend_from_slice(b"Connection: close\r\n\r\n");
    request.extend_from_slice(&body);
    let mut parts = first.split_whitespace();
    let method = parts.next()?.to_owned();
    let path = parts.next()?.to_owned();
    Some((method, path, request))
}

fn forward(upstream: &str, request: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    if let Ok(mut up) = TcpStream::connect(upstream) {
        let _ = up.write_all(request);
        let _ = up.read_to_end(&mut out);
    }
    out
}

fn answer(status: &str, extra: &str) -> Vec<u8> {
    let body =
        format!("<html><head><title>{status}</title></head><body><h1>{status}</h1></body></html>");
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n{extra}\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn serve(mut client: TcpStream, upstream: &str, state: &Mutex<State>) {
    let Some((method, path, request)) = read_request(&client) else {
        return;
    };
    let fault = {
        let mut st = state.lock().unwrap();
        let rule = st.rules.iter_mut().find(|r| {
            r.times > 0 && (r.method == "*" || r.method == method) && path.contains(&r.path)
        });
        let fault = rule.map(|r| {
            r.times -= 1;
            r.fault.clone()
        });
        st.log.push(format!(
            "{method} {path} → {}",
            fault
                .as_ref()
                .map_or("forwarded".to_owned(), |f| format!("{f:?}"))
        ));
        fault
    };
    let reply = match fault {
        None => forward(upstream, &request),
        Some(Fault::LostAnswer) => {
            forward(upstream, &request);
            answer("502 Bad Gateway", "")
        }
        Some(Fault::ResetAfterCommit) => {
            forward(upstream, &request);
            // No answer, and a reset rather than a clean close.
            let _ = socket2::SockRef::from(&client).set_linger(Some(Duration::ZERO));
            return;
        }
        Some(Fault::LateAnswer(delay)) => {
            let reply = forward(upstream, &request);
            std::thread::sleep(delay);
            reply
        }
        Some(Fault::Unavailable) => answer("503 Service Unavailable", ""),
        Some(Fault::TooMany(seconds)) => answer(
            "429 Too Many Requests",
            &format!("Retry-After: {seconds}\r\n"),
        ),
    };
    let _ = client.write_all(&reply);
}
