//! Live subscriptions: the schema's `Subscription` over WebSocket (the `graphql-transport-ws`
//! protocol of the `graphql-ws` library) and over server-sent events (GraphQL over SSE,
//! distinct connections mode), both at `/graphql`.
//!
//! A subscription is admitted like a query: the same document limits and analysis, the same
//! API keys (over WebSocket in the `connection_init` payload, as browsers cannot set headers
//! there, or in the upgrade request's `Authorization`), the same rate-limit points. Open
//! connections and subscriptions are capped per API key and per client address. On shutdown
//! every stream ends: WebSockets close with 1001 (going away), event streams complete.
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use async_graphql::Executor;
use async_graphql::http::{WebSocketProtocols, WsMessage};
use async_graphql::parser::types::{ExecutableDocument, OperationDefinition, OperationType};
use axum::body::{Body, Bytes};
use axum::extract::FromRequestParts;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::stream::BoxStream;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};

use super::AppState;
use super::admission::{self, Refusal, Submitted, failed_validation};
use super::errors::error_label;
use super::incoming::{ParamError, client_address, json_params, locale_preferences};
use super::limits::check_json_nesting;
use crate::graphql::context::RequestContext;
use crate::graphql::loader::DbLoader;
use crate::kernel::access::{Viewer, authenticate};
use crate::kernel::i18n::LocalePreferences;
use crate::kernel::rate_limit::Subject;

pub const EVENT_STREAM: &str = "text/event-stream";
/// The `graphql-ws` library's protocol.
const PROTOCOL: &str = "graphql-transport-ws";

/// Caps on live connections and subscriptions.
#[derive(Debug, Clone)]
pub struct LiveSettings {
    /// WebSockets and event streams open at once, in all.
    pub max_connections: usize,
    /// WebSockets and event streams open at once per API key and per client address.
    pub connections_per_client: usize,
    /// Subscriptions running at once per API key and per client address.
    pub subscriptions_per_client: usize,
    /// WebSockets and event streams open at once per /24 (IPv4) or /64 (IPv6) network.
    pub connections_per_network: usize,
    /// Subscriptions running at once per /24 or /64 network.
    pub subscriptions_per_network: usize,
    /// Time a WebSocket client has to send `connection_init`.
    pub init_timeout: Duration,
    /// Interval of the comments that keep an idle event stream open through proxies.
    pub keepalive: Duration,
}

impl Default for LiveSettings {
    fn default() -> Self {
        Self {
            max_connections: 1_000,
            connections_per_client: 8,
            subscriptions_per_client: 32,
            connections_per_network: 32,
            subscriptions_per_network: 128,
            init_timeout: Duration::from_secs(10),
            keepalive: Duration::from_secs(15),
        }
    }
}

#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    connections: usize,
    subscriptions: usize,
}

/// Who a cap counts against: a client (its key, its address), or the network of an address,
/// so that a party holding a whole block of addresses cannot take every place.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Holder {
    Client(Subject),
    Network(IpAddr),
}

impl Holder {
    /// The holders of a connection or subscription of `clients`.
    fn of(clients: Vec<Subject>) -> Vec<Holder> {
        let networks: Vec<Holder> = clients
            .iter()
            .filter_map(|client| match client {
                Subject::Address(address) => {
                    Some(Holder::Network(super::server::network_of(*address)))
                }
                Subject::Key(_) => None,
            })
            .collect();
        clients
            .into_iter()
            .map(Holder::Client)
            .chain(networks)
            .collect()
    }

    fn describe(&self) -> &'static str {
        match self {
            Holder::Client(Subject::Key(_)) => "this API key",
            Holder::Client(Subject::Address(_)) => "your address",
            Holder::Network(_) => "your network",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Connection,
    Subscription,
}

/// The live connections and subscriptions of one server, and its shutdown signal.
pub struct Live {
    settings: LiveSettings,
    /// Executions shared by identical anonymous subscriptions.
    renders: Renders,
    counts: Mutex<HashMap<Holder, Counts>>,
    connections: AtomicUsize,
    closing: tokio::sync::watch::Sender<bool>,
}

/// A connection or subscription counted against its clients until dropped.
pub struct Slot {
    live: Arc<Live>,
    kind: Kind,
    clients: Vec<Holder>,
    in_total: bool,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut counts = self.live.counts.lock().unwrap_or_else(|e| e.into_inner());
        for client in &self.clients {
            if let Some(count) = counts.get_mut(client) {
                match self.kind {
                    Kind::Connection => count.connections = count.connections.saturating_sub(1),
                    Kind::Subscription => {
                        count.subscriptions = count.subscriptions.saturating_sub(1);
                    }
                }
                if count.connections == 0 && count.subscriptions == 0 {
                    counts.remove(client);
                }
            }
        }
        match self.kind {
            Kind::Connection if self.in_total => {
                self.live.connections.fetch_sub(1, Ordering::SeqCst);
                metrics::gauge!("stroom_live_connections").decrement(1.0);
            }
            Kind::Subscription => metrics::gauge!("stroom_live_subscriptions").decrement(1.0),
            Kind::Connection => {}
        }
    }
}

