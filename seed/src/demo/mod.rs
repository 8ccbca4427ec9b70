//! The Stroom demo data set (`api/demo/stroom.toml`): the case of the City of Mechelen, public
//! facts about its partners and initiatives, and illustrative records marked as such.
//!
//! It loads into an empty database only, in one transaction: data already in a database is
//! never overwritten, and a failed load leaves nothing behind.
use std::collections::{BTreeMap, HashMap};

use anyhow::{Context, anyhow, bail};
use chrono::{Datelike, Months, NaiveDate};
use entity::enums::*;
use entity::{LocalizedText, *};
use rust_decimal::Decimal;
use sea_orm::{
    ActiveModelTrait, ActiveValue::NotSet, DatabaseConnection, DatabaseTransaction, EntityTrait,
    IntoActiveModel, PaginatorTrait, TransactionTrait,
};
use serde::Deserialize;

use stroom_api::outcome::to_micro;
use stroom_api::time::now;

const DATA: &str = include_str!("../../demo/stroom.toml");

/// The demo as the service's start-up seeder (see `stroom_api::startup::Seeder`).
pub fn seeder(
    db: &DatabaseConnection,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = anyhow::Result<bool>> + Send + '_>> {
    Box::pin(load_if_empty(db))
}

/// Loads the demo data if the database holds no municipality yet. Returns whether it loaded.
pub async fn load_if_empty(db: &DatabaseConnection) -> anyhow::Result<bool> {
    if municipality::Entity::find().count(db).await? > 0 {
        return Ok(false);
    }
    let txn = db.begin().await?;
    load_into(&txn).await?;
    txn.commit().await?;
    Ok(true)
}

/// Loads the demo data within a transaction the caller commits (the database must be empty).
pub async fn load_into(txn: &DatabaseTransaction) -> anyhow::Result<()> {
    let data: DemoData = toml::from_str(DATA).context("reading the demo data")?;
    Loader::new(txn)
        .load(&data)
        .await
        .context("loading the demo data")
}

type Text = BTreeMap<String, String>;

fn text(t: &Option<Text>) -> LocalizedText {
    LocalizedText(t.clone().unwrap_or_default())
}

fn date(s: &str) -> anyhow::Result<NaiveDate> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").with_context(|| format!("bad date {s}"))
}

