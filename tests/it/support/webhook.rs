//! A webhook receiver for the notification tests: a tiny HTTP/1.1 server on 127.0.0.1 that
//! records each POST's path and JSON body and answers with a fixed status. It serves several
//! requests per connection (the sender keeps connections alive) and lives until the test process
//! ends.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

#[derive(Clone, Debug)]
pub struct Received {
    pub path: String,
    pub content_type: String,
    pub body: serde_json::Value,
}

pub struct WebhookReceiver {
    pub port: u16,
    received: Arc<Mutex<Vec<Received>>>,
}

impl WebhookReceiver {
    /// Answers every request with `status` (200, or 500 for a failing webhook).
    pub fn start(status: u16) -> WebhookReceiver {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the webhook receiver");
        let port = listener.local_addr().expect("address").port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let shared = received.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let shared = shared.clone();
                std::thread::spawn(move || serve(stream, status, &shared));
            }
        });
        WebhookReceiver { port, received }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().expect("lock").clone()
    }
}

/// A URL where nothing listens: a port that was just free.
pub fn unreachable_url(path: &str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("address").port();
    drop(listener);
    format!("http://127.0.0.1:{port}{path}")
}

fn serve(stream: TcpStream, status: u16, received: &Mutex<Vec<Received>>) {
    let mut writer = stream.try_clone().expect("clone stream");
    let mut reader = BufReader::new(stream);
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let path = request_line.split_whitespace().nth(1).unwrap_or_default().to_string();
        let mut length = 0;
        let mut content_type = String::new();
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                match name.trim().to_ascii_lowercase().as_str() {
                    "content-length" => length = value.trim().parse().unwrap_or(0),
                    "content-type" => content_type = value.trim().to_string(),
                    _ => {}
                }
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let body = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
        received.lock().expect("lock").push(Received { path, content_type, body });
        let reason = if status == 200 { "OK" } else { "Internal Server Error" };
        if write!(writer, "HTTP/1.1 {status} {reason}\r\nContent-Length: 0\r\n\r\n").is_err() {
            return;
        }
    }
}
