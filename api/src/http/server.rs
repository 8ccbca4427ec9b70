//! Accepting and keeping connections: a cap on connections in all and per client address,
//! deadlines for a request's head and for idle kept-alive connections, and a graceful shutdown
//! with a real deadline.
//!
//! A client that opens connections and sends nothing (or a byte at a time) holds a file
//! descriptor each; without these bounds a single client can lock everyone else out.
use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::Request;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tower::ServiceExt;

/// How connections are accepted and kept.
#[derive(Debug, Clone)]
pub struct ConnectionLimits {
    /// Time a client has to send a request's head, from its first byte.
    pub header_timeout: Duration,
    /// Time a kept-alive connection may wait for its next request.
    pub idle_timeout: Duration,
    /// Connections open at once.
    pub max_connections: usize,
    /// Connections open at once from one peer address (0: no cap, as behind a proxy).
    pub max_connections_per_address: usize,
    /// Connections open at once from one /24 (IPv4) or /64 (IPv6) network (0: no cap).
    pub max_connections_per_network: usize,
    /// Bytes per second a client must read at while the server waits to write to it (0: any).
    pub min_read_rate: u64,
    /// The time over which that rate is measured.
    pub read_window: Duration,
}

/// How long a newcomer waits for the connection closed to make room for it.
const EVICTION_WAIT: Duration = Duration::from_millis(100);

