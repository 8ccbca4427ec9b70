//! What a spreadsheet of each record type holds: its columns (named in English, Dutch or French),
//! how each cell reads, and the mutation a row goes through. A row becomes the same input object
//! a GraphQL client would send, so an import checks exactly what the API checks.
use async_graphql::{Enum, InputType, Value};
use futures_util::future::BoxFuture;

use super::cells::enum_names;
use crate::domain::indicator::Unit;
use crate::domain::initiative::{Affordability, BusinessModel, InitiativeStage, InitiatorKind};
use crate::domain::learning::{Audience, LearningKind};
use crate::domain::need::{NeedSource, NeedStatus, TargetGroup};
use crate::domain::organisation::OrganisationKind;
use crate::domain::partnership::PartnerRole;
use crate::graphql::input::TranslationInput;
use crate::kernel::ids::NodeKind;
use crate::kernel::write::{UserError, Write, WriteResult};

/// The record types a spreadsheet can hold.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportType {
    /// Initiatives (`createInitiative`, `updateInitiative`).
    Initiatives,
    /// Needs of residents (`createNeed`, `updateNeed`).
    Needs,
    /// Organisations (`createOrganisation`, `updateOrganisation`).
    Organisations,
    /// Partners of programmes, initiatives and networks (`add…Partner`, `addNetworkMember`).
    Partnerships,
    /// Measured outcomes (`recordOutcome`, `updateOutcome`).
    Outcomes,
    /// Learnings (`createLearning`, `updateLearning`).
    Learnings,
}

impl ImportType {
    pub const ALL: [ImportType; 6] = [
        ImportType::Initiatives,
        ImportType::Needs,
        ImportType::Organisations,
        ImportType::Partnerships,
        ImportType::Outcomes,
        ImportType::Learnings,
    ];

    /// As the command line and file names spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            ImportType::Initiatives => "initiatives",
            ImportType::Needs => "needs",
            ImportType::Organisations => "organisations",
            ImportType::Partnerships => "partnerships",
            ImportType::Outcomes => "outcomes",
            ImportType::Learnings => "learnings",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str() == text.trim().to_lowercase())
    }

    pub fn spec(self) -> &'static Spec {
        match self {
            ImportType::Initiatives => &INITIATIVES,
            ImportType::Needs => &NEEDS,
            ImportType::Organisations => &ORGANISATIONS,
            ImportType::Partnerships => &PARTNERSHIPS,
            ImportType::Outcomes => &OUTCOMES,
            ImportType::Learnings => &LEARNINGS,
        }
    }
}

