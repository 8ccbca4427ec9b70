//! The read planner: a query over declared records — `node`, the top-level lists, their
//! nested lists and references, texts in the request's languages, page info, cursors and
//! counts — compiled into ONE SQL statement whose result is the response's JSON, built by the
//! database, instead of resolved field by field with a statement per relation.
//!
//! What it compiles comes from the types' declarations (`#[record]`: `id!`, `text!`, `list!`,
//! `reference!` and resolvers that read one column, see the derive crate's `plan.rs`); the
//! rules it follows are the executor's own — each table's visibility for the viewer
//! (`Table::visible_to`, `listed_to`), each list's filter (`ListFilter`), order (`ListOrder`,
//! `default_sort`) and page window (`PageRequest`), the text fallback (`i18n::pick`) — so a
//! query never gets a different answer because it was compiled. A query that asks for
//! anything else (aggregates, search, history, a field with a context or a gate), or whose
//! arguments the executor would refuse, is not compiled: the executor answers it, errors
//! and all. `tests/api/planner.rs` generates many queries and holds both paths to
//! byte-identical answers.
mod compile;
mod shape;
mod sql;

use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::Arc;

use async_graphql::parser::types::{ExecutableDocument, OperationDefinition};
use async_graphql::{InputType, Name, Variables};
use sea_orm::ConnectionTrait;
use sea_orm::sea_query::{Condition, SelectStatement};
use serde::de::DeserializeOwned;

use crate::graphql::context::RequestContext;
use crate::graphql::loader::{Link, Only};
use crate::graphql::pagination::{ListFilter, ListOrder, Wraps};
use crate::kernel::access::Viewer;
use crate::kernel::bounded::{Bounded, Key, key};
use crate::kernel::ids::NodeKind;
use crate::kernel::record::{Record, Table};
use crate::kernel::sort::SortKey;

/// Turns a column's stored value (as the database writes it in JSON) into the field's value;
/// `None` when it is not what the column holds.
pub type Converter = Arc<dyn Fn(&serde_json::Value) -> Option<async_graphql::Value> + Send + Sync>;

/// A field of a record type, as the planner reads it.
pub struct Field {
    pub name: &'static str,
    pub kind: FieldKind,
}

