//! Turns a list's typed `filter` input into SQL conditions, one method per kind of criterion.
//! Criteria combine with AND; the values of one criterion with OR (any of them).
use async_graphql::ID;
use sea_orm::sea_query::{Expr, ExprTrait, Query, SelectStatement};
use sea_orm::{ColumnTrait, DbBackend};

use crate::graphql::common::{
    DateRange, Provenance, archived_condition, check_id_list, in_matching_subtree, in_subtree,
    search_condition, search_pattern,
};
use crate::graphql::loader::Link;
use crate::graphql::scalars::DateTime;
use crate::kernel::error::ApiError;
use crate::kernel::ids::{GlobalId, NodeKind};
use crate::kernel::record::column_of;

/// The criteria every list of records has, flattened into the end of each list's filter.
#[derive(async_graphql::InputObject, Default, Debug, Clone)]
pub struct RecordCriteria {
    /// Only records changed at or after this instant.
    pub updated_since: Option<DateTime>,
    /// Only records of these provenances.
    pub provenances: Option<Vec<Provenance>>,
    /// Include archived records (default: false).
    pub include_archived: Option<bool>,
    /// Whose records: this instance's own (the default) and, as asked, copies of the records
    /// of the partner instances it follows.
    pub origins: Option<Origins>,
}

/// What `origins` asks for: own records, copies from every followed instance, and copies from
/// these followed instances (row IDs); without a choice, own records only.
pub fn chosen_origins(
    origins: Option<&Origins>,
    field: &str,
) -> Result<(bool, bool, Vec<i64>), ApiError> {
    let own = origins.and_then(|o| o.own).unwrap_or(true);
    let followed = origins.and_then(|o| o.followed).unwrap_or(false);
    let instances = match origins.and_then(|o| o.instances.as_deref()) {
        Some(ids) => Filter::decode(
            field,
            ids,
            <entity::followed_instance::Entity as crate::kernel::record::Record>::KIND,
        )?,
        None => Vec::new(),
    };
    Ok((own, followed, instances))
}

/// Whose records a list holds: this instance's own, copies from the instances it follows, or
/// both. A copy whose source withdrew it, or whose instance is no longer followed, is in none.
#[derive(async_graphql::InputObject, Default, Debug, Clone)]
pub struct Origins {
    /// This instance's own records (default: true).
    pub own: Option<bool>,
    /// Copies from every instance followed (default: false).
    pub followed: Option<bool>,
    /// Copies from these followed instances (`FollowedInstance` IDs).
    pub instances: Option<Vec<ID>>,
}

pub struct Filter {
    pub select: SelectStatement,
    table: &'static str,
    backend: DbBackend,
}

impl Filter {
    pub fn new(select: SelectStatement, table: &'static str, backend: DbBackend) -> Self {
        Self {
            select,
            table,
            backend,
        }
    }

    fn decode(field: &str, ids: &[ID], kind: NodeKind) -> Result<Vec<i64>, ApiError> {
        check_id_list(field, ids.len())?;
        GlobalId::decode_all(field, ids, kind)
    }

    /// `column IN (ids)` for a reference column of this table.
    pub fn references<C: ColumnTrait>(
        &mut self,
        field: &str,
        column: C,
        ids: Option<&Vec<ID>>,
        kind: NodeKind,
    ) -> Result<&mut Self, ApiError> {
        if let Some(ids) = ids {
            let ids = Self::decode(field, ids, kind)?;
            self.select
                .and_where(column_of(self.table, column.as_str()).is_in(ids));
        }
        Ok(self)
    }

    /// A reference into a nested table (areas, themes): the given records and all below them.
    pub fn subtree<C: ColumnTrait>(
        &mut self,
        field: &str,
        column: C,
        ids: Option<&Vec<ID>>,
        kind: NodeKind,
        tree: &'static str,
    ) -> Result<&mut Self, ApiError> {
        if let Some(ids) = ids {
            let ids = Self::decode(field, ids, kind)?;
            self.select.and_where(in_subtree(
                self.backend,
                tree,
                column_of(self.table, column.as_str()),
                &ids,
            ));
        }
        Ok(self)
    }

    /// Records linked through a link table to any of the given records or (for a nested
    /// table) to anything below them.
    pub fn linked(
        &mut self,
        field: &str,
        ids: Option<&Vec<ID>>,
        kind: NodeKind,
        link: Link,
        tree: Option<&'static str>,
    ) -> Result<&mut Self, ApiError> {
        if let Some(ids) = ids {
            let ids = Self::decode(field, ids, kind)?;
            let Link::Through {
                table,
                parent: own,
                child: other,
            } = link
            else {
                return Err(ApiError::internal(anyhow::anyhow!(
                    "a filter through linked records needs a link table"
                )));
            };
            let member = match tree {
                Some(tree) => in_subtree(self.backend, tree, column_of(table, other), &ids),
                None => column_of(table, other).is_in(ids),
            };
            self.select.and_where(
                column_of(self.table, "id").in_subquery(
                    Query::select()
                        .column((table, own))
                        .from(table)
                        .and_where(member)
                        .take(),
                ),
            );
        }
        Ok(self)
    }

    /// `column IN (values)` for an enumeration column.
    pub fn one_of<G, E>(&mut self, column: impl ColumnTrait, values: Option<&Vec<G>>) -> &mut Self
    where
        G: Copy + Into<E>,
        E: Into<&'static str>,
    {
        self.one_of_named::<G, E>(column.as_str(), values)
    }

