//! `stroom generate`: fills an empty database with the demo data and, around it, a large
//! synthetic data set — municipalities with their areas, organisations, programmes, needs,
//! initiatives, outcomes and learnings in several languages — for benchmarks and load tests.
//!
//! Every generated row has provenance `SYNTHETIC`. The same seed and scale give the same data
//! (IDs, texts, figures and timestamps), on SQLite and PostgreSQL alike. Rows go in with
//! multi-row `INSERT`s inside one transaction, so an interrupted run leaves the database empty.
mod vocabulary;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use chrono::{DateTime, Datelike, Months, NaiveDate, TimeDelta, Utc};
use entity::enums::*;
use entity::{LocalizedText, *};
use indicatif::{ProgressBar, ProgressStyle};
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend,
    EntityTrait, IntoActiveModel, Iterable, PaginatorTrait, TransactionTrait,
};

use vocabulary::{Phrase, THEMES, ThemeWords};

/// How many records to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scale {
    pub municipalities: u64,
    pub organisations: u64,
    pub needs: u64,
    pub initiatives: u64,
    pub outcomes: u64,
    pub learnings: u64,
}

impl Scale {
    /// A country's cities: ~100k initiatives, ~300k needs, ~1M outcomes, ~20k learnings.
    pub const DEFAULT: Scale = Scale {
        municipalities: 50,
        organisations: 5_000,
        needs: 300_000,
        initiatives: 100_000,
        outcomes: 1_000_000,
        learnings: 20_000,
    };

    /// The default scale multiplied by `factor` (at least one municipality).
    pub fn times(factor: f64) -> Scale {
        let of = |n: u64| (n as f64 * factor).round().max(0.0) as u64;
        Scale {
            municipalities: of(Self::DEFAULT.municipalities).max(1),
            organisations: of(Self::DEFAULT.organisations),
            needs: of(Self::DEFAULT.needs),
            initiatives: of(Self::DEFAULT.initiatives),
            outcomes: of(Self::DEFAULT.outcomes),
            learnings: of(Self::DEFAULT.learnings),
        }
    }
}

