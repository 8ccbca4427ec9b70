//! No N+1: a nested query runs the same, small number of SQL statements whatever the number
//! of rows it returns.
use chrono::{NaiveDate, Utc};
use entity::LocalizedText;
use entity::enums::*;
use sea_orm::{ActiveModelTrait, ActiveValue::NotSet, DatabaseConnection, IntoActiveModel};
use serde_json::json;

use crate::helpers::spawn_configured;

macro_rules! insert {
    ($db:expr, $model:expr) => {{
        let mut active = $model.into_active_model().reset_all();
        active.id = NotSet;
        active.insert($db).await.expect("test setup: insert")
    }};
}

macro_rules! link {
    ($db:expr, $model:expr) => {{
        $model
            .into_active_model()
            .reset_all()
            .insert($db)
            .await
            .expect("test setup: insert link");
    }};
}

fn text(s: &str) -> LocalizedText {
    LocalizedText::new().with("en", s).with("nl", s)
}

/// Two programmes with `per_programme` initiatives each, every initiative with two themes,
/// two needs (with target groups), a partner and three outcomes; and as many learnings.
async fn populate(db: &DatabaseConnection, per_programme: usize) {
    let now = Utc::now();
    let day = NaiveDate::from_ymd_opt(2024, 1, 1).unwrap();
    let municipality = insert!(
        db,
        entity::municipality::Model {
            id: 0,
            name: text("Testville"),
            country: "BE".into(),
            default_locale: "nl".into(),
            households: None,
            population: None,
            search_text: "testville".into(),
            created_at: now,
            updated_at: now,
            version: 1,
            archived_at: None,
            provenance: Provenance::Synthetic,
        }
    );
    let themes: Vec<i64> = futures_util::future::join_all((0..2).map(|i| async move {
        insert!(
            db,
            entity::theme::Model {
                id: 0,
                code: format!("theme_{i}"),
                parent_id: None,
                municipality_id: None,
                label: text(&format!("Theme {i}")),
                description: LocalizedText::new(),
                created_at: now,
                updated_at: now,
                version: 1,
                archived_at: None,
                provenance: Provenance::Synthetic,
                search_text: format!("theme {i}"),
            }
        )
        .id
    }))
    .await;
    let indicator = insert!(
        db,
        entity::indicator::Model {
            id: 0,
            code: "items".into(),
            name: text("Items"),
            description: LocalizedText::new(),
            unit: Unit::Items,
            theme_id: None,
            higher_is_better: true,
            created_at: now,
            updated_at: now,
            version: 1,
            archived_at: None,
            provenance: Provenance::Synthetic,
        }
    );
    let organisation = insert!(
        db,
        entity::organisation::Model {
            id: 0,
            kind: OrganisationKind::Enterprise,
            parent_id: None,
            municipality_id: Some(municipality.id),
            name: text("Partner"),
            description: LocalizedText::new(),
            country: None,
            city: None,
            website: None,
            search_text: "partner".into(),
            created_at: now,
            updated_at: now,
            version: 1,
            archived_at: None,
            provenance: Provenance::Synthetic,
        }
    );
    for p in 0..2 {
        let programme = insert!(
            db,
            entity::programme::Model {
                id: 0,
                municipality_id: Some(municipality.id),
                name: text(&format!("Programme {p}")),
                summary: LocalizedText::new(),
                start_date: None,
                end_date: None,
                budget_min_eur: None,
                budget_max_eur: None,
                funding_channel: LocalizedText::new(),
                staffing: LocalizedText::new(),
                staffing_fte_centi: None,
                website: None,
                contact_person_id: None,
                search_text: String::new(),
                created_at: now,
                updated_at: now,
                version: 1,
                archived_at: None,
                provenance: Provenance::Synthetic,
            }
        );
        for i in 0..per_programme {
            let initiative = insert!(
                db,
                entity::initiative::Model {
                    id: 0,
                    municipality_id: municipality.id,
                    programme_id: Some(programme.id),
                    name: text(&format!("Initiative {p}.{i}")),
                    description: LocalizedText::new(),
                    initiator_kind: InitiatorKind::Citizens,
                    stage: InitiativeStage::Running,
                    start_date: None,
                    end_date: None,
                    business_model: BusinessModel::Volunteer,
                    affordability: Affordability::Free,
                    website: None,
                    search_text: String::new(),
                    created_at: now,
                    updated_at: now,
                    version: 1,
                    archived_at: None,
                    provenance: Provenance::Synthetic,
                }
            );
            for theme in &themes {
                link!(
                    db,
                    entity::initiative_theme::Model {
                        initiative_id: initiative.id,
                        theme_id: *theme,
                        created_at: now
                    }
                );
            }
            for (n, theme) in themes.iter().enumerate() {
                let need = insert!(
                    db,
                    entity::need::Model {
                        id: 0,
                        municipality_id: municipality.id,
                        programme_id: Some(programme.id),
                        area_id: None,
                        theme_id: Some(*theme),
                        title: text(&format!("Need {p}.{i}.{n}")),
                        description: LocalizedText::new(),
                        source: NeedSource::Survey,
                        residents_count: Some(3),
                        status: NeedStatus::Open,
                        recorded_on: day,
                        search_text: String::new(),
                        created_at: now,
                        updated_at: now,
                        version: 1,
                        archived_at: None,
                        provenance: Provenance::Synthetic,
                    }
                );
                link!(
                    db,
                    entity::need_target_group::Model {
                        need_id: need.id,
                        target_group: TargetGroup::Families,
                        created_at: now
                    }
                );
                link!(
                    db,
                    entity::initiative_need::Model {
                        initiative_id: initiative.id,
                        need_id: need.id,
                        created_at: now
                    }
                );
            }
            insert!(
                db,
                entity::partnership::Model {
                    id: 0,
                    organisation_id: organisation.id,
                    programme_id: None,
                    initiative_id: Some(initiative.id),
                    network_id: None,
                    role: PartnerRole::Implementer,
                    note: LocalizedText::new(),
                    created_at: now,
                    updated_at: now,
                    version: 1,
                    archived_at: None,
                    provenance: Provenance::Synthetic,
                }
            );
            for q in 0..3u32 {
                let start = day.checked_add_months(chrono::Months::new(3 * q)).unwrap();
                insert!(
                    db,
                    entity::outcome::Model {
                        id: 0,
                        indicator_id: indicator.id,
                        municipality_id: municipality.id,
                        initiative_id: Some(initiative.id),
                        programme_id: Some(programme.id),
                        area_id: None,
                        period_start: start,
                        period_end: start,
                        value_micro: 1_000_000 * i64::from(q + 1),
                        method: LocalizedText::new(),
                        source: None,
                        verified: false,
                        created_at: now,
                        updated_at: now,
                        version: 1,
                        archived_at: None,
                        provenance: Provenance::Synthetic,
                    }
                );
            }
            insert!(
                db,
                entity::learning::Model {
                    id: 0,
                    municipality_id: municipality.id,
                    programme_id: Some(programme.id),
                    initiative_id: None,
                    kind: LearningKind::Recommendation,
                    audience: Audience::Public,
                    position: None,
                    title: text("Lesson"),
                    body: text("Body"),
                    search_text: String::new(),
                    created_at: now,
                    updated_at: now,
                    version: 1,
                    archived_at: None,
                    provenance: Provenance::Synthetic,
                }
            );
        }
    }
}

