//! The open data sets: which table, which fields (with their Frictionless types), and which
//! rows are public.
use crate::kernel::ids::NodeKind;

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

macro_rules! fields {
    ($($field:expr),* $(,)?) => {{
        const FIELDS: &[Field] = &[$($field,)* META[0], META[1], META[2], META[3]];
        FIELDS
    }};
}

macro_rules! link_fields {
    ($($field:expr),* $(,)?) => {{
        const FIELDS: &[Field] = &[$($field,)*];
        FIELDS
    }};
}

pub const DATASETS: &[Dataset] = &[
    Dataset {
        name: "municipalities",
        title: "Municipalities",
        description: "Cities and regions that run circular programmes.",
        table: "municipality",
        key: Key::Id,
        scope: Scope::Records,
        fields: fields![
            f("id", Kind::Id(NodeKind::Municipality), "Global ID."),
            f("name", Kind::Localized("name"), "Name."),
            f(
                "country",
                Kind::Text("country"),
                "ISO 3166-1 alpha-2 country code."
            ),
            f(
                "default_locale",
                Kind::Text("default_locale"),
                "The locale the municipality writes in."
            ),
            f(
                "households",
                Kind::Integer("households"),
                "Number of households, where known."
            ),
            f(
                "population",
                Kind::Integer("population"),
                "Number of inhabitants, where known."
            ),
        ],
    },
    Dataset {
        name: "areas",
        title: "Areas",
        description: "Districts, neighbourhoods, street clusters and sites (outlines in areas.geojson).",
        table: "area",
        key: Key::Id,
        scope: Scope::Records,
        fields: fields![
            f("id", Kind::Id(NodeKind::Area), "Global ID."),
            f(
                "municipality_id",
                Kind::Ref("municipality_id", NodeKind::Municipality),
                "The municipality."
            ),
            f(
                "parent_id",
                Kind::Ref("parent_id", NodeKind::Area),
                "The area it lies in."
            ),
            f(
                "kind",
                Kind::Enum("kind"),
                "DISTRICT, NEIGHBOURHOOD, STREET_CLUSTER or SITE."
            ),
            f("name", Kind::Localized("name"), "Name."),
            f(
                "households",
                Kind::Integer("households"),
                "Number of households, where known."
            ),
            f(
                "residents",
                Kind::Integer("residents"),
                "Number of residents, where known."
            ),
        ],
    },
    Dataset {
        name: "themes",
        title: "Themes",
        description: "The taxonomy of themes and needs-mapping domains.",
        table: "theme",
        key: Key::Id,
        scope: Scope::Records,
        fields: fields![
            f("id", Kind::Id(NodeKind::Theme), "Global ID."),
            f("code", Kind::Text("code"), "Stable code."),
            f(
                "parent_id",
                Kind::Ref("parent_id", NodeKind::Theme),
                "The broader theme."
            ),
            f(
                "municipality_id",
                Kind::Ref("municipality_id", NodeKind::Municipality),
                "The municipality that added it; empty for the shared taxonomy."
            ),
            f("label", Kind::Localized("label"), "Label."),
            f(
                "description",
                Kind::Localized("description"),
                "What it covers."
            ),
        ],
    },
    Dataset {
        name: "organisations",
        title: "Organisations",
        description: "Partners: city departments, funders, agencies, projects, cities, enterprises. Contact people are personal data and not published.",
        table: "organisation",
        key: Key::Id,
        scope: Scope::Records,
        fields: fields![
            f("id", Kind::Id(NodeKind::Organisation), "Global ID."),
            f("kind", Kind::Enum("kind"), "What kind of organisation."),
            f(
                "parent_id",
                Kind::Ref("parent_id", NodeKind::Organisation),
                "The organisation it belongs to."
            ),
            f(
                "municipality_id",
                Kind::Ref("municipality_id", NodeKind::Municipality),
                "The municipality that maintains it."
            ),
            f("name", Kind::Localized("name"), "Name."),
            f(
                "description",
                Kind::Localized("description"),
                "What it does."
            ),
            f(
                "country",
                Kind::Text("country"),
                "ISO 3166-1 alpha-2 country code."
            ),
            f("city", Kind::Text("city"), "Where it is based."),
            f("website", Kind::Text("website"), "Website."),
        ],
    },
    Dataset {
        name: "programmes",
        title: "Programmes",
        description: "Circular programmes of cities and interregional projects.",
        table: "programme",
        key: Key::Id,
        scope: Scope::Records,
        fields: fields![
            f("id", Kind::Id(NodeKind::Programme), "Global ID."),
            f(
                "municipality_id",
                Kind::Ref("municipality_id", NodeKind::Municipality),
                "The municipality running it; empty for a network project."
            ),
            f("name", Kind::Localized("name"), "Name."),
            f("summary", Kind::Localized("summary"), "What it is and why."),
            f("start_date", Kind::Date("start_date"), "First day."),
            f("end_date", Kind::Date("end_date"), "Last day."),
            f(
                "budget_min_eur",
                Kind::Integer("budget_min_eur"),
                "Lower bound of the budget, in euro."
            ),
            f(
                "budget_max_eur",
                Kind::Integer("budget_max_eur"),
                "Upper bound of the budget, in euro."
            ),
            f(
                "funding_channel",
                Kind::Localized("funding_channel"),
                "How it is funded."
            ),
            f("staffing", Kind::Localized("staffing"), "Its staff."),
            f("website", Kind::Text("website"), "Website."),
        ],
    },
    Dataset {
        name: "partnerships",
        title: "Partnerships",
        description: "Organisations' roles in programmes, initiatives and networks.",
        table: "partnership",
        key: Key::Id,
        scope: Scope::Records,
        fields: fields![
            f("id", Kind::Id(NodeKind::Partnership), "Global ID."),
            f(
                "organisation_id",
                Kind::Ref("organisation_id", NodeKind::Organisation),
                "The partner."
            ),
            f(
                "programme_id",
                Kind::Ref("programme_id", NodeKind::Programme),
                "The programme, for a role in one."
            ),
            f(
                "initiative_id",
                Kind::Ref("initiative_id", NodeKind::Initiative),
                "The initiative, for a role in one."
            ),
            f(
                "network_id",
                Kind::Ref("network_id", NodeKind::Organisation),
                "The network, for membership of one."
            ),
            f("role", Kind::Enum("role"), "The role."),
            f(
                "note",
                Kind::Localized("note"),
                "What the partner does in the role."
            ),
        ],
    },
    Dataset {
        name: "needs",
        title: "Needs",
        description: "Residents' needs mapped in participatory research.",
        table: "need",
        key: Key::Id,
        scope: Scope::Records,
        fields: fields![
            f("id", Kind::Id(NodeKind::Need), "Global ID."),
            f(
                "municipality_id",
                Kind::Ref("municipality_id", NodeKind::Municipality),
                "The municipality."
            ),
            f(
                "programme_id",
                Kind::Ref("programme_id", NodeKind::Programme),
                "The programme that mapped it."
            ),
            f("area_id", Kind::Ref("area_id", NodeKind::Area), "The area."),
            f(
                "theme_id",
                Kind::Ref("theme_id", NodeKind::Theme),
                "The theme."
            ),
            f("title", Kind::Localized("title"), "Title."),
            f(
                "description",
                Kind::Localized("description"),
                "Description."
            ),
            f("source", Kind::Enum("source"), "How it was heard."),
            f(
                "residents_count",
                Kind::Integer("residents_count"),
                "How many residents voiced it."
            ),
            f("status", Kind::Enum("status"), "Where it stands."),
            f(
                "recorded_on",
                Kind::Date("recorded_on"),
                "When it was recorded."
            ),
        ],
    },
    Dataset {
        name: "need-target-groups",
        title: "Target groups of needs",
        description: "The groups of residents each need concerns.",
        table: "need_target_group",
        key: Key::Pair("need_id", "target_group"),
        scope: Scope::Links,
        fields: link_fields![
            f("need_id", Kind::Ref("need_id", NodeKind::Need), "The need."),
            f(
                "target_group",
                Kind::Enum("target_group"),
                "The target group."
            ),
        ],
    },
    Dataset {
        name: "initiatives",
        title: "Initiatives",
        description: "Circular initiatives by citizens, entrepreneurs, social organisations and the city.",
        table: "initiative",
        key: Key::Id,
        scope: Scope::Records,
        fields: fields![
            f("id", Kind::Id(NodeKind::Initiative), "Global ID."),
            f(
                "municipality_id",
                Kind::Ref("municipality_id", NodeKind::Municipality),
                "The municipality."
            ),
            f(
                "programme_id",
                Kind::Ref("programme_id", NodeKind::Programme),
                "The programme."
            ),
            f("name", Kind::Localized("name"), "Name."),
            f(
                "description",
                Kind::Localized("description"),
                "What it does."
            ),
            f(
                "initiator_kind",
                Kind::Enum("initiator_kind"),
                "Who started it."
            ),
            f("stage", Kind::Enum("stage"), "How far it has come."),
            f("start_date", Kind::Date("start_date"), "When it started."),
            f("end_date", Kind::Date("end_date"), "When it ended."),
            f(
                "business_model",
                Kind::Enum("business_model"),
                "How it pays its way."
            ),
            f(
                "affordability",
                Kind::Enum("affordability"),
                "What it costs residents."
            ),
            f("website", Kind::Text("website"), "Website."),
        ],
    },
    Dataset {
        name: "initiative-areas",
        title: "Areas of initiatives",
        description: "The areas each initiative works in.",
        table: "initiative_area",
        key: Key::Pair("initiative_id", "area_id"),
        scope: Scope::Links,
        fields: link_fields![
            f(
                "initiative_id",
                Kind::Ref("initiative_id", NodeKind::Initiative),
                "The initiative."
            ),
            f("area_id", Kind::Ref("area_id", NodeKind::Area), "The area."),
        ],
    },
    Dataset {
        name: "initiative-themes",
        title: "Themes of initiatives",
        description: "The themes of each initiative.",
        table: "initiative_theme",
        key: Key::Pair("initiative_id", "theme_id"),
        scope: Scope::Links,
        fields: link_fields![
            f(
                "initiative_id",
                Kind::Ref("initiative_id", NodeKind::Initiative),
                "The initiative."
            ),
            f(
                "theme_id",
                Kind::Ref("theme_id", NodeKind::Theme),
                "The theme."
            ),
        ],
    },
    Dataset {
        name: "initiative-needs",
        title: "Needs answered by initiatives",
        description: "Which initiative answers which need.",
        table: "initiative_need",
        key: Key::Pair("initiative_id", "need_id"),
        scope: Scope::Links,
        fields: link_fields![
            f(
                "initiative_id",
                Kind::Ref("initiative_id", NodeKind::Initiative),
                "The initiative."
            ),
            f("need_id", Kind::Ref("need_id", NodeKind::Need), "The need."),
        ],
    },
    Dataset {
        name: "support-requests",
        title: "Support requests",
        description: "Support initiatives asked the city for, and the decisions.",
        table: "support_request",
        key: Key::Id,
        scope: Scope::Records,
        fields: fields![
            f("id", Kind::Id(NodeKind::SupportRequest), "Global ID."),
            f(
                "initiative_id",
                Kind::Ref("initiative_id", NodeKind::Initiative),
                "The initiative."
            ),
            f("kind", Kind::Enum("kind"), "What kind of support."),
            f(
                "description",
                Kind::Localized("description"),
                "What was asked for."
            ),
            f("status", Kind::Enum("status"), "Where it stands."),
            f(
                "requested_on",
                Kind::Date("requested_on"),
                "When it was asked."
            ),
            f(
                "decided_on",
                Kind::Date("decided_on"),
                "When it was decided."
            ),
            f(
                "decision_note",
                Kind::Localized("decision_note"),
                "The decision."
            ),
            f(
                "amount_requested_eur",
                Kind::Integer("amount_requested_eur"),
                "Amount asked for, in euro."
            ),
            f(
                "amount_granted_eur",
                Kind::Integer("amount_granted_eur"),
                "Amount granted, in euro."
            ),
        ],
    },
    Dataset {
        name: "indicators",
        title: "Indicators",
        description: "What outcomes measure, with their units.",
        table: "indicator",
        key: Key::Id,
        scope: Scope::Records,
        fields: fields![
            f("id", Kind::Id(NodeKind::Indicator), "Global ID."),
            f("code", Kind::Text("code"), "Stable code."),
            f("name", Kind::Localized("name"), "Name."),
            f("description", Kind::Localized("description"), "Definition."),
            f("unit", Kind::Enum("unit"), "Unit of the values."),
            f(
                "theme_id",
                Kind::Ref("theme_id", NodeKind::Theme),
                "The theme."
            ),
            f(
                "higher_is_better",
                Kind::Boolean("higher_is_better"),
                "Whether a higher value is better."
            ),
        ],
    },
    Dataset {
        name: "outcomes",
        title: "Outcomes",
        description: "Measured values of indicators over periods. Rows with provenance ILLUSTRATIVE are made up, not measurements.",
        table: "outcome",
        key: Key::Id,
        scope: Scope::Records,
        fields: fields![
            f("id", Kind::Id(NodeKind::Outcome), "Global ID."),
            f(
                "indicator_id",
                Kind::Ref("indicator_id", NodeKind::Indicator),
                "What was measured."
            ),
            f(
                "municipality_id",
                Kind::Ref("municipality_id", NodeKind::Municipality),
                "The municipality."
            ),
            f(
                "initiative_id",
                Kind::Ref("initiative_id", NodeKind::Initiative),
                "The initiative measured."
            ),
            f(
                "programme_id",
                Kind::Ref("programme_id", NodeKind::Programme),
                "The programme."
            ),
            f(
                "area_id",
                Kind::Ref("area_id", NodeKind::Area),
                "The area measured in."
            ),
            f(
                "period_start",
                Kind::Date("period_start"),
                "First day of the period."
            ),
            f(
                "period_end",
                Kind::Date("period_end"),
                "Last day of the period."
            ),
            f(
                "value",
                Kind::Micro("value_micro"),
                "The value, in the indicator's unit."
            ),
            f("method", Kind::Localized("method"), "How it was measured."),
            f(
                "source",
                Kind::Text("source"),
                "Where the value comes from."
            ),
            f(
                "verified",
                Kind::Boolean("verified"),
                "Whether it was checked against its source."
            ),
        ],
    },
    Dataset {
        name: "learnings",
        title: "Learnings",
        description: "Lessons drawn from programmes and initiatives (public ones only).",
        table: "learning",
        key: Key::Id,
        scope: Scope::PublicLearnings,
        fields: fields![
            f("id", Kind::Id(NodeKind::Learning), "Global ID."),
            f(
                "municipality_id",
                Kind::Ref("municipality_id", NodeKind::Municipality),
                "The municipality that drew it."
            ),
            f(
                "programme_id",
                Kind::Ref("programme_id", NodeKind::Programme),
                "The programme."
            ),
            f(
                "initiative_id",
                Kind::Ref("initiative_id", NodeKind::Initiative),
                "The initiative."
            ),
            f(
                "kind",
                Kind::Enum("kind"),
                "SUCCESS_FACTOR, PITFALL, CHALLENGE or RECOMMENDATION."
            ),
            f(
                "position",
                Kind::Integer("position"),
                "Position in its source."
            ),
            f("title", Kind::Localized("title"), "Title."),
            f("body", Kind::Localized("body"), "The lesson."),
        ],
    },
    Dataset {
        name: "learning-themes",
        title: "Themes of learnings",
        description: "The themes of each public learning.",
        table: "learning_theme",
        key: Key::Pair("learning_id", "theme_id"),
        scope: Scope::Links,
        fields: link_fields![
            f(
                "learning_id",
                Kind::Ref("learning_id", NodeKind::Learning),
                "The learning."
            ),
            f(
                "theme_id",
                Kind::Ref("theme_id", NodeKind::Theme),
                "The theme."
            ),
        ],
    },
    Dataset {
        name: "learning-endorsements",
        title: "Endorsements of learnings",
        description: "Municipalities that saw a public learning of another too, with their notes.",
        table: "learning_endorsement",
        key: Key::Id,
        scope: Scope::Records,
        fields: fields![
            f("id", Kind::Id(NodeKind::LearningEndorsement), "Global ID."),
            f(
                "learning_id",
                Kind::Ref("learning_id", NodeKind::Learning),
                "The learning endorsed."
            ),
            f(
                "municipality_id",
                Kind::Ref("municipality_id", NodeKind::Municipality),
                "The municipality that saw it too."
            ),
            f("note", Kind::Localized("note"), "What it saw."),
        ],
    },
];

pub fn find(name: &str) -> Option<&'static Dataset> {
    DATASETS.iter().find(|d| d.name == name)
}