impl Live {
    pub fn new(settings: LiveSettings) -> Arc<Self> {
        Arc::new(Self {
            settings,
            renders: Renders::default(),
            counts: Mutex::new(HashMap::new()),
            connections: AtomicUsize::new(0),
            closing: tokio::sync::watch::Sender::new(false),
        })
    }

    /// Takes a slot for every client, or none and says which cap was reached.
    fn take(
        self: &Arc<Self>,
        kind: Kind,
        clients: Vec<Subject>,
        in_total: bool,
    ) -> Result<Slot, String> {
        if *self.closing.borrow() {
            return Err("The server is shutting down; reconnect shortly.".into());
        }
        let clients = Holder::of(clients);
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        let what = match kind {
            Kind::Connection => "live connections",
            Kind::Subscription => "subscriptions",
        };
        for client in &clients {
            let settings = &self.settings;
            let max = match (kind, client) {
                (Kind::Connection, Holder::Client(_)) => settings.connections_per_client,
                (Kind::Subscription, Holder::Client(_)) => settings.subscriptions_per_client,
                (Kind::Connection, Holder::Network(_)) => settings.connections_per_network,
                (Kind::Subscription, Holder::Network(_)) => settings.subscriptions_per_network,
            };
            let count = counts.get(client).copied().unwrap_or_default();
            let used = match kind {
                Kind::Connection => count.connections,
                Kind::Subscription => count.subscriptions,
            };
            if used >= max {
                return Err(format!(
                    "Too many {what} for {}: {max} at most at once; close some first.",
                    client.describe()
                ));
            }
        }
        if kind == Kind::Connection && in_total {
            let open = self.connections.fetch_add(1, Ordering::SeqCst);
            if open >= self.settings.max_connections {
                self.connections.fetch_sub(1, Ordering::SeqCst);
                return Err("The server has too many live connections; retry shortly.".into());
            }
            metrics::gauge!("stroom_live_connections").increment(1.0);
        }
        if kind == Kind::Subscription {
            metrics::gauge!("stroom_live_subscriptions").increment(1.0);
        }
        for client in &clients {
            let count = counts.entry(client.clone()).or_default();
            match kind {
                Kind::Connection => count.connections += 1,
                Kind::Subscription => count.subscriptions += 1,
            }
        }
        Ok(Slot {
            live: self.clone(),
            kind,
            clients,
            in_total,
        })
    }

    /// Ends every live stream: called when the server starts shutting down.
    pub fn close(&self) {
        let _ = self.closing.send(true);
    }

    /// Completes once the server is shutting down.
    fn closed(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut closing = self.closing.subscribe();
        async move {
            let _ = closing.wait_for(|closing| *closing).await;
        }
    }

    /// Waits (at most `within`) until every live connection has ended.
    pub async fn drained(&self, within: Duration) {
        let deadline = tokio::time::Instant::now() + within;
        while self.connections.load(Ordering::SeqCst) > 0 && tokio::time::Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// Who is subscribing, from where, in which languages.
#[derive(Clone)]
struct Subscriber {
    viewer: Viewer,
    address: IpAddr,
    locales: LocalePreferences,
}

impl Subscriber {
    fn clients(&self) -> Vec<Subject> {
        let mut clients = vec![Subject::Address(self.address)];
        if let Some((id, _)) = &self.viewer.key {
            clients.push(Subject::Key(*id));
        }
        clients
    }
}

/// A refusal as this transport says it: a GraphQL response on a stream, or a plain JSON
/// answer with its status before a stream starts.
trait Said {
    fn graphql(&self) -> async_graphql::Response;
    fn http(&self) -> Response;
}

impl Said for Refusal {
    fn graphql(&self) -> async_graphql::Response {
        async_graphql::Response::from_errors(vec![self.error()])
    }

    fn http(&self) -> Response {
        let body = json!({"errors": [{"message": self.message, "extensions": self.extensions}]});
        let mut response = (
            self.status,
            [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
            body.to_string(),
        )
            .into_response();
        response.headers_mut().extend(self.headers.clone());
        response
    }
}

/// A subscription stream runs one subscription: the spec's "single root field" rule
/// (graphql-js enforces it too), so the caps count what the server really runs.
fn one_subscription(
    document: &ExecutableDocument,
    operation: Option<&OperationDefinition>,
) -> Result<(), Refusal> {
    let Some(operation) = operation else {
        return Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
            "Name the operation to run with `operationName`.",
        ));
    };
    if operation.ty != OperationType::Subscription {
        return Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
            "Only subscriptions are served here: send queries and mutations to /graphql over HTTP.",
        ));
    }
    let roots = root_fields(document, &operation.selection_set.node);
    if roots != 1 {
        return Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            "GRAPHQL_VALIDATION_FAILED",
            format!(
                "A subscription selects exactly one root field; this one selects {roots}. Send one subscription per stream."
            ),
        ));
    }
    Ok(())
}