const NESTED: &str = r#"query($perProgramme: Int!, $learnings: Int!) {
  programmes(first: 2) { totalCount nodes {
    name
    initiatives(first: $perProgramme) { totalCount nodes {
      name
      themes { nodes { code label } }
      needs { nodes { title targetGroups theme { code } } }
      partners { nodes { role organisation { name } } }
      outcomes(first: 3) { nodes { value periodStart indicator { code unit } } }
    } }
  } }
  learnings(first: $learnings) { nodes { title programme { name } } }
}"#;

#[tokio::test]
async fn nested_queries_run_the_same_statements_for_10_and_200_rows() {
    // Without the response cache, whose stamp read would count as a statement.
    let app = spawn_configured(false, |serve| serve.response_cache_entries = 0).await;
    populate(&app.db, 100).await;

    let small = app
        .graphql(NESTED, json!({"perProgramme": 5, "learnings": 10}))
        .await;
    let small_data = small.ok();
    let large = app
        .graphql(NESTED, json!({"perProgramme": 100, "learnings": 100}))
        .await;
    let large_data = large.ok();

    let rows = |data: &serde_json::Value| -> usize {
        data["programmes"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["initiatives"]["nodes"].as_array().unwrap().len())
            .sum()
    };
    assert_eq!(rows(small_data), 10);
    assert_eq!(rows(large_data), 200);
    let first = &large_data["programmes"]["nodes"][0]["initiatives"]["nodes"][0];
    assert_eq!(first["themes"]["nodes"].as_array().unwrap().len(), 2);
    assert_eq!(
        first["needs"]["nodes"][0]["targetGroups"],
        json!(["FAMILIES"])
    );
    assert_eq!(first["outcomes"]["nodes"].as_array().unwrap().len(), 3);
    assert_eq!(
        large_data["learnings"]["nodes"][0]["programme"]["name"],
        "Programme 0"
    );

    assert!(small.statements > 0, "the server reports its statements");
    assert_eq!(
        small.statements, large.statements,
        "statements must not grow with rows: {} for 10 rows, {} for 200",
        small.statements, large.statements
    );
    // One per list, one per count, one per nested list or reference level: 14 in all.
    assert!(large.statements <= 14, "{} statements", large.statements);
}
