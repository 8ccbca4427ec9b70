//! A GraphQL request as it arrives over HTTP, before admission: its JSON body, GET
//! parameters or multipart upload, the client's address and languages.
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, header};
use serde_json::Value;

use super::AppState;
use super::admission::{Refusal, Submitted};
use super::limits::check_json_nesting;
use crate::kernel::i18n::LocalePreferences;

/// A request as it arrived, before the query is resolved and parsed.
pub(super) struct Incoming {
    pub query: Option<String>,
    pub operation_name: Option<String>,
    pub variables: Option<Value>,
    pub extensions: Option<Value>,
    pub is_get: bool,
    /// Files of a multipart request, which its variables refer to.
    pub uploads: Vec<async_graphql::UploadValue>,
}

impl Incoming {
    /// The request as admission takes it.
    pub fn submitted(self) -> Submitted {
        let mut request = async_graphql::Request::new(String::new());
        request.operation_name = self.operation_name;
        if let Some(variables) = self.variables {
            request.variables = async_graphql::Variables::from_json(variables);
        }
        request.uploads = self.uploads;
        let persisted = self
            .extensions
            .as_ref()
            .and_then(|e| e.get("persistedQuery"))
            .cloned();
        Submitted {
            query: self.query,
            persisted,
            request,
        }
    }
}

impl Incoming {
    /// A POST request's JSON body: one object with `query`, `operationName`, `variables` and
    /// `extensions`, nested no deeper than the limit (checked before it is parsed).
    pub fn from_json_body(body: &[u8], max_nesting: usize) -> Result<Self, Refusal> {
        let bad = |message: String| Refusal::new(StatusCode::BAD_REQUEST, "BAD_REQUEST", message);
        // The body's own object adds one level to the values inside it.
        check_json_nesting(body, max_nesting + 1, "The request body")
            .map_err(Refusal::too_complex)?;
        let value: Value = serde_json::from_slice(body)
            .map_err(|e| bad(format!("The body is not valid JSON: {e}")))?;
        let Value::Object(mut fields) = value else {
            return Err(bad(if value.is_array() {
                "Batched requests are not supported: send one operation per request.".to_owned()
            } else {
                "The body must be a JSON object with a `query` string.".to_owned()
            }));
        };
        let mut string_field = |key: &str| -> Result<Option<String>, Refusal> {
            match fields.remove(key) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(text)) => Ok(Some(text)),
                Some(_) => Err(bad(format!("`{key}` must be a string."))),
            }
        };
        let query = string_field("query")?;
        let operation_name = string_field("operationName")?;
        let mut object_field = |key: &str| -> Result<Option<Value>, Refusal> {
            match fields.remove(key) {
                None | Some(Value::Null) => Ok(None),
                Some(value @ Value::Object(_)) => Ok(Some(value)),
                Some(_) => Err(bad(format!("`{key}` must be a JSON object."))),
            }
        };
        let variables = object_field("variables")?;
        let extensions = object_field("extensions")?;
        Ok(Self {
            query,
            operation_name,
            variables,
            extensions,
            is_get: false,
            uploads: Vec::new(),
        })
    }

    /// A GET request's parameters.
    pub fn from_params(
        params: &HashMap<String, String>,
        max_nesting: usize,
    ) -> Result<Self, Refusal> {
        let (variables, extensions) = json_params(params, max_nesting).map_err(|e| match e {
            ParamError::TooComplex(exceeded) => Refusal::too_complex(exceeded),
            ParamError::Bad(message) => {
                Refusal::new(StatusCode::BAD_REQUEST, "BAD_REQUEST", message)
            }
        })?;
        Ok(Self {
            query: params.get("query").cloned(),
            operation_name: params.get("operationName").cloned(),
            variables,
            extensions,
            is_get: true,
            uploads: Vec::new(),
        })
    }
}

/// Whether a request is a GraphQL multipart request (a file upload).
pub(super) fn is_multipart(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .to_ascii_lowercase()
                .starts_with("multipart/form-data")
        })
}

/// A GraphQL multipart request (the spec async-graphql implements): `operations`, `map` and
/// one file, within the upload limit.
pub(super) async fn multipart(
    state: &AppState,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<Incoming, String> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let options = async_graphql::http::MultipartOptions::default()
        .max_file_size(state.settings.max_upload_bytes)
        .max_num_files(1);
    let request = async_graphql::http::receive_body(Some(content_type), body.as_ref(), options)
        .await
        .map_err(|e| format!("The multipart request could not be read: {e}."))?;
    let variables = serde_json::to_value(&request.variables).map_err(|e| e.to_string())?;
    let extensions = serde_json::to_value(&request.extensions).map_err(|e| e.to_string())?;
    Ok(Incoming {
        query: Some(request.query),
        operation_name: request.operation_name,
        variables: Some(variables),
        extensions: extensions
            .as_object()
            .is_some_and(|o| !o.is_empty())
            .then_some(extensions),
        is_get: false,
        uploads: request.uploads,
    })
}

/// Why a GET request's JSON parameters were refused.
pub(super) enum ParamError {
    TooComplex(super::limits::Exceeded),
    Bad(String),
}

/// The `variables` and `extensions` of a GET request: JSON objects, nested no deeper than the
/// limit (checked before they are parsed).
pub(super) fn json_params(
    params: &HashMap<String, String>,
    max_nesting: usize,
) -> Result<(Option<Value>, Option<Value>), ParamError> {
    let json_param = |key: &str| -> Result<Option<Value>, ParamError> {
        let Some(raw) = params.get(key) else {
            return Ok(None);
        };
        check_json_nesting(raw.as_bytes(), max_nesting, &format!("`{key}`"))
            .map_err(ParamError::TooComplex)?;
        match serde_json::from_str::<Value>(raw) {
            Ok(value @ (Value::Object(_) | Value::Null)) => Ok(Some(value)),
            _ => Err(ParamError::Bad(format!(
                "The `{key}` parameter must be a JSON object."
            ))),
        }
    };
    Ok((json_param("variables")?, json_param("extensions")?))
}

/// The languages the client prefers, from `Accept-Language`.
pub(super) fn locale_preferences(headers: &HeaderMap) -> LocalePreferences {
    headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .map(LocalePreferences::from_accept_language)
        .unwrap_or_default()
}

/// The client's address: from the configured header of a trusted load balancer, else the peer.
pub(super) fn client_address(state: &AppState, headers: &HeaderMap, peer: SocketAddr) -> IpAddr {
    state
        .settings
        .client_ip_header
        .as_ref()
        .and_then(|name| headers.get(name))
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .and_then(|v| v.trim().parse::<IpAddr>().ok())
        .unwrap_or(peer.ip())
}