pub enum FieldKind {
    /// The global ID.
    Id,
    /// A function of one column.
    Pure {
        column: &'static str,
        convert: Converter,
    },
    /// A text in the request's languages (`locale` argument).
    Text {
        column: &'static str,
        required: bool,
    },
    /// The locale a text is served in.
    TextLocale { column: &'static str },
    /// Every translation of a text (their `locale` and `text`).
    Translations { column: &'static str },
    /// Another record by an ID column.
    Reference {
        column: &'static str,
        target: String,
        required: bool,
    },
    /// A nested list with the Relay arguments (and maybe one of its own).
    List {
        target: String,
        link: Link,
        only: Option<OnlyArgument>,
    },
}

/// A nested list's own argument (`partners(roles:)`) and how it restricts the list: `None`
/// when the value is not one the list takes.
pub struct OnlyArgument {
    pub name: &'static str,
    pub restrict: fn(Option<async_graphql::Value>) -> Option<Option<Only>>,
}

impl OnlyArgument {
    pub fn new(
        name: &'static str,
        restrict: fn(Option<async_graphql::Value>) -> Option<Option<Only>>,
    ) -> Self {
        Self { name, restrict }
    }
}

impl Field {
    pub fn id() -> Self {
        Self {
            name: "id",
            kind: FieldKind::Id,
        }
    }

    pub fn text(name: &'static str, column: &'static str, required: bool) -> Self {
        Self {
            name,
            kind: FieldKind::Text { column, required },
        }
    }

    pub fn text_locale(name: &'static str, column: &'static str) -> Self {
        Self {
            name,
            kind: FieldKind::TextLocale { column },
        }
    }

    pub fn translations(name: &'static str, column: &'static str) -> Self {
        Self {
            name,
            kind: FieldKind::Translations { column },
        }
    }

    pub fn reference<T: Wraps>(name: &'static str, column: &'static str, required: bool) -> Self {
        Self {
            name,
            kind: FieldKind::Reference {
                column,
                target: T::type_name().into_owned(),
                required,
            },
        }
    }

    pub fn list<T: Wraps>(name: &'static str, link: Link, only: Option<OnlyArgument>) -> Self {
        Self {
            name,
            kind: FieldKind::List {
                target: T::type_name().into_owned(),
                link,
                only,
            },
        }
    }

    /// A field whose value is `convert` of one column (`read` names that column's type).
    pub fn pure<M, C: DeserializeOwned + 'static>(
        name: &'static str,
        column: &'static str,
        read: fn(&M) -> &C,
        convert: fn(&C) -> async_graphql::Value,
    ) -> Self {
        let _ = read;
        Self {
            name,
            kind: FieldKind::Pure {
                column,
                convert: Arc::new(move |raw| decode::<C>(raw).map(|value| convert(&value))),
            },
        }
    }
}

/// A column's value from the database's JSON. SQLite writes booleans as 0 and 1.
fn decode<C: DeserializeOwned>(raw: &serde_json::Value) -> Option<C> {
    match C::deserialize(raw) {
        Ok(value) => Some(value),
        Err(_) => match raw.as_i64() {
            Some(n @ (0 | 1)) => C::deserialize(&serde_json::Value::Bool(n == 1)).ok(),
            _ => None,
        },
    }
}

/// A resolver's answer as a GraphQL value, without the executor.
pub trait PlanValue {
    fn plan_value(self) -> async_graphql::Value;
}

macro_rules! scalar_plan_values {
    ($($ty:ty),*) => {
        $(impl PlanValue for $ty {
            fn plan_value(self) -> async_graphql::Value {
                async_graphql::ScalarType::to_value(&self)
            }
        })*
    };
}

scalar_plan_values!(
    String,
    i32,
    i64,
    f64,
    bool,
    crate::graphql::scalars::Date,
    crate::graphql::scalars::DateTime,
    crate::graphql::scalars::Decimal,
    crate::graphql::scalars::GeoJson,
    crate::graphql::scalars::Json
);

impl PlanValue for &str {
    fn plan_value(self) -> async_graphql::Value {
        async_graphql::Value::String(self.to_owned())
    }
}

impl<T: PlanValue> PlanValue for Option<T> {
    fn plan_value(self) -> async_graphql::Value {
        self.map_or(async_graphql::Value::Null, PlanValue::plan_value)
    }
}

/// A pure field's answer, made a GraphQL value as a scalar's (`PlanValue`) or an
/// enumeration's, whichever its type is: the field's declaration does not say, so the
/// generated code asks `(&&Out(value)).plan_value()` and method resolution picks the first
/// of `ViaScalar`, `ViaEnum`, `ViaOptionalEnum` that the type has.
pub struct Out<T>(pub T);

pub trait ViaScalar {
    fn plan_value(&self) -> async_graphql::Value;
}

impl<T: PlanValue + Clone> ViaScalar for &Out<T> {
    fn plan_value(&self) -> async_graphql::Value {
        self.0.clone().plan_value()
    }
}

pub trait ViaEnum {
    fn plan_value(&self) -> async_graphql::Value;
}

impl<T: async_graphql::resolver_utils::EnumType + Copy> ViaEnum for &&Out<T> {
    fn plan_value(&self) -> async_graphql::Value {
        async_graphql::resolver_utils::enum_value(self.0)
    }
}

pub trait ViaOptionalEnum {
    fn plan_value(&self) -> async_graphql::Value;
}

impl<T: async_graphql::resolver_utils::EnumType + Copy> ViaOptionalEnum for Out<Option<T>> {
    fn plan_value(&self) -> async_graphql::Value {
        self.0.map_or(
            async_graphql::Value::Null,
            async_graphql::resolver_utils::enum_value,
        )
    }
}

/// A record type's fields as the planner reads them (written by `#[record]`).
pub trait Plannable: Wraps {
    fn fields() -> Vec<Field>;
}

/// A record type, as the planner compiles selections of it.
pub struct TypePlan {
    pub name: String,
    pub table: &'static str,
    pub kind: NodeKind,
    pub fields: HashMap<&'static str, Field>,
    pub visible: fn(&Viewer) -> Condition,
    pub listed: fn(&Viewer) -> Condition,
    pub default_sort: fn() -> SortKey,
}

impl TypePlan {
    pub fn of<T: Plannable>() -> Self
    where
        T::Entity: Record,
    {
        Self {
            name: T::type_name().into_owned(),
            table: <T::Entity as Table>::NAME,
            kind: <T::Entity as Record>::KIND,
            fields: T::fields().into_iter().map(|f| (f.name, f)).collect(),
            visible: <T::Entity as Table>::visible_to,
            listed: <T::Entity as Table>::listed_to,
            default_sort: <T::Entity as Table>::default_sort,
        }
    }
}

/// A top-level list (`records!`): its record type, and its filter and order as the list's
/// resolver reads them (`None`: a value the executor would refuse).
pub struct RootList {
    pub name: &'static str,
    pub ty: String,
    pub select: fn(Option<async_graphql::Value>, &RequestContext) -> Option<SelectStatement>,
    pub key: fn(Option<async_graphql::Value>, &RequestContext) -> Option<SortKey>,
}

impl RootList {
    pub fn of<T: Wraps, F: ListFilter + InputType, O: ListOrder + InputType>(
        name: &'static str,
    ) -> Self {
        Self {
            name,
            ty: T::type_name().into_owned(),
            select: select_of::<F>,
            key: key_of::<O>,
        }
    }
}

fn select_of<F: ListFilter + InputType>(
    value: Option<async_graphql::Value>,
    request: &RequestContext,
) -> Option<SelectStatement> {
    let filter = <Option<F> as InputType>::parse(value).ok()?;
    filter.unwrap_or_default().select(request).ok()
}

fn key_of<O: ListOrder + InputType>(
    value: Option<async_graphql::Value>,
    request: &RequestContext,
) -> Option<SortKey> {
    let order = <Option<O> as InputType>::parse(value).ok()?;
    Some(O::key(order, request))
}

/// A root query type's top-level lists (written by `#[query]`).
pub trait Roots {
    fn lists() -> Vec<RootList>;
}

/// Asks a root query type for its lists whether or not it declares any: the registry names
/// every root type, and those written by hand declare none. Method resolution picks
/// `DeclaresRoots` where the type implements `Roots` and `DeclaresNone` (one reference
/// further) where it does not.
pub struct Probe<T>(PhantomData<T>);

impl<T> Probe<T> {
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        Self(PhantomData)
    }
}

