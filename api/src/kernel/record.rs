//! What every listed table tells the generic machinery: its name, its ID, what a viewer may
//! see of it and its default order.
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, Condition, DbBackend, EntityTrait, FromQueryResult};

use crate::kernel::access::Viewer;
use crate::kernel::ids::NodeKind;
use crate::kernel::sort::{SortKey, SortKind};

/// A typed column as an expression, qualified by its table so joins never make it ambiguous.
pub fn col<C: ColumnTrait>(column: C) -> Expr {
    column.into_expr()
}

/// A column named at run time, for generic code that serves whichever table it is handed.
pub fn column_of(table: &'static str, column: &'static str) -> Expr {
    Expr::col((table, column))
}

/// Makes `select` read every column of `E` but `search_text`, which only filters use: it is
/// the longest column of the searchable tables, and reads never show it.
pub fn lean_columns<E: Table>(select: &mut sea_orm::sea_query::SelectStatement) {
    use sea_orm::{IdenStatic, Iterable};
    select.clear_selects();
    for column in E::Column::iter() {
        let name = column.as_str();
        if name == "search_text" {
            select.expr_as(Expr::val(""), "search_text");
        } else {
            select.column((E::NAME, name));
        }
    }
}

/// `expr IN (ids)`. On PostgreSQL the IDs go as one array parameter (`= ANY(…)`), so the
/// statement's text is the same whatever their number and its prepared form is reused on every
/// connection instead of being parsed and planned again for each batch size.
pub fn in_ids(backend: DbBackend, expr: Expr, ids: impl IntoIterator<Item = i64>) -> Expr {
    match backend {
        DbBackend::Postgres => {
            let list = ids
                .into_iter()
                .map(|id| id.to_string())
                .collect::<Vec<_>>()
                .join(",");
            Expr::cust_with_exprs(
                "$1 = ANY(CAST($2 AS BIGINT[]))",
                [expr, Expr::val(format!("{{{list}}}"))],
            )
        }
        _ => expr.is_in(ids),
    }
}

pub trait Table:
    EntityTrait<Model: FromQueryResult + Send + Sync + Clone + 'static, ActiveModel: Send + Sync>
    + Default
{
    /// The SQL table name.
    const NAME: &'static str;

    /// Whether the table has `archived_at` (link rows have not).
    const ARCHIVABLE: bool = true;

    /// Whether its rows may be copies of the records of an instance this one follows; a copy
    /// changes only as its source does (see `Write::allow_copies`).
    const COPIED: bool = false;

    /// Whether who may see a record depends on its own values (a learning's audience): a
    /// change to one is checked for roles it takes the record away from, and those are told
    /// by a `withdrawn` event.
    const VISIBILITY_FOLLOWS_VALUES: bool = false;

    /// The columns holding another record's ID, with that record's kind: the audit trail
    /// shows them as global IDs.
    const REFERENCES: &'static [(&'static str, NodeKind)] = &[];

    /// The text fields that hold one text per language (`addTranslation` adds to them).
    const TEXT_FIELDS: &'static [TextField] = &[];

    /// The row ID of a model.
    fn id(model: &Self::Model) -> i64;

    /// What a viewer may see of the table at all, whatever the path (privacy).
    fn visible_to(_viewer: &Viewer) -> Condition {
        Condition::all()
    }

    /// The order used where a list has no `orderBy` (by default: by ID).
    fn default_sort() -> SortKey {
        SortKey::new("ID", Self::id_expr(), SortKind::Int, Self::id_expr())
    }

    /// Whose record it is, for write access.
    fn owner(_model: &Self::Model) -> Owner {
        Owner::Shared
    }

    /// A field as the audit trail shows it, from its API name and stored value (the default
    /// shows it as stored).
    fn audited(key: String, value: serde_json::Value) -> (String, serde_json::Value) {
        (key, value)
    }

    /// The user error for a record that would duplicate another on a unique constraint of
    /// these columns (the default names the first column, as an input field).
    fn conflict(columns: &[String]) -> crate::kernel::write::UserError {
        let column = columns.first().map(String::as_str).unwrap_or_default();
        let field = crate::kernel::write::camel_case(column.trim_end_matches("_id"));
        crate::kernel::write::UserError::new(
            &field,
            format!("Another record has the same {field}: it must be unique."),
            crate::kernel::write::UserErrorCode::Conflict,
        )
    }

    /// The folded text the `search` filter matches, for tables that have one.
    fn search_text(_model: &Self::Model) -> Option<String> {
        None
    }

    fn id_expr() -> Expr {
        column_of(Self::NAME, "id")
    }

    /// Creation time, latest last: an order every list offers.
    fn by_created_at() -> SortKey {
        let column = column_of(Self::NAME, "created_at");
        SortKey::new("CREATED_AT", column, SortKind::DateTime, Self::id_expr())
    }

    /// Time of the last change: an order every list offers.
    fn by_updated_at() -> SortKey {
        let column = column_of(Self::NAME, "updated_at");
        SortKey::new("UPDATED_AT", column, SortKind::DateTime, Self::id_expr())
    }

    /// Visible and not archived: what nested lists show.
    fn listed_to(viewer: &Viewer) -> Condition {
        let condition = Self::visible_to(viewer);
        if Self::ARCHIVABLE {
            condition.add(column_of(Self::NAME, "archived_at").is_null())
        } else {
            condition
        }
    }
}

/// A table whose rows are nodes of the graph: each has a global ID of this kind.
pub trait Record: Table {
    const KIND: NodeKind;
}