/// What `generate` did.
pub struct Report {
    /// Rows per table, as counted in the database afterwards (demo data included).
    pub rows: Vec<(&'static str, u64)>,
    pub elapsed: Duration,
}

/// The tables `generate` fills, in the order it fills them.
const TABLES: &[&str] = &[
    "municipality",
    "area",
    "organisation",
    "contact_person",
    "programme",
    "programme_theme",
    "partnership",
    "need",
    "need_target_group",
    "initiative",
    "initiative_theme",
    "initiative_area",
    "initiative_need",
    "support_request",
    "outcome",
    "learning",
    "learning_theme",
    "learning_endorsement",
    "search_document",
];

/// Tables whose `id` the generator assigns itself (their sequences are moved past them on
/// PostgreSQL afterwards).
const ID_TABLES: &[&str] = &[
    "municipality",
    "area",
    "organisation",
    "contact_person",
    "programme",
    "partnership",
    "need",
    "initiative",
    "support_request",
    "outcome",
    "learning",
    "learning_endorsement",
];

/// Loads the demo data and generates the synthetic data set into an empty database.
pub async fn generate(db: &DatabaseConnection, scale: Scale, seed: u64) -> anyhow::Result<Report> {
    let started = Instant::now();
    if municipality::Entity::find().count(db).await? > 0 {
        bail!(
            "the database already holds data; `stroom generate` fills an empty database \
             (use a new SQLite file or PostgreSQL database)"
        );
    }
    let txn = db.begin().await?;
    crate::demo::load_into(&txn).await?;
    let mut generator = Generator::new(&txn, scale, seed).await?;
    generator.run().await?;
    let bar = stage("search index", 0);
    let indexed = stroom_api::search::rebuild_with_progress(&txn, |done, total| {
        bar.set_length(total);
        bar.set_position(done);
    })
    .await?;
    finish(&bar, indexed);
    txn.commit().await?;

    if db.get_database_backend() == DbBackend::Postgres {
        for table in ID_TABLES {
            db.execute_unprepared(&format!(
                "SELECT setval(pg_get_serial_sequence('{table}', 'id'), \
                 COALESCE((SELECT MAX(id) FROM {table}), 0) + 1, false)"
            ))
            .await?;
        }
    }
    // Fresh statistics, so the query planner sees the real table sizes at once; on PostgreSQL
    // also the visibility map, without which index-only scans still visit the table.
    let maintenance = match db.get_database_backend() {
        DbBackend::Postgres => "VACUUM ANALYZE",
        _ => "ANALYZE",
    };
    db.execute_unprepared(maintenance).await?;

    let mut rows = Vec::with_capacity(TABLES.len());
    for table in TABLES {
        let row = db
            .query_one_raw(sea_orm::Statement::from_string(
                db.get_database_backend(),
                format!("SELECT COUNT(*) AS n FROM {table}"),
            ))
            .await?
            .context("counting rows")?;
        rows.push((*table, row.try_get::<i64>("", "n")? as u64));
    }
    Ok(Report {
        rows,
        elapsed: started.elapsed(),
    })
}

/// A progress bar on standard error (drawn only on a terminal).
fn stage(name: &str, total: u64) -> ProgressBar {
    let bar = ProgressBar::new(total);
    if let Ok(style) = ProgressStyle::with_template(
        "{prefix:>20} [{bar:30}] {human_pos:>9}/{human_len:9} {per_sec:>12} ETA {eta}",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_prefix(name.to_owned());
    bar
}

fn finish(bar: &ProgressBar, rows: u64) {
    let elapsed = bar.elapsed();
    bar.finish();
    tracing::info!(
        stage = %bar.prefix(),
        rows,
        seconds = format!("{:.1}", elapsed.as_secs_f64()),
        rows_per_second = (rows as f64 / elapsed.as_secs_f64().max(1e-3)).round() as u64,
        "generated"
    );
}

/// Rows of one table waiting for a multi-row `INSERT`.
struct Batch<E: EntityTrait> {
    rows: Vec<E::Model>,
    per_statement: usize,
}

impl<E> Batch<E>
where
    E: EntityTrait,
    E::Model: IntoActiveModel<E::ActiveModel>,
    E::ActiveModel: ActiveModelTrait<Entity = E> + Send,
{
    fn new() -> Self {
        // SQLite allows 32,766 parameters per statement, PostgreSQL 65,535.
        let columns = E::Column::iter().count().max(1);
        let per_statement = (30_000 / columns).clamp(1, 1_000);
        Self {
            rows: Vec::with_capacity(per_statement),
            per_statement,
        }
    }

    fn push(&mut self, row: E::Model) {
        self.rows.push(row);
    }

    fn full(&self) -> bool {
        self.rows.len() >= self.per_statement
    }

    /// Inserts every waiting row; returns how many.
    async fn flush(&mut self, txn: &DatabaseTransaction) -> anyhow::Result<u64> {
        let count = self.rows.len() as u64;
        while !self.rows.is_empty() {
            let take = self.rows.len().min(self.per_statement);
            let rows = self
                .rows
                .drain(..take)
                .map(|m| m.into_active_model().reset_all());
            E::insert_many(rows).exec_without_returning(txn).await?;
        }
        Ok(count)
    }
}

/// The next free `id` of each table.
struct NextIds(HashMap<&'static str, i64>);

impl NextIds {
    async fn after_existing(txn: &DatabaseTransaction) -> anyhow::Result<Self> {
        let mut next = HashMap::new();
        for table in ID_TABLES {
            let row = txn
                .query_one_raw(sea_orm::Statement::from_string(
                    txn.get_database_backend(),
                    format!("SELECT COALESCE(MAX(id), 0) AS n FROM {table}"),
                ))
                .await?
                .context("reading the highest id")?;
            next.insert(*table, row.try_get::<i64>("", "n")? + 1);
        }
        Ok(Self(next))
    }

    fn take(&mut self, table: &'static str) -> i64 {
        let next = self.0.entry(table).or_insert(1);
        let id = *next;
        *next += 1;
        id
    }
}

/// The languages a municipality writes in: its own first, English always.
#[derive(Clone)]
struct Languages(Vec<&'static str>);

impl Languages {
    fn text(&self, phrase: &Phrase) -> LocalizedText {
        self.text_with(phrase, |_, s| s.to_owned())
    }

    /// A text from a pattern, each language's version completed by `fill(locale, pattern)`.
    fn text_with(&self, phrase: &Phrase, fill: impl Fn(&str, &str) -> String) -> LocalizedText {
        let mut text = LocalizedText::new();
        for locale in &self.0 {
            text.0
                .insert((*locale).to_owned(), fill(locale, phrase.get(locale)));
        }
        text
    }

    fn same(&self, value: &str) -> LocalizedText {
        LocalizedText(
            self.0
                .iter()
                .map(|l| ((*l).to_owned(), value.to_owned()))
                .collect(),
        )
    }
}

/// What later stages need to know of a municipality.
struct Place {
    id: i64,
    country: &'static str,
    name: String,
    languages: Languages,
    /// Neighbourhoods and street clusters, with their names.
    areas: Vec<(i64, String)>,
    departments: Vec<i64>,
    organisations: Vec<i64>,
    programmes: Vec<i64>,
    /// Needs by theme.
    needs: HashMap<i64, Vec<i64>>,
    initiatives: Vec<InitiativeFacts>,
}

/// What outcomes and learnings need to know of an initiative.
struct InitiativeFacts {
    id: i64,
    theme: usize,
    programme: Option<i64>,
    area: i64,
    start: NaiveDate,
    archived: bool,
}

struct Generator<'a> {
    txn: &'a DatabaseTransaction,
    scale: Scale,
    rng: ChaCha8Rng,
    ids: NextIds,
    /// The vocabulary's themes with their database IDs.
    themes: Vec<(i64, &'static ThemeWords)>,
    indicators: HashMap<String, (i64, Unit)>,
    places: Vec<Place>,
}

/// The first day synthetic activity can date from, and the last.
fn epoch() -> NaiveDate {
    NaiveDate::from_ymd_opt(2016, 1, 1).unwrap_or_default()
}
fn horizon() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 9, 30).unwrap_or_default()
}

/// Shares `total` out over `parts`: part `i`'s share (the remainder goes to the first ones).
fn share(total: u64, parts: u64, i: u64) -> u64 {
    if parts == 0 {
        return 0;
    }
    total / parts + u64::from(i < total % parts)
}

fn weighted<T: Copy>(rng: &mut ChaCha8Rng, options: &[(T, u32)]) -> T {
    let total: u32 = options.iter().map(|(_, w)| w).sum();
    let mut roll = rng.random_range(0..total.max(1));
    for (value, weight) in options {
        if roll < *weight {
            return *value;
        }
        roll -= weight;
    }
    options[0].0
}

impl<'a> Generator<'a> {
    async fn new(txn: &'a DatabaseTransaction, scale: Scale, seed: u64) -> anyhow::Result<Self> {
        let stored_themes = theme::Entity::find().all(txn).await?;
        let themes = THEMES
            .iter()
            .filter_map(|words| {
                stored_themes
                    .iter()
                    .find(|t| t.code == words.code)
                    .map(|t| (t.id, words))
            })
            .collect::<Vec<_>>();
        if themes.is_empty() {
            bail!("the demo themes are missing");
        }
        let indicators = indicator::Entity::find()
            .all(txn)
            .await?
            .into_iter()
            .map(|i| (i.code, (i.id, i.unit)))
            .collect();
        Ok(Self {
            txn,
            scale,
            rng: ChaCha8Rng::seed_from_u64(seed),
            ids: NextIds::after_existing(txn).await?,
            themes,
            indicators,
            places: Vec::new(),
        })
    }

    async fn run(&mut self) -> anyhow::Result<()> {
        self.municipalities().await?;
        self.organisations().await?;
        self.programmes().await?;
        self.needs().await?;
        self.initiatives().await?;
        self.outcomes().await?;
        self.learnings().await?;
        Ok(())
    }

    /// A moment between `from` and the horizon, for `created_at`.
    fn moment_after(&mut self, from: NaiveDate) -> DateTime<Utc> {
        let span = (horizon() - from).num_days().max(1);
        let day = from + TimeDelta::days(self.rng.random_range(0..span));
        let seconds = self.rng.random_range(0..86_400);
        day.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc() + TimeDelta::seconds(seconds)
    }

    fn day_between(&mut self, from: NaiveDate, to: NaiveDate) -> NaiveDate {
        let span = (to - from).num_days().max(1);
        from + TimeDelta::days(self.rng.random_range(0..span))
    }

    /// `created_at`, `updated_at` (some records edited later).
    fn timestamps(&mut self, from: NaiveDate) -> (DateTime<Utc>, DateTime<Utc>) {
        let created = self.moment_after(from);
        let updated = if self.rng.random_bool(0.3) {
            let later = self.moment_after(created.date_naive());
            later.max(created)
        } else {
            created
        };
        (created, updated)
    }

    async fn municipalities(&mut self) -> anyhow::Result<()> {
        let count = self.scale.municipalities;
        let bar = stage("municipalities", count);
        let mut municipalities = Batch::<municipality::Entity>::new();
        let mut areas = Batch::<area::Entity>::new();
        let mut names = std::collections::HashSet::new();
        for i in 0..count {
            let name = loop {
                let start = vocabulary::PLACE_STARTS
                    .choose(&mut self.rng)
                    .copied()
                    .unwrap_or("Oost");
                let end = vocabulary::PLACE_ENDS
                    .choose(&mut self.rng)
                    .copied()
                    .unwrap_or("dijk");
                let candidate = format!("{start}{end}");
                let candidate = if names.contains(&candidate) {
                    format!("{candidate} {}", i + 1)
                } else {
                    candidate
                };
                if names.insert(candidate.clone()) {
                    break candidate;
                }
            };
            let (country, languages) = weighted(
                &mut self.rng,
                &[
                    (("BE", &["nl", "en"][..]), 30),
                    (("BE", &["nl", "fr", "en"][..]), 10),
                    (("BE", &["fr", "nl", "en"][..]), 15),
                    (("NL", &["nl", "en"][..]), 25),
                    (("FR", &["fr", "en"][..]), 20),
                ],
            );
            let languages = Languages(languages.to_vec());
            let households: i64 = self.rng.random_range(4_000..120_000);
            let (created_at, updated_at) = self.timestamps(epoch());
            let id = self.ids.take("municipality");
            let mut model = municipality::Model {
                id,
                name: languages.same(&name),
                country: country.to_owned(),
                default_locale: languages.0[0].to_owned(),
                households: Some(households),
                population: Some(households * 22 / 10),
                search_text: String::new(),
                created_at,
                updated_at,
                version: 1,
                archived_at: None,
                provenance: Provenance::Synthetic,
            };
            model.search_text = stroom_api::municipality::search_text(&model);
            municipalities.push(model);

            // Neighbourhoods share the households out; some have street clusters below them.
            let neighbourhoods = self.rng.random_range(5..=vocabulary::NEIGHBOURHOODS.len());
            let mut place_areas = Vec::new();
            for (n, hood) in vocabulary::NEIGHBOURHOODS
                .iter()
                .take(neighbourhoods)
                .enumerate()
            {
                let hood_households = share(households as u64, neighbourhoods as u64, n as u64);
                let hood_name = format!("{name}-{hood}");
                let hood_id = self.ids.take("area");
                areas.push(self.area(
                    hood_id,
                    id,
                    None,
                    AreaKind::Neighbourhood,
                    &hood_name,
                    hood_households as i64,
                    &languages,
                    created_at,
                ));
                place_areas.push((hood_id, hood_name.clone()));
                for cluster in 0..self.rng.random_range(0..=2u64) {
                    let cluster_name =
                        format!("{hood_name} {}", ["Noord", "Zuid"][cluster as usize]);
                    let cluster_id = self.ids.take("area");
                    areas.push(self.area(
                        cluster_id,
                        id,
                        Some(hood_id),
                        AreaKind::StreetCluster,
                        &cluster_name,
                        (hood_households / 3) as i64,
                        &languages,
                        created_at,
                    ));
                    place_areas.push((cluster_id, cluster_name));
                }
            }
            self.places.push(Place {
                id,
                country,
                name,
                languages,
                areas: place_areas,
                departments: Vec::new(),
                organisations: Vec::new(),
                programmes: Vec::new(),
                needs: HashMap::new(),
                initiatives: Vec::new(),
            });
            if municipalities.full() {
                bar.inc(municipalities.flush(self.txn).await?);
            }
            if areas.full() {
                bar.inc(municipalities.flush(self.txn).await?);
                areas.flush(self.txn).await?;
            }
        }
        bar.inc(municipalities.flush(self.txn).await?);
        areas.flush(self.txn).await?;
        finish(&bar, count);
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn area(
        &mut self,
        id: i64,
        municipality_id: i64,
        parent_id: Option<i64>,
        kind: AreaKind,
        name: &str,
        households: i64,
        languages: &Languages,
        created_at: DateTime<Utc>,
    ) -> area::Model {
        let mut model = area::Model {
            id,
            municipality_id,
            parent_id,
            kind,
            name: languages.same(name),
            households: Some(households),
            residents: Some(households * 22 / 10),
            geometry: None,
            search_text: String::new(),
            created_at,
            updated_at: created_at,
            version: 1,
            archived_at: None,
            provenance: Provenance::Synthetic,
        };
        model.search_text = stroom_api::area::search_text(&model);
        model
    }

    async fn organisations(&mut self) -> anyhow::Result<()> {
        let total = self.scale.organisations;
        let bar = stage("organisations", total);
        let mut organisations = Batch::<organisation::Entity>::new();
        let mut contacts = Batch::<contact_person::Entity>::new();
        let places = self.places.len() as u64;
        for p in 0..self.places.len() {
            let count = share(total, places, p as u64);
            let (municipality_id, country, town, languages) = {
                let place = &self.places[p];
                (
                    place.id,
                    place.country,
                    place.name.clone(),
                    place.languages.clone(),
                )
            };
            for o in 0..count {
                let id = self.ids.take("organisation");
                let department = (o as usize) < vocabulary::DEPARTMENTS.len();
                let (kind, name) = if department {
                    let phrase = &vocabulary::DEPARTMENTS[o as usize];
                    (
                        OrganisationKind::CityDepartment,
                        languages.text_with(phrase, |_, s| s.replace("{}", &town)),
                    )
                } else {
                    let (kind, phrase) = vocabulary::COMMUNITY_ORGANISATIONS
                        .choose(&mut self.rng)
                        .context("organisation vocabulary")?;
                    let area = self.places[p]
                        .areas
                        .choose(&mut self.rng)
                        .map(|(_, name)| name.clone())
                        .unwrap_or_else(|| town.clone());
                    let kind = OrganisationKind::ALL
                        .iter()
                        .copied()
                        .find(|k| k.as_str() == *kind)
                        .unwrap_or(OrganisationKind::CitizenInitiative);
                    (
                        kind,
                        languages.text_with(phrase, |_, s| s.replace("{}", &format!("{area} {o}"))),
                    )
                };
                let (created_at, updated_at) = self.timestamps(epoch());
                let mut model = organisation::Model {
                    id,
                    kind,
                    parent_id: None,
                    municipality_id: Some(municipality_id),
                    description: languages.text(&Phrase {
                        nl: "Synthetische organisatie, gegenereerd voor tests en metingen.",
                        en: "Synthetic organisation, generated for tests and benchmarks.",
                        fr: "Organisation synthétique, générée pour les tests et les mesures.",
                    }),
                    name,
                    country: Some(country.to_owned()),
                    city: Some(town.clone()),
                    website: None,
                    search_text: String::new(),
                    created_at,
                    updated_at,
                    version: 1,
                    archived_at: None,
                    provenance: Provenance::Synthetic,
                };
                model.search_text = stroom_api::organisation::search_text(&model);
                organisations.push(model);
                if department {
                    self.places[p].departments.push(id);
                } else {
                    self.places[p].organisations.push(id);
                }
                if self.rng.random_bool(0.5) {
                    let first = vocabulary::FIRST_NAMES
                        .choose(&mut self.rng)
                        .copied()
                        .unwrap_or("An");
                    let last = vocabulary::LAST_NAMES
                        .choose(&mut self.rng)
                        .copied()
                        .unwrap_or("Peeters");
                    let address = format!("{first}.{last}")
                        .to_lowercase()
                        .replace([' ', 'é', 'ë'], "");
                    contacts.push(contact_person::Model {
                        id: self.ids.take("contact_person"),
                        organisation_id: id,
                        name: format!("{first} {last}"),
                        email: Some(format!("{address}.{id}@example.org")),
                        phone: Some(format!(
                            "+32 15 {:02} {:02} {:02}",
                            id % 100,
                            o % 100,
                            p % 100
                        )),
                        job_title: None,
                        created_at,
                        updated_at: created_at,
                        version: 1,
                        archived_at: None,
                        provenance: Provenance::Synthetic,
                    });
                }
                if organisations.full() {
                    bar.inc(organisations.flush(self.txn).await?);
                    contacts.flush(self.txn).await?;
                }
            }
        }
        bar.inc(organisations.flush(self.txn).await?);
        contacts.flush(self.txn).await?;
        finish(&bar, total);
        Ok(())
    }

    async fn programmes(&mut self) -> anyhow::Result<()> {
        let bar = stage("programmes", self.places.len() as u64 * 2);
        let mut programmes = Batch::<programme::Entity>::new();
        let mut themes = Batch::<programme_theme::Entity>::new();
        let mut partnerships = Batch::<partnership::Entity>::new();
        let mut count = 0;
        for p in 0..self.places.len() {
            for start_year in [2017, 2022] {
                let id = self.ids.take("programme");
                let (town, languages) = (
                    self.places[p].name.clone(),
                    self.places[p].languages.clone(),
                );
                let start = NaiveDate::from_ymd_opt(start_year + self.rng.random_range(0..3), 1, 1)
                    .unwrap_or_else(epoch);
                let end = start
                    .checked_add_months(Months::new(self.rng.random_range(24..60)))
                    .map(|d| d - TimeDelta::days(1));
                let budget_min = self.rng.random_range(2..40) * 10_000;
                let (created_at, updated_at) = self.timestamps(start);
                let mut model = programme::Model {
                    id,
                    municipality_id: Some(self.places[p].id),
                    name: languages.text_with(
                        &Phrase {
                            nl: "Circulair {} {}",
                            en: "Circular {} {}",
                            fr: "{} circulaire {}",
                        },
                        |_, s| {
                            s.replacen("{}", &town, 1)
                                .replacen("{}", &format!("{}–{}", start.year(), end.map_or(0, |e| e.year())), 1)
                        },
                    ),
                    summary: languages.text(&Phrase {
                        nl: "Synthetisch programma: buurtbewoners brengen noden in kaart en starten circulaire initiatieven.",
                        en: "Synthetic programme: residents map their needs and start circular initiatives.",
                        fr: "Programme synthétique : les habitants cartographient leurs besoins et lancent des initiatives circulaires.",
                    }),
                    start_date: Some(start),
                    end_date: end,
                    budget_min_eur: Some(budget_min),
                    budget_max_eur: Some(budget_min * 2),
                    funding_channel: languages.text(&Phrase {
                        nl: "Eigen middelen en een regionale subsidie",
                        en: "Own funds and a regional grant",
                        fr: "Fonds propres et une subvention régionale",
                    }),
                    staffing: LocalizedText::new(),
                    staffing_fte_centi: Some(self.rng.random_range(2..8) * 25),
                    website: None,
                    contact_person_id: None,
                    search_text: String::new(),
                    created_at,
                    updated_at,
                    version: 1,
                    archived_at: None,
                    provenance: Provenance::Synthetic,
                };
                model.search_text = stroom_api::programme::search_text(&model);
                programmes.push(model);
                count += 1;
                self.places[p].programmes.push(id);
                for t in rand::seq::index::sample(
                    &mut self.rng,
                    self.themes.len(),
                    3.min(self.themes.len()),
                ) {
                    themes.push(programme_theme::Model {
                        programme_id: id,
                        theme_id: self.themes[t].0,
                        created_at,
                    });
                }
                let departments = self.places[p].departments.clone();
                for (d, organisation_id) in departments.iter().enumerate() {
                    let role = if d == 0 {
                        PartnerRole::Coordinator
                    } else {
                        PartnerRole::SteeringGroup
                    };
                    partnerships.push(self.partnership(
                        *organisation_id,
                        Some(id),
                        None,
                        role,
                        created_at,
                    ));
                }
            }
            if programmes.full() {
                bar.inc(programmes.flush(self.txn).await?);
                themes.flush(self.txn).await?;
                partnerships.flush(self.txn).await?;
            }
        }
        bar.inc(programmes.flush(self.txn).await?);
        themes.flush(self.txn).await?;
        partnerships.flush(self.txn).await?;
        finish(&bar, count);
        Ok(())
    }

    fn partnership(
        &mut self,
        organisation_id: i64,
        programme_id: Option<i64>,
        initiative_id: Option<i64>,
        role: PartnerRole,
        created_at: DateTime<Utc>,
    ) -> partnership::Model {
        partnership::Model {
            id: self.ids.take("partnership"),
            organisation_id,
            programme_id,
            initiative_id,
            network_id: None,
            role,
            note: LocalizedText::new(),
            created_at,
            updated_at: created_at,
            version: 1,
            archived_at: None,
            provenance: Provenance::Synthetic,
        }
    }

    async fn needs(&mut self) -> anyhow::Result<()> {
        let total = self.scale.needs;
        let bar = stage("needs", total);
        let mut needs = Batch::<need::Entity>::new();
        let mut groups = Batch::<need_target_group::Entity>::new();
        let places = self.places.len() as u64;
        for p in 0..self.places.len() {
            let languages = self.places[p].languages.clone();
            for _ in 0..share(total, places, p as u64) {
                let id = self.ids.take("need");
                let t = self.rng.random_range(0..self.themes.len());
                let (theme_id, words) = self.themes[t];
                let phrase = words
                    .needs
                    .choose(&mut self.rng)
                    .context("need vocabulary")?;
                let (area_id, area_name) = self.places[p]
                    .areas
                    .choose(&mut self.rng)
                    .cloned()
                    .context("areas")?;
                let source = weighted(
                    &mut self.rng,
                    &[
                        (NeedSource::Workshop, 30),
                        (NeedSource::DoorToDoor, 25),
                        (NeedSource::Survey, 25),
                        (NeedSource::KeyFigure, 10),
                        (NeedSource::SocialOrganisation, 8),
                        (NeedSource::Other, 2),
                    ],
                );
                let status = weighted(
                    &mut self.rng,
                    &[
                        (NeedStatus::Open, 40),
                        (NeedStatus::BeingAddressed, 30),
                        (NeedStatus::Addressed, 20),
                        (NeedStatus::Archived, 10),
                    ],
                );
                let recorded_on = self.day_between(epoch(), horizon());
                let (created_at, updated_at) = self.timestamps(recorded_on);
                let programme_id = if self.rng.random_bool(0.6) {
                    self.places[p].programmes.choose(&mut self.rng).copied()
                } else {
                    None
                };
                let mut model = need::Model {
                    id,
                    municipality_id: self.places[p].id,
                    programme_id,
                    area_id: Some(area_id),
                    theme_id: Some(theme_id),
                    title: languages.text(phrase),
                    description: languages.text_with(
                        &Phrase {
                            nl: "{}: genoemd door bewoners van {} (synthetisch).",
                            en: "{}: named by residents of {} (synthetic).",
                            fr: "{} : cité par des habitants de {} (synthétique).",
                        },
                        |locale, s| {
                            s.replacen("{}", phrase.get(locale), 1)
                                .replacen("{}", &area_name, 1)
                        },
                    ),
                    source,
                    residents_count: Some(self.rng.random_range(1..80)),
                    status,
                    recorded_on,
                    search_text: String::new(),
                    created_at,
                    updated_at,
                    version: 1,
                    archived_at: self.rng.random_bool(0.02).then_some(updated_at),
                    provenance: Provenance::Synthetic,
                };
                model.search_text = stroom_api::need::search_text(&model);
                needs.push(model);
                self.places[p].needs.entry(theme_id).or_default().push(id);
                let wanted = self.rng.random_range(1..=2);
                for g in rand::seq::index::sample(&mut self.rng, TargetGroup::ALL.len(), wanted) {
                    groups.push(need_target_group::Model {
                        need_id: id,
                        target_group: TargetGroup::ALL[g],
                        created_at,
                    });
                }
                if needs.full() {
                    bar.inc(needs.flush(self.txn).await?);
                    groups.flush(self.txn).await?;
                }
            }
        }
        bar.inc(needs.flush(self.txn).await?);
        groups.flush(self.txn).await?;
        finish(&bar, total);
        Ok(())
    }

    async fn initiatives(&mut self) -> anyhow::Result<()> {
        let total = self.scale.initiatives;
        let bar = stage("initiatives", total);
        let mut initiatives = Batch::<initiative::Entity>::new();
        let mut themes = Batch::<initiative_theme::Entity>::new();
        let mut areas = Batch::<initiative_area::Entity>::new();
        let mut needs = Batch::<initiative_need::Entity>::new();
        let mut partnerships = Batch::<partnership::Entity>::new();
        let mut requests = Batch::<support_request::Entity>::new();
        let places = self.places.len() as u64;
        for p in 0..self.places.len() {
            let languages = self.places[p].languages.clone();
            for n in 0..share(total, places, p as u64) {
                let id = self.ids.take("initiative");
                let t = self.rng.random_range(0..self.themes.len());
                let (theme_id, words) = self.themes[t];
                let phrase = words
                    .initiatives
                    .choose(&mut self.rng)
                    .context("initiative vocabulary")?;
                let (area_id, area_name) = self.places[p]
                    .areas
                    .choose(&mut self.rng)
                    .cloned()
                    .context("areas")?;
                let stage = weighted(
                    &mut self.rng,
                    &[
                        (InitiativeStage::Idea, 8),
                        (InitiativeStage::Pilot, 14),
                        (InitiativeStage::Running, 40),
                        (InitiativeStage::SelfSustaining, 16),
                        (InitiativeStage::Paused, 8),
                        (InitiativeStage::Stopped, 14),
                    ],
                );
                let start = self.day_between(
                    epoch(),
                    NaiveDate::from_ymd_opt(2025, 12, 31).unwrap_or_else(horizon),
                );
                let end_date =
                    (stage == InitiativeStage::Stopped).then(|| self.day_between(start, horizon()));
                let (created_at, updated_at) = self.timestamps(start);
                let programme_id = if self.rng.random_bool(0.5) {
                    self.places[p].programmes.choose(&mut self.rng).copied()
                } else {
                    None
                };
                let archived = self.rng.random_bool(0.02);
                let mut model = initiative::Model {
                    id,
                    municipality_id: self.places[p].id,
                    programme_id,
                    name: languages.text_with(phrase, |_, s| format!("{s} {area_name} {}", n + 1)),
                    description: languages.text_with(
                        &Phrase {
                            nl: "Synthetisch initiatief in {}: buren brengen het samen op gang.",
                            en: "Synthetic initiative in {}: neighbours get it going together.",
                            fr: "Initiative synthétique à {} : les voisins la lancent ensemble.",
                        },
                        |_, s| s.replace("{}", &area_name),
                    ),
                    initiator_kind: weighted(
                        &mut self.rng,
                        &[
                            (InitiatorKind::Citizens, 45),
                            (InitiatorKind::Entrepreneur, 15),
                            (InitiatorKind::SocialOrganisation, 20),
                            (InitiatorKind::City, 10),
                            (InitiatorKind::KnowledgeInstitution, 3),
                            (InitiatorKind::Partnership, 7),
                        ],
                    ),
                    stage,
                    start_date: Some(start),
                    end_date,
                    business_model: weighted(
                        &mut self.rng,
                        &[
                            (BusinessModel::Subsidy, 25),
                            (BusinessModel::Membership, 15),
                            (BusinessModel::Fee, 12),
                            (BusinessModel::Volunteer, 25),
                            (BusinessModel::Commercial, 10),
                            (BusinessModel::Mixed, 13),
                        ],
                    ),
                    affordability: weighted(
                        &mut self.rng,
                        &[
                            (Affordability::Free, 45),
                            (Affordability::LowCost, 40),
                            (Affordability::MarketPrice, 15),
                        ],
                    ),
                    website: None,
                    search_text: String::new(),
                    created_at,
                    updated_at,
                    version: 1,
                    archived_at: archived.then_some(updated_at),
                    provenance: Provenance::Synthetic,
                };
                model.search_text = stroom_api::initiative::search_text(&model);
                initiatives.push(model);

                themes.push(initiative_theme::Model {
                    initiative_id: id,
                    theme_id,
                    created_at,
                });
                if self.rng.random_bool(0.3) {
                    let other = self.themes[self.rng.random_range(0..self.themes.len())].0;
                    if other != theme_id {
                        themes.push(initiative_theme::Model {
                            initiative_id: id,
                            theme_id: other,
                            created_at,
                        });
                    }
                }
                areas.push(initiative_area::Model {
                    initiative_id: id,
                    area_id,
                    created_at,
                });
                if self.rng.random_bool(0.2)
                    && let Some((other, _)) = self.places[p].areas.choose(&mut self.rng).cloned()
                    && other != area_id
                {
                    areas.push(initiative_area::Model {
                        initiative_id: id,
                        area_id: other,
                        created_at,
                    });
                }
                // Initiatives answer needs of their own theme, where there are some.
                if let Some(candidates) = self.places[p].needs.get(&theme_id) {
                    let wanted = self.rng.random_range(0..=3usize).min(candidates.len());
                    for i in rand::seq::index::sample(&mut self.rng, candidates.len(), wanted) {
                        let need_id = candidates[i];
                        needs.push(initiative_need::Model {
                            initiative_id: id,
                            need_id,
                            created_at,
                        });
                    }
                }
                let organisations = self.places[p].organisations.len();
                let partners = self.rng.random_range(0..=2usize).min(organisations);
                let picked = rand::seq::index::sample(&mut self.rng, organisations, partners);
                for (k, o) in picked.into_iter().enumerate() {
                    let role = [
                        PartnerRole::Implementer,
                        PartnerRole::Supporter,
                        PartnerRole::Host,
                    ][k % 3];
                    let organisation_id = self.places[p].organisations[o];
                    partnerships.push(self.partnership(
                        organisation_id,
                        None,
                        Some(id),
                        role,
                        created_at,
                    ));
                }
                if self.rng.random_bool(0.3) {
                    let requested_on = self.day_between(start, horizon());
                    let status = weighted(
                        &mut self.rng,
                        &[
                            (SupportStatus::Requested, 15),
                            (SupportStatus::InReview, 10),
                            (SupportStatus::Granted, 40),
                            (SupportStatus::PartiallyGranted, 15),
                            (SupportStatus::Declined, 15),
                            (SupportStatus::Withdrawn, 5),
                        ],
                    );
                    let kind = *SupportKind::ALL.choose(&mut self.rng).context("kinds")?;
                    let decided =
                        !matches!(status, SupportStatus::Requested | SupportStatus::InReview);
                    let amount: i64 = self.rng.random_range(5..200) * 100;
                    requests.push(support_request::Model {
                        id: self.ids.take("support_request"),
                        initiative_id: id,
                        kind,
                        description: languages.text(&Phrase {
                            nl: "Synthetische aanvraag om steun.",
                            en: "Synthetic support request.",
                            fr: "Demande de soutien synthétique.",
                        }),
                        status,
                        requested_on,
                        decided_on: decided.then(|| requested_on + TimeDelta::days(30)),
                        decision_note: LocalizedText::new(),
                        amount_requested_eur: (kind == SupportKind::Financial).then_some(amount),
                        amount_granted_eur: (kind == SupportKind::Financial
                            && matches!(
                                status,
                                SupportStatus::Granted | SupportStatus::PartiallyGranted
                            ))
                        .then_some(
                            if status == SupportStatus::Granted {
                                amount
                            } else {
                                amount / 2
                            },
                        ),
                        created_at,
                        updated_at: created_at,
                        version: 1,
                        archived_at: None,
                        provenance: Provenance::Synthetic,
                    });
                }
                self.places[p].initiatives.push(InitiativeFacts {
                    id,
                    theme: t,
                    programme: programme_id,
                    area: area_id,
                    start,
                    archived,
                });
                if initiatives.full() {
                    bar.inc(initiatives.flush(self.txn).await?);
                    themes.flush(self.txn).await?;
                    areas.flush(self.txn).await?;
                    needs.flush(self.txn).await?;
                    partnerships.flush(self.txn).await?;
                    requests.flush(self.txn).await?;
                }
            }
        }
        bar.inc(initiatives.flush(self.txn).await?);
        themes.flush(self.txn).await?;
        areas.flush(self.txn).await?;
        needs.flush(self.txn).await?;
        partnerships.flush(self.txn).await?;
        requests.flush(self.txn).await?;
        finish(&bar, total);
        Ok(())
    }

    /// Quarterly figures per initiative, for the indicators of its theme, the latest quarters
    /// first filled.
    async fn outcomes(&mut self) -> anyhow::Result<()> {
        let total = self.scale.outcomes;
        let bar = stage("outcomes", total);
        let mut outcomes = Batch::<outcome::Entity>::new();
        let initiatives: u64 = self.places.iter().map(|p| p.initiatives.len() as u64).sum();
        let method = LocalizedText(
            [
                (
                    "en".to_owned(),
                    "Synthetic figure generated by `stroom generate`; not a measurement."
                        .to_owned(),
                ),
                (
                    "nl".to_owned(),
                    "Synthetisch cijfer, gegenereerd door `stroom generate`; geen meting."
                        .to_owned(),
                ),
            ]
            .into_iter()
            .collect(),
        );
        let mut k = 0u64;
        for p in 0..self.places.len() {
            let municipality_id = self.places[p].id;
            for i in 0..self.places[p].initiatives.len() {
                let facts = &self.places[p].initiatives[i];
                let (id, theme, programme, area, start, archived) = (
                    facts.id,
                    facts.theme,
                    facts.programme,
                    facts.area,
                    facts.start,
                    facts.archived,
                );
                let count = share(total, initiatives, k);
                k += 1;
                let codes = self.themes[theme].1.indicators;
                let series: Vec<(i64, Unit)> = codes
                    .iter()
                    .take(2)
                    .filter_map(|c| self.indicators.get(*c).copied())
                    .collect();
                if series.is_empty() {
                    continue;
                }
                let base: f64 = self.rng.random_range(5.0..60.0);
                let growth: f64 = self.rng.random_range(-0.02..0.08);
                // Quarters from the initiative's start, moved earlier where the figures would
                // otherwise run past the horizon.
                let quarters = count.div_ceil(series.len() as u64);
                let latest_first =
                    quarter_start(horizon()) - Months::new(3 * quarters.saturating_sub(1) as u32);
                let first_quarter = quarter_start(start).min(latest_first);
                for j in 0..count {
                    let (indicator_id, unit) = series[(j % series.len() as u64) as usize];
                    let q = j / series.len() as u64;
                    let period_start = first_quarter + Months::new(3 * q as u32);
                    let period_end = period_start + Months::new(3) - TimeDelta::days(1);
                    let scale = match unit {
                        Unit::Kilogram | Unit::KgCo2e => 25.0,
                        Unit::Hours => 4.0,
                        _ => 1.0,
                    };
                    let noise: f64 = self.rng.random_range(0.7..1.3);
                    let value = (base * scale * (1.0 + growth).powf(q as f64) * noise)
                        .round()
                        .max(0.0);
                    let (created_at, _) = self.timestamps(period_end.min(horizon()));
                    outcomes.push(outcome::Model {
                        id: self.ids.take("outcome"),
                        indicator_id,
                        municipality_id,
                        initiative_id: Some(id),
                        programme_id: programme,
                        area_id: Some(area),
                        period_start,
                        period_end,
                        value_micro: value as i64 * 1_000_000,
                        method: method.clone(),
                        source: None,
                        verified: self.rng.random_bool(0.4),
                        created_at,
                        updated_at: created_at,
                        version: 1,
                        archived_at: archived.then_some(created_at),
                        provenance: Provenance::Synthetic,
                    });
                    if outcomes.full() {
                        bar.inc(outcomes.flush(self.txn).await?);
                    }
                }
            }
        }
        let done = outcomes.flush(self.txn).await?;
        bar.inc(done);
        let generated = bar.position();
        finish(&bar, generated);
        Ok(())
    }

    async fn learnings(&mut self) -> anyhow::Result<()> {
        let total = self.scale.learnings;
        let bar = stage("learnings", total);
        let mut learnings = Batch::<learning::Entity>::new();
        let mut themes = Batch::<learning_theme::Entity>::new();
        let mut endorsements = Batch::<learning_endorsement::Entity>::new();
        let places = self.places.len() as u64;
        // Public learnings of the municipalities done so far, which later ones may endorse.
        let mut endorsable: Vec<(i64, i64)> = Vec::new();
        for p in 0..self.places.len() {
            let languages = self.places[p].languages.clone();
            let municipality_id = self.places[p].id;
            let mut endorsed = std::collections::HashSet::new();
            for n in 0..share(total, places, p as u64) {
                let id = self.ids.take("learning");
                let (kind_value, phrases) = vocabulary::LEARNINGS
                    .choose(&mut self.rng)
                    .copied()
                    .context("learning vocabulary")?;
                let kind = LearningKind::ALL
                    .iter()
                    .copied()
                    .find(|k| k.as_str() == kind_value)
                    .unwrap_or(LearningKind::Recommendation);
                let phrase = phrases
                    .choose(&mut self.rng)
                    .context("learning vocabulary")?;
                let t = self.rng.random_range(0..self.themes.len());
                let initiative = self.places[p]
                    .initiatives
                    .choose(&mut self.rng)
                    .map(|i| (i.id, i.start));
                let audience = if self.rng.random_bool(0.15) {
                    Audience::Partners
                } else {
                    Audience::Public
                };
                let (created_at, updated_at) =
                    self.timestamps(initiative.map_or(epoch(), |(_, start)| start));
                let theme_code = self.themes[t].1.code;
                let mut model = learning::Model {
                    id,
                    municipality_id,
                    programme_id: self.places[p].programmes.choose(&mut self.rng).copied(),
                    initiative_id: initiative
                        .filter(|_| n % 2 == 0)
                        .map(|(id, _)| id),
                    kind,
                    audience,
                    position: None,
                    title: languages.text(phrase),
                    body: languages.text_with(
                        &Phrase {
                            nl: "Synthetische les ({}): {} — opgetekend bij een initiatief rond {}.",
                            en: "Synthetic learning ({}): {} — noted at an initiative on {}.",
                            fr: "Enseignement synthétique ({}) : {} — relevé dans une initiative sur {}.",
                        },
                        |locale, s| {
                            s.replacen("{}", kind_value, 1)
                                .replacen("{}", phrase.get(locale), 1)
                                .replacen("{}", &theme_code.replace('_', " "), 1)
                        },
                    ),
                    search_text: String::new(),
                    created_at,
                    updated_at,
                    version: 1,
                    archived_at: None,
                    provenance: Provenance::Synthetic,
                };
                model.search_text = stroom_api::learning::search_text(&model);
                learnings.push(model);
                themes.push(learning_theme::Model {
                    learning_id: id,
                    theme_id: self.themes[t].0,
                    created_at,
                });
                // About one in twenty learnings of other cities is seen here too.
                if !endorsable.is_empty() && self.rng.random_bool(0.05) {
                    let (learning_id, _) = endorsable[self.rng.random_range(0..endorsable.len())];
                    if endorsed.insert(learning_id) {
                        endorsements.push(learning_endorsement::Model {
                            id: self.ids.take("learning_endorsement"),
                            learning_id,
                            municipality_id,
                            note: LocalizedText::new(),
                            created_at: updated_at,
                            updated_at,
                            version: 1,
                            archived_at: None,
                            provenance: Provenance::Synthetic,
                        });
                    }
                }
                if audience == Audience::Public {
                    endorsable.push((id, municipality_id));
                }
                if learnings.full() {
                    bar.inc(learnings.flush(self.txn).await?);
                    themes.flush(self.txn).await?;
                    endorsements.flush(self.txn).await?;
                }
            }
        }
        bar.inc(learnings.flush(self.txn).await?);
        themes.flush(self.txn).await?;
        endorsements.flush(self.txn).await?;
        finish(&bar, total);
        Ok(())
    }
}

/// The first day of the quarter holding `day`.
fn quarter_start(day: NaiveDate) -> NaiveDate {
    NaiveDate::from_ymd_opt(day.year(), (day.month0() / 3) * 3 + 1, 1).unwrap_or(day)
}

/// The numbers `stroom generate` asks for: the scale, with any number given on its own.
pub fn scale_of(args: &stroom_api::config::GenerateArgs) -> anyhow::Result<Scale> {
    if !(args.scale.is_finite() && args.scale > 0.0 && args.scale <= 100.0) {
        bail!("--scale must lie between 0 and 100, not {}", args.scale);
    }
    let base = Scale::times(args.scale);
    Ok(Scale {
        municipalities: args.municipalities.unwrap_or(base.municipalities).max(1),
        organisations: args.organisations.unwrap_or(base.organisations),
        needs: args.needs.unwrap_or(base.needs),
        initiatives: args.initiatives.unwrap_or(base.initiatives),
        outcomes: args.outcomes.unwrap_or(base.outcomes),
        learnings: args.learnings.unwrap_or(base.learnings),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_add_up() {
        for (total, parts) in [(10, 3), (1_000_000, 50), (7, 10), (0, 4)] {
            let sum: u64 = (0..parts).map(|i| share(total, parts, i)).sum();
            assert_eq!(sum, total, "{total} over {parts}");
        }
    }

    #[test]
    fn scales_down_to_one_municipality() {
        let tiny = Scale::times(0.001);
        assert_eq!(tiny.municipalities, 1);
        assert_eq!(tiny.initiatives, 100);
        assert_eq!(Scale::times(1.0), Scale::DEFAULT);
    }

    #[test]
    fn quarters_start_on_their_first_day() {
        let day = NaiveDate::from_ymd_opt(2024, 8, 17).unwrap_or_default();
        assert_eq!(
            quarter_start(day),
            NaiveDate::from_ymd_opt(2024, 7, 1).unwrap_or_default()
        );
    }
}
