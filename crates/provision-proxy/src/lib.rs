//! provision-proxy: a small HTTP proxy of the project's own that sits between provision and the AWS
//! emulator, for tests and benchmarks. It can add a fixed latency to every request (so round trips
//! can be counted in wall time), pass requests to the emulator a few at a time in order of arrival
//! ([`Proxy::set_upstream_limit`]), and answer chosen requests with faults: an error status of the
//! proxy's choosing (a 500, a 409, S3's `SlowDown`, a `Throttling` error), a slow answer, or a
//! connection reset *after* the emulator has handled the request (the answer is lost, the effect is
//! not).
//!
//! One request per connection: the emulator closes its connection after every answer, and so does
//! the proxy, which keeps the relaying simple and the SDK's retries honest.
//!
//! Every request is logged with its start and end instants, so a benchmark can tell how many
//! *sequential round trips* a command needed ([`round_trips`]): with a fixed latency per request,
//! that figure, not the request count, sets the wall time.
//!
//! With a [`Profile`] ([`Proxy::start_with_profile`]) the proxy makes the emulator behave as AWS
//! does: eventual consistency, objects in use, slow lifecycles, lost answers, paged listings
//! (see the `profile` module and docs/aws-profile.md). Fault rules still apply first.

pub mod profile;
mod round_trips;
mod rules;

pub use profile::{Profile, ProfileOptions, TaskOutcome, UnknownRule};
pub use round_trips::{critical_chain, round_trips, Span};
pub use rules::{Fault, Matcher, Protocol, Rule};

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[derive(Debug)]
pub(crate) struct RequestHead {
    pub(crate) method: String,
    pub(crate) target: String,
    /// Lowercase names.
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) operation: String,
    pub(crate) content_length: Option<usize>,
}

/// What the proxy saw, for assertions and figures.
#[derive(Debug, Default)]
pub struct Counters {
    pub requests: AtomicU64,
    pub faults: AtomicU64,
}

struct Shared {
    upstream: SocketAddr,
    /// When the proxy started; spans are measured from here.
    epoch: std::time::Instant,
    log: Mutex<Vec<Span>>,
    latency: Mutex<Duration>,
    rules: Mutex<Vec<Rule>>,
    counters: Counters,
    draws: AtomicU64,
    /// At most this many requests with the emulator at once, the rest waiting in arrival order.
    upstream_slots: Mutex<Option<Arc<tokio::sync::Semaphore>>>,
    profile: Option<Arc<Profile>>,
}

/// A running proxy; stops when dropped.
pub struct Proxy {
    address: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    /// Starts a proxy on a free 127.0.0.1 port in front of `upstream` (`http://127.0.0.1:PORT`).
    pub async fn start(upstream: &str) -> std::io::Result<Proxy> {
        Proxy::bind(upstream, 0, None).await
    }

    /// Starts a proxy with the "AWS as it behaves" profile (see [`Profile`]).
    pub async fn start_with_profile(upstream: &str, options: ProfileOptions) -> std::io::Result<Proxy> {
        Proxy::bind(upstream, 0, Some(Profile::new(options))).await
    }