    /// `one_of` for a column every record table has, by its name.
    fn one_of_named<G, E>(&mut self, column: &'static str, values: Option<&Vec<G>>) -> &mut Self
    where
        G: Copy + Into<E>,
        E: Into<&'static str>,
    {
        if let Some(values) = values {
            let values: Vec<&'static str> = values.iter().map(|v| (*v).into().into()).collect();
            self.select
                .and_where(column_of(self.table, column).is_in(values));
        }
        self
    }

    pub fn provenance(&mut self, values: Option<&Vec<Provenance>>) -> &mut Self {
        self.one_of_named::<Provenance, entity::enums::Provenance>("provenance", values)
    }

    pub fn date_range(
        &mut self,
        field: &str,
        column: impl ColumnTrait,
        range: Option<&DateRange>,
    ) -> Result<&mut Self, ApiError> {
        if let Some(range) = range {
            range.apply(
                field,
                &mut self.select,
                column_of(self.table, column.as_str()),
            )?;
        }
        Ok(self)
    }

    pub fn search(&mut self, text: Option<&String>) -> Result<&mut Self, ApiError> {
        if let Some(text) = text
            && let Some(condition) = search_condition(self.table, text)?
        {
            self.select.and_where(condition);
        }
        Ok(self)
    }

    /// `search` that also finds the records linked to a matching record of a nested table (a
    /// theme's label finds the initiatives of that theme and of the themes below it): through
    /// a column of this table, or a link table (its column for this table's records first).
    pub fn search_through(
        &mut self,
        text: Option<&String>,
        tree: &'static str,
        link: Link,
    ) -> Result<&mut Self, ApiError> {
        let Some(text) = text else {
            return Ok(self);
        };
        let Some(own) = search_condition(self.table, text)? else {
            return Ok(self);
        };
        let Some(pattern) = search_pattern(text) else {
            return Ok(self);
        };
        let linked = match link {
            Link::Column(column) => {
                in_matching_subtree(self.backend, tree, column_of(self.table, column), pattern)
            }
            Link::Through {
                table,
                parent: own_column,
                child: other,
            } => column_of(self.table, "id").in_subquery(
                Query::select()
                    .column((table, own_column))
                    .from(table)
                    .and_where(in_matching_subtree(
                        self.backend,
                        tree,
                        column_of(table, other),
                        pattern,
                    ))
                    .take(),
            ),
        };
        self.select.and_where(own.or(linked));
        Ok(self)
    }

    /// Records changed at or after an instant: for incremental synchronisation.
    pub fn updated_since(&mut self, since: Option<DateTime>) -> &mut Self {
        if let Some(since) = since {
            self.select
                .and_where(column_of(self.table, "updated_at").gte(since.0));
        }
        self
    }

    /// The criteria every list has: changed since, provenances, archived records.
    /// The criteria every list has, for a list of `E` (which tells whether its rows may be
    /// copies of followed instances' records: where they may not, only the choice of own
    /// records counts).
    pub fn record<E: crate::kernel::record::Table>(
        &mut self,
        criteria: &RecordCriteria,
    ) -> Result<&mut Self, ApiError> {
        if E::COPIED {
            self.origins(criteria.origins.as_ref())?;
        } else {
            let (own, _, _) =
                chosen_origins(criteria.origins.as_ref(), "filter.origins.instances")?;
            if !own {
                self.select.and_where(Expr::cust("1 = 0"));
            }
        }
        Ok(self
            .updated_since(criteria.updated_since)
            .provenance(criteria.provenances.as_ref())
            .archived(criteria.include_archived))
    }

    /// Own records, copies, or both (see `Origins`); without a choice, own records only.
    pub fn origins(&mut self, origins: Option<&Origins>) -> Result<&mut Self, ApiError> {
        let (own, followed, instances) = chosen_origins(origins, "filter.origins.instances")?;
        let table = self.table;
        // The copies of this table's rows that count: current, from an instance still followed.
        let copies = |only: Option<&[i64]>| {
            let mut copies = Query::select();
            copies
                .expr(Expr::val(1))
                .from("remote_copy")
                .inner_join(
                    "followed_instance",
                    Expr::col(("followed_instance", "id"))
                        .equals(("remote_copy", "followed_instance_id")),
                )
                .and_where(Expr::col(("remote_copy", "subject_type")).eq(table))
                .and_where(Expr::col(("remote_copy", "subject_id")).equals((table, "id")))
                .and_where(Expr::col(("remote_copy", "withdrawn_at")).is_null())
                .and_where(Expr::col(("followed_instance", "archived_at")).is_null());
            if let Some(only) = only {
                copies.and_where(
                    Expr::col(("remote_copy", "followed_instance_id")).is_in(only.iter().copied()),
                );
            }
            copies.take()
        };
        let any_copy = || {
            let mut rows = Query::select();
            rows.expr(Expr::val(1))
                .from("remote_copy")
                .and_where(Expr::col(("remote_copy", "subject_type")).eq(table))
                .and_where(Expr::col(("remote_copy", "subject_id")).equals((table, "id")));
            rows.take()
        };
        let mut wanted: Vec<Expr> = Vec::new();
        if own {
            wanted.push(Expr::exists(any_copy()).not());
        }
        if followed {
            wanted.push(Expr::exists(copies(None)));
        } else if !instances.is_empty() {
            wanted.push(Expr::exists(copies(Some(&instances))));
        }
        // Neither own records nor copies: nothing.
        let condition = wanted
            .into_iter()
            .reduce(|a, b| a.or(b))
            .unwrap_or_else(|| Expr::cust("1 = 0"));
        self.select.and_where(condition);
        Ok(self)
    }

    pub fn archived(&mut self, include: Option<bool>) -> &mut Self {
        if let Some(condition) = archived_condition(self.table, include) {
            self.select.and_where(condition);
        }
        self
    }

    pub fn condition(&mut self, condition: Expr) -> &mut Self {
        self.select.and_where(condition);
        self
    }

    pub fn finish(self) -> SelectStatement {
        self.select
    }
}