/// Serves `router` on `listener` until `shutdown` completes, then lets open requests finish
/// for at most `grace`.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()>,
    grace: Duration,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let clients = Clients::new(
        limits.max_connections_per_address,
        limits.max_connections_per_network,
    );
    // Graceful shutdown: every connection task holds a sender; when the last is gone, all
    // connections have ended. (hyper-util's `GracefulShutdown` does not take connections
    // that may be upgraded to WebSockets.)
    let (closing, _) = tokio::sync::watch::channel(false);
    let (open, mut all_closed) = tokio::sync::mpsc::channel::<()>(1);
    let mut builder = hyper::server::conn::http1::Builder::new();
    // Head and idle deadlines are kept by `Watchdog`, which tells the two apart.
    builder.timer(TokioTimer::new()).header_read_timeout(None);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors, or a connection reset before it was taken:
                    // pause briefly rather than spin.
                    tracing::warn!(%error, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let slot = match slots.clone().try_acquire_owned() {
            Ok(slot) => Some(slot),
            // Full: the network holding the most connections gives up its oldest idle one, so
            // a newcomer is not refused because a few clients hold every connection.
            Err(_) if clients.make_room(peer.ip()) => {
                tokio::time::timeout(EVICTION_WAIT, slots.clone().acquire_owned())
                    .await
                    .ok()
                    .and_then(Result::ok)
            }
            Err(_) => None,
        };
        let Some(slot) = slot else {
            metrics::counter!("stroom_connections_refused_total", "reason" => "total").increment(1);
            refuse(
                stream,
                "The server has too many open connections; retry shortly.",
            );
            continue;
        };
        let activity = Arc::new(Activity::new());
        let evict = Arc::new(tokio::sync::Notify::new());
        let client_slot = match clients.admit(peer.ip(), activity.clone(), evict.clone()) {
            Ok(client_slot) => client_slot,
            Err(refusal) => {
                let (reason, message) = match refusal {
                    Refusal::Address => (
                        "address",
                        "Too many open connections from your address; reuse or close some.",
                    ),
                    Refusal::Network => (
                        "network",
                        "Too many open connections from your network; reuse or close some.",
                    ),
                };
                metrics::counter!("stroom_connections_refused_total", "reason" => reason)
                    .increment(1);
                refuse(stream, message);
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let io = TokioIo::new(Tracked {
            inner: stream,
            activity: activity.clone(),
            _slots: (slot, client_slot),
        });
        let service = connection_service(router.clone(), peer, activity.clone());
        // With upgrades: a WebSocket takes the connection over once its handshake is answered.
        let connection = builder
            .serve_connection(io, hyper_util::service::TowerToHyperService::new(service))
            .with_upgrades();
        let watchdog = Watchdog {
            activity,
            header_timeout: limits.header_timeout,
            idle_timeout: limits.idle_timeout,
            min_read_rate: limits.min_read_rate,
            read_window: limits.read_window,
        };
        let (mut closing, open) = (closing.subscribe(), open.clone());
        tokio::spawn(async move {
            let _open = open;
            tokio::pin!(connection);
            let expired = watchdog.expired();
            tokio::pin!(expired);
            let mut shutting_down = false;
            loop {
                tokio::select! {
                    result = connection.as_mut() => {
                        if let Err(error) = result {
                            tracing::trace!(%error, "connection ended with an error");
                        }
                        break;
                    }
                    reason = &mut expired => {
                        metrics::counter!("stroom_connections_closed_total", "reason" => reason)
                            .increment(1);
                        tracing::debug!(%peer, reason, "connection closed");
                        break;
                    }
                    () = evict.notified() => {
                        metrics::counter!("stroom_connections_closed_total", "reason" => "evicted")
                            .increment(1);
                        tracing::debug!(%peer, "idle connection closed to make room");
                        break;
                    }
                    _ = closing.wait_for(|closing| *closing), if !shutting_down => {
                        // Finish the request under way, then close.
                        connection.as_mut().graceful_shutdown();
                        shutting_down = true;
                    }
                }
            }
            // A WebSocket may have taken the socket over: it is no longer this task's to close.
            watchdog.activity.served.store(false, Ordering::Relaxed);
        });
    }
    drop(listener);
    tracing::info!("shutting down: no new connections, finishing in-flight requests");
    let _ = closing.send(true);
    drop(open);
    if tokio::time::timeout(grace, all_closed.recv())
        .await
        .is_err()
    {
        tracing::warn!(
            grace_secs = grace.as_secs(),
            "grace period over; dropping remaining requests"
        );
    }
}

/// The router as the service of one connection: each request carries the peer's address, and
/// the connection counts as busy from a request's head until its response's last byte.
fn connection_service(
    router: Router,
    peer: SocketAddr,
    activity: Arc<Activity>,
) -> impl tower::Service<
    Request<Incoming>,
    Response = axum::response::Response,
    Error = std::convert::Infallible,
    Future = impl Send,
> + Clone
+ Send {
    tower::service_fn(move |mut request: Request<Incoming>| {
        let busy = activity.begin();
        request.extensions_mut().insert(ConnectInfo(peer));
        let response = router.clone().oneshot(request.map(Body::new));
        async move {
            let response = response.await?;
            Ok(response.map(|body| {
                Body::new(GuardedBody {
                    inner: body,
                    _busy: busy,
                })
            }))
        }
    })
}

/// A response body that marks the connection idle again when it has been sent (or dropped).
struct GuardedBody {
    inner: Body,
    _busy: Busy,
}

impl http_body::Body for GuardedBody {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// Answers a connection over a cap with a 503 and closes it.
fn refuse(mut stream: TcpStream, message: &'static str) {
    tokio::spawn(async move {
        let body = serde_json::json!({
            "errors": [{"message": message, "extensions": {"code": "SERVICE_UNAVAILABLE"}}]
        })
        .to_string();
        let response = format!(
            "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json; charset=utf-8\r\n\
             retry-after: 1\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        let _ = tokio::time::timeout(Duration::from_secs(1), async {
            stream.write_all(response.as_bytes()).await?;
            stream.shutdown().await
        })
        .await;
    });
}

/// The network a client address belongs to for the caps: its /24 (IPv4) or /64 (IPv6), as
/// one party usually holds a whole such block.
pub(crate) fn network_of(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            IpAddr::from([a, b, c, 0])
        }
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => network_of(IpAddr::V4(v4)),
            None => {
                let mut segments = v6.segments();
                segments[4..].fill(0);
                IpAddr::from(segments)
            }
        },
    }
}

/// Why a connection was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    Address,
    Network,
}

/// The open connections by client address and network: the per-address and per-network caps,
/// and who gives up a connection when the server is full.
#[derive(Clone)]
struct Clients {
    per_address: usize,
    per_network: usize,
    inner: Arc<Mutex<ClientsInner>>,
}

#[derive(Default)]
struct ClientsInner {
    next: u64,
    by_address: HashMap<IpAddr, usize>,
    by_network: HashMap<IpAddr, usize>,
    open: HashMap<u64, Open>,
}

/// One open connection, as the registry sees it.
struct Open {
    network: IpAddr,
    activity: Arc<Activity>,
    /// Tells the connection's task to close it.
    evict: Arc<tokio::sync::Notify>,
}

/// One connection's place in the registry, given back on drop.
struct ClientSlot {
    clients: Clients,
    id: u64,
    address: IpAddr,
}

