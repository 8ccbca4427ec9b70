//! How lists are ordered: a sort key (an expression, then the row ID in the same direction, so
//! the order is total) and the cursor that marks a row's place in it. NULL sort values always
//! come last.
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::QueryResult;
use sea_orm::sea_query::{Expr, ExprTrait, Order, Value};
use serde_json::json;

use crate::kernel::error::{ApiError, ApiResult};

/// How the sort value of a key is typed, to read it back from a row and from a cursor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SortKind {
    Int,
    Text,
    Date,
    DateTime,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SortValue {
    Null,
    Int(i64),
    Text(String),
    Date(NaiveDate),
    DateTime(DateTime<Utc>),
}

impl SortValue {
    pub(crate) fn to_sql(&self) -> Value {
        match self {
            Self::Null => Value::String(None),
            Self::Int(v) => (*v).into(),
            Self::Text(v) => v.clone().into(),
            Self::Date(v) => (*v).into(),
            Self::DateTime(v) => (*v).into(),
        }
    }

    pub(crate) fn to_json(&self) -> serde_json::Value {
        match self {
            Self::Null => serde_json::Value::Null,
            Self::Int(v) => json!(v),
            Self::Text(v) => json!(v),
            Self::Date(v) => json!(v.to_string()),
            Self::DateTime(v) => json!(v.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)),
        }
    }

    pub(crate) fn from_json(kind: SortKind, value: &serde_json::Value) -> Option<Self> {
        if value.is_null() {
            return Some(Self::Null);
        }
        Some(match kind {
            SortKind::Int => Self::Int(value.as_i64()?),
            // No stored text holds NUL (PostgreSQL refuses it): such a cursor is forged.
            SortKind::Text => Self::Text(value.as_str().filter(|t| !t.contains('\0'))?.to_owned()),
            SortKind::Date => Self::Date(value.as_str()?.parse().ok()?),
            SortKind::DateTime => Self::DateTime(
                DateTime::parse_from_rfc3339(value.as_str()?)
                    .ok()?
                    .with_timezone(&Utc),
            ),
        })
    }

    pub(crate) fn from_row(kind: SortKind, row: &QueryResult) -> Result<Self, sea_orm::DbErr> {
        const COLUMN: &str = "__sort";
        Ok(match kind {
            SortKind::Int => row
                .try_get::<Option<i64>>("", COLUMN)?
                .map_or(Self::Null, Self::Int),
            SortKind::Text => row
                .try_get::<Option<String>>("", COLUMN)?
                .map_or(Self::Null, Self::Text),
            SortKind::Date => row
                .try_get::<Option<NaiveDate>>("", COLUMN)?
                .map_or(Self::Null, Self::Date),
            SortKind::DateTime => row
                .try_get::<Option<DateTime<Utc>>>("", COLUMN)?
                .map_or(Self::Null, Self::DateTime),
        })
    }
}

/// What a list is ordered by: an expression, then the row ID in the same direction.
#[derive(Debug, Clone)]
pub struct SortKey {
    /// Names the ordering inside cursors, so a cursor is not used with another ordering.
    pub name: &'static str,
    pub expr: Expr,
    pub kind: SortKind,
    pub nullable: bool,
    pub descending: bool,
    pub id: Expr,
}

impl SortKey {
    pub fn new(name: &'static str, expr: Expr, kind: SortKind, id: Expr) -> Self {
        Self {
            name,
            expr,
            kind,
            nullable: false,
            descending: false,
            id,
        }
    }

    /// The sort expression can be NULL (such rows come last in either direction).
    pub fn nullable(mut self) -> Self {
        self.nullable = true;
        self
    }

    pub fn descending(mut self, descending: bool) -> Self {
        self.descending = descending;
        self
    }

    pub(crate) fn order_terms(&self, reverse: bool) -> Vec<(Expr, Order)> {
        let order = |descending: bool| {
            if descending != reverse {
                Order::Desc
            } else {
                Order::Asc
            }
        };
        let mut terms = Vec::with_capacity(3);
        if self.nullable {
            terms.push((self.expr.clone().is_null(), order(false)));
        }
        terms.push((self.expr.clone(), order(self.descending)));
        terms.push((self.id.clone(), order(self.descending)));
        terms
    }

    /// Rows strictly after (`after = true`) or before the cursor, in the list's order.
    pub(crate) fn beyond(&self, cursor: &CursorKey, after: bool) -> Expr {
        let greater = after != self.descending;
        let cmp = |a: Expr, b: Expr| if greater { a.gt(b) } else { a.lt(b) };
        let id = Expr::val(cursor.id);
        if !self.nullable {
            return cmp(
                Expr::tuple([self.expr.clone(), self.id.clone()]),
                Expr::tuple([Expr::val(cursor.value.to_sql()), id]),
            );
        }
        match (&cursor.value, after) {
            (SortValue::Null, true) => self.expr.clone().is_null().and(cmp(self.id.clone(), id)),
            (SortValue::Null, false) => self.expr.clone().is_not_null().or(self
                .expr
                .clone()
                .is_null()
                .and(cmp(self.id.clone(), id))),
            (value, _) => {
                let value = Expr::val(value.to_sql());
                let within = cmp(self.expr.clone(), value.clone()).or(self
                    .expr
                    .clone()
                    .eq(value)
                    .and(cmp(self.id.clone(), id)));
                if after {
                    within.or(self.expr.clone().is_null())
                } else {
                    within
                }
            }
        }
    }
}

/// A row's cursor in an ordering, encoded only when a client asks for it (most lists are
/// read for their nodes, and encoding every row's cursor was a good part of a page's cost).
#[derive(Debug, Clone)]
pub enum Cursor {
    /// A row of a keyset-paged list.
    Row {
        ordering: &'static str,
        key: CursorKey,
    },
    /// A cursor made elsewhere (search pages by rank).
    Encoded(String),
}

impl Cursor {
    pub fn encode(&self) -> String {
        match self {
            Self::Row { ordering, key } => key.encode_for(ordering),
            Self::Encoded(text) => text.clone(),
        }
    }
}

/// The position of a row in an ordering.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CursorKey {
    pub value: SortValue,
    pub id: i64,
}

impl CursorKey {
    fn encode_for(&self, ordering: &str) -> String {
        URL_SAFE_NO_PAD.encode(json!([ordering, self.value.to_json(), self.id]).to_string())
    }

    pub(crate) fn decode(field: &str, cursor: &str, key: &SortKey) -> ApiResult<Self> {
        let invalid = || {
            ApiError::bad_input(
                field,
                format!("`{cursor}` is not a cursor of this list: use a cursor the API returned."),
            )
        };
        let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| invalid())?;
        let parsed: serde_json::Value = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
        let parts = parsed
            .as_array()
            .filter(|a| a.len() == 3)
            .ok_or_else(invalid)?;
        let name = parts[0].as_str().ok_or_else(invalid)?;
        if name != key.name {
            return Err(ApiError::bad_input(
                field,
                format!(
                    "This cursor comes from a list ordered by {name}, but this list is ordered by {}.",
                    key.name
                ),
            ));
        }
        let value = SortValue::from_json(key.kind, &parts[1]).ok_or_else(invalid)?;
        let id = parts[2].as_i64().ok_or_else(invalid)?;
        Ok(Self { value, id })
    }
}
