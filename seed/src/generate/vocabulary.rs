//! The words synthetic records are made of: kinds of circular initiatives and the needs they
//! answer per theme (by the demo data's theme codes), lessons, places and people, in Dutch,
//! English and French.

/// A text in the three languages of the vocabulary.
pub struct Phrase {
    pub nl: &'static str,
    pub en: &'static str,
    pub fr: &'static str,
}

impl Phrase {
    /// The version in `locale` (English for a language the vocabulary lacks).
    pub fn get(&self, locale: &str) -> &'static str {
        match locale {
            "nl" => self.nl,
            "fr" => self.fr,
            _ => self.en,
        }
    }
}

const fn p(nl: &'static str, en: &'static str, fr: &'static str) -> Phrase {
    Phrase { nl, en, fr }
}

/// What a theme brings: kinds of initiatives, needs residents name, and the indicators its
/// initiatives report (by code, most telling first).
pub struct ThemeWords {
    pub code: &'static str,
    pub initiatives: &'static [Phrase],
    pub needs: &'static [Phrase],
    pub indicators: &'static [&'static str],
}

pub const THEMES: &[ThemeWords] = &[
    ThemeWords {
        code: "repair",
        initiatives: &[
            p("Repair Café", "Repair café", "Repair café"),
            p("Fietsherstelpunt", "Bike repair point", "Atelier vélo"),
            p("Naaiatelier", "Sewing workshop", "Atelier couture"),
            p(
                "Computerhulp",
                "Computer repair desk",
                "Permanence réparation informatique",
            ),
        ],
        needs: &[
            p(
                "Kapotte toestellen laten herstellen",
                "Getting broken appliances repaired",
                "Faire réparer des appareils cassés",
            ),
            p(
                "Fietsen herstellen zonder veel kosten",
                "Affordable bike repairs",
                "Réparer son vélo à petit prix",
            ),
            p(
                "Leren zelf kleding te herstellen",
                "Learning to mend clothes yourself",
                "Apprendre à raccommoder ses vêtements",
            ),
        ],
        indicators: &[
            "devices_fixed",
            "waste_prevented",
            "volunteer_hours",
            "participants",
        ],
    },
    ThemeWords {
        code: "sharing_economy",
        initiatives: &[
            p("Gereedschapsbib", "Tool library", "Outilthèque"),
            p("Deelkast", "Sharing cabinet", "Armoire partagée"),
            p("Speelgoedbib", "Toy library", "Ludothèque"),
        ],
        needs: &[
            p(
                "Gereedschap lenen in plaats van kopen",
                "Borrowing tools instead of buying them",
                "Emprunter des outils plutôt que les acheter",
            ),
            p(
                "Speelgoed delen tussen gezinnen",
                "Sharing toys between families",
                "Partager des jouets entre familles",
            ),
        ],
        indicators: &["items_lent", "members", "co2e_avoided"],
    },
    ThemeWords {
        code: "reuse",
        initiatives: &[
            p("Kringwinkel", "Second-hand shop", "Ressourcerie"),
            p("Ruilbeurs", "Swap market", "Bourse d'échange"),
            p("Weggeefhoek", "Give-away corner", "Coin des dons"),
        ],
        needs: &[
            p(
                "Spullen een tweede leven geven",
                "Giving things a second life",
                "Donner une seconde vie aux objets",
            ),
            p(
                "Betaalbare tweedehands meubels",
                "Affordable second-hand furniture",
                "Des meubles d'occasion abordables",
            ),
        ],
        indicators: &["waste_prevented", "participants", "co2e_avoided"],
    },
    ThemeWords {
        code: "clothing",
        initiatives: &[
            p("Kledingruil", "Clothing swap", "Troc de vêtements"),
            p("Kledingbib", "Clothing library", "Vestiaire partagé"),
        ],
        needs: &[
            p(
                "Betaalbare kinderkleding",
                "Affordable children's clothing",
                "Des vêtements pour enfants abordables",
            ),
            p(
                "Kleding ruilen in de buurt",
                "Swapping clothes nearby",
                "Échanger des vêtements près de chez soi",
            ),
        ],
        indicators: &["garments_exchanged", "participants"],
    },
    ThemeWords {
        code: "food",
        initiatives: &[
            p("Buurtkoelkast", "Community fridge", "Frigo solidaire"),
            p("Zadenbib", "Seed library", "Grainothèque"),
            p("Voedselteam", "Food team", "Panier solidaire"),
            p("Samentuin", "Community garden", "Jardin partagé"),
        ],
        needs: &[
            p(
                "Voedseloverschotten delen",
                "Sharing surplus food",
                "Partager les surplus alimentaires",
            ),
            p(
                "Samen groenten kweken",
                "Growing vegetables together",
                "Cultiver des légumes ensemble",
            ),
            p(
                "Gezonde en betaalbare voeding",
                "Healthy, affordable food",
                "Une alimentation saine et abordable",
            ),
        ],
        indicators: &["food_shared", "participants", "volunteer_hours"],
    },
    ThemeWords {
        code: "waste_reduction",
        initiatives: &[
            p("Composteerplaats", "Compost site", "Site de compostage"),
            p("Zwerfvuilploeg", "Litter clean-up team", "Équipe propreté"),
        ],
        needs: &[
            p(
                "Minder zwerfvuil in de straat",
                "Less litter in the street",
                "Moins de déchets sauvages dans la rue",
            ),
            p(
                "Groenafval composteren",
                "Composting garden waste",
                "Composter les déchets verts",
            ),
        ],
        indicators: &["waste_prevented", "volunteer_hours"],
    },
    ThemeWords {
        code: "energy_saving",
        initiatives: &[
            p("Energiecafé", "Energy café", "Café énergie"),
            p("Klimaatstraat", "Climate street", "Rue climat"),
        ],
        needs: &[
            p(
                "Een lagere energiefactuur",
                "Lower energy bills",
                "Réduire la facture d'énergie",
            ),
            p(
                "Advies over isolatie",
                "Advice on insulation",
                "Des conseils sur l'isolation",
            ),
        ],
        indicators: &["participants", "co2e_avoided", "events_hosted"],
    },
    ThemeWords {
        code: "mobility",
        initiatives: &[
            p("Deelfietsen", "Shared bikes", "Vélos partagés"),
            p(
                "Buurtautodelen",
                "Neighbourhood car sharing",
                "Autopartage de quartier",
            ),
        ],
        needs: &[
            p(
                "Vervoer zonder eigen auto",
                "Getting around without a car",
                "Se déplacer sans voiture",
            ),
            p(
                "Een bakfiets lenen",
                "Borrowing a cargo bike",
                "Emprunter un vélo cargo",
            ),
        ],
        indicators: &["members", "co2e_avoided"],
    },
    ThemeWords {
        code: "greenery",
        initiatives: &[
            p("Geveltuinen", "Façade gardens", "Jardins de façade"),
            p(
                "Boomspiegelploeg",
                "Tree-bed gardeners",
                "Jardiniers des pieds d'arbres",
            ),
        ],
        needs: &[
            p(
                "Meer groen in de wijk",
                "More greenery in the neighbourhood",
                "Plus de verdure dans le quartier",
            ),
            p(
                "Koelte tijdens hittegolven",
                "Shade during heatwaves",
                "De l'ombre pendant les canicules",
            ),
        ],
        indicators: &["participants", "volunteer_hours"],
    },
    ThemeWords {
        code: "remanufacturing",
        initiatives: &[
            p(
                "Upcycle-atelier",
                "Upcycling workshop",
                "Atelier d'upcycling",
            ),
            p(
                "Houtatelier",
                "Reclaimed wood workshop",
                "Atelier bois de récupération",
            ),
        ],
        needs: &[p(
            "Materialen opnieuw gebruiken",
            "Reusing building materials",
            "Réemployer les matériaux",
        )],
        indicators: &["waste_prevented", "participants"],
    },
    ThemeWords {
        code: "citizen_dialogue",
        initiatives: &[
            p(
                "Circulair buurtcafé",
                "Circular neighbourhood café",
                "Café de quartier circulaire",
            ),
            p("Buurtlabo", "Neighbourhood lab", "Labo de quartier"),
        ],
        needs: &[
            p(
                "Een plek om buren te ontmoeten",
                "A place to meet neighbours",
                "Un lieu pour rencontrer ses voisins",
            ),
            p(
                "Meebeslissen over de buurt",
                "A say in the neighbourhood",
                "Avoir son mot à dire sur le quartier",
            ),
        ],
        indicators: &["events_hosted", "participants"],
    },
    ThemeWords {
        code: "leisure",
        initiatives: &[
            p(
                "Sportmateriaalbib",
                "Sports gear library",
                "Matériathèque sportive",
            ),
            p("Spelotheek", "Games library", "Ludothèque de jeux"),
        ],
        needs: &[p(
            "Sportmateriaal voor kinderen",
            "Sports gear for children",
            "Du matériel de sport pour les enfants",
        )],
        indicators: &["items_lent", "members"],
    },
];

