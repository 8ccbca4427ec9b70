//! Admission: the checks every GraphQL request passes before it runs, whichever way it came
//! (POST, GET, server-sent events, WebSocket). In order: its query (or the persisted one its
//! hash names), the text's size and shape before any recursive code reads it, the parse (a
//! kept parse of the same text is reused), the operation (chosen once, then held to the
//! transport's rule), text in the document and variables, and the analysis of depth, breadth
//! and cost; then the budget it spends. Each step refuses with one `Refusal`, which each
//! transport renders in its own form.
use std::sync::Arc;

use async_graphql::Name;
use async_graphql::Variables;
use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, OperationDefinition, OperationType,
};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use serde_json::{Value, json};

use super::AppState;
use super::analysis::{Analysis, analyze, check_text, effective_variables};
use super::limits::{Exceeded, check_document};
use super::persisted::Registration;
use crate::kernel::rate_limit::{Spent, Subject};

/// Why a request is not run: a status, a GraphQL error (its `extensions` and message) and the
/// headers that go with it.
#[derive(Debug)]
pub struct Refusal {
    pub status: StatusCode,
    /// A request error (the document or its input): answered 200 to clients that asked for
    /// `application/json`, as the GraphQL-over-HTTP specification has it.
    pub request_error: bool,
    /// Boxed: refusals travel in `Result`s, which stay small.
    pub extensions: Box<Value>,
    pub message: String,
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

impl Refusal {
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            request_error: false,
            extensions: Box::new(json!({"code": code})),
            message: message.into(),
            headers: Vec::new(),
        }
    }

    /// A request error: 400, or 200 under `application/json`.
    pub fn request_error(extensions: Value, message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            request_error: true,
            extensions: Box::new(extensions),
            message: message.into(),
            headers: Vec::new(),
        }
    }

    pub fn too_complex(exceeded: Exceeded) -> Self {
        Self::request_error(
            json!({"code": "QUERY_TOO_COMPLEX", "limit": exceeded.limit, "max": exceeded.max, "actual": exceeded.actual}),
            exceeded.message,
        )
    }

    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }

    /// The refusal as a GraphQL error, for transports that answer with GraphQL responses only.
    pub fn error(&self) -> async_graphql::ServerError {
        let mut error = async_graphql::ServerError::new(self.message.clone(), None);
        if let Ok(async_graphql::Value::Object(fields)) =
            async_graphql::Value::from_json((*self.extensions).clone())
        {
            let mut extensions = async_graphql::ErrorExtensionValues::default();
            for (name, value) in fields {
                extensions.set(name.as_str(), value);
            }
            error.extensions = Some(extensions);
        }
        error
    }
}

/// Which of a document's operations a request runs, chosen once per request.
#[derive(Debug, Clone)]
enum Chosen {
    /// The document's only operation.
    Only,
    /// The operation of this name.
    Named(Name),
}

/// The named operation, or the only one; `None` when the name matches none or the document
/// has several and no name was given (the executor says which).
fn choose(doc: &ExecutableDocument, name: Option<&str>) -> Option<Chosen> {
    match (&doc.operations, name) {
        (DocumentOperations::Single(_), _) => Some(Chosen::Only),
        (DocumentOperations::Multiple(ops), Some(name)) => ops
            .keys()
            .find(|n| n.as_str() == name)
            .map(|n| Chosen::Named(n.clone())),
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => {
            ops.keys().next().map(|n| Chosen::Named(n.clone()))
        }
        _ => None,
    }
}

fn definition<'a>(doc: &'a ExecutableDocument, chosen: &Chosen) -> Option<&'a OperationDefinition> {
    match (&doc.operations, chosen) {
        (DocumentOperations::Single(op), _) => Some(&op.node),
        (DocumentOperations::Multiple(ops), Chosen::Named(name)) => {
            ops.get(name).map(|op| &op.node)
        }
        (DocumentOperations::Multiple(_), Chosen::Only) => None,
    }
}

/// A request as a transport received it.
pub struct Submitted {
    /// The query text, if the request carried one.
    pub query: Option<String>,
    /// The `persistedQuery` extension, if the request carried one.
    pub persisted: Option<Value>,
    /// The rest of the request: operation name, variables, uploads (its query is set here).
    pub request: async_graphql::Request,
}

/// What admission learnt of a request it admitted (the request itself, with its query and
/// parse, goes to the executor beside it).
pub struct Admitted {
    pub document: Arc<ExecutableDocument>,
    operation_name: Option<String>,
    chosen: Option<Chosen>,
    /// The variables with the operation's defaults filled in.
    pub variables: Variables,
    pub analysis: Analysis,
    /// A query brought with its hash, to store once the executor accepted it.
    pub registration: Option<Registration>,
}

impl Admitted {
    /// The operation the request runs, if the document names one for it.
    pub fn operation(&self) -> Option<&OperationDefinition> {
        self.chosen
            .as_ref()
            .and_then(|chosen| definition(&self.document, chosen))
    }

    pub fn operation_type(&self) -> Option<OperationType> {
        self.operation().map(|op| op.ty)
    }

    /// The operation name the client gave.
    pub fn operation_name(&self) -> Option<&str> {
        self.operation_name.as_deref()
    }
}

/// What a transport serves: its rule for the chosen operation (GET runs queries only; a
/// subscription stream runs one subscription), checked as soon as the operation is known.
pub type OperationRule =
    fn(&ExecutableDocument, Option<&OperationDefinition>) -> Result<(), Refusal>;

