//! The open data sets: which table, which fields (with their Frictionless types), and which
//! rows are public.
use crate::kernel::ids::NodeKind;
use crate::kernel::record::Record;

/// How a field is read and written.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    /// The record's own global ID.
    Id(NodeKind),
    /// A reference column, written as the referenced record's global ID.
    Ref(&'static str, NodeKind),
    /// Plain text.
    Text(&'static str),
    /// Multilingual text, written in the chosen locale (with fallback).
    Localized(&'static str),
    /// An enumeration, written as the API's value (`RUNNING`).
    Enum(&'static str),
    Integer(&'static str),
    Boolean(&'static str),
    Date(&'static str),
    DateTime(&'static str),
    /// A measured value stored in millionths, written as a decimal number.
    Micro(&'static str),
}

impl Kind {
    pub fn column(self) -> &'static str {
        match self {
            Kind::Id(_) => "id",
            Kind::Ref(c, _)
            | Kind::Text(c)
            | Kind::Localized(c)
            | Kind::Enum(c)
            | Kind::Integer(c)
            | Kind::Boolean(c)
            | Kind::Date(c)
            | Kind::DateTime(c)
            | Kind::Micro(c) => c,
        }
    }

    /// The Frictionless Table Schema type.
    pub fn frictionless(self) -> &'static str {
        match self {
            Kind::Id(_) | Kind::Ref(..) | Kind::Text(_) | Kind::Localized(_) | Kind::Enum(_) => {
                "string"
            }
            Kind::Integer(_) => "integer",
            Kind::Boolean(_) => "boolean",
            Kind::Date(_) => "date",
            Kind::DateTime(_) => "datetime",
            Kind::Micro(_) => "number",
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Field {
    pub name: &'static str,
    pub kind: Kind,
    pub description: &'static str,
}

const fn f(name: &'static str, kind: Kind, description: &'static str) -> Field {
    Field {
        name,
        kind,
        description,
    }
}

/// Which rows of a table are public by their own columns. A row is published only when the
/// records it refers to are too (`open_data::published`).
#[derive(Debug, Clone, Copy)]
pub enum Scope {
    /// Archived rows only when asked for.
    Records,
    /// Learnings: public ones only, archived only when asked for.
    PublicLearnings,
    /// Link rows (they are never archived themselves).
    Links,
}

/// The key rows are read in order of (one ID column, or a pair for link tables).
#[derive(Debug, Clone, Copy)]
pub enum Key {
    Id,
    Pair(&'static str, &'static str),
}

#[derive(Debug, Clone, Copy)]
pub struct Dataset {
    pub name: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    pub table: &'static str,
    pub key: Key,
    pub scope: Scope,
    pub fields: &'static [Field],
}

/// How many fields every record ends with.
pub const META_FIELDS: usize = META.len();

const META: [Field; 4] = [
    f(
        "created_at",
        Kind::DateTime("created_at"),
        "When the record was created (UTC).",
    ),
    f(
        "updated_at",
        Kind::DateTime("updated_at"),
        "When the record last changed (UTC).",
    ),
    f(
        "archived_at",
        Kind::DateTime("archived_at"),
        "When the record was archived; empty while it is current.",
    ),
    f(
        "provenance",
        Kind::Enum("provenance"),
        "Where the record comes from: CASE_STUDY, PUBLIC_SOURCE, ILLUSTRATIVE (made up, not a fact), SYNTHETIC or RECORDED.",
    ),
];

/// One field: its name in the files, the entity's column it reads (the same name unless
/// `= column` says otherwise) and how. The column is checked against the entity's model: a
/// name that is not one of its fields does not build.
macro_rules! field {
    ($table:ident, $name:ident = $column:ident: Ref($kind:ident) $desc:literal) => {{
        fn _column(row: &entity::$table::Model) -> impl Sized + '_ {
            &row.$column
        }
        Field {
            name: stringify!($name),
            kind: Kind::Ref(stringify!($column), NodeKind::$kind),
            description: $desc,
        }
    }};
    ($table:ident, $name:ident = $column:ident: $kind:ident $desc:literal) => {{
        fn _column(row: &entity::$table::Model) -> impl Sized + '_ {
            &row.$column
        }
        Field {
            name: stringify!($name),
            kind: Kind::$kind(stringify!($column)),
            description: $desc,
        }
    }};
    ($table:ident, $name:ident: $($rest:tt)*) => {
        field!($table, $name = $name: $($rest)*)
    };
}

/// One dataset: a record table (`table as Scope`: its global ID, the fields declared, then the
/// four every record has) or a link table (`table by (one, other)`: keyed by the pair).
macro_rules! dataset {
    (as $scope:ident, $table:ident, $name:literal, $title:literal, $desc:literal, [$($field:expr),*]) => {
        Dataset {
            name: $name,
            title: $title,
            description: $desc,
            table: stringify!($table),
            key: Key::Id,
            scope: Scope::$scope,
            fields: {
                const FIELDS: &[Field] = &[
                    Field {
                        name: "id",
                        kind: Kind::Id(<entity::$table::Entity as Record>::KIND),
                        description: "Global ID.",
                    },
                    $($field,)*
                    META[0], META[1], META[2], META[3],
                ];
                FIELDS
            },
        }
    };
    (by ($one:ident, $other:ident), $table:ident, $name:literal, $title:literal, $desc:literal, [$($field:expr),*]) => {
        Dataset {
            name: $name,
            title: $title,
            description: $desc,
            table: stringify!($table),
            key: Key::Pair(stringify!($one), stringify!($other)),
            scope: Scope::Links,
            fields: {
                const FIELDS: &[Field] = &[$($field),*];
                FIELDS
            },
        }
    };
}

/// The datasets, in the order the data package lists them.
macro_rules! datasets {
    ($($name:literal: $table:ident $how:tt $shape:tt, $title:literal, $desc:literal {
        $($field:ident $(= $column:ident)?: $kind:ident $(($ref:ident))? $fdesc:literal),* $(,)?
    }),* $(,)?) => {
        pub const DATASETS: &[Dataset] = &[$(
            dataset!($how $shape, $table, $name, $title, $desc, [$(
                field!($table, $field $(= $column)?: $kind $(($ref))? $fdesc)
            ),*])
        ),*];
    };
}

datasets! {
    "municipalities": municipality as Records,
        "Municipalities",
        "Cities and regions that run circular programmes." {
        name: Localized "Name.",
        country: Text "ISO 3166-1 alpha-2 country code.",
        default_locale: Text "The locale the municipality writes in.",
        households: Integer "Number of households, where known.",
        population: Integer "Number of inhabitants, where known.",
    },
    "areas": area as Records,
        "Areas",
        "Districts, neighbourhoods, street clusters and sites (outlines in areas.geojson)." {
        municipality_id: Ref(Municipality) "The municipality.",
        parent_id: Ref(Area) "The area it lies in.",
        kind: Enum "DISTRICT, NEIGHBOURHOOD, STREET_CLUSTER or SITE.",
        name: Localized "Name.",
        households: Integer "Number of households, where known.",
        residents: Integer "Number of residents, where known.",
    },
    "themes": theme as Records,
        "Themes",
        "The taxonomy of themes and needs-mapping domains." {
        code: Text "Stable code.",
        parent_id: Ref(Theme) "The broader theme.",
        municipality_id: Ref(Municipality) "The municipality that added it; empty for the shared taxonomy.",
        label: Localized "Label.",
        description: Localized "What it covers.",
    },
    "organisations": organisation as Records,
        "Organisations",
        "Partners: city departments, funders, agencies, projects, cities, enterprises. Contact people are personal data and not published." {
        kind: Enum "What kind of organisation.",
        parent_id: Ref(Organisation) "The organisation it belongs to.",
        municipality_id: Ref(Municipality) "The municipality that maintains it.",
        name: Localized "Name.",
        description: Localized "What it does.",
        country: Text "ISO 3166-1 alpha-2 country code.",
        city: Text "Where it is based.",
        website: Text "Website.",
    },
    "programmes": programme as Records,
        "Programmes",
        "Circular programmes of cities and interregional projects." {
        municipality_id: Ref(Municipality) "The municipality running it; empty for a network project.",
        name: Localized "Name.",
        summary: Localized "What it is and why.",
        start_date: Date "First day.",
        end_date: Date "Last day.",
        budget_min_eur: Integer "Lower bound of the budget, in euro.",
        budget_max_eur: Integer "Upper bound of the budget, in euro.",
        funding_channel: Localized "How it is funded.",
        staffing: Localized "Its staff.",
        website: Text "Website.",
    },
    "partnerships": partnership as Records,
        "Partnerships",
        "Organisations' roles in programmes, initiatives and networks." {
        organisation_id: Ref(Organisation) "The partner.",
        programme_id: Ref(Programme) "The programme, for a role in one.",
        initiative_id: Ref(Initiative) "The initiative, for a role in one.",
        network_id: Ref(Organisation) "The network, for membership of one.",
        role: Enum "The role.",
        note: Localized "What the partner does in the role.",
    },
    "needs": need as Records,
        "Needs",
        "Residents' needs mapped in participatory research." {
        municipality_id: Ref(Municipality) "The municipality.",
        programme_id: Ref(Programme) "The programme that mapped it.",
        area_id: Ref(Area) "The area.",
        theme_id: Ref(Theme) "The theme.",
        title: Localized "Title.",
        description: Localized "Description.",
        source: Enum "How it was heard.",
        residents_count: Integer "How many residents voiced it.",
        status: Enum "Where it stands.",
        recorded_on: Date "When it was recorded.",
    },
    "need-target-groups": need_target_group by (need_id, target_group),
        "Target groups of needs",
        "The groups of residents each need concerns." {
        need_id: Ref(Need) "The need.",
        target_group: Enum "The target group.",
    },
    "initiatives": initiative as Records,
        "Initiatives",
        "Circular initiatives by citizens, entrepreneurs, social organisations and the city." {
        municipality_id: Ref(Municipality) "The municipality.",
        programme_id: Ref(Programme) "The programme.",
        name: Localized "Name.",
        description: Localized "What it does.",
        initiator_kind: Enum "Who started it.",
        stage: Enum "How far it has come.",
        start_date: Date "When it started.",
        end_date: Date "When it ended.",
        business_model: Enum "How it pays its way.",
        affordability: Enum "What it costs residents.",
        website: Text "Website.",
    },
    "initiative-areas": initiative_area by (initiative_id, area_id),
        "Areas of initiatives",
        "The areas each initiative works in." {
        initiative_id: Ref(Initiative) "The initiative.",
        area_id: Ref(Area) "The area.",
    },
    "initiative-themes": initiative_theme by (initiative_id, theme_id),
        "Themes of initiatives",
        "The themes of each initiative." {
        initiative_id: Ref(Initiative) "The initiative.",
        theme_id: Ref(Theme) "The theme.",
    },
    "initiative-needs": initiative_need by (initiative_id, need_id),
        "Needs answered by initiatives",
        "Which initiative answers which need." {
        initiative_id: Ref(Initiative) "The initiative.",
        need_id: Ref(Need) "The need.",
    },
    "support-requests": support_request as Records,
        "Support requests",
        "Support initiatives asked the city for, and the decisions." {
        initiative_id: Ref(Initiative) "The initiative.",
        kind: Enum "What kind of support.",
        description: Localized "What was asked for.",
        status: Enum "Where it stands.",
        requested_on: Date "When it was asked.",
        decided_on: Date "When it was decided.",
        decision_note: Localized "The decision.",
        amount_requested_eur: Integer "Amount asked for, in euro.",
        amount_granted_eur: Integer "Amount granted, in euro.",
    },
    "indicators": indicator as Records,
        "Indicators",
        "What outcomes measure, with their units." {
        code: Text "Stable code.",
        name: Localized "Name.",
        description: Localized "Definition.",
        unit: Enum "Unit of the values.",
        theme_id: Ref(Theme) "The theme.",
        higher_is_better: Boolean "Whether a higher value is better.",
    },
    "outcomes": outcome as Records,
        "Outcomes",
        "Measured values of indicators over periods. Rows with provenance ILLUSTRATIVE are made up, not measurements." {
        indicator_id: Ref(Indicator) "What was measured.",
        municipality_id: Ref(Municipality) "The municipality.",
        initiative_id: Ref(Initiative) "The initiative measured.",
        programme_id: Ref(Programme) "The programme.",
        area_id: Ref(Area) "The area measured in.",
        period_start: Date "First day of the period.",
        period_end: Date "Last day of the period.",
        value = value_micro: Micro "The value, in the indicator's unit.",
        method: Localized "How it was measured.",
        source: Text "Where the value comes from.",
        verified: Boolean "Whether it was checked against its source.",
    },
    "learnings": learning as PublicLearnings,
        "Learnings",
        "Lessons drawn from programmes and initiatives (public ones only)." {
        municipality_id: Ref(Municipality) "The municipality that drew it.",
        programme_id: Ref(Programme) "The programme.",
        initiative_id: Ref(Initiative) "The initiative.",
        kind: Enum "SUCCESS_FACTOR, PITFALL, CHALLENGE or RECOMMENDATION.",
        position: Integer "Position in its source.",
        title: Localized "Title.",
        body: Localized "The lesson.",
    },
    "learning-themes": learning_theme by (learning_id, theme_id),
        "Themes of learnings",
        "The themes of each public learning." {
        learning_id: Ref(Learning) "The learning.",
        theme_id: Ref(Theme) "The theme.",
    },
    "learning-endorsements": learning_endorsement as Records,
        "Endorsements of learnings",
        "Municipalities that saw a public learning of another too, with their notes." {
        learning_id: Ref(Learning) "The learning endorsed.",
        municipality_id: Ref(Municipality) "The municipality that saw it too.",
        note: Localized "What it saw.",
    }
}

pub fn find(name: &str) -> Option<&'static Dataset> {
    DATASETS.iter().find(|d| d.name == name)
}