    /// Starts a proxy on 127.0.0.1:`port` (0: a free one), with a profile or without.
    pub async fn bind(upstream: &str, port: u16, profile: Option<Profile>) -> std::io::Result<Proxy> {
        let upstream: SocketAddr =
            upstream.trim_start_matches("http://").trim_end_matches('/').parse().map_err(|error| {
                std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("{upstream}: {error}"))
            })?;
        let listener = TcpListener::bind(("127.0.0.1", port)).await?;
        let address = listener.local_addr()?;
        let shared = Arc::new(Shared {
            upstream,
            epoch: std::time::Instant::now(),
            log: Mutex::new(Vec::new()),
            latency: Mutex::new(Duration::ZERO),
            rules: Mutex::new(Vec::new()),
            counters: Counters::default(),
            draws: AtomicU64::new(0),
            upstream_slots: Mutex::new(None),
            profile: profile.map(Arc::new),
        });
        let serving = shared.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let shared = serving.clone();
                tokio::spawn(async move {
                    let _ = handle(shared, client).await;
                });
            }
        });
        Ok(Proxy { address, shared, task })
    }

    /// The endpoint to give provision (`http://127.0.0.1:PORT`).
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.address)
    }

    /// A pause before every request is passed on (one-way, so a round trip costs it once).
    pub fn set_latency(&self, latency: Duration) {
        *self.shared.latency.lock().unwrap_or_else(|p| p.into_inner()) = latency;
    }

    /// Passes at most `limit` requests to the emulator at once; the others wait, first come first
    /// served (`None`: all at once, the default). A queue in front of the emulator, as a server has
    /// one: moto's threaded server, given hundreds of connections at once, answers them in no
    /// particular order, so a request sent late may be answered before ones sent long before it.
    pub fn set_upstream_limit(&self, limit: Option<usize>) {
        *self.shared.upstream_slots.lock().unwrap_or_else(|p| p.into_inner()) =
            limit.map(|n| Arc::new(tokio::sync::Semaphore::new(n.max(1))));
    }

    /// The profile, when the proxy was started with one.
    pub fn profile(&self) -> Option<&Profile> {
        self.shared.profile.as_deref()
    }

    /// How many calls the profile's rule `id` acted on (0 without a profile).
    pub fn met(&self, id: &str) -> u64 {
        self.profile().map_or(0, |profile| profile.met(id))
    }

    /// The profile's summary of the behaviours met (empty without a profile).
    pub fn summary(&self) -> String {
        self.profile().map(Profile::summary).unwrap_or_default()
    }

    pub fn add_rule(&self, rule: Rule) {
        self.shared.rules.lock().unwrap_or_else(|p| p.into_inner()).push(rule);
    }

    pub fn clear_rules(&self) {
        self.shared.rules.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }

    pub fn requests(&self) -> u64 {
        self.shared.counters.requests.load(Ordering::Relaxed)
    }

    pub fn faults(&self) -> u64 {
        self.shared.counters.faults.load(Ordering::Relaxed)
    }

    /// Every request answered (or faulted) so far: its operation and when it started and ended.
    pub fn log(&self) -> Vec<Span> {
        self.shared.log.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Forgets the log and the counters, so the next command is measured alone.
    pub fn reset_log(&self) {
        self.shared.log.lock().unwrap_or_else(|p| p.into_inner()).clear();
        self.shared.counters.requests.store(0, Ordering::Relaxed);
        self.shared.counters.faults.store(0, Ordering::Relaxed);
    }

    /// The longest chain of logged requests each of which started after the previous one ended.
    pub fn round_trips(&self) -> usize {
        round_trips(&self.log())
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn handle(shared: Arc<Shared>, mut client: TcpStream) -> std::io::Result<()> {
    let (head_bytes, mut rest) = read_head(&mut client).await?;
    let start = shared.epoch.elapsed();
    let head = parse_head(&head_bytes, &rest);
    let mut operation = format!("{} {}", head.method, head.target);
    let result = async {
        let head = read_body(&mut client, head, &mut rest).await?;
        if !head.operation.is_empty() {
            operation = head.operation.clone();
        }
        respond(&shared, &mut client, &head, &head_bytes, &rest).await
    }
    .await;
    let span = Span { operation, start, end: shared.epoch.elapsed() };
    shared.log.lock().unwrap_or_else(|p| p.into_inner()).push(span);
    result
}

/// Reads the whole body (it is small: API calls and state documents) so a fault can see it.
async fn read_body(client: &mut TcpStream, head: RequestHead, rest: &mut Vec<u8>) -> std::io::Result<RequestHead> {
    if let Some(length) = head.content_length {
        while rest.len() < length {
            let mut buffer = vec![0u8; 64 * 1024];
            let n = client.read(&mut buffer).await?;
            if n == 0 {
                break;
            }
            rest.extend_from_slice(&buffer[..n]);
        }
    }
    Ok(RequestHead { operation: operation_of(&head, rest), ..head })
}

async fn respond(
    shared: &Shared,
    client: &mut TcpStream,
    head: &RequestHead,
    head_bytes: &[u8],
    rest: &[u8],
) -> std::io::Result<()> {
    shared.counters.requests.fetch_add(1, Ordering::Relaxed);
    let latency = *shared.latency.lock().unwrap_or_else(|p| p.into_inner());
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let fault = rules::choose(&shared.rules, &shared.draws, head);
    if fault.is_some() {
        shared.counters.faults.fetch_add(1, Ordering::Relaxed);
    }
    match fault {
        Some(Fault::Respond { status, body, content_type }) => {
            let answer = format!(
                "HTTP/1.1 {status} {}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nx-amzn-requestid: proxy\r\nConnection: close\r\n\r\n{body}",
                reason(status),
                body.len()
            );
            client.write_all(answer.as_bytes()).await?;
            client.shutdown().await
        }
        Some(Fault::ResetAfter) => {
            let _ = relay(shared, head_bytes, rest, None).await?;
            // Linger 0: close with RST, so the caller sees a reset, not an answer. (Deprecated because
            // a non-zero linger blocks the thread on drop; a zero one resets at once.)
            #[allow(deprecated)]
            client.set_linger(Some(Duration::ZERO))?;
            // The caller drops the stream, which resets it.
            Ok(())
        }
        Some(Fault::Delay(pause)) => {
            tokio::time::sleep(pause).await;
            pass_on(shared, client, head, head_bytes, rest).await
        }
        None => pass_on(shared, client, head, head_bytes, rest).await,
    }
}

/// Passes a request to the emulator, through the profile when there is one.
async fn pass_on(
    shared: &Shared,
    client: &mut TcpStream,
    head: &RequestHead,
    head_bytes: &[u8],
    rest: &[u8],
) -> std::io::Result<()> {
    match &shared.profile {
        Some(profile) => profiled(shared, profile, client, head, head_bytes, rest).await,
        None => relay(shared, head_bytes, rest, Some(client)).await.map(|_| ()),
    }
}

/// One exchange through the profile: it may answer itself, or pass the call on and rewrite (or
/// lose) the answer.
async fn profiled(
    shared: &Shared,
    profile: &Profile,
    client: &mut TcpStream,
    head: &RequestHead,
    head_bytes: &[u8],
    rest: &[u8],
) -> std::io::Result<()> {
    let call = profile::Call::parse(head, rest);
    if let Some((prerequisite_head, prerequisite_body)) = profile.prerequisite(&call) {
        let answer = relay(shared, prerequisite_head.as_bytes(), &prerequisite_body, None).await?;
        if let Some(response) = profile::Response::parse(&answer) {
            profile.learn(&call, &response);
        }
    }
    match profile.before(&call) {
        profile::Before::Answer(response) => {
            client.write_all(&response.to_bytes()).await?;
            client.shutdown().await
        }
        profile::Before::Forward { lose, body } => {
            let answer = relay(shared, head_bytes, body.as_deref().unwrap_or(rest), None).await?;
            // An answer the profile leaves as it is goes on byte for byte (a HEAD answer's
            // Content-Length, for one, describes a body that is not there).
            let answer = match profile::Response::parse(&answer) {
                Some(response) => {
                    let rewritten = profile.after(&call, response.clone());
                    if rewritten == response {
                        answer
                    } else {
                        rewritten.to_bytes()
                    }
                }
                None => answer,
            };
            if lose {
                #[allow(deprecated)]
                client.set_linger(Some(Duration::ZERO))?;
                return Ok(());
            }
            client.write_all(&answer).await?;
            client.shutdown().await
        }
    }
}

/// Sends the request upstream and the answer to `client` (or nowhere); returns the answer.
async fn relay(shared: &Shared, head: &[u8], body: &[u8], client: Option<&mut TcpStream>) -> std::io::Result<Vec<u8>> {
    let slots = shared.upstream_slots.lock().unwrap_or_else(|p| p.into_inner()).clone();
    // Tokio's semaphore hands out its permits in the order they were asked for.
    let slot = match &slots {
        Some(slots) => Some(slots.acquire().await.map_err(std::io::Error::other)?),
        None => None,
    };
    let mut upstream = TcpStream::connect(shared.upstream).await?;
    upstream.write_all(&with_connection_close(head)).await?;
    upstream.write_all(body).await?;
    let mut answer = Vec::new();
    upstream.read_to_end(&mut answer).await?;
    drop(slot);
    if let Some(client) = client {
        client.write_all(&answer).await?;
        client.shutdown().await?;
    }
    Ok(answer)
}

/// The request head with `Connection: close`, so the emulator ends the exchange after answering.
fn with_connection_close(head: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(head);
    let mut out = String::new();
    for line in text.split("\r\n") {
        if line.is_empty() {
            continue;
        }
        if line.to_ascii_lowercase().starts_with("connection:") {
            continue;
        }
        out.push_str(line);
        out.push_str("\r\n");
    }
    out.push_str("Connection: close\r\n\r\n");
    out.into_bytes()
}

/// Reads up to the end of the request head; returns the head and what came after it.
async fn read_head(client: &mut TcpStream) -> std::io::Result<(Vec<u8>, Vec<u8>)> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let n = client.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "closed before a request"));
        }
        buffer.extend_from_slice(&chunk[..n]);
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            let rest = buffer.split_off(end + 4);
            return Ok((buffer, rest));
        }
        if buffer.len() > 1 << 20 {
            return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, "request head too long"));
        }
    }
}