/// Every transport serves every operation the document allows.
pub fn any_operation(
    _: &ExecutableDocument,
    _: Option<&OperationDefinition>,
) -> Result<(), Refusal> {
    Ok(())
}

/// Admits a request, or refuses it at the first step it fails.
pub async fn admit(
    state: &AppState,
    submitted: Submitted,
    rule: OperationRule,
) -> Result<(async_graphql::Request, Admitted), Refusal> {
    let limits = &state.settings.limits;
    let Submitted {
        query,
        persisted,
        mut request,
    } = submitted;
    let (query, registration) = match persisted {
        Some(extension) => {
            // A query is checked before it is stored under its hash.
            if let Some(query) = &query {
                check_document(query, limits).map_err(Refusal::too_complex)?;
            }
            state
                .persisted
                .resolve(query, &extension)
                .await
                .map_err(|e| Refusal::request_error(json!({"code": e.code()}), e.message()))?
        }
        None => match query {
            Some(query) => (query, None),
            None => {
                return Err(Refusal::new(
                    StatusCode::BAD_REQUEST,
                    "BAD_REQUEST",
                    "The request needs a `query`.",
                ));
            }
        },
    };
    let kept = state.documents.as_ref().and_then(|d| d.get(&query));
    if kept.is_none() {
        check_document(&query, limits).map_err(Refusal::too_complex)?;
    }
    request.query = query;
    let document = match kept {
        Some(document) => {
            request.set_parsed_query((*document).clone());
            document
        }
        None => {
            let parsed = request.parsed_query().map_err(|error| {
                Refusal::request_error(json!({"code": "GRAPHQL_PARSE_FAILED"}), error.message)
            })?;
            let document = Arc::new(parsed.clone());
            if let Some(documents) = &state.documents {
                documents.put(&request.query, &document);
            }
            document
        }
    };
    let chosen = choose(&document, request.operation_name.as_deref());
    let operation = chosen.as_ref().and_then(|c| definition(&document, c));
    rule(&document, operation)?;
    let variables = effective_variables(operation, &request.variables);
    if let Err(bad) = check_text(&document, &variables) {
        return Err(Refusal::request_error(
            json!({"code": "BAD_USER_INPUT", "field": bad.field}),
            bad.message,
        ));
    }
    // An unknown or ambiguous operation is left to the executor's own error.
    let mut analysis = match operation {
        Some(operation) => analyze(&document, operation, &variables, limits, &state.shape)
            .map_err(Refusal::too_complex)?,
        None => Analysis::default(),
    };
    // Storing a persisted query is work the client asks for: it is charged with the request.
    if let Some(registration) = &registration {
        analysis.cost = analysis.cost.saturating_add(registration.points());
    }
    let operation_name = request.operation_name.clone();
    Ok((
        request,
        Admitted {
            document,
            operation_name,
            chosen,
            variables,
            analysis,
            registration,
        },
    ))
}

/// Spends a request's cost from its subject's budget, or refuses it.
pub async fn spend(state: &AppState, subject: &Subject, cost: u64) -> Result<Spent, Refusal> {
    let spent = state.rate_limiter.spend(subject, cost).await;
    if spent.allowed {
        return Ok(spent);
    }
    let mut extensions = json!({"code": "RATE_LIMITED"});
    extensions["rateLimit"] = rate_limit_json(&spent);
    let mut refusal = Refusal::new(
        StatusCode::TOO_MANY_REQUESTS,
        "RATE_LIMITED",
        format!(
            "Rate limit exceeded: this request costs {} points and {} of {} remain until {}. \
             Retry after {} seconds, or ask for less at once.",
            spent.cost,
            spent.remaining(),
            spent.limit,
            spent
                .reset_at
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            spent.retry_after_secs()
        ),
    );
    refusal.extensions = Box::new(extensions);
    let mut headers = HeaderMap::new();
    rate_limit_headers(&mut headers, &spent);
    headers.insert(
        header::RETRY_AFTER,
        HeaderValue::from(spent.retry_after_secs()),
    );
    refusal.headers = headers
        .into_iter()
        .filter_map(|(name, value)| Some((name?, value)))
        .collect();
    Err(refusal)
}

/// Whether the executor refused the document (validation): no data, and an error that no
/// field's path carries. A persisted query is stored only once the executor accepted it.
pub fn failed_validation(response: &async_graphql::Response) -> bool {
    response.data == async_graphql::Value::Null && response.errors.iter().any(|e| e.path.is_empty())
}

pub fn rate_limit_headers(headers: &mut HeaderMap, spent: &Spent) {
    let reset = spent.reset_at.timestamp().max(0) as u64;
    let pairs = [
        ("ratelimit-limit", spent.limit),
        ("ratelimit-remaining", spent.remaining()),
        ("ratelimit-reset", spent.retry_after_secs()),
        ("x-ratelimit-limit", spent.limit),
        ("x-ratelimit-remaining", spent.remaining()),
        ("x-ratelimit-used", spent.used),
        ("x-ratelimit-reset", reset),
    ];
    for (name, value) in pairs {
        headers.insert(name, HeaderValue::from(value));
    }
}

/// The rate limit of a request, as the `rateLimit` field and `extensions` show it.
pub fn rate_limit_json(spent: &Spent) -> Value {
    json!({
        "limit": spent.limit,
        "cost": spent.cost,
        "used": spent.used,
        "remaining": spent.remaining(),
        "resetAt": spent.reset_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    })
}