impl Clients {
    /// Caps of 0 mean none (behind a proxy every connection comes from the proxy).
    fn new(per_address: usize, per_network: usize) -> Self {
        Self {
            per_address,
            per_network,
            inner: Arc::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ClientsInner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn admit(
        &self,
        address: IpAddr,
        activity: Arc<Activity>,
        evict: Arc<tokio::sync::Notify>,
    ) -> Result<ClientSlot, Refusal> {
        let network = network_of(address);
        let mut inner = self.lock();
        let at_address = inner.by_address.get(&address).copied().unwrap_or(0);
        if self.per_address > 0 && at_address >= self.per_address {
            return Err(Refusal::Address);
        }
        let in_network = inner.by_network.get(&network).copied().unwrap_or(0);
        if self.per_network > 0 && in_network >= self.per_network {
            return Err(Refusal::Network);
        }
        *inner.by_address.entry(address).or_default() += 1;
        *inner.by_network.entry(network).or_default() += 1;
        let id = inner.next;
        inner.next += 1;
        inner.open.insert(
            id,
            Open {
                network,
                activity,
                evict,
            },
        );
        Ok(ClientSlot {
            clients: self.clone(),
            id,
            address,
        })
    }

    /// The server is full and a connection from `newcomer` waits: the network holding the most
    /// connections closes its oldest idle one, if it holds more than the newcomer's network.
    /// Whether one was told to close.
    fn make_room(&self, newcomer: IpAddr) -> bool {
        let inner = self.lock();
        let own = inner
            .by_network
            .get(&network_of(newcomer))
            .copied()
            .unwrap_or(0);
        let Some((&heaviest, &count)) = inner.by_network.iter().max_by_key(|(_, count)| **count)
        else {
            return false;
        };
        if count <= own + 1 {
            return false;
        }
        let oldest_idle = inner
            .open
            .iter()
            .filter(|(_, open)| open.network == heaviest && open.activity.is_idle())
            .min_by_key(|(id, _)| **id);
        match oldest_idle {
            Some((_, open)) => {
                open.evict.notify_one();
                true
            }
            None => false,
        }
    }
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        let mut guard = self.clients.lock();
        let inner = &mut *guard;
        let Some(open) = inner.open.remove(&self.id) else {
            return;
        };
        for (map, key) in [
            (&mut inner.by_address, self.address),
            (&mut inner.by_network, open.network),
        ] {
            if let Some(count) = map.get_mut(&key) {
                *count -= 1;
                if *count == 0 {
                    map.remove(&key);
                }
            }
        }
    }
}

/// What a connection is doing, in milliseconds since it opened.
struct Activity {
    opened: Instant,
    /// Requests whose responses are not yet sent.
    busy: AtomicUsize,
    /// Last byte read or written.
    last_io: AtomicU64,
    /// First byte of a request head not yet complete (`NONE` when none is arriving).
    head_since: AtomicU64,
    /// Bytes written.
    written: AtomicU64,
    /// Whether the HTTP layer still serves the connection (not after a WebSocket took it).
    served: AtomicBool,
    /// Whether the last write waited for the client to read.
    write_blocked: AtomicBool,
    /// Wakes the watchdog when its deadline changes kind (a head starts, a response ends, a
    /// write waits on the client).
    changed: tokio::sync::Notify,
}

const NONE: u64 = u64::MAX;

impl Activity {
    fn new() -> Self {
        Self {
            opened: Instant::now(),
            busy: AtomicUsize::new(0),
            last_io: AtomicU64::new(0),
            head_since: AtomicU64::new(NONE),
            written: AtomicU64::new(0),
            served: AtomicBool::new(true),
            write_blocked: AtomicBool::new(false),
            changed: tokio::sync::Notify::new(),
        }
    }

    fn now(&self) -> u64 {
        self.opened.elapsed().as_millis() as u64
    }

    fn read(&self) {
        let now = self.now();
        self.last_io.store(now, Ordering::Relaxed);
        if self.busy.load(Ordering::Relaxed) == 0
            && self
                .head_since
                .compare_exchange(NONE, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            self.changed.notify_one();
        }
    }

    fn wrote(&self, bytes: usize) {
        self.last_io.store(self.now(), Ordering::Relaxed);
        self.written.fetch_add(bytes as u64, Ordering::Relaxed);
        self.write_blocked.store(false, Ordering::Relaxed);
    }

    /// Between requests, waiting for the next: closing it loses nothing.
    fn is_idle(&self) -> bool {
        self.served.load(Ordering::Relaxed)
            && self.busy.load(Ordering::Relaxed) == 0
            && self.head_since.load(Ordering::Relaxed) == NONE
    }

