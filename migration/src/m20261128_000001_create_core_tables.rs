//! The domain tables: municipalities, areas, themes, organisations and their contact people,
//! programmes, partnerships, needs, initiatives, support requests, indicators, outcomes and
//! learnings, with their links, constraints and an index for every filter and sort.
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::columns::{enumeration, index, link_table, localized, record_table, reference};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Tables in creation order (dropped in reverse).
const TABLES: &[&str] = &[
    "municipality",
    "area",
    "theme",
    "organisation",
    "contact_person",
    "programme",
    "programme_theme",
    "need",
    "need_target_group",
    "initiative",
    "initiative_area",
    "initiative_theme",
    "initiative_need",
    "partnership",
    "support_request",
    "indicator",
    "outcome",
    "learning",
    "learning_theme",
];

fn tables() -> Vec<TableCreateStatement> {
    vec![
        record_table(
            "municipality",
            vec![
                localized("name"),
                string_len("country", 2),
                string_len("default_locale", 16),
                big_integer_null("households"),
                big_integer_null("population"),
                text("search_text"),
            ],
        ),
        {
            let mut t = record_table(
                "area",
                vec![
                    big_integer("municipality_id"),
                    big_integer_null("parent_id"),
                    enumeration("kind"),
                    localized("name"),
                    big_integer_null("households"),
                    big_integer_null("residents"),
                    json_binary_null("geometry"),
                    text("search_text"),
                ],
            );
            t.foreign_key(&mut reference("area", "municipality_id", "municipality"))
                .foreign_key(&mut reference("area", "parent_id", "area"))
                .check(Expr::cust("households IS NULL OR households >= 0"))
                .check(Expr::cust("residents IS NULL OR residents >= 0"));
            t
        },
        {
            let mut t = record_table(
                "theme",
                vec![
                    string_len_uniq("code", 64),
                    big_integer_null("parent_id"),
                    big_integer_null("municipality_id"),
                    localized("label"),
                    localized("description"),
                ],
            );
            t.foreign_key(&mut reference("theme", "parent_id", "theme"))
                .foreign_key(&mut reference("theme", "municipality_id", "municipality"));
            t
        },
        {
            let mut t = record_table(
                "organisation",
                vec![
                    enumeration("kind"),
                    big_integer_null("parent_id"),
                    big_integer_null("municipality_id"),
                    localized("name"),
                    localized("description"),
                    string_len_null("country", 2),
                    string_len_null("city", 200),
                    string_len_null("website", 2048),
                    text("search_text"),
                ],
            );
            t.foreign_key(&mut reference("organisation", "parent_id", "organisation"))
                .foreign_key(&mut reference(
                    "organisation",
                    "municipality_id",
                    "municipality",
                ));
            t
        },
        {
            let mut t = record_table(
                "contact_person",
                vec![
                    big_integer("organisation_id"),
                    string_len("name", 200),
                    string_len_null("email", 320),
                    string_len_null("phone", 64),
                    string_len_null("job_title", 200),
                ],
            );
            t.foreign_key(&mut reference(
                "contact_person",
                "organisation_id",
                "organisation",
            ));
            t
        },
        {
            let mut t = record_table(
                "programme",
                vec![
                    big_integer_null("municipality_id"),
                    localized("name"),
                    localized("summary"),
                    date_null("start_date"),
                    date_null("end_date"),
                    big_integer_null("budget_min_eur"),
                    big_integer_null("budget_max_eur"),
                    localized("funding_channel"),
                    localized("staffing"),
                    integer_null("staffing_fte_centi"),
                    string_len_null("website", 2048),
                    big_integer_null("contact_person_id"),
                    text("search_text"),
                ],
            );
            t.foreign_key(&mut reference("programme", "municipality_id", "municipality"))
                .foreign_key(&mut reference(
                    "programme",
                    "contact_person_id",
                    "contact_person",
                ))
                .check(Expr::cust(
                    "start_date IS NULL OR end_date IS NULL OR end_date >= start_date",
                ))
                .check(Expr::cust(
                    "budget_min_eur IS NULL OR budget_max_eur IS NULL OR budget_max_eur >= budget_min_eur",
                ))
                .check(Expr::cust("budget_min_eur IS NULL OR budget_min_eur >= 0"));
            t
        },
        link_table(
            "programme_theme",
            ("programme_id", "programme"),
            ("theme_id", Some("theme")),
        ),
        {
            let mut t = record_table(
                "need",
                vec![
                    big_integer("municipality_id"),
                    big_integer_null("programme_id"),
                    big_integer_null("area_id"),
                    big_integer_null("theme_id"),
                    localized("title"),
                    localized("description"),
                    enumeration("source"),
                    big_integer_null("residents_count"),
                    enumeration("status"),
                    date("recorded_on"),
                    text("search_text"),
                ],
            );
            t.foreign_key(&mut reference("need", "municipality_id", "municipality"))
                .foreign_key(&mut reference("need", "programme_id", "programme"))
                .foreign_key(&mut reference("need", "area_id", "area"))
                .foreign_key(&mut reference("need", "theme_id", "theme"))
                .check(Expr::cust(
                    "residents_count IS NULL OR residents_count >= 0",
                ));
            t
        },
        link_table(
            "need_target_group",
            ("need_id", "need"),
            ("target_group", None),
        ),
        {
            let mut t = record_table(
                "initiative",
                vec![
                    big_integer("municipality_id"),
                    big_integer_null("programme_id"),
                    localized("name"),
                    localized("description"),
                    enumeration("initiator_kind"),
                    enumeration("stage"),
                    date_null("start_date"),
                    date_null("end_date"),
                    enumeration("business_model"),
                    enumeration("affordability"),
                    string_len_null("website", 2048),
                    text("search_text"),
                ],
            );
            t.foreign_key(&mut reference(
                "initiative",
                "municipality_id",
                "municipality",
            ))
            .foreign_key(&mut reference("initiative", "programme_id", "programme"))
            .check(Expr::cust(
                "start_date IS NULL OR end_date IS NULL OR end_date >= start_date",
            ));
            t
        },
        link_table(
            "initiative_area",
            ("initiative_id", "initiative"),
            ("area_id", Some("area")),
        ),
        link_table(
            "initiative_theme",
            ("initiative_id", "initiative"),
            ("theme_id", Some("theme")),
        ),
        link_table(
            "initiative_need",
            ("initiative_id", "initiative"),
            ("need_id", Some("need")),
        ),
        {
            let mut t = record_table(
                "partnership",
                vec![
                    big_integer("organisation_id"),
                    big_integer_null("programme_id"),
                    big_integer_null("initiative_id"),
                    big_integer_null("network_id"),
                    enumeration("role"),
                    localized("note"),
                ],
            );
            t.foreign_key(&mut reference(
                "partnership",
                "organisation_id",
                "organisation",
            ))
            .foreign_key(&mut reference("partnership", "programme_id", "programme"))
            .foreign_key(&mut reference("partnership", "initiative_id", "initiative"))
            .foreign_key(&mut reference("partnership", "network_id", "organisation"))
            .check(Expr::cust(
                "(CASE WHEN programme_id IS NULL THEN 0 ELSE 1 END) \
                 + (CASE WHEN initiative_id IS NULL THEN 0 ELSE 1 END) \
                 + (CASE WHEN network_id IS NULL THEN 0 ELSE 1 END) = 1",
            ));
            t
        },
        {
            let mut t = record_table(
                "support_request",
                vec![
                    big_integer("initiative_id"),
                    enumeration("kind"),
                    localized("description"),
                    enumeration("status"),
                    date("requested_on"),
                    date_null("decided_on"),
                    localized("decision_note"),
                    big_integer_null("amount_requested_eur"),
                    big_integer_null("amount_granted_eur"),
                ],
            );
            t.foreign_key(&mut reference(
                "support_request",
                "initiative_id",
                "initiative",
            ))
            .check(Expr::cust(
                "decided_on IS NULL OR decided_on >= requested_on",
            ));
            t
        },
        {
            let mut t = record_table(
                "indicator",
                vec![
                    string_len_uniq("code", 64),
                    localized("name"),
                    localized("description"),
                    enumeration("unit"),
                    big_integer_null("theme_id"),
                    boolean("higher_is_better"),
                ],
            );
            t.foreign_key(&mut reference("indicator", "theme_id", "theme"));
            t
        },
        {
            let mut t = record_table(
                "outcome",
                vec![
                    big_integer("indicator_id"),
                    big_integer("municipality_id"),
                    big_integer_null("initiative_id"),
                    big_integer_null("programme_id"),
                    big_integer_null("area_id"),
                    date("period_start"),
                    date("period_end"),
                    big_integer("value_micro"),
                    localized("method"),
                    string_len_null("source", 2048),
                    boolean("verified"),
                ],
            );
            t.foreign_key(&mut reference("outcome", "indicator_id", "indicator"))
                .foreign_key(&mut reference("outcome", "municipality_id", "municipality"))
                .foreign_key(&mut reference("outcome", "initiative_id", "initiative"))
                .foreign_key(&mut reference("outcome", "programme_id", "programme"))
                .foreign_key(&mut reference("outcome", "area_id", "area"))
                .check(Expr::cust("period_end >= period_start"))
                .check(Expr::cust(
                    "initiative_id IS NOT NULL OR programme_id IS NOT NULL",
                ));
            t
        },
        {
            let mut t = record_table(
                "learning",
                vec![
                    big_integer("municipality_id"),
                    big_integer_null("programme_id"),
                    big_integer_null("initiative_id"),
                    enumeration("kind"),
                    enumeration("audience"),
                    big_integer_null("position"),
                    localized("title"),
                    localized("body"),
                    text("search_text"),
                ],
            );
            t.foreign_key(&mut reference(
                "learning",
                "municipality_id",
                "municipality",
            ))
            .foreign_key(&mut reference("learning", "programme_id", "programme"))
            .foreign_key(&mut reference("learning", "initiative_id", "initiative"));
            t
        },
        link_table(
            "learning_theme",
            ("learning_id", "learning"),
            ("theme_id", Some("theme")),
        ),
    ]
}