/// Checks a subscription as the HTTP handler checks a query, spends its points and takes its
/// slot; answers its stream of results, which ends when the server shuts down.
async fn admit(
    state: &AppState,
    subscriber: &Subscriber,
    mut request: async_graphql::Request,
) -> Result<BoxStream<'static, async_graphql::Response>, Refusal> {
    let persisted = request
        .extensions
        .get("persistedQuery")
        .and_then(|extension| extension.clone().into_json().ok());
    // With a hash, an empty query asks for the stored one.
    let query = std::mem::take(&mut request.query);
    let submitted = Submitted {
        query: (persisted.is_none() || !query.is_empty()).then_some(query),
        persisted,
        request,
    };
    let (request, mut admitted) = admission::admit(state, submitted, one_subscription).await?;
    let registration = admitted.registration.take();
    let admitted = Arc::new(admitted);
    let analysis = &admitted.analysis;
    let subject = match &subscriber.viewer.key {
        Some((id, _)) => Subject::Key(*id),
        None => Subject::Address(subscriber.address),
    };
    let spent = admission::spend(state, &subject, analysis.cost).await?;
    let slot = state
        .live
        .take(Kind::Subscription, subscriber.clients(), false)
        .map_err(|message| Refusal::new(StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED", message))?;

    metrics::counter!("stroom_live_subscriptions_total").increment(1);
    // Anonymous subscribers asking the same thing from the same point (now) get the same
    // answers: one execution serves them all. Others run their own.
    // (Not when the selection shows the caller's own budget.)
    let shared = subscriber.viewer.key.is_none()
        && !analysis.caller_specific
        && !resumes(
            &admitted.document,
            admitted.operation(),
            &admitted.variables,
        );
    let own = |request| {
        let request = with_context(state, subscriber, request, spent);
        let admitted = admitted.clone();
        state
            .schema
            .execute_stream(request)
            .take_until(state.live.closed())
            .map(move |mut response| {
                label(&mut response, &admitted.document, admitted.operation());
                response
            })
            .boxed()
    };
    let (results, valid) = if shared {
        let identity = shared_identity(&request, &subscriber.locales);
        state.live.renders.follow(identity, || own(request)).await
    } else {
        validated(own(request)).await
    };
    // A query brought with its hash is stored once the executor accepted the document.
    let registration = registration.filter(|_| valid);
    // Every event costs what the subscription's selection costs, as a query would: a client
    // cannot multiply the server's work beyond its budget by subscribing.
    let (limiter, cost) = (state.rate_limiter.clone(), analysis.cost);
    if let Some(registration) = registration {
        state.persisted.register(registration, &subject).await;
    }
    Ok(results
        .take_until(state.live.closed())
        .then(move |response| {
            let (limiter, subject) = (limiter.clone(), subject.clone());
            let _slot = &slot;
            async move {
                let spent = limiter.spend(&subject, cost).await;
                if spent.allowed {
                    (response, false)
                } else {
                    let refusal = Refusal::new(
                        StatusCode::TOO_MANY_REQUESTS,
                        "RATE_LIMITED",
                        format!(
                            "Rate limit exceeded: each event of this subscription costs {cost} points and {} remain; subscribe again after {} seconds with `after` set to the last event you read.",
                            spent.remaining(),
                            spent.retry_after_secs()
                        ),
                    );
                    (refusal.graphql(), true)
                }
            }
        })
        .scan(false, |ended, (response, last)| {
            let item = (!*ended).then_some(response);
            *ended = last;
            std::future::ready(item)
        })
        .boxed())
}

/// The request as the executor runs it for `subscriber`: its rights, languages and budget,
/// and the server's feed hub.
fn with_context(
    state: &AppState,
    subscriber: &Subscriber,
    request: async_graphql::Request,
    spent: crate::kernel::rate_limit::Spent,
) -> async_graphql::Request {
    // Each event is read afresh: a loader that lived as long as the subscription would
    // otherwise answer from what it read for the first event.
    let loader = async_graphql::dataloader::DataLoader::with_cache(
        DbLoader {
            db: state.db.clone(),
            viewer: subscriber.viewer.clone(),
        },
        tokio::spawn,
        async_graphql::dataloader::NoCache,
    );
    loader.enable_all_cache(false);
    request.data(state.hub.clone()).data(RequestContext {
        db: state.db.clone(),
        viewer: subscriber.viewer.clone(),
        locales: subscriber.locales.clone(),
        loader,
        rate_limit: Some(spent),
        results: None,
        stamps: tokio::sync::OnceCell::new(),
        served_locales: Default::default(),
    })
}

/// Whether the subscription resumes from an event (`after` given): its first answers are its
/// own, so it cannot share another's.
fn resumes(
    document: &async_graphql::parser::types::ExecutableDocument,
    operation: Option<&async_graphql::parser::types::OperationDefinition>,
    variables: &async_graphql::Variables,
) -> bool {
    use async_graphql::parser::types::Selection;
    let Some(operation) = operation else {
        return true;
    };
    fn fields<'a>(
        document: &'a async_graphql::parser::types::ExecutableDocument,
        selection: &'a async_graphql::parser::types::SelectionSet,
        out: &mut Vec<&'a async_graphql::parser::types::Field>,
    ) {
        for item in &selection.items {
            match &item.node {
                Selection::Field(field) => out.push(&field.node),
                Selection::InlineFragment(inline) => {
                    fields(document, &inline.node.selection_set.node, out);
                }
                Selection::FragmentSpread(spread) => {
                    if let Some(fragment) = document.fragments.get(&spread.node.fragment_name.node)
                    {
                        fields(document, &fragment.node.selection_set.node, out);
                    }
                }
            }
        }
    }
    let mut roots = Vec::new();
    fields(document, &operation.selection_set.node, &mut roots);
    roots.iter().any(|field| {
        field.arguments.iter().any(|(name, value)| {
            name.node.as_str() == "after"
                && match &value.node {
                    async_graphql_value::Value::Null => false,
                    async_graphql_value::Value::Variable(variable) => variables
                        .get(variable)
                        .is_some_and(|v| *v != async_graphql::Value::Null),
                    _ => true,
                }
        })
    })
}