    /// A write waits for the client to read.
    fn write_waits(&self) {
        if !self.write_blocked.swap(true, Ordering::Relaxed) {
            self.changed.notify_one();
        }
    }

    /// Notes how a write went.
    fn wrote_with(&self, result: &Poll<std::io::Result<usize>>) {
        match result {
            Poll::Ready(Ok(n)) if *n > 0 => self.wrote(*n),
            Poll::Pending => self.write_waits(),
            _ => {}
        }
    }

    /// A request's head arrived: the connection is busy until its response is sent.
    fn begin(self: &Arc<Self>) -> Busy {
        self.busy.fetch_add(1, Ordering::Relaxed);
        self.head_since.store(NONE, Ordering::Relaxed);
        Busy(self.clone())
    }
}

/// A request in progress on a connection.
struct Busy(Arc<Activity>);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.last_io.store(self.0.now(), Ordering::Relaxed);
        self.0.busy.fetch_sub(1, Ordering::Relaxed);
        self.0.changed.notify_one();
    }
}

/// Ends a connection that sends a head too slowly, stays idle too long, or reads its answer
/// below the floor rate.
struct Watchdog {
    activity: Arc<Activity>,
    header_timeout: Duration,
    idle_timeout: Duration,
    min_read_rate: u64,
    read_window: Duration,
}

impl Watchdog {
    /// Completes, with the reason, when the connection should be closed.
    async fn expired(&self) -> &'static str {
        let header = self.header_timeout.as_millis() as u64;
        let idle = self.idle_timeout.as_millis() as u64;
        let window = self.read_window.as_millis() as u64;
        // While the server waits to write: since when, and what was written by then.
        let mut waiting: Option<(u64, u64)> = None;
        loop {
            let activity = &self.activity;
            let now = activity.now();
            let (deadline, reason) = if activity.busy.load(Ordering::Relaxed) > 0 {
                if self.min_read_rate > 0 && activity.write_blocked.load(Ordering::Relaxed) {
                    // The answer waits on the client: it must read at the floor rate.
                    let written = activity.written.load(Ordering::Relaxed);
                    let (since, then) = *waiting.get_or_insert((now, written));
                    if now >= since + window {
                        let floor = self.min_read_rate.saturating_mul(window) / 1000;
                        if written.saturating_sub(then) < floor {
                            return "slow_reader";
                        }
                        waiting = Some((now, written));
                    }
                    (now + window.min(1000), None)
                } else {
                    // A request runs, or its answer goes out: its own timeouts apply.
                    waiting = None;
                    (now + header.min(idle), None)
                }
            } else {
                waiting = None;
                let head = activity.head_since.load(Ordering::Relaxed);
                if head != NONE {
                    (head + header, Some("header_timeout"))
                } else {
                    (
                        activity.last_io.load(Ordering::Relaxed) + idle,
                        Some("idle_timeout"),
                    )
                }
            };
            if now >= deadline
                && let Some(reason) = reason
            {
                return reason;
            }
            let wait = Duration::from_millis(deadline.saturating_sub(now).max(10));
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = activity.changed.notified() => {}
            }
        }
    }
}

/// A connection's stream, noting its reads and writes. It holds the connection's slots, so
/// that they are given back when the socket closes, also after a WebSocket took it over.
struct Tracked {
    inner: TcpStream,
    activity: Arc<Activity>,
    _slots: (tokio::sync::OwnedSemaphorePermit, ClientSlot),
}

impl AsyncRead for Tracked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(result, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.read();
        }
        result
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.activity.wrote_with(&result);
        result
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.activity.wrote_with(&result);
        result
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Raises this process's soft limit of open files to its hard limit (each connection takes
/// one), and returns the limit in force.
#[cfg(unix)]
pub fn raise_open_files_limit() -> Option<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into a struct owned here.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return None;
    }
    let wanted = limit.rlim_max.min(1 << 20);
    if limit.rlim_cur < wanted {
        let raised = libc::rlimit {
            rlim_cur: wanted,
            rlim_max: limit.rlim_max,
        };
        // SAFETY: setrlimit reads a struct owned here.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            limit = raised;
        }
    }
    #[allow(clippy::unnecessary_cast)] // rlim_t is not u64 on every platform
    Some(limit.rlim_cur as u64)
}

#[cfg(not(unix))]
pub fn raise_open_files_limit() -> Option<u64> {
    None
}