/// Every filter and every sort of the API has an index; sorts end in `id` so that keyset
/// pagination (`… ORDER BY key, id`) reads the index in order.
fn indexes() -> Vec<IndexCreateStatement> {
    let mut all = Vec::new();
    for table in [
        "municipality",
        "area",
        "theme",
        "organisation",
        "contact_person",
        "programme",
        "need",
        "initiative",
        "partnership",
        "support_request",
        "indicator",
        "outcome",
        "learning",
    ] {
        all.push(index(table, &["created_at", "id"]));
        all.push(index(table, &["updated_at", "id"]));
    }
    for (table, columns) in [
        ("municipality", &["country"][..]),
        ("area", &["municipality_id"]),
        ("area", &["parent_id"]),
        ("area", &["kind"]),
        ("theme", &["parent_id"]),
        ("organisation", &["kind"]),
        ("organisation", &["parent_id"]),
        ("organisation", &["municipality_id"]),
        ("organisation", &["country"]),
        ("contact_person", &["organisation_id"]),
        ("programme", &["municipality_id"]),
        ("programme", &["start_date", "id"]),
        ("need", &["municipality_id"]),
        ("need", &["programme_id"]),
        ("need", &["area_id"]),
        ("need", &["theme_id"]),
        ("need", &["status"]),
        ("need", &["source"]),
        ("need", &["recorded_on", "id"]),
        ("need", &["residents_count", "id"]),
        ("need_target_group", &["target_group"]),
        ("initiative", &["municipality_id"]),
        ("initiative", &["programme_id"]),
        ("initiative", &["stage"]),
        ("initiative", &["business_model"]),
        ("initiative", &["affordability"]),
        ("initiative", &["initiator_kind"]),
        ("initiative", &["start_date", "id"]),
        ("initiative_area", &["area_id"]),
        ("initiative_theme", &["theme_id"]),
        ("initiative_need", &["need_id"]),
        ("programme_theme", &["theme_id"]),
        ("learning_theme", &["theme_id"]),
        ("partnership", &["organisation_id"]),
        ("partnership", &["role"]),
        ("support_request", &["initiative_id"]),
        ("support_request", &["status"]),
        ("support_request", &["kind"]),
        ("indicator", &["theme_id"]),
        ("indicator", &["unit"]),
        ("outcome", &["indicator_id", "period_start"]),
        ("outcome", &["initiative_id", "period_start"]),
        ("outcome", &["programme_id"]),
        ("outcome", &["area_id"]),
        ("outcome", &["municipality_id"]),
        ("outcome", &["period_start", "id"]),
        ("learning", &["municipality_id"]),
        ("learning", &["programme_id"]),
        ("learning", &["initiative_id"]),
        ("learning", &["kind"]),
        ("learning", &["audience"]),
        ("learning", &["position", "id"]),
    ] {
        all.push(index(table, columns));
    }
    // An organisation holds a role once per programme, initiative or network. NULLs are distinct
    // in unique indexes on both databases, so each parent column gets its own index.
    for parent in ["programme_id", "initiative_id", "network_id"] {
        all.push(
            Index::create()
                .name(format!("uq_partnership_{parent}_organisation_role"))
                .table("partnership")
                .col(parent)
                .col("organisation_id")
                .col("role")
                .unique()
                .take(),
        );
    }
    all
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in tables() {
            manager.create_table(table).await?;
        }
        for index in indexes() {
            manager.create_index(index).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in TABLES.iter().rev() {
            manager
                .drop_table(Table::drop().table(*table).if_exists().take())
                .await?;
        }
        Ok(())
    }
}