/// What makes two anonymous subscriptions the same: the document, the operation, the
/// variables and the languages asked for.
fn shared_identity(
    request: &async_graphql::Request,
    locales: &LocalePreferences,
) -> crate::kernel::bounded::Key {
    let variables = serde_json::to_string(&request.variables).unwrap_or_default();
    let locales = format!("{locales:?}");
    crate::kernel::bounded::key([
        request.query.as_bytes(),
        request
            .operation_name
            .as_deref()
            .unwrap_or_default()
            .as_bytes(),
        variables.as_bytes(),
        locales.as_bytes(),
    ])
}

/// Executions shared by identical anonymous subscriptions: each runs once and its answers go
/// to every subscriber of it; it stops when its last subscriber leaves.
#[derive(Default)]
pub struct Renders {
    running: Mutex<HashMap<crate::kernel::bounded::Key, std::sync::Weak<Render>>>,
}

struct Render {
    answers: tokio::sync::broadcast::Sender<Arc<async_graphql::Response>>,
    task: tokio::task::AbortHandle,
}

impl Drop for Render {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The stream, and whether the executor accepted its document: it checks the document when
/// first polled and answers at once if it refuses it; otherwise it waits for events.
async fn validated(
    mut results: BoxStream<'static, async_graphql::Response>,
) -> (BoxStream<'static, async_graphql::Response>, bool) {
    let first = std::future::poll_fn(|cx| {
        std::task::Poll::Ready(match results.poll_next_unpin(cx) {
            std::task::Poll::Ready(first) => Some(first),
            std::task::Poll::Pending => None,
        })
    })
    .await;
    match first {
        None => (results, true),
        Some(None) => (results, true),
        Some(Some(response)) => {
            let valid = !failed_validation(&response);
            (
                futures_util::stream::once(async move { response })
                    .chain(results)
                    .boxed(),
                valid,
            )
        }
    }
}

/// A subscriber's own copy of a shared answer.
fn copy(response: &async_graphql::Response) -> async_graphql::Response {
    let mut copy = async_graphql::Response::new(response.data.clone());
    copy.errors = response.errors.clone();
    copy.extensions = response.extensions.clone();
    copy
}

/// Answers one shared execution keeps for a subscriber that has not read them yet; one
/// further behind is ended.
const SHARED_QUEUE: usize = 64;

impl Renders {
    /// The answers of the execution `identity` names, started with `start` if none runs, and
    /// whether the executor accepted the document.
    async fn follow(
        &self,
        identity: crate::kernel::bounded::Key,
        start: impl FnOnce() -> BoxStream<'static, async_graphql::Response>,
    ) -> (BoxStream<'static, async_graphql::Response>, bool) {
        let existing = {
            let running = self.running.lock().unwrap_or_else(|e| e.into_inner());
            running.get(&identity).and_then(std::sync::Weak::upgrade)
        };
        if let Some(render) = existing {
            let receiver = render.answers.subscribe();
            return (Self::answers(render, receiver), true);
        }
        // Its own execution, checked before anyone shares it.
        let (results, valid) = validated(start()).await;
        if !valid {
            return (results, false);
        }
        let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        running.retain(|_, render| render.strong_count() > 0);
        let render = match running.get(&identity).and_then(std::sync::Weak::upgrade) {
            Some(render) => render,
            None => {
                let (answers, _) = tokio::sync::broadcast::channel(SHARED_QUEUE);
                let mut results = results;
                let sender = answers.clone();
                let task = tokio::spawn(async move {
                    while let Some(response) = results.next().await {
                        if sender.send(Arc::new(response)).is_err() {
                            break;
                        }
                    }
                })
                .abort_handle();
                let render = Arc::new(Render { answers, task });
                running.insert(identity, Arc::downgrade(&render));
                metrics::gauge!("stroom_live_shared_executions").set(running.len() as f64);
                render
            }
        };
        let receiver = render.answers.subscribe();
        drop(running);
        (Self::answers(render, receiver), true)
    }

