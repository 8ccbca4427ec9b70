//! The one statement of a compiled query. Each record's selections become a JSON array with
//! a slot per field, built by the database: a reference is a subquery by ID, a nested list a
//! subquery of its page (the rows of its table the viewer may list, in the list's order, one
//! more than the page to tell whether more follow) and, when asked, of its count. Every level
//! reads its rows through a derived table (`t0`, `t1`, …), so the tables' own conditions
//! (`Table::visible_to`, filters, cursors), written against table names, stay as they are and
//! a level below correlates with the one above by its alias. Values are bound, never spliced.
use sea_orm::sea_query::{Expr, ExprTrait, Query, SelectStatement, SubQueryStatement};
use sea_orm::{DbBackend, Statement};

use super::compile::{Item, List, Object, Root, Source};
use crate::graphql::context::RequestContext;
use crate::kernel::access::Viewer;
use crate::kernel::record::column_of;

/// PostgreSQL's `json_build_array` takes at most 100 arguments.
const MAX_SLOTS: usize = 100;

pub fn statement(
    roots: &[(async_graphql::Name, Root)],
    request: &RequestContext,
) -> Option<Statement> {
    let backend = request.db.get_database_backend();
    let mut builder = Builder {
        backend,
        viewer: &request.viewer,
        next: 0,
    };
    let mut select = Query::select();
    for (at, (_, root)) in roots.iter().enumerate() {
        let json = match root {
            Root::Typename => Expr::cust("NULL"),
            Root::Node { id, object } => builder.one(object, Expr::val(*id))?,
            Root::Nodes(records) => {
                let mut each = Vec::with_capacity(records.len());
                for (id, object) in records {
                    each.push(builder.one(object, Expr::val(*id))?);
                }
                (each.len() <= MAX_SLOTS).then(|| builder.array(each))?
            }
            Root::List(list) => builder.list(list, None)?,
        };
        select.expr_as(builder.text(json), format!("r{at}"));
    }
    inline_limits(backend.build(&select), backend)
}

/// Marks a page size, to be written into the statement rather than bound (`inline_limits`).
const LIMIT_MARK: u64 = 0x5354_524F_0000_0000;

/// Writes the page sizes into the statement. Every other value stays bound, but PostgreSQL
/// plans `LIMIT $n` without knowing `n`: its generic plan for a bound limit scans and sorts a
/// whole table (75 ms for the dashboard page, against 1 ms), so with bound limits it plans
/// every execution anew. A page size is a checked integer (1 to 101), and written in, the
/// statement's plan is kept and reused.
fn inline_limits(statement: Statement, backend: DbBackend) -> Option<Statement> {
    let values = statement.values.map(|v| v.0).unwrap_or_default();
    let mut sql = String::with_capacity(statement.sql.len());
    let mut kept = Vec::with_capacity(values.len());
    let mut chars = statement.sql.chars().peekable();
    let mut at = 0;
    while let Some(c) = chars.next() {
        let placeholder = match (backend, c) {
            (DbBackend::Postgres, '$') if chars.peek().is_some_and(char::is_ascii_digit) => {
                while chars.next_if(char::is_ascii_digit).is_some() {}
                true
            }
            (DbBackend::Sqlite, '?') => true,
            _ => false,
        };
        if !placeholder {
            sql.push(c);
            continue;
        }
        let value = values.get(at)?.clone();
        at += 1;
        match value {
            sea_orm::Value::BigUnsigned(Some(n)) if n & !0xFFFF == LIMIT_MARK => {
                sql.push_str(&(n & 0xFFFF).to_string());
            }
            value => {
                kept.push(value);
                match backend {
                    DbBackend::Postgres => sql.push_str(&format!("${}", kept.len())),
                    _ => sql.push('?'),
                }
            }
        }
    }
    (at == values.len()).then(|| Statement::from_sql_and_values(backend, sql, kept))
}

struct Builder<'a> {
    backend: DbBackend,
    viewer: &'a Viewer,
    next: usize,
}