fn parse_head(head: &[u8], _body: &[u8]) -> RequestHead {
    let text = String::from_utf8_lossy(head);
    let mut lines = text.split("\r\n");
    let request_line = lines.next().unwrap_or_default();
    let mut parts = request_line.split(' ');
    let method = parts.next().unwrap_or_default().to_string();
    let target = parts.next().unwrap_or_default().to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_string()))
        .collect();
    let content_length = headers.iter().find(|(n, _)| n == "content-length").and_then(|(_, v)| v.parse().ok());
    RequestHead { method, target, headers, operation: String::new(), content_length }
}

/// The operation: `X-Amz-Target` (JSON protocols) or `Action=` in a query-protocol body.
fn operation_of(head: &RequestHead, body: &[u8]) -> String {
    if let Some((_, target)) = head.headers.iter().find(|(n, _)| n == "x-amz-target") {
        return target.clone();
    }
    let body = String::from_utf8_lossy(body);
    body.split('&')
        .chain(head.target.split(['?', '&']))
        .find_map(|pair| pair.strip_prefix("Action="))
        .map(str::to_string)
        .unwrap_or_default()
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        204 => "No Content",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        409 => "Conflict",
        412 => "Precondition Failed",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An upstream that answers every request with `200 hello` and counts them.
    async fn upstream() -> (String, Arc<AtomicU64>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let seen = Arc::new(AtomicU64::new(0));
        let counter = seen.clone();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                let _ = read_head(&mut stream).await;
                let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello").await;
                let _ = stream.shutdown().await;
            }
        });
        (format!("http://{address}"), seen)
    }

    async fn get(endpoint: &str, path: &str) -> std::io::Result<String> {
        let mut stream = TcpStream::connect(endpoint.trim_start_matches("http://")).await?;
        stream
            .write_all(
                format!("PUT {path} HTTP/1.1\r\nHost: x\r\nIf-Match: \"e\"\r\nContent-Length: 2\r\n\r\nhi").as_bytes(),
            )
            .await?;
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await?;
        Ok(answer)
    }

    #[tokio::test]
    async fn requests_pass_through_and_faults_apply_as_many_times_as_asked() {
        let (upstream, seen) = upstream().await;
        let proxy = Proxy::start(&upstream).await.unwrap();
        assert!(get(&proxy.endpoint(), "/b/k").await.unwrap().ends_with("hello"));
        proxy.add_rule(
            Rule::new(Matcher::any().method("PUT").header("If-Match"), Fault::s3_error(500, "InternalError")).times(1),
        );
        let faulted = get(&proxy.endpoint(), "/b/k").await.unwrap();
        assert!(faulted.starts_with("HTTP/1.1 500") && faulted.contains("<Code>InternalError</Code>"), "{faulted}");
        assert!(get(&proxy.endpoint(), "/b/k").await.unwrap().ends_with("hello"), "only once");
        assert_eq!(seen.load(Ordering::SeqCst), 2, "the faulted request never reached the upstream");
        assert_eq!((proxy.requests(), proxy.faults()), (3, 1));
        let log = proxy.log();
        assert_eq!(log.len(), 3);
        assert!(log.iter().all(|span| span.operation == "PUT /b/k" && span.start <= span.end), "{log:?}");
        assert_eq!(proxy.round_trips(), 3, "one after another");
        proxy.reset_log();
        assert_eq!((proxy.log().len(), proxy.requests()), (0, 0));
    }

    #[tokio::test]
    async fn a_reset_after_loses_the_answer_but_not_the_effect() {
        let (upstream, seen) = upstream().await;
        let proxy = Proxy::start(&upstream).await.unwrap();
        proxy.add_rule(Rule::new(Matcher::any().path("/b/k"), Fault::ResetAfter).times(1));
        let answer = get(&proxy.endpoint(), "/b/k").await;
        assert!(answer.map(|a| a.is_empty()).unwrap_or(true), "no answer reaches the caller");
        assert_eq!(seen.load(Ordering::SeqCst), 1, "the upstream handled it");
    }

    /// An upstream that answers every request with this EC2 body, counting them.
    async fn ec2_upstream(body: &'static str) -> (String, Arc<AtomicU64>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let seen = Arc::new(AtomicU64::new(0));
        let counter = seen.clone();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                let _ = read_head(&mut stream).await;
                let answer = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(answer.as_bytes()).await;
                let _ = stream.shutdown().await;
            }
        });
        (format!("http://{address}"), seen)
    }

    async fn ec2_call(endpoint: &str, form: &str) -> String {
        let mut stream = TcpStream::connect(endpoint.trim_start_matches("http://")).await.unwrap();
        let head = format!(
            "POST / HTTP/1.1\r\nHost: x\r\nAuthorization: AWS4-HMAC-SHA256 Credential=t/20260101/us-east-1/ec2/aws4_request, SignedHeaders=host, Signature=0\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{form}",
            form.len()
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        let mut answer = String::new();
        let _ = stream.read_to_string(&mut answer).await;
        answer
    }

    #[tokio::test]
    async fn the_profile_answers_rewrites_and_loses_answers_over_the_wire() {
        let (upstream, seen) =
            ec2_upstream("<CreateSecurityGroupResponse><groupId>sg-7</groupId></CreateSecurityGroupResponse>").await;
        let options = ProfileOptions { lost_responses: 1.0, ..ProfileOptions::default() };
        let proxy = Proxy::start_with_profile(&upstream, options).await.unwrap();
        let profile = proxy.profile().unwrap();
        profile.clock().pause();
        profile.disable("any.response-lost").unwrap();
        let created = ec2_call(&proxy.endpoint(), "Action=CreateSecurityGroup&GroupName=g").await;
        assert!(created.starts_with("HTTP/1.1 200") && created.contains("sg-7"), "{created}");
        let refused = ec2_call(&proxy.endpoint(), "Action=AuthorizeSecurityGroupIngress&GroupId=sg-7").await;
        assert!(
            refused.starts_with("HTTP/1.1 400") && refused.contains("<Code>InvalidGroup.NotFound</Code>"),
            "{refused}"
        );
        assert_eq!(seen.load(Ordering::SeqCst), 1, "the refused call never reached the emulator");
        profile.enable("any.response-lost").unwrap();
        let lost = ec2_call(&proxy.endpoint(), "Action=CreateSecurityGroup&GroupName=h").await;
        assert!(lost.is_empty(), "no answer reaches the caller: {lost}");
        assert_eq!(seen.load(Ordering::SeqCst), 2, "the emulator acted");
        assert_eq!((proxy.met("ec2.group-not-found-after-create"), proxy.met("any.response-lost")), (1, 1));
        assert!(proxy.summary().contains("any.response-lost"));
    }

    /// With a limit of one, requests sent together reach a slow upstream one at a time, in the
    /// order they reached the proxy.
    #[tokio::test]
    async fn an_upstream_limit_passes_requests_on_in_order_of_arrival() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let upstream = format!("http://{}", listener.local_addr().unwrap());
        let (in_flight, most) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
        let arrived = Arc::new(Mutex::new(Vec::new()));
        let (counting, peak, order) = (in_flight.clone(), most.clone(), arrived.clone());
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let (counting, peak, order) = (counting.clone(), peak.clone(), order.clone());
                tokio::spawn(async move {
                    let now = counting.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    let (head, _) = read_head(&mut stream).await.unwrap();
                    let path = parse_head(&head, &[]).target;
                    order.lock().unwrap().push(path);
                    tokio::time::sleep(Duration::from_millis(30)).await;
                    counting.fetch_sub(1, Ordering::SeqCst);
                    let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok").await;
                    let _ = stream.shutdown().await;
                });
            }
        });
        let proxy = Proxy::start(&upstream).await.unwrap();
        proxy.set_upstream_limit(Some(1));
        let endpoint = proxy.endpoint();
        let mut sent = Vec::new();
        for n in 0..4 {
            let endpoint = endpoint.clone();
            sent.push(tokio::spawn(async move { get(&endpoint, &format!("/b/{n}")).await }));
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        for answer in sent {
            assert!(answer.await.unwrap().unwrap().ends_with("ok"));
        }
        assert_eq!(most.load(Ordering::SeqCst), 1, "one at a time");
        assert_eq!(*arrived.lock().unwrap(), ["/b/0", "/b/1", "/b/2", "/b/3"]);
        assert_eq!(
            proxy.round_trips(),
            1,
            "all were sent together: the wait in the queue is part of each one's round trip"
        );
    }
}