    fn answers(
        render: Arc<Render>,
        receiver: tokio::sync::broadcast::Receiver<Arc<async_graphql::Response>>,
    ) -> BoxStream<'static, async_graphql::Response> {
        futures_util::stream::unfold(
            (render, receiver, false),
            |(render, mut receiver, ended)| async move {
                if ended {
                    return None;
                }
                match receiver.recv().await {
                    Ok(response) => Some((copy(&response), (render, receiver, false))),
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                        let mut behind = Refusal::new(
                            StatusCode::TOO_MANY_REQUESTS,
                            "RATE_LIMITED",
                            "This subscription fell behind and was ended: subscribe again, with `after` set to the last event you read.",
                        );
                        behind.extensions["reason"] = json!("BEHIND");
                        Some((behind.graphql(), (render, receiver, true)))
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => None,
                }
            },
        )
        .boxed()
    }
}

/// Root fields of a selection, fragments spread in place.
fn root_fields(
    document: &async_graphql::parser::types::ExecutableDocument,
    selection: &async_graphql::parser::types::SelectionSet,
) -> usize {
    use async_graphql::parser::types::Selection;
    selection
        .items
        .iter()
        .map(|item| match &item.node {
            Selection::Field(_) => 1,
            Selection::InlineFragment(inline) => {
                root_fields(document, &inline.node.selection_set.node)
            }
            Selection::FragmentSpread(spread) => document
                .fragments
                .get(&spread.node.fragment_name.node)
                .map_or(0, |f| root_fields(document, &f.node.selection_set.node)),
        })
        .sum()
}

/// Whether a response ends its stream because the subscriber's key no longer admits it.
fn ends_for_key(response: &async_graphql::Response) -> bool {
    response.errors.iter().any(|error| {
        error
            .extensions
            .as_ref()
            .and_then(|e| e.get("reason"))
            .is_some_and(|reason| {
                matches!(reason, async_graphql::Value::String(r)
                    if ["REVOKED", "EXPIRED", "UNKNOWN", "MALFORMED", "RIGHTS_CHANGED"].contains(&r.as_str()))
            })
    })
}

/// Gives every error a code, as the HTTP handler does (validation and input errors come from
/// the executor without one).
fn label(
    response: &mut async_graphql::Response,
    document: &ExecutableDocument,
    operation: Option<&OperationDefinition>,
) {
    for error in &mut response.errors {
        if error
            .extensions
            .as_ref()
            .is_some_and(|e| e.get("code").is_some())
        {
            continue;
        }
        let (code, message) = error_label(error, document, operation);
        if let Some(message) = message {
            error.message = message;
        }
        error
            .extensions
            .get_or_insert_with(Default::default)
            .set("code", code);
    }
}