/// Parses a stored enumeration value (`"running"`) as the database would.
fn value<E: sea_orm::ActiveEnum<Value = String> + Copy>(
    name: &str,
    all: &[E],
) -> anyhow::Result<E> {
    all.iter()
        .copied()
        .find(|v| v.to_value() == name)
        .ok_or_else(|| anyhow!("unknown value `{name}`"))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DemoData {
    municipality: Vec<MunicipalityRow>,
    area: Vec<AreaRow>,
    theme: Vec<ThemeRow>,
    organisation: Vec<OrganisationRow>,
    contact: Vec<ContactRow>,
    programme: Vec<ProgrammeRow>,
    partnership: Vec<PartnershipRow>,
    need: Vec<NeedRow>,
    initiative: Vec<InitiativeRow>,
    support_request: Vec<SupportRequestRow>,
    indicator: Vec<IndicatorRow>,
    outcome_series: Vec<OutcomeSeriesRow>,
    outcome: Vec<OutcomeRow>,
    learning: Vec<LearningRow>,
    endorsement: Vec<EndorsementRow>,
}

/// An endorsement of one of the Stroom programme's learnings, by its position.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EndorsementRow {
    learning_position: i64,
    municipality: String,
    note: Option<Text>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MunicipalityRow {
    key: String,
    name: Text,
    country: String,
    default_locale: String,
    households: Option<i64>,
    population: Option<i64>,
    provenance: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AreaRow {
    key: String,
    municipality: String,
    parent: Option<String>,
    kind: String,
    name: Text,
    households: Option<i64>,
    residents: Option<i64>,
    provenance: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ThemeRow {
    code: String,
    parent: Option<String>,
    label: Text,
    description: Option<Text>,
    provenance: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OrganisationRow {
    key: String,
    kind: String,
    parent: Option<String>,
    municipality: Option<String>,
    name: Text,
    description: Option<Text>,
    country: Option<String>,
    city: Option<String>,
    website: Option<String>,
    provenance: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ContactRow {
    key: String,
    organisation: String,
    name: String,
    email: Option<String>,
    phone: Option<String>,
    job_title: Option<String>,
    provenance: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProgrammeRow {
    key: String,
    municipality: Option<String>,
    name: Text,
    summary: Option<Text>,
    start_date: Option<String>,
    end_date: Option<String>,
    budget_min_eur: Option<i64>,
    budget_max_eur: Option<i64>,
    funding_channel: Option<Text>,
    staffing: Option<Text>,
    staffing_fte_centi: Option<i32>,
    website: Option<String>,
    contact: Option<String>,
    #[serde(default)]
    themes: Vec<String>,
    provenance: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PartnershipRow {
    organisation: String,
    programme: Option<String>,
    initiative: Option<String>,
    network: Option<String>,
    role: String,
    note: Option<Text>,
    provenance: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NeedRow {
    key: String,
    #[serde(default = "stroom")]
    programme: String,
    area: String,
    theme: String,
    title: Text,
    description: Option<Text>,
    source: String,
    residents_count: Option<i64>,
    status: String,
    recorded_on: String,
    target_groups: Vec<String>,
}

fn stroom() -> String {
    "stroom".into()
}

fn mechelen() -> String {
    "mechelen".into()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InitiativeRow {
    key: String,
    #[serde(default = "mechelen")]
    municipality: String,
    programme: Option<String>,
    name: Text,
    description: Option<Text>,
    initiator_kind: String,
    stage: String,
    start_date: Option<String>,
    end_date: Option<String>,
    business_model: String,
    affordability: String,
    website: Option<String>,
    #[serde(default)]
    areas: Vec<String>,
    #[serde(default)]
    themes: Vec<String>,
    #[serde(default)]
    needs: Vec<String>,
    provenance: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SupportRequestRow {
    initiative: String,
    kind: String,
    description: Option<Text>,
    status: String,
    requested_on: String,
    decided_on: Option<String>,
    decision_note: Option<Text>,
    amount_requested_eur: Option<i64>,
    amount_granted_eur: Option<i64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IndicatorRow {
    code: String,
    name: Text,
    description: Option<Text>,
    unit: String,
    theme: Option<String>,
    higher_is_better: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OutcomeSeriesRow {
    indicator: String,
    initiative: Option<String>,
    programme: Option<String>,
    area: Option<String>,
    start: String,
    values: Vec<String>,
    method: Option<Text>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OutcomeRow {
    indicator: String,
    initiative: Option<String>,
    programme: Option<String>,
    municipality: String,
    period_start: String,
    period_end: String,
    value: String,
    method: Option<Text>,
    source: Option<String>,
    verified: bool,
    provenance: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LearningRow {
    municipality: Option<String>,
    programme: Option<String>,
    initiative: Option<String>,
    kind: String,
    audience: Option<String>,
    position: Option<i64>,
    title: Text,
    body: Text,
    #[serde(default)]
    themes: Vec<String>,
    provenance: Option<String>,
    /// The locales that are translations (`human` or `machine`), not originals.
    #[serde(default)]
    translations: BTreeMap<String, String>,
}

/// Keys of the data file mapped to the IDs the database gave the rows.
#[derive(Default)]
struct Keys(HashMap<(&'static str, String), i64>);

impl Keys {
    fn put(&mut self, table: &'static str, key: &str, id: i64) {
        self.0.insert((table, key.to_owned()), id);
    }

    fn get(&self, table: &'static str, key: &str) -> anyhow::Result<i64> {
        self.0
            .get(&(table, key.to_owned()))
            .copied()
            .ok_or_else(|| anyhow!("unknown {table} `{key}`"))
    }

    fn opt(&self, table: &'static str, key: &Option<String>) -> anyhow::Result<Option<i64>> {
        key.as_deref().map(|k| self.get(table, k)).transpose()
    }
}

struct Loader<'a> {
    txn: &'a DatabaseTransaction,
    keys: Keys,
    /// The municipality of each programme and initiative, to place outcomes and learnings.
    municipality_of: HashMap<(&'static str, i64), i64>,
}

/// Inserts a new row (its `id` assigned by the database) and returns it as stored.
macro_rules! insert_new {
    ($txn:expr, $model:expr) => {{
        let mut active = $model.into_active_model().reset_all();
        active.id = NotSet;
        active.insert($txn).await?
    }};
}

/// Inserts a link row (composite key).
macro_rules! insert_link {
    ($txn:expr, $model:expr) => {{
        $model.into_active_model().reset_all().insert($txn).await?;
    }};
}

impl<'a> Loader<'a> {
    fn new(txn: &'a DatabaseTransaction) -> Self {
        Self {
            txn,
            keys: Keys::default(),
            municipality_of: HashMap::new(),
        }
    }

    async fn load(mut self, data: &DemoData) -> anyhow::Result<()> {
        let txn = self.txn;
        let now = now();
        let provenance = |p: &str| value(p, Provenance::ALL);

        for row in &data.municipality {
            let mut m = municipality::Model {
                id: 0,
                name: LocalizedText(row.name.clone()),
                country: row.country.clone(),
                default_locale: row.default_locale.clone(),
                households: row.households,
                population: row.population,
                search_text: String::new(),
                created_at: now,
                updated_at: now,
                version: 1,
                archived_at: None,
                provenance: provenance(&row.provenance)?,
            };
            m.search_text = stroom_api::municipality::search_text(&m);
            let m = insert_new!(txn, m);
            self.keys.put("municipality", &row.key, m.id);
        }

        for row in &data.area {
            let mut m = area::Model {
                id: 0,
                municipality_id: self.keys.get("municipality", &row.municipality)?,
                parent_id: self.keys.opt("area", &row.parent)?,
                kind: value(&row.kind, AreaKind::ALL)?,
                name: LocalizedText(row.name.clone()),
                households: row.households,
                residents: row.residents,
                geometry: None,
                search_text: String::new(),
                created_at: now,
                updated_at: now,
                version: 1,
                archived_at: None,
                provenance: provenance(&row.provenance)?,
            };
            m.search_text = stroom_api::area::search_text(&m);
            let m = insert_new!(txn, m);
            self.keys.put("area", &row.key, m.id);
        }

        for row in &data.theme {
            let mut m = theme::Model {
                id: 0,
                code: row.code.clone(),
                parent_id: self.keys.opt("theme", &row.parent)?,
                municipality_id: None,
                label: LocalizedText(row.label.clone()),
                description: text(&row.description),
                created_at: now,
                updated_at: now,
                version: 1,
                archived_at: None,
                provenance: provenance(&row.provenance)?,
                search_text: String::new(),
            };
            m.search_text = stroom_api::theme::search_text(&m);
            let m = insert_new!(txn, m);
            self.keys.put("theme", &row.code, m.id);
        }

        for row in &data.organisation {
            let mut m = organisation::Model {
                id: 0,
                kind: value(&row.kind, OrganisationKind::ALL)?,
                parent_id: self.keys.opt("organisation", &row.parent)?,
                municipality_id: self.keys.opt("municipality", &row.municipality)?,
                name: LocalizedText(row.name.clone()),
                description: text(&row.description),
                country: row.country.clone(),
                city: row.city.clone(),
                website: row.website.clone(),
                search_text: String::new(),
                created_at: now,
                updated_at: now,
                version: 1,
                archived_at: None,
                provenance: provenance(&row.provenance)?,
            };
            m.search_text = stroom_api::organisation::search_text(&m);
            let m = insert_new!(txn, m);
            self.keys.put("organisation", &row.key, m.id);
        }

        for row in &data.contact {
            let m = contact_person::Model {
                id: 0,
                organisation_id: self.keys.get("organisation", &row.organisation)?,
                name: row.name.clone(),
                email: row.email.clone(),
                phone: row.phone.clone(),
                job_title: row.job_title.clone(),
                created_at: now,
                updated_at: now,
                version: 1,
                archived_at: None,
                provenance: provenance(&row.provenance)?,
            };
            let m = insert_new!(txn, m);
            self.keys.put("contact", &row.key, m.id);
        }

        for row in &data.programme {
            let municipality_id = self.keys.opt("municipality", &row.municipality)?;
            let mut m = programme::Model {
                id: 0,
                municipality_id,
                name: LocalizedText(row.name.clone()),
                summary: text(&row.summary),
                start_date: row.start_date.as_deref().map(date).transpose()?,
                end_date: row.end_date.as_deref().map(date).transpose()?,
                budget_min_eur: row.budget_min_eur,
                budget_max_eur: row.budget_max_eur,
                funding_channel: text(&row.funding_channel),
                staffing: text(&row.staffing),
                staffing_fte_centi: row.staffing_fte_centi,
                website: row.website.clone(),
                contact_person_id: self.keys.opt("contact", &row.contact)?,
                search_text: String::new(),
                created_at: now,
                updated_at: now,
                version: 1,
                archived_at: None,
                provenance: provenance(&row.provenance)?,
            };
            m.search_text = stroom_api::programme::search_text(&m);
            let m = insert_new!(txn, m);
            self.keys.put("programme", &row.key, m.id);
            if let Some(municipality_id) = municipality_id {
                self.municipality_of
                    .insert(("programme", m.id), municipality_id);
            }
            for theme in &row.themes {
                insert_link!(
                    txn,
                    programme_theme::Model {
                        programme_id: m.id,
                        theme_id: self.keys.get("theme", theme)?,
                        created_at: now,
                    }
                );
            }
        }

        for row in &data.need {
            let area_id = self.keys.get("area", &row.area)?;
            let area = area::Entity::find_by_id(area_id)
                .one(txn)
                .await?
                .ok_or_else(|| anyhow!("area {area_id} vanished"))?;
            let mut m = need::Model {
                id: 0,
                municipality_id: area.municipality_id,
                programme_id: Some(self.keys.get("programme", &row.programme)?),
                area_id: Some(area_id),
                theme_id: Some(self.keys.get("theme", &row.theme)?),
                title: LocalizedText(row.title.clone()),
                description: text(&row.description),
                source: value(&row.source, NeedSource::ALL)?,
                residents_count: row.residents_count,
                status: value(&row.status, NeedStatus::ALL)?,
                recorded_on: date(&row.recorded_on)?,
                search_text: String::new(),
                created_at: now,
                updated_at: now,
                version: 1,
                archived_at: None,
                provenance: Provenance::Illustrative,
            };
            m.search_text = stroom_api::need::search_text(&m);
            let m = insert_new!(txn, m);
            self.keys.put("need", &row.key, m.id);
            for group in &row.target_groups {
                insert_link!(
                    txn,
                    need_target_group::Model {
                        need_id: m.id,
                        target_group: value(group, TargetGroup::ALL)?,
                        created_at: now,
                    }
                );
            }
        }

        for row in &data.initiative {
            let municipality_id = self.keys.get("municipality", &row.municipality)?;
            let mut m = initiative::Model {
                id: 0,
                municipality_id,
                programme_id: self.keys.opt("programme", &row.programme)?,
                name: LocalizedText(row.name.clone()),
                description: text(&row.description),
                initiator_kind: value(&row.initiator_kind, InitiatorKind::ALL)?,
                stage: value(&row.stage, InitiativeStage::ALL)?,
                start_date: row.start_date.as_deref().map(date).transpose()?,
                end_date: row.end_date.as_deref().map(date).transpose()?,
                business_model: value(&row.business_model, BusinessModel::ALL)?,
                affordability: value(&row.affordability, Affordability::ALL)?,
                website: row.website.clone(),
                search_text: String::new(),
                created_at: now,
                updated_at: now,
                version: 1,
                archived_at: None,
                provenance: provenance(&row.provenance)?,
            };
            m.search_text = stroom_api::initiative::search_text(&m);
            let m = insert_new!(txn, m);
            self.keys.put("initiative", &row.key, m.id);
            self.municipality_of
                .insert(("initiative", m.id), municipality_id);
            for area in &row.areas {
                insert_link!(
                    txn,
                    initiative_area::Model {
                        initiative_id: m.id,
                        area_id: self.keys.get("area", area)?,
                        created_at: now,
                    }
                );
            }
            for theme in &row.themes {
                insert_link!(
                    txn,
                    initiative_theme::Model {
                        initiative_id: m.id,
                        theme_id: self.keys.get("theme", theme)?,
                        created_at: now,
                    }
                );
            }
            for need in &row.needs {
                insert_link!(
                    txn,
                    initiative_need::Model {
                        initiative_id: m.id,
                        need_id: self.keys.get("need", need)?,
                        created_at: now,
                    }
                );
            }
        }

        for row in &data.partnership {
            let m = partnership::Model {
                id: 0,
                organisation_id: self.keys.get("organisation", &row.organisation)?,
                programme_id: self.keys.opt("programme", &row.programme)?,
                initiative_id: self.keys.opt("initiative", &row.initiative)?,
                network_id: self.keys.opt("organisation", &row.network)?,
                role: value(&row.role, PartnerRole::ALL)?,
                note: text(&row.note),
                created_at: now,
                updated_at: now,
                version: 1,
                archived_at: None,
                provenance: provenance(&row.provenance)?,
            };
            insert_new!(txn, m);
        }

        for row in &data.support_request {
            let m = support_request::Model {
                id: 0,
                initiative_id: self.keys.get("initiative", &row.initiative)?,
                kind: value(&row.kind, SupportKind::ALL)?,
                description: text(&row.description),
                status: value(&row.status, SupportStatus::ALL)?,
                requested_on: date(&row.requested_on)?,
                decided_on: row.decided_on.as_deref().map(date).transpose()?,
                decision_note: text(&row.decision_note),
                amount_requested_eur: row.amount_requested_eur,
                amount_granted_eur: row.amount_granted_eur,
                created_at: now,
                updated_at: now,
                version: 1,
                archived_at: None,
                provenance: Provenance::Illustrative,
            };
            insert_new!(txn, m);
        }

        for row in &data.indicator {
            let m = indicator::Model {
                id: 0,
                code: row.code.clone(),
                name: LocalizedText(row.name.clone()),
                description: text(&row.description),
                unit: value(&row.unit, Unit::ALL)?,
                theme_id: self.keys.opt("theme", &row.theme)?,
                higher_is_better: row.higher_is_better,
                created_at: now,
                updated_at: now,
                version: 1,
                archived_at: None,
                provenance: Provenance::PublicSource,
            };
            let m = insert_new!(txn, m);
            self.keys.put("indicator", &row.code, m.id);
        }

        let illustrative_method = LocalizedText::new()
            .with(
                "en",
                "Illustrative figure for the demo data set; not a measurement.",
            )
            .with(
                "nl",
                "Illustratief cijfer voor de demodataset; geen meting.",
            );
        for series in &data.outcome_series {
            let indicator_id = self.keys.get("indicator", &series.indicator)?;
            let initiative_id = self.keys.opt("initiative", &series.initiative)?;
            let programme_id = self.keys.opt("programme", &series.programme)?;
            let municipality_id = self.owning_municipality(initiative_id, programme_id)?;
            let area_id = self.keys.opt("area", &series.area)?;
            let method = series
                .method
                .as_ref()
                .map(|m| LocalizedText(m.clone()))
                .unwrap_or_else(|| illustrative_method.clone());
            let mut start = date(&series.start)?;
            if start.day() != 1 || (start.month() - 1) % 3 != 0 {
                bail!(
                    "series of {} must start on the first day of a quarter",
                    series.indicator
                );
            }
            for raw in &series.values {
                let next = start
                    .checked_add_months(Months::new(3))
                    .ok_or_else(|| anyhow!("date overflow"))?;
                let end = next.pred_opt().ok_or_else(|| anyhow!("date underflow"))?;
                let value_micro = to_micro(raw.parse::<Decimal>()?).map_err(|e| anyhow!(e))?;
                let m = outcome::Model {
                    id: 0,
                    indicator_id,
                    municipality_id,
                    initiative_id,
                    programme_id,
                    area_id,
                    period_start: start,
                    period_end: end,
                    value_micro,
                    method: method.clone(),
                    source: None,
                    verified: false,
                    created_at: now,
                    updated_at: now,
                    version: 1,
                    archived_at: None,
                    provenance: Provenance::Illustrative,
                };
                insert_new!(txn, m);
                start = next;
            }
        }

        for row in &data.outcome {
            let m = outcome::Model {
                id: 0,
                indicator_id: self.keys.get("indicator", &row.indicator)?,
                municipality_id: self.keys.get("municipality", &row.municipality)?,
                initiative_id: self.keys.opt("initiative", &row.initiative)?,
                programme_id: self.keys.opt("programme", &row.programme)?,
                area_id: None,
                period_start: date(&row.period_start)?,
                period_end: date(&row.period_end)?,
                value_micro: to_micro(row.value.parse::<Decimal>()?).map_err(|e| anyhow!(e))?,
                method: text(&row.method),
                source: row.source.clone(),
                verified: row.verified,
                created_at: now,
                updated_at: now,
                version: 1,
                archived_at: None,
                provenance: provenance(&row.provenance)?,
            };
            insert_new!(txn, m);
        }

        for row in &data.learning {
            let programme_id = self.keys.opt("programme", &row.programme)?;
            let initiative_id = self.keys.opt("initiative", &row.initiative)?;
            let municipality_id = match &row.municipality {
                Some(key) => self.keys.get("municipality", key)?,
                None => self.owning_municipality(initiative_id, programme_id)?,
            };
            let mut m = learning::Model {
                id: 0,
                municipality_id,
                programme_id,
                initiative_id,
                kind: value(&row.kind, LearningKind::ALL)?,
                audience: value(row.audience.as_deref().unwrap_or("public"), Audience::ALL)?,
                position: row.position,
                title: LocalizedText(row.title.clone()),
                body: LocalizedText(row.body.clone()),
                search_text: String::new(),
                created_at: now,
                updated_at: now,
                version: 1,
                archived_at: None,
                provenance: provenance(row.provenance.as_deref().unwrap_or("case_study"))?,
            };
            m.search_text = stroom_api::learning::search_text(&m);
            let m = insert_new!(txn, m);
            for (locale, origin) in &row.translations {
                if !matches!(origin.as_str(), "human" | "machine") {
                    bail!("learning translation origin `{origin}`: human or machine");
                }
                for field in ["title", "body"] {
                    insert_new!(
                        txn,
                        translation_origin::Model {
                            id: 0,
                            subject_type: "Learning".into(),
                            subject_id: m.id,
                            field: field.into(),
                            locale: locale.clone(),
                            origin: origin.clone(),
                            municipality_id: None,
                            created_at: now,
                            updated_at: now,
                        }
                    );
                }
            }
            // The case's learnings are numbered; endorsements refer to them by position.
            if let (Some(position), Some(_)) = (m.position, m.programme_id) {
                self.keys.put("learning", &position.to_string(), m.id);
            }
            for theme in &row.themes {
                insert_link!(
                    txn,
                    learning_theme::Model {
                        learning_id: m.id,
                        theme_id: self.keys.get("theme", theme)?,
                        created_at: now,
                    }
                );
            }
        }
        for row in &data.endorsement {
            let m = learning_endorsement::Model {
                id: 0,
                learning_id: self
                    .keys
                    .get("learning", &row.learning_position.to_string())?,
                municipality_id: self.keys.get("municipality", &row.municipality)?,
                note: text(&row.note),
                created_at: now,
                updated_at: now,
                version: 1,
                archived_at: None,
                provenance: Provenance::Illustrative,
            };
            insert_new!(txn, m);
        }
        Ok(())
    }

    /// The municipality an outcome or learning belongs to: its initiative's, else its programme's.
    fn owning_municipality(
        &self,
        initiative: Option<i64>,
        programme: Option<i64>,
    ) -> anyhow::Result<i64> {
        initiative
            .and_then(|id| self.municipality_of.get(&("initiative", id)))
            .or_else(|| programme.and_then(|id| self.municipality_of.get(&("programme", id))))
            .copied()
            .ok_or_else(|| anyhow!("cannot tell the municipality of a record"))
    }
}