pub trait DeclaresRoots {
    fn root_lists(&self) -> Vec<RootList>;
}

impl<T: Roots> DeclaresRoots for Probe<T> {
    fn root_lists(&self) -> Vec<RootList> {
        T::lists()
    }
}

pub trait DeclaresNone {
    fn root_lists(&self) -> Vec<RootList>;
}

impl<T> DeclaresNone for &Probe<T> {
    fn root_lists(&self) -> Vec<RootList> {
        Vec::new()
    }
}

/// Every record type and top-level list the planner compiles, built once per schema.
pub struct Planner {
    types: HashMap<String, Arc<TypePlan>>,
    kinds: HashMap<NodeKind, Arc<TypePlan>>,
    roots: HashMap<&'static str, RootList>,
    /// Documents (with the operation run) that the executor has validated: the planner
    /// compiles only those, so a document the GraphQL rules refuse is refused as ever.
    validated: Option<Bounded<()>>,
}

/// Documents remembered as valid (a few dozen bytes each).
const VALIDATED_DOCUMENTS: usize = 10_000;

impl Planner {
    pub fn new(types: Vec<TypePlan>, roots: Vec<RootList>) -> Self {
        let types: HashMap<String, Arc<TypePlan>> = types
            .into_iter()
            .map(|t| (t.name.clone(), Arc::new(t)))
            .collect();
        let kinds = types.values().map(|t| (t.kind, t.clone())).collect();
        Self {
            types,
            kinds,
            roots: roots.into_iter().map(|r| (r.name, r)).collect(),
            validated: Bounded::new(
                "validated_documents",
                VALIDATED_DOCUMENTS,
                VALIDATED_DOCUMENTS * 64,
            ),
        }
    }

    /// Whether the executor has validated this document for this operation.
    pub fn is_validated(&self, query: &str, operation: Option<&str>) -> bool {
        self.validated
            .as_ref()
            .is_some_and(|kept| kept.get(&validated_key(query, operation)).is_some())
    }

    /// Notes that the executor validated this document for this operation.
    pub fn validated(&self, query: &str, operation: Option<&str>) {
        if let Some(kept) = &self.validated {
            kept.put(validated_key(query, operation), (), 64);
        }
    }

    fn type_named(&self, name: &str) -> Option<Arc<TypePlan>> {
        self.types.get(name).cloned()
    }

    /// The compiled statement of a query and its plan, or `None` when the query is not one
    /// the planner compiles (the executor answers it).
    pub fn compile(
        &self,
        request: &RequestContext,
        document: &ExecutableDocument,
        operation: &OperationDefinition,
        variables: &Variables,
    ) -> Option<Compiled> {
        let roots = compile::Compiler::new(self, request, document, operation, variables)
            .roots(operation)?;
        let statement = sql::statement(&roots, request)?;
        Some(Compiled { roots, statement })
    }

    /// Answers a query with one statement, or `None` for the executor to answer it (not
    /// compiled, or the statement failed: the executor meets the failure and reports it).
    pub async fn answer(
        &self,
        request: &RequestContext,
        document: &ExecutableDocument,
        operation: &OperationDefinition,
        variables: &Variables,
    ) -> Option<async_graphql::Value> {
        let compiled = self.compile(request, document, operation, variables)?;
        // Nothing to read (`{ __typename }`): no statement.
        if compiled
            .roots
            .iter()
            .all(|(_, root)| matches!(root, compile::Root::Typename))
        {
            let columns = vec![serde_json::Value::Null; compiled.roots.len()];
            return shape::response(&compiled.roots, &columns, request);
        }
        let row = match request.db.query_one_raw(compiled.statement).await {
            Ok(row) => row?,
            Err(error) => {
                tracing::debug!(%error, "compiled read failed; the executor answers");
                return None;
            }
        };
        let mut columns = Vec::with_capacity(compiled.roots.len());
        for at in 0..compiled.roots.len() {
            let text: Option<String> = row.try_get("", &format!("r{at}")).ok()?;
            columns.push(match text {
                Some(text) => serde_json::from_str(&text).ok()?,
                None => serde_json::Value::Null,
            });
        }
        shape::response(&compiled.roots, &columns, request)
    }
}

fn validated_key(query: &str, operation: Option<&str>) -> Key {
    key([
        query.as_bytes(),
        b"\0",
        operation.unwrap_or_default().as_bytes(),
    ])
}

/// A compiled query: what each root field selects, and the statement that reads it all.
pub struct Compiled {
    roots: Vec<(Name, compile::Root)>,
    pub statement: sea_orm::Statement,
}