/// Who holds `authorization` (a header's value), or why not.
async fn identify(state: &AppState, authorization: Option<&str>) -> Result<Viewer, Refusal> {
    match authenticate(&state.db, authorization).await {
        Ok(Ok(viewer)) => Ok(viewer),
        Ok(Err(refusal)) => Err(Refusal::new(
            StatusCode::UNAUTHORIZED,
            "UNAUTHENTICATED",
            refusal.message(),
        )),
        Err(_) => Err(Refusal::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "SERVICE_UNAVAILABLE",
            "The database is unreachable; retry shortly.",
        )),
    }
}

/// A `GET /graphql` that this module serves: a WebSocket handshake, or an event stream; the
/// request's parts back otherwise (a query over HTTP).
pub async fn get(
    state: &AppState,
    peer: SocketAddr,
    mut parts: axum::http::request::Parts,
    params: &HashMap<String, String>,
) -> Result<Response, axum::http::request::Parts> {
    let upgrade = parts
        .headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    if upgrade {
        return Ok(
            match WebSocketUpgrade::from_request_parts(&mut parts, state).await {
                Ok(upgrade) => websocket(state.clone(), peer, parts.headers, upgrade),
                Err(rejection) => rejection.into_response(),
            },
        );
    }
    if !accepts_event_stream(&parts.headers) {
        return Err(parts);
    }
    let (variables, extensions) = match json_params(params, state.settings.limits.max_nesting) {
        Ok(found) => found,
        Err(ParamError::TooComplex(exceeded)) => {
            return Ok(Refusal::too_complex(exceeded).http());
        }
        Err(ParamError::Bad(message)) => {
            return Ok(Refusal::new(StatusCode::BAD_REQUEST, "BAD_REQUEST", message).http());
        }
    };
    let mut body = serde_json::Map::new();
    for key in ["query", "operationName"] {
        if let Some(value) = params.get(key) {
            body.insert(key.into(), Value::String(value.clone()));
        }
    }
    for (key, value) in [("variables", variables), ("extensions", extensions)] {
        if let Some(value) = value.filter(|v| !v.is_null()) {
            body.insert(key.into(), value);
        }
    }
    Ok(event_stream(state.clone(), peer, parts.headers, Value::Object(body)).await)
}

/// Whether the client asks for server-sent events.
pub fn accepts_event_stream(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|v| {
            v.split(';')
                .next()
                .is_some_and(|t| t.trim().eq_ignore_ascii_case(EVENT_STREAM))
        })
}

/// `POST /graphql` with `Accept: text/event-stream`: one subscription as an event stream.
pub async fn post_event_stream(
    state: AppState,
    peer: SocketAddr,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let max_nesting = state.settings.limits.max_nesting + 1;
    if let Err(exceeded) = check_json_nesting(&body, max_nesting, "The request body") {
        return Refusal::too_complex(exceeded).http();
    }
    match serde_json::from_slice::<Value>(&body) {
        Ok(value @ Value::Object(_)) => event_stream(state, peer, headers, value).await,
        _ => Refusal::new(
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
            "The body must be a JSON object with a `query` string.",
        )
        .http(),
    }
}