/// How a cell reads.
#[derive(Clone, Copy)]
pub enum Kind {
    /// Text in a language: the column name may end in the locale, `naam (en)`; without one the
    /// text is in the file's language.
    Text,
    /// Plain text, the same in every language (a website, a city).
    Plain,
    Enum(fn() -> Vec<&'static str>),
    EnumList(fn() -> Vec<&'static str>),
    Date,
    Int,
    Decimal,
    Bool,
    /// A record of this type: by global ID, by the external ID an import gave it, by name (or
    /// code, for themes and indicators).
    Ref(NodeKind),
    Refs(NodeKind),
}

/// One column of a record type's spreadsheet.
pub struct Column {
    /// The input field it fills.
    pub field: &'static str,
    /// Its name in English, Dutch and French (any of them is understood).
    pub names: [&'static str; 3],
    pub kind: Kind,
    /// A new record needs it.
    pub required: bool,
    /// Set when the record is made; later rows may repeat it but not change it.
    pub fixed: bool,
    /// What it holds, for the template's explanation sheet.
    pub help: &'static str,
    /// An example value for the template.
    pub example: &'static str,
}

/// Makes a record from its input object; its ID and version.
pub type Create = for<'w> fn(&'w Write, Value) -> BoxFuture<'w, WriteResult<(i64, i32)>>;
/// Changes a record from its input object (with `id` and `version`); its new version.
pub type Update = for<'w> fn(&'w Write, Value) -> BoxFuture<'w, WriteResult<i32>>;

/// A record type as spreadsheets hold it.
pub struct Spec {
    pub node: NodeKind,
    pub columns: &'static [Column],
    pub create: Create,
    /// None: records of this type are not changed by an import (a row may only repeat them).
    pub update: Option<Update>,
}

/// The columns every type has: the record's identity.
pub const EXTERNAL_ID: [&str; 3] = ["external ID", "externe ID", "ID externe"];
pub const ID: [&str; 3] = ["ID", "ID", "identifiant"];
pub const VERSION: [&str; 3] = ["version", "versie", "version"];

const fn col(
    field: &'static str,
    names: [&'static str; 3],
    kind: Kind,
    help: &'static str,
    example: &'static str,
) -> Column {
    Column {
        field,
        names,
        kind,
        required: false,
        fixed: false,
        help,
        example,
    }
}

const fn required(mut column: Column) -> Column {
    column.required = true;
    column
}

const fn fixed(mut column: Column) -> Column {
    column.fixed = true;
    column
}

/// Reads an input object as the API would.
fn input<T: InputType>(value: Value) -> WriteResult<T> {
    T::parse(Some(value)).map_err(|e| {
        UserError::invalid(
            "",
            e.into_server_error(Default::default())
                .message
                .replace("\"", "`"),
        )
        .into()
    })
}

macro_rules! through {
    ($create:ident, $input:ty, $call:path) => {
        fn $create(write: &Write, value: Value) -> BoxFuture<'_, WriteResult<(i64, i32)>> {
            Box::pin(async move {
                let stored = $call(write, input::<$input>(value)?).await?;
                Ok((stored.id, stored.version))
            })
        }
    };
    (update $update:ident, $input:ty, $call:path) => {
        fn $update(write: &Write, value: Value) -> BoxFuture<'_, WriteResult<i32>> {
            Box::pin(async move { Ok($call(write, input::<$input>(value)?).await?.version) })
        }
    };
}

use crate::domain::{initiative, learning, need, organisation, outcome};

through!(
    create_initiative,
    initiative::mutation::CreateInitiativeInput,
    initiative::mutation::create
);
through!(update update_initiative, initiative::mutation::UpdateInitiativeInput, initiative::mutation::update);
through!(
    create_need,
    need::mutation::CreateNeedInput,
    need::mutation::create
);
through!(update update_need, need::mutation::UpdateNeedInput, need::mutation::update);
through!(
    create_organisation,
    organisation::mutation::CreateOrganisationInput,
    organisation::mutation::create
);
through!(update update_organisation, organisation::mutation::UpdateOrganisationInput, organisation::mutation::update);
through!(
    create_outcome,
    outcome::mutation::RecordOutcomeInput,
    outcome::mutation::record
);
through!(update update_outcome, outcome::mutation::UpdateOutcomeInput, outcome::mutation::update);
through!(
    create_learning,
    learning::mutation::CreateLearningInput,
    learning::mutation::create
);
through!(update update_learning, learning::mutation::UpdateLearningInput, learning::mutation::update);

/// A partnership row: of a programme, an initiative or a network (exactly one of them).
fn create_partnership(write: &Write, value: Value) -> BoxFuture<'_, WriteResult<(i64, i32)>> {
    use crate::domain::partnership::mutation::{PartnerOf, add_partner};
    use crate::graphql::input::id;
    Box::pin(async move {
        let Value::Object(fields) = &value else {
            return Err(UserError::invalid("", "Invalid input.").into());
        };
        let get = |name: &str| match fields.get(name) {
            Some(Value::String(s)) => Some(async_graphql::ID(s.clone())),
            _ => None,
        };
        let of = match (get("programme"), get("initiative"), get("network")) {
            (Some(p), None, None) => {
                PartnerOf::Programme(id("programme", &p, NodeKind::Programme)?)
            }
            (None, Some(i), None) => {
                PartnerOf::Initiative(id("initiative", &i, NodeKind::Initiative)?)
            }
            (None, None, Some(n)) => PartnerOf::Network(id("network", &n, NodeKind::Organisation)?),
            _ => {
                return Err(UserError::invalid(
                    "programme",
                    "Name exactly one of programme, initiative or network the partner works with.",
                )
                .into());
            }
        };
        let organisation = get("organisation").ok_or_else(|| {
            UserError::invalid("organisation", "The partner organisation is required.")
        })?;
        let role = input::<PartnerRole>(fields.get("role").cloned().unwrap_or(Value::Null))?;
        let note = match fields.get("note") {
            Some(note) => Some(input::<Vec<TranslationInput>>(note.clone())?),
            None => None,
        };
        let stored = add_partner(write, of, &organisation, role, note.as_deref()).await?;
        Ok((stored.id, stored.version))
    })
}