/// Lessons per learning kind: (kind value, phrases).
pub const LEARNINGS: &[(&str, &[Phrase])] = &[
    (
        "success_factor",
        &[
            p(
                "Een vaste kern van vrijwilligers draagt het initiatief",
                "A core of regular volunteers carries the initiative",
                "Un noyau de bénévoles réguliers porte l'initiative",
            ),
            p(
                "Een vaste, zichtbare locatie trekt nieuwe buren aan",
                "A fixed, visible location draws new neighbours in",
                "Un lieu fixe et visible attire de nouveaux voisins",
            ),
            p(
                "Samenwerken met de sociale dienst bereikt kwetsbare gezinnen",
                "Working with social services reaches vulnerable families",
                "Travailler avec les services sociaux touche les familles vulnérables",
            ),
        ],
    ),
    (
        "pitfall",
        &[
            p(
                "Afhankelijk blijven van één subsidie",
                "Depending on a single subsidy",
                "Dépendre d'une seule subvention",
            ),
            p(
                "Te weinig tijd voor communicatie",
                "Too little time for communication",
                "Trop peu de temps pour la communication",
            ),
            p(
                "Resultaten pas meten als het project afloopt",
                "Measuring results only when the project ends",
                "Ne mesurer les résultats qu'à la fin du projet",
            ),
        ],
    ),
    (
        "challenge",
        &[
            p(
                "Jongeren bereiken",
                "Reaching young people",
                "Toucher les jeunes",
            ),
            p(
                "Een betaalbare locatie vinden",
                "Finding an affordable location",
                "Trouver un local abordable",
            ),
            p(
                "Vrijwilligers langer dan een jaar houden",
                "Keeping volunteers for more than a year",
                "Garder les bénévoles plus d'un an",
            ),
        ],
    ),
    (
        "recommendation",
        &[
            p(
                "Veranker het werk in de reguliere werking van de stad",
                "Embed the work in the city's regular operations",
                "Ancrer le travail dans le fonctionnement régulier de la ville",
            ),
            p(
                "Meet resultaten vanaf de start",
                "Measure results from the start",
                "Mesurer les résultats dès le début",
            ),
            p(
                "Zoek een verdienmodel voor de subsidie afloopt",
                "Find a business model before the subsidy ends",
                "Trouver un modèle économique avant la fin de la subvention",
            ),
        ],
    ),
];