/// GraphQL over SSE, distinct connections mode: `next` events with results, then `complete`.
async fn event_stream(
    state: AppState,
    peer: SocketAddr,
    headers: HeaderMap,
    body: Value,
) -> Response {
    let request: async_graphql::Request = match serde_json::from_value(body) {
        Ok(request) => request,
        Err(error) => {
            return Refusal::new(
                StatusCode::BAD_REQUEST,
                "BAD_REQUEST",
                format!("The request is not a GraphQL request: {error}."),
            )
            .http();
        }
    };
    let address = client_address(&state, &headers, peer);
    let authorization = headers
        .get(header::AUTHORIZATION)
        .map(|v| v.to_str().unwrap_or_default());
    let viewer = match identify(&state, authorization).await {
        Ok(viewer) => viewer,
        Err(refusal) => return refusal.http(),
    };
    let subscriber = Subscriber {
        viewer,
        address,
        locales: locale_preferences(&headers),
    };
    let live = state.live.clone();
    let connection = match live.take(Kind::Connection, subscriber.clients(), true) {
        Ok(slot) => slot,
        Err(message) => {
            return Refusal::new(StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED", message).http();
        }
    };
    let results = match admit(&state, &subscriber, request).await {
        Ok(results) => results,
        Err(refusal) => return refusal.http(),
    };
    let keepalive = state.live.settings.keepalive;
    // The stream runs in a task of its own that stops as soon as the client goes (the body,
    // and with it the receiver, is dropped) and holds the connection's slot until then.
    let (chunks, received) = tokio::sync::mpsc::channel::<String>(16);
    tokio::spawn(async move {
        let _connection = connection;
        let mut results = results;
        let mut ticks =
            tokio::time::interval_at(tokio::time::Instant::now() + keepalive, keepalive);
        loop {
            let chunk = tokio::select! {
                result = results.next() => match result {
                    Some(response) => {
                        let data = serde_json::to_string(&response).unwrap_or_else(|_| "{}".into());
                        format!("event: next\ndata: {data}\n\n")
                    }
                    None => {
                        let _ = chunks.send("event: complete\ndata:\n\n".to_owned()).await;
                        return;
                    }
                },
                // A comment now and then keeps proxies from closing a quiet stream.
                _ = ticks.tick() => ":\n\n".to_owned(),
                // The client went: its slot is given back now, not at the next write.
                () = chunks.closed() => return,
            };
            if chunks.send(chunk).await.is_err() {
                return;
            }
        }
    });
    let body = futures_util::stream::unfold(received, |mut received| async move {
        let chunk = received.recv().await?;
        Some((
            Ok::<_, std::convert::Infallible>(Bytes::from(chunk)),
            received,
        ))
    });
    let mut response = Response::new(Body::from_stream(body));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // Tells nginx not to buffer the stream.
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}

/// A WebSocket speaking `graphql-transport-ws`.
fn websocket(
    state: AppState,
    peer: SocketAddr,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    let offered = headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|p| p.trim() == PROTOCOL);
    if !offered {
        return Refusal::new(
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
            "Offer the `graphql-transport-ws` subprotocol (as the graphql-ws client does).",
        )
        .http();
    }
    let address = client_address(&state, &headers, peer);
    let live = state.live.clone();
    let connection = match live.take(Kind::Connection, vec![Subject::Address(address)], true) {
        Ok(slot) => slot,
        Err(message) => {
            return Refusal::new(StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED", message).http();
        }
    };
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let locales = locale_preferences(&headers);
    let max_message = state.settings.max_body_bytes;
    upgrade
        .protocols([PROTOCOL])
        .max_message_size(max_message)
        .max_frame_size(max_message)
        .on_upgrade(move |socket| async move {
            serve_socket(state, socket, address, authorization, locales, connection).await;
        })
}

/// Runs subscriptions for one WebSocket: `async_graphql`'s protocol state machine, fed with
/// our admission checks, until either side closes or the server shuts down.
#[derive(Clone)]
struct SocketExecutor {
    state: AppState,
    subscriber: Arc<OnceLock<Subscriber>>,
    /// The close code the socket ends with once its current message is sent (0: none).
    refused: Arc<std::sync::atomic::AtomicU16>,
}

impl Executor for SocketExecutor {
    fn execute(
        &self,
        _request: async_graphql::Request,
    ) -> impl Future<Output = async_graphql::Response> + Send {
        std::future::ready(
            Refusal::new(
                StatusCode::BAD_REQUEST,
                "BAD_REQUEST",
                "Only subscriptions are served here: send queries and mutations over HTTP.",
            )
            .graphql(),
        )
    }

    fn execute_stream(
        &self,
        request: async_graphql::Request,
        _session: Option<Arc<async_graphql::Data>>,
    ) -> BoxStream<'static, async_graphql::Response> {
        let (state, subscriber) = (self.state.clone(), self.subscriber.get().cloned());
        let refused = self.refused.clone();
        futures_util::stream::once(async move {
            // The protocol closes a socket that subscribes before its `connection_init` was
            // acknowledged, and the acknowledgement comes after the subscriber is set.
            let admitted = match subscriber {
                Some(subscriber) => admit(&state, &subscriber, request).await,
                None => Err(Refusal::new(
                    StatusCode::UNAUTHORIZED,
                    "UNAUTHENTICATED",
                    "Send `connection_init` first.",
                )),
            };
            admitted.unwrap_or_else(|refusal| {
                futures_util::stream::once(async move { refusal.graphql() }).boxed()
            })
        })
        .flatten()
        .inspect(move |response| {
            // Every subscription of a socket acts for one key: when that key stops admitting
            // one, the whole socket closes (4403) after this message.
            if ends_for_key(response) {
                refused.store(4403, Ordering::SeqCst);
            }
        })
        .boxed()
    }
}