const MUNICIPALITY: Column = fixed(col(
    "municipality",
    ["municipality", "gemeente", "commune"],
    Kind::Ref(NodeKind::Municipality),
    "The municipality, by name or ID. Empty: the editor key's own (or the only one).",
    "Mechelen",
));
const PROGRAMME: Column = col(
    "programme",
    ["programme", "programma", "programme"],
    Kind::Ref(NodeKind::Programme),
    "The programme, by name, external ID or ID.",
    "Stroom",
);
const DESCRIPTION: Column = col(
    "description",
    ["description", "beschrijving", "description"],
    Kind::Text,
    "What it is, in the file's language; add `description (en)` and so on for translations.",
    "",
);
const WEBSITE: Column = col(
    "website",
    ["website", "website", "site web"],
    Kind::Plain,
    "A web address (http or https).",
    "",
);
const THEMES: Column = col(
    "themes",
    ["themes", "thema's", "thèmes"],
    Kind::Refs(NodeKind::Theme),
    "Theme codes or names, separated by `;`.",
    "repair",
);
const AREA: Column = col(
    "area",
    ["area", "gebied", "zone"],
    Kind::Ref(NodeKind::Area),
    "The area, by name or ID.",
    "",
);

pub static INITIATIVES: Spec = Spec {
    node: NodeKind::Initiative,
    columns: &[
        MUNICIPALITY,
        PROGRAMME,
        required(col(
            "name",
            ["name", "naam", "nom"],
            Kind::Text,
            "Its name, in the file's language; `name (en)` and so on for translations.",
            "Repair Café Nekkerspoel",
        )),
        DESCRIPTION,
        required(col(
            "initiatorKind",
            ["initiator", "initiatiefnemer", "initiateur"],
            Kind::Enum(enum_names::<InitiatorKind>),
            "Who started it.",
            "CITIZENS",
        )),
        required(col(
            "stage",
            ["stage", "fase", "étape"],
            Kind::Enum(enum_names::<InitiativeStage>),
            "How far it has come.",
            "IDEA",
        )),
        col(
            "startDate",
            ["start date", "startdatum", "date de début"],
            Kind::Date,
            "The day it started (YYYY-MM-DD or DD/MM/YYYY).",
            "2024-03-01",
        ),
        col(
            "endDate",
            ["end date", "einddatum", "date de fin"],
            Kind::Date,
            "The day it ended.",
            "",
        ),
        required(col(
            "businessModel",
            ["business model", "verdienmodel", "modèle économique"],
            Kind::Enum(enum_names::<BusinessModel>),
            "How it pays its way.",
            "VOLUNTEER",
        )),
        required(col(
            "affordability",
            [
                "affordability",
                "betaalbaarheid",
                "accessibilité financière",
            ],
            Kind::Enum(enum_names::<Affordability>),
            "What using it costs residents.",
            "FREE",
        )),
        WEBSITE,
        col(
            "areas",
            ["areas", "gebieden", "zones"],
            Kind::Refs(NodeKind::Area),
            "Areas it works in, by name, separated by `;`.",
            "",
        ),
        THEMES,
    ],
    create: create_initiative,
    update: Some(update_initiative),
};

