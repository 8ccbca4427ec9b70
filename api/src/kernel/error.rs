//! The one error type of the API, mapped once to GraphQL errors with `extensions.code`.
//!
//! Internal causes (database errors and the like) are logged with their full chain and reach
//! the client only as an opaque message with the request ID, never as SQL or a stack trace.
use std::sync::Arc;

use async_graphql::ErrorExtensions;

/// Machine-readable error codes, as documented in the README and the schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    Unauthenticated,
    Forbidden,
    NotFound,
    BadUserInput,
    Conflict,
    QueryTooComplex,
    RateLimited,
    ServiceUnavailable,
    Internal,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unauthenticated => "UNAUTHENTICATED",
            Self::Forbidden => "FORBIDDEN",
            Self::NotFound => "NOT_FOUND",
            Self::BadUserInput => "BAD_USER_INPUT",
            Self::Conflict => "CONFLICT",
            Self::QueryTooComplex => "QUERY_TOO_COMPLEX",
            Self::RateLimited => "RATE_LIMITED",
            Self::ServiceUnavailable => "SERVICE_UNAVAILABLE",
            Self::Internal => "INTERNAL",
        }
    }
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum ApiError {
    /// The input is wrong; `field` names the argument or input field at fault.
    #[error("{message}")]
    BadUserInput {
        field: Option<String>,
        message: String,
    },
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Unauthenticated(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    Conflict(String),
    /// The database cannot be reached; the request may be retried later.
    #[error("The service is temporarily unavailable; retry shortly.")]
    ServiceUnavailable(Arc<sea_orm::DbErr>),
    #[error("Internal error")]
    Internal(Arc<anyhow::Error>),
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn bad_input(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::BadUserInput {
            field: Some(field.into()),
            message: message.into(),
        }
    }

    /// An internal error, unless its cause is the database going away (which a client may
    /// retry): every path to a client thus tells the two apart the same way.
    pub fn internal(error: impl Into<anyhow::Error>) -> Self {
        let error = error.into();
        match error.downcast::<sea_orm::DbErr>() {
            Ok(db) => Self::from(db),
            Err(other) => Self::Internal(Arc::new(other)),
        }
    }

    pub fn code(&self) -> ErrorCode {
        match self {
            Self::BadUserInput { .. } => ErrorCode::BadUserInput,
            Self::NotFound(_) => ErrorCode::NotFound,
            Self::Unauthenticated(_) => ErrorCode::Unauthenticated,
            Self::Forbidden(_) => ErrorCode::Forbidden,
            Self::Conflict(_) => ErrorCode::Conflict,
            Self::ServiceUnavailable(_) => ErrorCode::ServiceUnavailable,
            Self::Internal(_) => ErrorCode::Internal,
        }
    }
}

impl From<sea_orm::DbErr> for ApiError {
    fn from(error: sea_orm::DbErr) -> Self {
        if is_connection_error(&error) {
            Self::ServiceUnavailable(Arc::new(error))
        } else {
            Self::Internal(Arc::new(error.into()))
        }
    }
}

/// SQLSTATE classes and codes that mean the server or the connection went away, not that the
/// statement was wrong: connection exceptions (08), operator intervention (57P01 admin
/// shutdown, 57P02 crash shutdown, 57P03 cannot connect now) and too many connections.
fn is_connection_sqlstate(code: &str) -> bool {
    code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03" | "53300")
}

/// Whether a database error means "the database is not there" rather than "this query failed".
pub fn is_connection_error(error: &sea_orm::DbErr) -> bool {
    use sea_orm::sqlx::Error as Sqlx;
    use sea_orm::{DbErr, RuntimeErr};
    let sqlx = match error {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => return true,
        DbErr::Query(RuntimeErr::SqlxError(e)) | DbErr::Exec(RuntimeErr::SqlxError(e)) => e,
        _ => return false,
    };
    match &**sqlx {
        Sqlx::Io(_)
        | Sqlx::Tls(_)
        | Sqlx::Protocol(_)
        | Sqlx::PoolTimedOut
        | Sqlx::PoolClosed
        | Sqlx::WorkerCrashed
        | Sqlx::BeginFailed => true,
        Sqlx::Database(database) => database.code().is_some_and(|c| is_connection_sqlstate(&c)),
        _ => false,
    }
}

impl From<ApiError> for async_graphql::Error {
    fn from(error: ApiError) -> Self {
        let code = error.code();
        match &error {
            ApiError::Internal(cause) => {
                tracing::error!(error = ?cause, "internal error");
            }
            ApiError::ServiceUnavailable(cause) => {
                tracing::warn!(error = %cause, "database unavailable");
            }
            _ => {}
        }
        let field = match &error {
            ApiError::BadUserInput { field, .. } => field.clone(),
            _ => None,
        };
        async_graphql::Error::new(error.to_string()).extend_with(|_, extensions| {
            extensions.set("code", code.as_str());
            if let Some(field) = &field {
                extensions.set("field", field.as_str());
            }
        })
    }
}

/// The columns of a unique constraint a write broke (empty when the database does not say), or
/// `None` when the error is something else. Two concurrent writers may both pass a check for a
/// duplicate; the database's constraint then refuses the second, and this tells it apart.
pub fn unique_violation(error: &sea_orm::DbErr) -> Option<Vec<String>> {
    use sea_orm::{DbErr, RuntimeErr};
    let (DbErr::Query(RuntimeErr::SqlxError(e)) | DbErr::Exec(RuntimeErr::SqlxError(e))) = error
    else {
        return None;
    };
    let sea_orm::sqlx::Error::Database(database) = &**e else {
        return None;
    };
    if database.kind() != sea_orm::sqlx::error::ErrorKind::UniqueViolation {
        return None;
    }
    // PostgreSQL: "Key (organisation_id, role)=(…) already exists."
    if let Some(postgres) = database.try_downcast_ref::<sea_orm::sqlx::postgres::PgDatabaseError>()
    {
        let columns = postgres
            .detail()
            .and_then(|detail| detail.strip_prefix("Key ("))
            .and_then(|rest| rest.split_once(")="))
            .map(|(columns, _)| columns.split(',').map(|c| c.trim().to_owned()).collect());
        return Some(columns.unwrap_or_default());
    }
    // SQLite: "UNIQUE constraint failed: theme.code, theme.parent_id"
    Some(
        database
            .message()
            .split_once(':')
            .map(|(_, list)| {
                list.split(',')
                    .filter_map(|c| c.trim().rsplit('.').next().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default(),
    )
}