async fn serve_socket(
    state: AppState,
    socket: WebSocket,
    address: IpAddr,
    authorization: Option<String>,
    locales: LocalePreferences,
    connection: Slot,
) {
    let live = state.live.clone();
    let init_timeout = live.settings.init_timeout;
    let (mut sink, source) = socket.split();
    let incoming = source
        .take_while(|message| {
            std::future::ready(!matches!(message, Err(_) | Ok(Message::Close(_))))
        })
        .filter_map(|message| {
            std::future::ready(match message {
                Ok(Message::Text(text)) => Some(Bytes::from(text)),
                Ok(Message::Binary(bytes)) => Some(bytes),
                _ => None,
            })
        });
    let subscriber = Arc::new(OnceLock::new());
    let refused = Arc::new(std::sync::atomic::AtomicU16::new(0));
    let executor = SocketExecutor {
        state: state.clone(),
        subscriber: subscriber.clone(),
        refused: refused.clone(),
    };
    // The key's own connection slot, taken at `connection_init`, lives as long as the socket.
    let key_slot: Arc<Mutex<Option<Slot>>> = Arc::default();
    let init = {
        let (state, subscriber, key_slot, refused, live) = (
            state.clone(),
            subscriber.clone(),
            key_slot.clone(),
            refused.clone(),
            live.clone(),
        );
        move |payload: Value| async move {
            // Browsers cannot set headers on a WebSocket: the key comes in the payload.
            let from_payload = payload.as_object().and_then(|fields| {
                fields
                    .iter()
                    .find(|(name, _)| name.eq_ignore_ascii_case("authorization"))
                    .and_then(|(_, value)| value.as_str().map(str::to_owned))
            });
            let authorization = from_payload.or(authorization);
            let viewer = match identify(&state, authorization.as_deref()).await {
                Ok(viewer) => viewer,
                Err(refusal) => {
                    refused.store(4403, Ordering::SeqCst);
                    return Err(async_graphql::Error::new(refusal.message));
                }
            };
            if let Some((id, _)) = &viewer.key {
                match live.take(Kind::Connection, vec![Subject::Key(*id)], false) {
                    Ok(slot) => {
                        *key_slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(slot);
                    }
                    Err(message) => {
                        refused.store(4429, Ordering::SeqCst);
                        return Err(async_graphql::Error::new(message));
                    }
                }
            }
            let _ = subscriber.set(Subscriber {
                viewer,
                address,
                locales,
            });
            Ok(async_graphql::Data::default())
        }
    };
    let mut protocol =
        async_graphql::http::WebSocket::new(executor, incoming, WebSocketProtocols::GraphQLWS)
            .on_connection_init(init);
    let init_deadline = tokio::time::sleep(init_timeout);
    tokio::pin!(init_deadline);
    let closed = live.closed();
    tokio::pin!(closed);
    // A ping now and then keeps proxies from closing a quiet socket (clients answer it).
    let keepalive = live.settings.keepalive;
    let mut pings = tokio::time::interval_at(tokio::time::Instant::now() + keepalive, keepalive);
    let close = |code: u16, reason: String| {
        // A close frame's reason holds at most 123 bytes.
        let mut reason = reason;
        while reason.len() > 123 {
            reason.pop();
        }
        Message::Close(Some(CloseFrame {
            code,
            reason: reason.into(),
        }))
    };
    loop {
        tokio::select! {
            message = protocol.next() => match message {
                Some(WsMessage::Text(text)) => {
                    if sink.send(Message::Text(text.into())).await.is_err() {
                        break;
                    }
                    if subscriber.get().is_some() && refused.load(Ordering::SeqCst) == 4403 {
                        let reason = "This API key no longer admits these subscriptions.";
                        let _ = sink.send(close(4403, reason.into())).await;
                        break;
                    }
                }
                Some(WsMessage::Close(code, reason)) => {
                    let code = match refused.load(Ordering::SeqCst) {
                        0 => code,
                        refusal => refusal,
                    };
                    let _ = sink.send(close(code, reason)).await;
                    break;
                }
                None => break,
            },
            _ = pings.tick() => {
                if sink.send(Message::Ping(Bytes::new())).await.is_err() {
                    break;
                }
            }
            () = &mut init_deadline, if subscriber.get().is_none() => {
                let _ = sink.send(close(4408, "Connection initialisation timeout".into())).await;
                break;
            }
            () = &mut closed => {
                let _ = sink
                    .send(close(1001, "The server is shutting down; reconnect shortly.".into()))
                    .await;
                break;
            }
        }
    }
    let _ = sink.close().await;
    drop(key_slot);
    drop(connection);
}