pub static NEEDS: Spec = Spec {
    node: NodeKind::Need,
    columns: &[
        MUNICIPALITY,
        PROGRAMME,
        AREA,
        col(
            "theme",
            ["theme", "thema", "thème"],
            Kind::Ref(NodeKind::Theme),
            "The theme's code or name.",
            "repair",
        ),
        required(col(
            "title",
            ["title", "titel", "titre"],
            Kind::Text,
            "A short title, in the file's language; `title (en)` for a translation.",
            "Reparatie van kleine toestellen",
        )),
        DESCRIPTION,
        col(
            "targetGroups",
            ["target groups", "doelgroepen", "groupes cibles"],
            Kind::EnumList(enum_names::<TargetGroup>),
            "The groups of residents it concerns, separated by `;`.",
            "",
        ),
        required(col(
            "source",
            ["source", "bron", "source"],
            Kind::Enum(enum_names::<NeedSource>),
            "How it was heard.",
            "SURVEY",
        )),
        col(
            "residentsCount",
            ["residents", "bewoners", "habitants"],
            Kind::Int,
            "How many residents voiced it.",
            "12",
        ),
        fixed(col(
            "status",
            ["status", "status", "statut"],
            Kind::Enum(enum_names::<NeedStatus>),
            "Where it stands (new needs: OPEN by default; later changes through changeNeedStatus).",
            "OPEN",
        )),
        col(
            "recordedOn",
            ["recorded on", "vastgesteld op", "relevé le"],
            Kind::Date,
            "The day it was recorded (default: the day of the import).",
            "2024-02-15",
        ),
    ],
    create: create_need,
    update: Some(update_need),
};

pub static ORGANISATIONS: Spec = Spec {
    node: NodeKind::Organisation,
    columns: &[
        Column {
            required: false,
            help: "The municipality whose staff keep it, by name or ID. Empty: the editor key's own; shared organisations need an admin key and `-` here.",
            ..MUNICIPALITY
        },
        required(col(
            "kind",
            ["kind", "soort", "type"],
            Kind::Enum(enum_names::<OrganisationKind>),
            "What kind of organisation it is.",
            "SOCIAL_ORGANISATION",
        )),
        required(col(
            "name",
            ["name", "naam", "nom"],
            Kind::Text,
            "Its name, in the file's language; `name (en)` for a translation.",
            "Kringwinkel Mechelen",
        )),
        DESCRIPTION,
        col(
            "country",
            ["country", "land", "pays"],
            Kind::Plain,
            "ISO country code, such as BE.",
            "BE",
        ),
        col(
            "city",
            ["city", "stad", "ville"],
            Kind::Plain,
            "The city where it is based.",
            "Mechelen",
        ),
        WEBSITE,
        col(
            "parent",
            ["parent", "moederorganisatie", "organisation mère"],
            Kind::Ref(NodeKind::Organisation),
            "The organisation it belongs to, by name, external ID or ID.",
            "",
        ),
    ],
    create: create_organisation,
    update: Some(update_organisation),
};

pub static PARTNERSHIPS: Spec = Spec {
    node: NodeKind::Partnership,
    columns: &[
        fixed(col(
            "programme",
            ["programme", "programma", "programme"],
            Kind::Ref(NodeKind::Programme),
            "The programme the partner works in (or an initiative, or a network).",
            "Stroom",
        )),
        fixed(col(
            "initiative",
            ["initiative", "initiatief", "initiative"],
            Kind::Ref(NodeKind::Initiative),
            "The initiative the partner works in, by name, external ID or ID.",
            "",
        )),
        fixed(col(
            "network",
            ["network", "netwerk", "réseau"],
            Kind::Ref(NodeKind::Organisation),
            "The network or project the organisation is a member of.",
            "",
        )),
        required(fixed(col(
            "organisation",
            ["organisation", "organisatie", "organisation"],
            Kind::Ref(NodeKind::Organisation),
            "The partner organisation, by name, external ID or ID.",
            "Stad Mechelen",
        ))),
        required(fixed(col(
            "role",
            ["role", "rol", "rôle"],
            Kind::Enum(enum_names::<PartnerRole>),
            "Its role.",
            "COORDINATOR",
        ))),
        fixed(col(
            "note",
            ["note", "toelichting", "remarque"],
            Kind::Text,
            "What it does in this role.",
            "",
        )),
    ],
    create: create_partnership,
    update: None,
};