/// Halves of synthetic place names ("Oost" + "donk").
pub const PLACE_STARTS: &[&str] = &[
    "Oost", "West", "Noord", "Zuid", "Berg", "Beek", "Dal", "Heide", "Hoog", "Kerk", "Molen",
    "Brug", "Veld", "Linde", "Eik", "Wilg", "Zand", "Steen", "Vlas", "Haver",
];
pub const PLACE_ENDS: &[&str] = &[
    "hoven", "dijk", "kerke", "donk", "rode", "gem", "beek", "broek", "zele", "lo", "hout", "mont",
    "ville", "court", "stede",
];
/// Neighbourhood names within a municipality.
pub const NEIGHBOURHOODS: &[&str] = &[
    "Centrum",
    "Stationswijk",
    "Kanaalzone",
    "Molenveld",
    "Kerkhoek",
    "Vijverbos",
    "Nieuwland",
    "Zandberg",
    "Oude Haven",
    "Tuinwijk",
    "Broekzijde",
    "Heidepark",
    "Lindeplein",
    "Veldhoek",
];
pub const FIRST_NAMES: &[&str] = &[
    "An", "Bram", "Chloé", "Daan", "Elif", "Fatima", "Gert", "Hanne", "Ilse", "Jonas", "Karim",
    "Lotte", "Mehmet", "Nina", "Olivier", "Pieter", "Sara", "Tom", "Yasmine", "Zoë",
];
pub const LAST_NAMES: &[&str] = &[
    "Peeters",
    "Janssens",
    "Maes",
    "Jacobs",
    "Mertens",
    "Willems",
    "Claes",
    "Goossens",
    "Wouters",
    "De Smet",
    "Dubois",
    "Lambert",
    "El Amrani",
    "Yilmaz",
    "Vermeulen",
    "Martin",
];

/// A municipality's departments; `{}` stands for its name.
pub const DEPARTMENTS: &[Phrase] = &[
    p(
        "Dienst Duurzaamheid {}",
        "{} Sustainability Department",
        "Service Durabilité de {}",
    ),
    p(
        "Dienst Economie {}",
        "{} Economy Department",
        "Service Économie de {}",
    ),
    p(
        "Dienst Sociaal Beleid {}",
        "{} Social Policy Department",
        "Service Politique sociale de {}",
    ),
    p(
        "Dienst Communicatie {}",
        "{} Communication Department",
        "Service Communication de {}",
    ),
    p(
        "Wijkwerking {}",
        "{} Neighbourhood Work",
        "Travail de quartier de {}",
    ),
];
/// Other organisations: (kind value, name with `{}` for the neighbourhood).
pub const COMMUNITY_ORGANISATIONS: &[(&str, Phrase)] = &[
    (
        "social_organisation",
        p(
            "Kringloopcentrum {}",
            "{} Reuse Centre",
            "Ressourcerie de {}",
        ),
    ),
    (
        "social_organisation",
        p("Buurtwerk {}", "{} Community Work", "Maison de quartier {}"),
    ),
    (
        "citizen_initiative",
        p(
            "Buurtcomité {}",
            "{} Residents' Committee",
            "Comité de quartier {}",
        ),
    ),
    (
        "citizen_initiative",
        p(
            "Transitiegroep {}",
            "{} Transition Group",
            "Groupe de transition {}",
        ),
    ),
    (
        "enterprise",
        p(
            "Herstelatelier {}",
            "{} Repair Workshop",
            "Atelier de réparation {}",
        ),
    ),
    (
        "enterprise",
        p("Tweedehands {}", "{} Second Hand", "Seconde main {}"),
    ),
    (
        "knowledge_institution",
        p(
            "Hogeschool {}",
            "{} University College",
            "Haute École de {}",
        ),
    ),
];