/// Declares a table of records, once: its kind, its name (the entity's module), the columns
/// that refer to other records, its text fields (with their API name where it is not the
/// column's, and their length limit), the texts the `search` filter reads, and whose record it
/// is (`municipality:` a column every row fills, `municipality_or_shared:` one that may be
/// empty). What else a table says of itself (privacy, order, conflicts) follows as ordinary
/// `Table` items in a `table { … }` block after the declaration.
///
/// ```ignore
/// record_table! {
///     programme: Programme {
///         references: [municipality_id => Municipality, contact_person_id => ContactPerson],
///         texts: [name = NAME_MAX, funding_channel as "fundingChannel" = NAME_MAX],
///         search: [name, summary],
///         municipality_or_shared: municipality_id,
///     }
/// }
/// ```
/// A new record's model: the fields given, with what every record starts with (the ID the
/// database gives, created and changed now, version 1, not archived, recorded through the API).
#[macro_export]
macro_rules! new_record {
    ($($model:ident)::+ { $($field:ident $(: $value:expr)?),* $(,)? }) => {{
        let now = $crate::kernel::time::now();
        $($model)::+ {
            id: 0,
            $($field $(: $value)?,)*
            created_at: now,
            updated_at: now,
            version: 1,
            archived_at: None,
            provenance: entity::enums::Provenance::Recorded,
        }
    }};
}

#[macro_export]
macro_rules! record_table {
    (
        $entity:ident: $kind:ident {
            $(references: [$($ref_col:ident => $ref_kind:ident),* $(,)?],)?
            $(texts: [$($text_col:ident $(as $text_api:literal)? = $text_max:expr),* $(,)?],)?
            $(search: [$($search_col:ident),* $(,)?],)?
            $(municipality: $owner_col:ident,)?
            $(municipality_or_shared: $shared_col:ident,)?
        }
        $(table { $($rest:tt)* })?
    ) => {
        impl $crate::kernel::record::Record for $entity::Entity {
            const KIND: $crate::kernel::ids::NodeKind = $crate::kernel::ids::NodeKind::$kind;
        }

        impl $crate::kernel::record::Table for $entity::Entity {
            const NAME: &'static str = stringify!($entity);
            $(const REFERENCES: &'static [(&'static str, $crate::kernel::ids::NodeKind)] =
                &[$((stringify!($ref_col), $crate::kernel::ids::NodeKind::$ref_kind)),*];)?
            $(const TEXT_FIELDS: &'static [$crate::kernel::record::TextField] = &[$(
                $crate::kernel::record::TextField::new(
                    $crate::__text_api!($text_col $($text_api)?),
                    stringify!($text_col),
                    $text_max,
                )
            ),*];)?
            fn id(model: &$entity::Model) -> i64 {
                model.id
            }
            $(fn owner(model: &$entity::Model) -> $crate::kernel::record::Owner {
                $crate::kernel::record::Owner::Municipality(Some(model.$owner_col))
            })?
            $(fn owner(model: &$entity::Model) -> $crate::kernel::record::Owner {
                $crate::kernel::record::Owner::Municipality(model.$shared_col)
            })?
            $(fn search_text(model: &$entity::Model) -> Option<String> {
                Some($crate::kernel::i18n::search_text([$(&model.$search_col),*]))
            })?
            $($($rest)*)?
        }

        $(
            /// The folded text the `search` filter matches: every translation of its texts.
            pub fn search_text(model: &$entity::Model) -> String {
                $crate::kernel::i18n::search_text([$(&model.$search_col),*])
            }
        )?
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __text_api {
    ($column:ident) => {
        stringify!($column)
    };
    ($column:ident $api:literal) => {
        $api
    };
}

/// A field holding one text per language.
#[derive(Debug, Clone, Copy)]
pub struct TextField {
    /// Its name in the API.
    pub field: &'static str,
    /// Its column.
    pub column: &'static str,
    /// The most characters one of its texts may have.
    pub max_chars: usize,
}

impl TextField {
    pub const fn new(field: &'static str, column: &'static str, max_chars: usize) -> Self {
        Self {
            field,
            column,
            max_chars,
        }
    }
}

/// Whose record it is: an editor writes its own municipality's records; shared records (the
/// common taxonomy, indicators, network projects) are an admin's.
#[derive(Debug, Clone, Copy)]
pub enum Owner {
    /// A municipality's, or shared when `None`.
    Municipality(Option<i64>),
    /// Shared by all municipalities.
    Shared,
    /// Whoever owns this other record: how to find that record's owner, and its ID (a
    /// partnership belongs to whoever owns its initiative: `Through(owner_through::<…>, id)`).
    Through(OwnerOf, i64),
}

/// Finds the owner of a record by its ID (`None` when there is no such record).
pub type OwnerOf =
    for<'a> fn(
        &'a sea_orm::DatabaseTransaction,
        i64,
    ) -> futures_util::future::BoxFuture<'a, Result<Option<Owner>, sea_orm::DbErr>>;

/// The owner of a record of table `E`, by ID: what `Owner::Through` points to.
pub fn owner_through<E: Table>(
    txn: &sea_orm::DatabaseTransaction,
    id: i64,
) -> futures_util::future::BoxFuture<'_, Result<Option<Owner>, sea_orm::DbErr>> {
    use sea_orm::QueryFilter;
    Box::pin(async move {
        Ok(E::find()
            .filter(E::id_expr().eq(id))
            .one(txn)
            .await?
            .map(|model| E::owner(&model)))
    })
}