pub static OUTCOMES: Spec = Spec {
    node: NodeKind::Outcome,
    columns: &[
        required(fixed(col(
            "indicator",
            ["indicator", "indicator", "indicateur"],
            Kind::Ref(NodeKind::Indicator),
            "The indicator's code.",
            "devices_fixed",
        ))),
        required(col(
            "unit",
            ["unit", "eenheid", "unité"],
            Kind::Enum(enum_names::<Unit>),
            "The value's unit: the indicator's.",
            "ITEMS",
        )),
        required(col(
            "value",
            ["value", "waarde", "valeur"],
            Kind::Decimal,
            "The measured value (a decimal comma is fine).",
            "42",
        )),
        required(col(
            "periodStart",
            ["period start", "begin periode", "début de période"],
            Kind::Date,
            "The first day of the period.",
            "2024-01-01",
        )),
        required(col(
            "periodEnd",
            ["period end", "einde periode", "fin de période"],
            Kind::Date,
            "The last day of the period.",
            "2024-03-31",
        )),
        fixed(col(
            "initiative",
            ["initiative", "initiatief", "initiative"],
            Kind::Ref(NodeKind::Initiative),
            "The initiative measured, by name, external ID or ID.",
            "",
        )),
        fixed(col(
            "programme",
            ["programme", "programma", "programme"],
            Kind::Ref(NodeKind::Programme),
            "The programme measured.",
            "",
        )),
        Column {
            help: "The municipality measured (for outcomes of a whole municipality).",
            example: "",
            ..MUNICIPALITY
        },
        AREA,
        col(
            "method",
            ["method", "methode", "méthode"],
            Kind::Text,
            "How it was measured.",
            "",
        ),
        col(
            "source",
            ["source", "bron", "source"],
            Kind::Plain,
            "Where the figure comes from.",
            "",
        ),
        col(
            "verified",
            ["verified", "geverifieerd", "vérifié"],
            Kind::Bool,
            "Whether it was checked against its source (yes/no).",
            "no",
        ),
    ],
    create: create_outcome,
    update: Some(update_outcome),
};

pub static LEARNINGS: Spec = Spec {
    node: NodeKind::Learning,
    columns: &[
        Column {
            required: false,
            help: "The municipality that drew it (default: the programme's or initiative's).",
            example: "",
            ..MUNICIPALITY
        },
        fixed(col(
            "programme",
            ["programme", "programma", "programme"],
            Kind::Ref(NodeKind::Programme),
            "The programme it was drawn from.",
            "Stroom",
        )),
        fixed(col(
            "initiative",
            ["initiative", "initiatief", "initiative"],
            Kind::Ref(NodeKind::Initiative),
            "The initiative it was drawn from.",
            "",
        )),
        required(col(
            "kind",
            ["kind", "soort", "type"],
            Kind::Enum(enum_names::<LearningKind>),
            "The kind of lesson.",
            "RECOMMENDATION",
        )),
        col(
            "audience",
            ["audience", "publiek", "public"],
            Kind::Enum(enum_names::<Audience>),
            "Who may read it (default PUBLIC).",
            "PUBLIC",
        ),
        col(
            "position",
            ["position", "positie", "position"],
            Kind::Int,
            "Its place among its source's lessons.",
            "1",
        ),
        required(col(
            "title",
            ["title", "titel", "titre"],
            Kind::Text,
            "A short title; `title (en)` for a translation.",
            "Begin bij de buurt",
        )),
        required(col(
            "body",
            ["body", "tekst", "texte"],
            Kind::Text,
            "The lesson, in the same languages as the title.",
            "Wat bewoners nodig hebben, hoor je op straat.",
        )),
        THEMES,
    ],
    create: create_learning,
    update: Some(update_learning),
};
