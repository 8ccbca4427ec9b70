//! Small builders shared by the migrations, so each table reads as a list of its own columns.
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

/// A main table: `id`, its own columns, then the columns every record carries.
pub fn record_table(name: &'static str, columns: Vec<ColumnDef>) -> TableCreateStatement {
    let mut table = Table::create();
    table.table(name).col(big_pk_auto("id"));
    for mut column in columns {
        table.col(&mut column);
    }
    table
        .col(timestamp_with_time_zone("created_at"))
        .col(timestamp_with_time_zone("updated_at"))
        .col(integer("version").default(1))
        .col(timestamp_with_time_zone_null("archived_at"))
        .col(string_len("provenance", 32).default("recorded"))
        .check(Expr::cust("version >= 1"));
    table.take()
}

/// A many-to-many link between two records, removed with either side.
pub fn link_table(
    name: &'static str,
    left: (&'static str, &'static str),
    right: (&'static str, Option<&'static str>),
) -> TableCreateStatement {
    let mut table = Table::create();
    table
        .table(name)
        .col(big_integer(left.0))
        .col(match right.1 {
            Some(_) => big_integer(right.0),
            None => string_len(right.0, 32),
        })
        .col(timestamp_with_time_zone("created_at"))
        .primary_key(Index::create().col(left.0).col(right.0))
        .foreign_key(
            ForeignKey::create()
                .from(name, left.0)
                .to(left.1, "id")
                .on_delete(ForeignKeyAction::Cascade),
        );
    if let Some(target) = right.1 {
        table.foreign_key(
            ForeignKey::create()
                .from(name, right.0)
                .to(target, "id")
                .on_delete(ForeignKeyAction::Cascade),
        );
    }
    table.take()
}

/// A localized text column (a JSON object keyed by locale).
pub fn localized(name: &'static str) -> ColumnDef {
    json_binary(name)
}

/// A short enumeration value.
pub fn enumeration(name: &'static str) -> ColumnDef {
    string_len(name, 32)
}

/// A reference to another table's `id`.
pub fn reference(
    table: &'static str,
    column: &'static str,
    target: &'static str,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(table, column)
        .to(target, "id")
        .on_delete(ForeignKeyAction::Restrict)
        .take()
}

/// A plain index named after its table and columns.
pub fn index(table: &'static str, columns: &[&'static str]) -> IndexCreateStatement {
    let mut index = Index::create();
    index
        .name(format!("idx_{}_{}", table, columns.join("_")))
        .table(table);
    for column in columns {
        index.col(*column);
    }
    index.take()
}