impl Builder<'_> {
    fn alias(&mut self) -> String {
        let alias = format!("t{}", self.next);
        self.next += 1;
        alias
    }

    /// `name(p1, p2, …)` with the backend's placeholders for `arity` expressions.
    fn call(&self, name: &str, arity: usize) -> String {
        let placeholders: Vec<String> = (1..=arity)
            .map(|n| match self.backend {
                DbBackend::Postgres => format!("${n}"),
                _ => "?".to_owned(),
            })
            .collect();
        format!("{name}({})", placeholders.join(", "))
    }

    /// The JSON as text, which both databases hand over alike.
    fn text(&self, json: Expr) -> Expr {
        match self.backend {
            DbBackend::Postgres => Expr::cust_with_exprs("CAST($1 AS TEXT)", [json]),
            _ => Expr::cust_with_exprs("CAST(? AS TEXT)", [json]),
        }
    }

    fn array(&self, items: Vec<Expr>) -> Expr {
        let name = match self.backend {
            DbBackend::Postgres => "json_build_array",
            _ => "json_array",
        };
        Expr::cust_with_exprs(self.call(name, items.len()), items)
    }

    /// The rows' JSON as one array, in the derived table's order (`[]` for none).
    fn aggregate(&self, row: Expr) -> Expr {
        match self.backend {
            DbBackend::Postgres => {
                Expr::cust_with_exprs("coalesce(json_agg($1), '[]'::json)", [row])
            }
            _ => Expr::cust_with_exprs("json_group_array(?)", [row]),
        }
    }

    /// JSON from a subquery or a stored JSON column, placed inside another JSON value as JSON
    /// (SQLite hands it over as text otherwise).
    fn embed(&self, json: Expr) -> Expr {
        match self.backend {
            DbBackend::Postgres => json,
            _ => Expr::cust_with_exprs("json(?)", [json]),
        }
    }

    /// The JSON of one record's selections (read from the derived table `at`).
    fn fields(&mut self, object: &Object, at: &str) -> Option<Expr> {
        let mut slots = Vec::with_capacity(object.items.len());
        for (_, item) in &object.items {
            match item {
                Item::Typename(_) => {}
                Item::Id => slots.push(column(at, "id")),
                Item::Pure { column: name, .. } => slots.push(column(at, name)),
                Item::Text { column: name, .. }
                | Item::TextLocale { column: name, .. }
                | Item::Translations { column: name, .. } => {
                    slots.push(self.embed(column(at, name)));
                }
                Item::Reference {
                    column: name,
                    object,
                    ..
                } => slots.push(self.one(object, column(at, name))?),
                Item::List(list) => slots.push(self.list(list, Some(at))?),
            }
        }
        (slots.len() <= MAX_SLOTS).then(|| self.array(slots))
    }

    /// One record by its ID (a reference, `node`): its JSON, or NULL where the viewer may not
    /// see it.
    fn one(&mut self, object: &Object, id: Expr) -> Option<Expr> {
        let at = self.alias();
        let ty = &object.ty;
        let mut rows = Query::select();
        rows.from(ty.table);
        read_columns(&mut rows, ty.table, &[object]);
        rows.and_where(column_of(ty.table, "id").eq(id))
            .cond_where((ty.visible)(self.viewer));
        let mut json = Query::select();
        json.expr(self.fields(object, &at)?).from_subquery(rows, at);
        Some(self.embed(subquery(json)))
    }

    /// A page of a list, as `[rows, count]`: each row holds one JSON value per selection of
    /// its records (then, where cursors are asked for, its sort value and ID); the count is
    /// there when asked for. `parent`: the derived table of the row a nested list belongs to.
    fn list(&mut self, list: &List, parent: Option<&str>) -> Option<Expr> {
        let at = self.alias();
        let ty = &list.ty;
        let objects: Vec<&Object> = list.objects.iter().collect();
        let (mut rows, count) = match &list.source {
            Source::Root(select) => {
                let mut counted = Query::select();
                counted
                    .expr(Expr::cust("COUNT(*)"))
                    .from_subquery(select.as_ref().clone(), "counted");
                (select.as_ref().clone(), counted)
            }
            Source::Nested { link, only } => {
                let parent = parent?;
                let mut rows = Query::select();
                rows.from(ty.table).cond_where((ty.listed)(self.viewer));
                if let Some(only) = only {
                    only.apply(ty.table, &mut rows);
                }
                let parent_id = match *link {
                    crate::graphql::loader::Link::Column(name) => column_of(ty.table, name),
                    crate::graphql::loader::Link::Through {
                        table,
                        parent: parent_column,
                        child,
                    } => {
                        rows.inner_join(table, column_of(table, child).equals((ty.table, "id")));
                        column_of(table, parent_column)
                    }
                };
                rows.and_where(parent_id.eq(column(parent, "id")));
                let mut counted = rows.clone();
                counted.clear_selects().expr(Expr::cust("COUNT(*)"));
                (rows, counted)
            }
        };
        read_columns(&mut rows, ty.table, &objects);
        list.page.apply(&mut rows, &list.key);
        for (expr, order) in list.key.order_terms(list.page.backward) {
            rows.order_by_expr(expr, order);
        }
        rows.limit(LIMIT_MARK | (list.page.limit + 1));

        let mut slots = Vec::with_capacity(list.objects.len() + 2);
        for object in &list.objects {
            slots.push(self.fields(object, &at)?);
        }
        if list.cursor {
            slots.push(column(&at, "__sort"));
            slots.push(column(&at, "id"));
        }
        let row = self.array(slots);
        let mut page = Query::select();
        page.expr(self.aggregate(row)).from_subquery(rows, at);
        let mut parts = vec![self.embed(subquery(page))];
        if list.count {
            parts.push(subquery(count));
        }
        Some(self.array(parts))
    }
}

/// The columns the selections read (and always the ID), replacing the query's own.
fn read_columns(select: &mut SelectStatement, table: &'static str, objects: &[&Object]) {
    let mut names: Vec<&'static str> = vec!["id"];
    for object in objects {
        for (_, item) in &object.items {
            let name = match item {
                Item::Pure { column, .. }
                | Item::Text { column, .. }
                | Item::TextLocale { column, .. }
                | Item::Translations { column, .. }
                | Item::Reference { column, .. } => *column,
                Item::Typename(_) | Item::Id | Item::List(_) => continue,
            };
            if !names.contains(&name) {
                names.push(name);
            }
        }
    }
    select.clear_selects();
    for name in names {
        select.column((table, name));
    }
}

fn column(table: &str, name: &str) -> Expr {
    Expr::col((table.to_owned(), name.to_owned()))
}

fn subquery(select: SelectStatement) -> Expr {
    Expr::from(SubQueryStatement::from(select))
}
