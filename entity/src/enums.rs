//! Enumerations stored as short strings. Their GraphQL counterparts (with descriptions) live in
//! the api crate and convert to and from these.
use sea_orm::entity::prelude::*;

macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $value:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, serde::Deserialize)]
        #[sea_orm(rs_type = "String", db_type = "String(StringLen::N(32))")]
        pub enum $name {
            // Read back from JSON as stored (a compiled read's rows come as JSON).
            $(#[sea_orm(string_value = $value)] #[serde(rename = $value)] $variant,)+
        }

        impl $name {
            /// The value as stored in the database.
            pub fn as_str(&self) -> &'static str {
                match self { $(Self::$variant => $value,)+ }
            }

            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$(Self::$variant,)+];
        }

        impl From<$name> for &'static str {
            fn from(value: $name) -> Self {
                value.as_str()
            }
        }
    };
}

string_enum!(
    /// Where a record comes from, so that illustrative or generated data is never taken for a measurement.
    Provenance {
        CaseStudy = "case_study",
        PublicSource = "public_source",
        Illustrative = "illustrative",
        Synthetic = "synthetic",
        Recorded = "recorded",
    }
);

string_enum!(
    AreaKind {
        District = "district",
        Neighbourhood = "neighbourhood",
        StreetCluster = "street_cluster",
        Site = "site",
    }
);

string_enum!(
    OrganisationKind {
        CityDepartment = "city_department",
        Funder = "funder",
        DesignAgency = "design_agency",
        EuProject = "eu_project",
        Region = "region",
        City = "city",
        PublicAgency = "public_agency",
        SocialOrganisation = "social_organisation",
        CitizenInitiative = "citizen_initiative",
        Enterprise = "enterprise",
        KnowledgeInstitution = "knowledge_institution",
    }
);

string_enum!(
    PartnerRole {
        LeadPartner = "lead_partner",
        ProjectPartner = "project_partner",
        Funder = "funder",
        Coordinator = "coordinator",
        SteeringGroup = "steering_group",
        CoDesigner = "co_designer",
        Implementer = "implementer",
        Dissemination = "dissemination",
        Host = "host",
        KnowledgePartner = "knowledge_partner",
        Supporter = "supporter",
    }
);

string_enum!(
    InitiatorKind {
        Citizens = "citizens",
        Entrepreneur = "entrepreneur",
        SocialOrganisation = "social_organisation",
        City = "city",
        KnowledgeInstitution = "knowledge_institution",
        Partnership = "partnership",
    }
);

string_enum!(
    InitiativeStage {
        Idea = "idea",
        Pilot = "pilot",
        Running = "running",
        SelfSustaining = "self_sustaining",
        Paused = "paused",
        Stopped = "stopped",
    }
);

string_enum!(
    BusinessModel {
        Subsidy = "subsidy",
        Membership = "membership",
        Fee = "fee",
        Volunteer = "volunteer",
        Commercial = "commercial",
        Mixed = "mixed",
    }
);

string_enum!(
    Affordability {
        Free = "free",
        LowCost = "low_cost",
        MarketPrice = "market_price",
    }
);

string_enum!(
    NeedSource {
        Workshop = "workshop",
        DoorToDoor = "door_to_door",
        Survey = "survey",
        KeyFigure = "key_figure",
        SocialOrganisation = "social_organisation",
        Other = "other",
    }
);

string_enum!(
    NeedStatus {
        Open = "open",
        BeingAddressed = "being_addressed",
        Addressed = "addressed",
        Archived = "archived",
    }
);

string_enum!(
    TargetGroup {
        AllResidents = "all_residents",
        YoungPeople = "young_people",
        VulnerableSituations = "vulnerable_situations",
        Families = "families",
        Elderly = "elderly",
        Newcomers = "newcomers",
        Entrepreneurs = "entrepreneurs",
    }
);

string_enum!(
    SupportKind {
        Location = "location",
        Financial = "financial",
        Communication = "communication",
        Expertise = "expertise",
        Materials = "materials",
        Network = "network",
        Other = "other",
    }
);

string_enum!(
    SupportStatus {
        Requested = "requested",
        InReview = "in_review",
        Granted = "granted",
        PartiallyGranted = "partially_granted",
        Declined = "declined",
        Withdrawn = "withdrawn",
    }
);

string_enum!(
    Unit {
        People = "people",
        Households = "households",
        Kilogram = "kg",
        Items = "items",
        Hours = "hours",
        Euro = "euro",
        KgCo2e = "kg_co2e",
        Events = "events",
        Percent = "percent",
        KilowattHour = "kwh",
        Litre = "litre",
    }
);

string_enum!(
    LearningKind {
        SuccessFactor = "success_factor",
        Pitfall = "pitfall",
        Challenge = "challenge",
        Recommendation = "recommendation",
    }
);

string_enum!(
    Audience {
        Public = "public",
        Partners = "partners",
    }
);

string_enum!(
    /// What an API key may do.
    KeyRole {
        Partner = "partner",
        Editor = "editor",
        Admin = "admin",
    }
);
