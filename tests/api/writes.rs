//! Writing through the API: a day of an editor's work, every mutation, validation that leaves
//! the data as it was, and no lost updates.
use entity::enums::KeyRole;
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};

/// The IDs a day of work needs.
struct Ids {
    mechelen: String,
    neighbourhood: String,
    repair: String,
    need: String,
    studio_dott: String,
    devices_fixed: String,
    stroom: String,
}

async fn ids(app: &TestApp) -> Ids {
    let data = app
        .graphql(
            r#"{ municipalities(filter: {countries: ["BE"]}) { nodes { id } }
                 areas(filter: {kinds: [NEIGHBOURHOOD]}) { nodes { id } }
                 themes(filter: {codes: ["repair"]}) { nodes { id } }
                 needs(filter: {search: "kapotte toestellen"}) { nodes { id } }
                 organisations(filter: {search: "studio dott"}) { nodes { id } }
                 indicators(filter: {codes: ["devices_fixed"]}) { nodes { id } }
                 programmes(filter: {search: "stroom", activeOn: "2024-01-01"}) { nodes { id } } }"#,
            json!({}),
        )
        .await;
    let d = data.ok();
    let first = |field: &str| d[field]["nodes"][0]["id"].as_str().unwrap().to_owned();
    Ids {
        mechelen: first("municipalities"),
        neighbourhood: first("areas"),
        repair: first("themes"),
        need: first("needs"),
        studio_dott: first("organisations"),
        devices_fixed: first("indicators"),
        stroom: first("programmes"),
    }
}

const CREATE_INITIATIVE: &str = r#"mutation($input: CreateInitiativeInput!) {
  createInitiative(input: $input) {
    initiative { id version name(locale: "en") nameNl: name(locale: "nl") municipality { name } programme { name }
                 themes { nodes { code } } areas { nodes { name } } needs { nodes { id } } provenance }
    userErrors { field message code }
  }
}"#;

fn new_initiative(ids: &Ids) -> Value {
    json!({
        "municipality": ids.mechelen,
        "programme": ids.stroom,
        "name": [{"locale": "nl", "text": "Fietsherstelplaats"}, {"locale": "en", "text": "Bike repair point"}],
        "description": [{"locale": "en", "text": "Volunteers fix bikes every Saturday."}],
        "initiatorKind": "CITIZENS",
        "stage": "PILOT",
        "businessModel": "VOLUNTEER",
        "affordability": "FREE",
        "startDate": "2026-09-01",
        "website": "https://fietsherstel.example.org",
        "areas": [ids.neighbourhood],
        "themes": [ids.repair],
    })
}

#[tokio::test]
async fn an_editor_key_from_the_command_line_does_a_day_of_work() {
    let app = spawn_app().await;
    // The key comes from the command line, as city IT would hand it out.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_stroom"))
        .args([
            "keys",
            "create",
            "--name",
            "Sustainability department",
            "--role",
            "editor",
            "--municipality",
            "Mechelen",
            "--database-url",
            &app.database_url(),
        ])
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    let key = stdout.lines().last().unwrap().trim().to_owned();
    assert!(
        key.starts_with("stroom_") && key.len() > 40,
        "the key is alone on the last line: {stdout}"
    );

    let ids = ids(&app).await;
    let viewer = app
        .graphql_as(
            &key,
            "{ viewer { role canWrite apiKey { name } municipality { name } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        viewer.ok()["viewer"],
        json!({"role": "EDITOR", "canWrite": true, "apiKey": {"name": "Sustainability department"}, "municipality": {"name": "Mechelen"}})
    );

    // 1. Register a new initiative, in two languages.
    let created = app
        .graphql_as(
            &key,
            CREATE_INITIATIVE,
            json!({"input": new_initiative(&ids)}),
        )
        .await;
    let initiative = created.ok()["createInitiative"]["initiative"].clone();
    assert_eq!(created.ok()["createInitiative"]["userErrors"], json!([]));
    assert_eq!(initiative["name"], "Bike repair point");
    assert_eq!(initiative["nameNl"], "Fietsherstelplaats");
    assert_eq!(initiative["version"], 1);
    assert_eq!(initiative["provenance"], "RECORDED");
    assert_eq!(initiative["themes"]["nodes"], json!([{"code": "repair"}]));
    let id = initiative["id"].as_str().unwrap().to_owned();

    // 2. Link it to a need.
    let linked = app
        .graphql_as(&key, r#"mutation($input: InitiativeNeedInput!) { linkInitiativeToNeed(input: $input) { initiative { version needs { nodes { id } } } userErrors { message } } }"#,
            json!({"input": {"initiative": id, "version": 1, "need": ids.need}}))
        .await;
    let linked = &linked.ok()["linkInitiativeToNeed"];
    assert_eq!(linked["initiative"]["version"], 2);
    assert_eq!(
        linked["initiative"]["needs"]["nodes"],
        json!([{"id": ids.need}])
    );

    // 3. Add a partner.
    let partner = app
        .graphql_as(&key, r#"mutation($input: AddInitiativePartnerInput!) { addInitiativePartner(input: $input) { partnership { role organisation { name } initiative { id } } userErrors { message } } }"#,
            json!({"input": {"initiative": id, "organisation": ids.studio_dott, "role": "CO_DESIGNER", "note": [{"locale": "en", "text": "Designs the signage."}]}}))
        .await;
    assert_eq!(
        partner.ok()["addInitiativePartner"]["partnership"],
        json!({"role": "CO_DESIGNER", "organisation": {"name": "Studio Dott"}, "initiative": {"id": id}})
    );

    // 4. Record an outcome.
    let outcome = app
        .graphql_as(&key, r#"mutation($input: RecordOutcomeInput!) { recordOutcome(input: $input) { outcome { value periodStart municipality { name } initiative { id } indicator { code } } userErrors { message } } }"#,
            json!({"input": {"indicator": ids.devices_fixed, "unit": "ITEMS", "value": "17", "periodStart": "2026-10-01", "periodEnd": "2026-10-31", "initiative": id,
                   "method": [{"locale": "en", "text": "Count at the repair point."}]}}))
        .await;
    assert_eq!(
        outcome.ok()["recordOutcome"]["outcome"],
        json!({"value": "17", "periodStart": "2026-10-01", "municipality": {"name": "Mechelen"}, "initiative": {"id": id}, "indicator": {"code": "devices_fixed"}})
    );

    // 5. Add a learning in two languages.
    let learning = app
        .graphql_as(&key, r#"mutation($input: CreateLearningInput!) { createLearning(input: $input) { learning { kind audience en: title(locale: "en") nl: title(locale: "nl") initiative { id } municipality { name } } userErrors { message } } }"#,
            json!({"input": {"initiative": id, "kind": "SUCCESS_FACTOR",
                   "title": [{"locale": "en", "text": "Saturday mornings work"}, {"locale": "nl", "text": "Zaterdagochtend werkt"}],
                   "body": [{"locale": "en", "text": "Neighbours drop by on their way to the market."}, {"locale": "nl", "text": "Buren komen langs op weg naar de markt."}]}}))
        .await;
    assert_eq!(
        learning.ok()["createLearning"]["learning"],
        json!({"kind": "SUCCESS_FACTOR", "audience": "PUBLIC", "en": "Saturday mornings work", "nl": "Zaterdagochtend werkt", "initiative": {"id": id}, "municipality": {"name": "Mechelen"}})
    );

    // Everything is in the audit log, under the key's name.
    let admin = app.admin_key().await;
    let audit = app
        .graphql_as(&admin, r#"{ auditEntries(first: 20, filter: {mutations: ["createInitiative", "linkInitiativeToNeed", "addInitiativePartner", "recordOutcome", "createLearning"]}) { totalCount nodes { actor mutation subjectType changes { field before after } } } }"#, json!({}))
        .await;
    let entries = audit.ok()["auditEntries"]["nodes"]
        .as_array()
        .unwrap()
        .clone();
    let mutations: Vec<&str> = entries
        .iter()
        .map(|e| e["mutation"].as_str().unwrap())
        .collect();
    assert_eq!(
        mutations,
        [
            "createLearning",
            "recordOutcome",
            "addInitiativePartner",
            "linkInitiativeToNeed",
            "createInitiative"
        ]
    );
    assert!(
        entries
            .iter()
            .all(|e| e["actor"] == "Sustainability department")
    );
    let link = entries
        .iter()
        .find(|e| e["mutation"] == "linkInitiativeToNeed")
        .unwrap();
    assert_eq!(
        link["changes"],
        json!([{"field": "needs", "before": [], "after": [ids.need]}])
    );
    let create = entries
        .iter()
        .find(|e| e["mutation"] == "createInitiative")
        .unwrap();
    let name_change = create["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["field"] == "name")
        .unwrap();
    assert_eq!(name_change["before"], Value::Null);
    assert_eq!(name_change["after"]["nl"], "Fietsherstelplaats");

    // The initiative shows its own history to its editor.
    let history = app
        .graphql_as(&key, r#"query($id: ID!) { node(id: $id) { ... on Initiative { history { totalCount nodes { mutation } } } } }"#, json!({"id": id}))
        .await;
    assert_eq!(history.ok()["node"]["history"]["totalCount"], 2);
}

#[tokio::test]
async fn stale_versions_are_refused_and_two_concurrent_editors_cannot_both_win() {
    let app = spawn_app().await;
    let alice = app.editor_key("Alice (Economy)", "Mechelen").await;
    let bob = app.editor_key("Bob (Social Policy)", "Mechelen").await;
    let ids = ids(&app).await;
    let created = app
        .graphql_as(
            &alice,
            CREATE_INITIATIVE,
            json!({"input": new_initiative(&ids)}),
        )
        .await;
    let id = created.ok()["createInitiative"]["initiative"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let update = r#"mutation($input: UpdateInitiativeInput!) { updateInitiative(input: $input) { initiative { version stage name(locale: "en") } userErrors { field message code currentVersion } } }"#;

    // Both read version 1 and send their change at the same time.
    let (a, b) = tokio::join!(
        app.graphql_as(&alice, update, json!({"input": {"id": id, "version": 1, "stage": "RUNNING"}})),
        app.graphql_as(&bob, update, json!({"input": {"id": id, "version": 1, "name": [{"locale": "en", "text": "Bob's name"}]}})),
    );
    let results = [
        a.ok()["updateInitiative"].clone(),
        b.ok()["updateInitiative"].clone(),
    ];
    let winners: Vec<&Value> = results
        .iter()
        .filter(|r| !r["initiative"].is_null())
        .collect();
    let losers: Vec<&Value> = results
        .iter()
        .filter(|r| r["initiative"].is_null())
        .collect();
    assert_eq!(winners.len(), 1, "exactly one editor wins: {results:?}");
    assert_eq!(losers.len(), 1);
    assert_eq!(winners[0]["initiative"]["version"], 2);
    let conflict = &losers[0]["userErrors"][0];
    assert_eq!(conflict["code"], "CONFLICT");
    assert_eq!(conflict["currentVersion"], 2);
    assert_eq!(conflict["field"], json!(["input", "version"]));
    assert!(
        conflict["message"]
            .as_str()
            .unwrap()
            .contains("current version is 2")
    );

    // The winner's change stands, and the loser's is nowhere.
    let now = app.graphql(r#"query($id: ID!) { node(id: $id) { ... on Initiative { version stage name(locale: "en") } } }"#, json!({"id": id})).await;
    let stored = now.ok()["node"].clone();
    assert_eq!(stored["version"], 2);
    let alice_won = winners[0]["initiative"]["stage"] == "RUNNING";
    if alice_won {
        assert_eq!(stored["name"], "Bike repair point");
    } else {
        assert_eq!(stored["stage"], "PILOT");
        assert_eq!(stored["name"], "Bob's name");
    }

    // A plain stale version (an old read) is refused too, and changes nothing.
    let before = app.fingerprint().await;
    let stale = app
        .graphql_as(
            &alice,
            update,
            json!({"input": {"id": id, "version": 1, "stage": "PAUSED"}}),
        )
        .await;
    assert_eq!(
        stale.ok()["updateInitiative"]["userErrors"][0]["code"],
        "CONFLICT"
    );
    assert_eq!(app.fingerprint().await, before);
    // With the current version it goes through.
    let fresh = app
        .graphql_as(
            &alice,
            update,
            json!({"input": {"id": id, "version": 2, "stage": "PAUSED"}}),
        )
        .await;
    assert_eq!(fresh.ok()["updateInitiative"]["initiative"]["version"], 3);
}

/// Each bad input is refused with a user error naming its field, and nothing changes.
#[tokio::test]
async fn bad_input_is_refused_field_by_field_and_nothing_changes() {
    let app = spawn_app().await;
    let key = app.editor_key("Validation editor", "Mechelen").await;
    let admin = app.admin_key().await;
    let ids = ids(&app).await;
    let lahti_area = {
        let lahti = stroom_api::ids::NodeKind::Municipality
            .id(app.municipality_id("Lahti").await)
            .0;
        let made = app
            .graphql_as(&admin, r#"mutation($m: ID!) { createArea(input: {municipality: $m, kind: DISTRICT, name: [{locale: "fi", text: "Keskusta"}]}) { area { id } } }"#, json!({"m": lahti}))
            .await;
        made.ok()["createArea"]["area"]["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let base = new_initiative(&ids);
    let with = |patch: Value| {
        let mut input = base.clone();
        for (k, v) in patch.as_object().unwrap() {
            input[k] = v.clone();
        }
        json!({"input": input})
    };
    let cases: Vec<(Value, &str, &str)> = vec![
        (with(json!({"name": []})), "name", "BAD_USER_INPUT"),
        (
            with(json!({"name": [{"locale": "nl", "text": "   "}]})),
            "name.0.text",
            "BAD_USER_INPUT",
        ),
        (
            with(json!({"name": [{"locale": "nl", "text": "x".repeat(201)}]})),
            "name.0.text",
            "BAD_USER_INPUT",
        ),
        (
            with(json!({"name": [{"locale": "klingon!", "text": "Qapla"}]})),
            "name.0.locale",
            "BAD_USER_INPUT",
        ),
        (
            with(json!({"name": [{"locale": "nl", "text": "A"}, {"locale": "NL", "text": "B"}]})),
            "name.1.locale",
            "BAD_USER_INPUT",
        ),
        (
            with(json!({"startDate": "2026-09-02", "endDate": "2026-09-01"})),
            "endDate",
            "BAD_USER_INPUT",
        ),
        (
            with(json!({"website": "not a url"})),
            "website",
            "BAD_USER_INPUT",
        ),
        (
            with(json!({"themes": ["bm9wZQ"]})),
            "themes.0",
            "BAD_USER_INPUT",
        ),
        (
            with(json!({"themes": [ids.neighbourhood]})),
            "themes.0",
            "BAD_USER_INPUT",
        ),
        (
            with(json!({"themes": [stroom_api::ids::NodeKind::Theme.id(99_999).0]})),
            "themes.0",
            "NOT_FOUND",
        ),
        (
            with(json!({"themes": [ids.repair, ids.repair]})),
            "themes.1",
            "BAD_USER_INPUT",
        ),
        (
            with(json!({"areas": [lahti_area]})),
            "areas.0",
            "BAD_USER_INPUT",
        ),
        (
            with(json!({"programme": stroom_api::ids::NodeKind::Programme.id(99_999).0})),
            "programme",
            "NOT_FOUND",
        ),
    ];
    let before = app.fingerprint().await;
    for (variables, field, code) in cases {
        let reply = app
            .graphql_as(&key, CREATE_INITIATIVE, variables.clone())
            .await;
        let payload = &reply.ok()["createInitiative"];
        assert!(payload["initiative"].is_null(), "{variables}");
        let error = &payload["userErrors"][0];
        let expected_field: Vec<String> = std::iter::once("input".to_owned())
            .chain(field.split('.').map(str::to_owned))
            .collect();
        assert_eq!(
            error["field"],
            json!(expected_field),
            "{variables}: {error}"
        );
        assert_eq!(error["code"], code, "{variables}: {error}");
        assert!(!error["message"].as_str().unwrap().is_empty());
        assert_eq!(app.fingerprint().await, before, "{variables} left a trace");
    }

    // Outcomes: a negative value, too many decimals, a unit that is not the indicator's.
    let record = r#"mutation($input: RecordOutcomeInput!) { recordOutcome(input: $input) { outcome { id } userErrors { field code message } } }"#;
    let initiative = app.find_id("initiatives", "klusbib").await;
    for (patch, field) in [
        (json!({"value": "-1"}), "value"),
        (json!({"value": "1.0000001"}), "value"),
        (json!({"unit": "KILOGRAM"}), "unit"),
        (json!({"periodEnd": "2026-09-30"}), "periodEnd"),
        (json!({"initiative": null}), "initiative"),
        (json!({"source": ""}), "source"),
    ] {
        let mut input = json!({"indicator": ids.devices_fixed, "unit": "ITEMS", "value": "3", "periodStart": "2026-10-01", "periodEnd": "2026-10-31", "initiative": initiative});
        for (k, v) in patch.as_object().unwrap() {
            input[k] = v.clone();
        }
        let reply = app.graphql_as(&key, record, json!({"input": input})).await;
        let payload = &reply.ok()["recordOutcome"];
        assert!(payload["outcome"].is_null(), "{patch}");
        assert_eq!(
            payload["userErrors"][0]["field"],
            json!(["input", field]),
            "{patch}: {}",
            payload
        );
        assert_eq!(app.fingerprint().await, before);
    }

    // Programmes: a budget whose maximum is below its minimum.
    let reply = app
        .graphql_as(&key, r#"mutation($m: ID!) { createProgramme(input: {municipality: $m, name: [{locale: "nl", text: "X"}], budget: {minimum: "10", maximum: "5"}}) { programme { id } userErrors { field code } } }"#, json!({"m": ids.mechelen}))
        .await;
    assert_eq!(
        reply.ok()["createProgramme"]["userErrors"][0]["field"],
        json!(["input", "budget", "maximum"])
    );
    // Contact people: an e-mail address and a phone number that are not.
    let reply = app
        .graphql_as(&key, r#"mutation($o: ID!) { createContactPerson(input: {organisation: $o, name: "A", email: "nope", phone: "call me"}) { contactPerson { id } userErrors { field } } }"#, json!({"o": app.find_id("organisations", "strategie en ontwikkeling").await}))
        .await;
    let fields: Vec<Value> = reply.ok()["createContactPerson"]["userErrors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].clone())
        .collect();
    assert_eq!(
        fields,
        [json!(["input", "email"]), json!(["input", "phone"])],
        "all problems at once"
    );
    // Municipalities need a real country code (admin).
    let reply = app
        .graphql_as(&admin, r#"mutation { createMunicipality(input: {name: [{locale: "en", text: "Atlantis"}], country: "XX", defaultLocale: "en"}) { municipality { id } userErrors { field } } }"#, json!({}))
        .await;
    assert_eq!(
        reply.ok()["createMunicipality"]["userErrors"][0]["field"],
        json!(["input", "country"])
    );
    // An archived reference is refused.
    let archived_need = app.find_id("needs", "fietsen herstellen").await;
    let archive = app.graphql_as(&key, r#"mutation($id: ID!) { archiveNeed(input: {id: $id, version: 1}) { need { archived } } }"#, json!({"id": archived_need})).await;
    assert_eq!(archive.ok()["archiveNeed"]["need"]["archived"], true);
    let after_archive = app.fingerprint().await;
    let reply = app
        .graphql_as(
            &key,
            CREATE_INITIATIVE,
            with(json!({"needs": [archived_need]})),
        )
        .await;
    let error = &reply.ok()["createInitiative"]["userErrors"][0];
    assert_eq!(error["field"], json!(["input", "needs", "0"]));
    assert!(error["message"].as_str().unwrap().contains("archived"));
    assert_eq!(app.fingerprint().await, after_archive);
}

#[tokio::test]
async fn every_type_can_be_created_updated_archived_and_unarchived() {
    let app = spawn_app().await;
    let admin = app.admin_key().await;
    let ids = ids(&app).await;
    let initiative = app.find_id("initiatives", "klusbib").await;
    let organisation = app.find_id("organisations", "studio dott").await;
    let support = app
        .graphql(
            r#"query($id: ID!) { node(id: $id) { ... on Initiative { id } } }"#,
            json!({"id": initiative}),
        )
        .await;
    assert!(support.ok()["node"]["id"].is_string());
    // (create mutation, its payload field, input, update mutation, update patch, archive, unarchive)
    let name = |t: &str| json!([{"locale": "en", "text": t}]);
    let cases = vec![
        (
            "createMunicipality",
            "municipality",
            json!({"name": name("Gent"), "country": "be", "defaultLocale": "nl", "households": 120000}),
            "updateMunicipality",
            json!({"population": 265000}),
            "archiveMunicipality",
            "unarchiveMunicipality",
        ),
        (
            "createArea",
            "area",
            json!({"municipality": ids.mechelen, "kind": "STREET_CLUSTER", "name": name("Vaartstraat"), "parent": ids.neighbourhood, "geometry": {"type": "Point", "coordinates": [4.48, 51.03]}}),
            "updateArea",
            json!({"households": 40}),
            "archiveArea",
            "unarchiveArea",
        ),
        (
            "createTheme",
            "theme",
            json!({"code": "toy_library", "label": name("Toy library"), "parent": ids.repair}),
            "updateTheme",
            json!({"label": name("Toy libraries")}),
            "archiveTheme",
            "unarchiveTheme",
        ),
        (
            "createOrganisation",
            "organisation",
            json!({"kind": "ENTERPRISE", "name": name("Repair Co"), "country": "BE", "website": "https://repair.example.org", "municipality": ids.mechelen}),
            "updateOrganisation",
            json!({"city": "Mechelen"}),
            "archiveOrganisation",
            "unarchiveOrganisation",
        ),
        (
            "createContactPerson",
            "contactPerson",
            json!({"organisation": organisation, "name": "An Example", "email": "an@example.org", "phone": "+32 15 00 00 01"}),
            "updateContactPerson",
            json!({"jobTitle": "Designer"}),
            "archiveContactPerson",
            "unarchiveContactPerson",
        ),
        (
            "createProgramme",
            "programme",
            json!({"municipality": ids.mechelen, "name": name("Stroom 2"), "startDate": "2027-01-01", "budget": {"minimum": "10000", "maximum": "20000"}, "staffingFte": "1.5", "themes": [ids.repair]}),
            "updateProgramme",
            json!({"endDate": "2028-12-31"}),
            "archiveProgramme",
            "unarchiveProgramme",
        ),
        (
            "createNeed",
            "need",
            json!({"municipality": ids.mechelen, "area": ids.neighbourhood, "title": name("Repair toys"), "source": "SURVEY", "residentsCount": 4, "targetGroups": ["FAMILIES"]}),
            "updateNeed",
            json!({"residentsCount": 6}),
            "archiveNeed",
            "unarchiveNeed",
        ),
        (
            "createInitiative",
            "initiative",
            new_initiative(&ids),
            "updateInitiative",
            json!({"affordability": "LOW_COST"}),
            "archiveInitiative",
            "unarchiveInitiative",
        ),
        (
            "createIndicator",
            "indicator",
            json!({"code": "toys_lent", "name": name("Toys lent"), "unit": "ITEMS", "higherIsBetter": true}),
            "updateIndicator",
            json!({"higherIsBetter": false}),
            "archiveIndicator",
            "unarchiveIndicator",
        ),
        (
            "recordOutcome",
            "outcome",
            json!({"indicator": ids.devices_fixed, "unit": "ITEMS", "value": "2.5", "periodStart": "2026-01-01", "periodEnd": "2026-03-31", "initiative": initiative}),
            "updateOutcome",
            json!({"verified": true}),
            "archiveOutcome",
            "unarchiveOutcome",
        ),
        (
            "createLearning",
            "learning",
            json!({"programme": ids.stroom, "kind": "RECOMMENDATION", "audience": "PARTNERS", "title": name("Start small"), "body": name("Begin with one street.")}),
            "updateLearning",
            json!({"position": 14}),
            "archiveLearning",
            "unarchiveLearning",
        ),
    ];
    for (create, field, input, update, patch, archive, unarchive) in cases {
        let type_name = {
            let mut c = field.chars();
            c.next().unwrap().to_uppercase().collect::<String>() + c.as_str()
        };
        let input_type = format!("{}{}Input", &create[..1].to_uppercase(), &create[1..]);
        let audit_before = app
            .graphql_as(&admin, "{ auditEntries { totalCount } }", json!({}))
            .await
            .ok()["auditEntries"]["totalCount"]
            .as_i64()
            .unwrap();
        let query = format!(
            "mutation($input: {input_type}!) {{ {create}(input: $input) {{ {field} {{ id version archived }} userErrors {{ field message }} }} }}"
        );
        let reply = app
            .graphql_as(&admin, &query, json!({"input": input}))
            .await;
        let made = &reply.ok()[create];
        assert_eq!(made["userErrors"], json!([]), "{create}");
        let id = made[field]["id"].as_str().unwrap().to_owned();
        assert_eq!(made[field]["version"], 1, "{create}");

        let update_type = format!("{}{}Input", &update[..1].to_uppercase(), &update[1..]);
        let mut update_input = patch.clone();
        update_input["id"] = json!(id);
        update_input["version"] = json!(1);
        let query = format!(
            "mutation($input: {update_type}!) {{ {update}(input: $input) {{ {field} {{ version }} userErrors {{ field message }} }} }}"
        );
        let reply = app
            .graphql_as(&admin, &query, json!({"input": update_input}))
            .await;
        assert_eq!(reply.ok()[update]["userErrors"], json!([]), "{update}");
        assert_eq!(reply.ok()[update][field]["version"], 2, "{update}");

        for (mutation, version, archived) in [(archive, 2, true), (unarchive, 3, false)] {
            let query = format!(
                "mutation($id: ID!, $v: Int!) {{ {mutation}(input: {{id: $id, version: $v}}) {{ {field} {{ version archived }} userErrors {{ message }} }} }}"
            );
            let reply = app
                .graphql_as(&admin, &query, json!({"id": id, "v": version}))
                .await;
            assert_eq!(
                reply.ok()[mutation][field],
                json!({"version": version + 1, "archived": archived}),
                "{mutation}"
            );
        }
        // Four changes, four audit entries, each naming the record.
        let audit = app
            .graphql_as(&admin, r#"query($id: ID!) { auditEntries(filter: {subjects: [$id]}) { totalCount nodes { mutation subjectType subjectId } } }"#, json!({"id": id}))
            .await;
        let entries = &audit.ok()["auditEntries"];
        assert_eq!(entries["totalCount"], 4, "{create}: {entries}");
        assert!(
            entries["nodes"]
                .as_array()
                .unwrap()
                .iter()
                .all(|e| e["subjectType"] == type_name.as_str() && e["subjectId"] == id.as_str())
        );
        let audit_after = app
            .graphql_as(&admin, "{ auditEntries { totalCount } }", json!({}))
            .await
            .ok()["auditEntries"]["totalCount"]
            .as_i64()
            .unwrap();
        assert_eq!(audit_after - audit_before, 4, "{create}");
    }
}

#[tokio::test]
async fn the_intents_do_what_they_say() {
    let app = spawn_app().await;
    let key = app.editor_key("Intents editor", "Mechelen").await;
    let ids = ids(&app).await;
    let created = app
        .graphql_as(
            &key,
            CREATE_INITIATIVE,
            json!({"input": new_initiative(&ids)}),
        )
        .await;
    let id = created.ok()["createInitiative"]["initiative"]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let stage = app
        .graphql_as(&key, r#"mutation($id: ID!) { changeInitiativeStage(input: {id: $id, version: 1, stage: STOPPED, endDate: "2026-11-01"}) { initiative { stage endDate version } } }"#, json!({"id": id}))
        .await;
    assert_eq!(
        stage.ok()["changeInitiativeStage"]["initiative"],
        json!({"stage": "STOPPED", "endDate": "2026-11-01", "version": 2})
    );

    let link = r#"mutation($input: InitiativeNeedInput!) { linkInitiativeToNeed(input: $input) { initiative { version } userErrors { message } } }"#;
    let unlink = r#"mutation($input: InitiativeNeedInput!) { unlinkInitiativeFromNeed(input: $input) { initiative { version needs { totalCount } } userErrors { message } } }"#;
    assert_eq!(
        app.graphql_as(
            &key,
            link,
            json!({"input": {"initiative": id, "version": 2, "need": ids.need}})
        )
        .await
        .ok()["linkInitiativeToNeed"]["initiative"]["version"],
        3
    );
    let twice = app
        .graphql_as(
            &key,
            link,
            json!({"input": {"initiative": id, "version": 3, "need": ids.need}}),
        )
        .await;
    assert!(
        twice.ok()["linkInitiativeToNeed"]["userErrors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("already")
    );
    let unlinked = app
        .graphql_as(
            &key,
            unlink,
            json!({"input": {"initiative": id, "version": 3, "need": ids.need}}),
        )
        .await;
    assert_eq!(
        unlinked.ok()["unlinkInitiativeFromNeed"]["initiative"],
        json!({"version": 4, "needs": {"totalCount": 0}})
    );

    let status = app
        .graphql_as(&key, r#"mutation($id: ID!) { changeNeedStatus(input: {id: $id, version: 1, status: ADDRESSED}) { need { status } } }"#, json!({"id": ids.need}))
        .await;
    assert_eq!(
        status.ok()["changeNeedStatus"]["need"]["status"],
        "ADDRESSED"
    );

    // Partners: add, refuse a duplicate, remove, and add again (the same partnership returns).
    let add = r#"mutation($input: AddInitiativePartnerInput!) { addInitiativePartner(input: $input) { partnership { id version archived } userErrors { code } } }"#;
    let input =
        json!({"input": {"initiative": id, "organisation": ids.studio_dott, "role": "SUPPORTER"}});
    let added = app.graphql_as(&key, add, input.clone()).await;
    let partnership = added.ok()["addInitiativePartner"]["partnership"].clone();
    assert_eq!(
        app.graphql_as(&key, add, input.clone()).await.ok()["addInitiativePartner"]["userErrors"]
            [0]["code"],
        "CONFLICT"
    );
    let removed = app
        .graphql_as(&key, r#"mutation($id: ID!) { removeInitiativePartner(input: {id: $id, version: 1}) { partnership { archived } } }"#, json!({"id": partnership["id"]}))
        .await;
    assert_eq!(
        removed.ok()["removeInitiativePartner"]["partnership"]["archived"],
        true
    );
    let again = app.graphql_as(&key, add, input).await;
    assert_eq!(
        again.ok()["addInitiativePartner"]["partnership"]["id"],
        partnership["id"]
    );
    assert_eq!(
        again.ok()["addInitiativePartner"]["partnership"]["archived"],
        false
    );

    // Support: ask, then decide.
    let asked = app
        .graphql_as(&key, r#"mutation($id: ID!) { recordSupportRequest(input: {initiative: $id, kind: FINANCIAL, amountRequested: "2000", requestedOn: "2026-10-01"}) { supportRequest { id status version } } }"#, json!({"id": id}))
        .await;
    let request = asked.ok()["recordSupportRequest"]["supportRequest"].clone();
    assert_eq!(request["status"], "REQUESTED");
    let too_much = app
        .graphql_as(&key, r#"mutation($id: ID!) { decideSupportRequest(input: {id: $id, version: 1, status: PARTIALLY_GRANTED, amountGranted: "5000", decidedOn: "2026-10-15"}) { userErrors { field } } }"#, json!({"id": request["id"]}))
        .await;
    assert_eq!(
        too_much.ok()["decideSupportRequest"]["userErrors"][0]["field"],
        json!(["input", "amountGranted"])
    );
    let early = app
        .graphql_as(&key, r#"mutation($id: ID!) { decideSupportRequest(input: {id: $id, version: 1, status: DECLINED, decidedOn: "2026-09-15"}) { userErrors { field } } }"#, json!({"id": request["id"]}))
        .await;
    assert_eq!(
        early.ok()["decideSupportRequest"]["userErrors"][0]["field"],
        json!(["input", "decidedOn"])
    );
    let decided = app
        .graphql_as(&key, r#"mutation($id: ID!) { decideSupportRequest(input: {id: $id, version: 1, status: PARTIALLY_GRANTED, amountGranted: "1500", decidedOn: "2026-10-15", decisionNote: [{locale: "en", text: "Half of it, this year."}]}) { supportRequest { status amountGranted decidedOn decisionNote } } }"#, json!({"id": request["id"]}))
        .await;
    assert_eq!(
        decided.ok()["decideSupportRequest"]["supportRequest"],
        json!({"status": "PARTIALLY_GRANTED", "amountGranted": "1500", "decidedOn": "2026-10-15", "decisionNote": "Half of it, this year."})
    );

    // A translation is added, and search finds it at once.
    let learning = app.find_id("learnings", "jargon").await;
    let translated = app
        .graphql_as(&key, r#"mutation($id: ID!) { addTranslation(input: {id: $id, version: 1, field: "title", locale: "it", text: "Evitare il gergo"}) { node { ... on Learning { title(locale: "it") version titleTranslations { locale } } } userErrors { message } } }"#, json!({"id": learning}))
        .await;
    assert_eq!(
        translated.ok()["addTranslation"]["node"],
        json!({"title": "Evitare il gergo", "version": 2, "titleTranslations": [{"locale": "de"}, {"locale": "en"}, {"locale": "fr"}, {"locale": "it"}, {"locale": "nl"}]})
    );
    assert_eq!(
        app.all_nodes("learnings", "id", json!({"search": "evitare il gergo"}))
            .await
            .len(),
        1
    );
    let wrong = app
        .graphql_as(&key, r#"mutation($id: ID!) { addTranslation(input: {id: $id, version: 2, field: "colour", locale: "fr", text: "x"}) { userErrors { field message } } }"#, json!({"id": learning}))
        .await;
    let error = &wrong.ok()["addTranslation"]["userErrors"][0];
    assert_eq!(error["field"], json!(["input", "field"]));
    assert!(error["message"].as_str().unwrap().contains("title, body"));
}

#[tokio::test]
async fn admins_manage_keys_over_graphql() {
    let app = spawn_app().await;
    let admin = app.admin_key().await;
    let mechelen = stroom_api::ids::NodeKind::Municipality
        .id(app.municipality_id("Mechelen").await)
        .0;
    let created = app
        .graphql_as(&admin, r#"mutation($m: ID!) { createApiKey(input: {name: "Dashboard", role: EDITOR, municipality: $m}) { apiKey { id name role active municipality { name } } token userErrors { message } } }"#, json!({"m": mechelen}))
        .await;
    let payload = created.ok()["createApiKey"].clone();
    let token = payload["token"].as_str().unwrap().to_owned();
    assert_eq!(payload["apiKey"]["role"], "EDITOR");
    assert_eq!(payload["apiKey"]["active"], true);
    assert_eq!(
        app.graphql_as(&token, "{ viewer { role } }", json!({}))
            .await
            .ok()["viewer"]["role"],
        "EDITOR"
    );
    let keys = app
        .graphql_as(
            &admin,
            "{ apiKeys { totalCount nodes { name lastUsedAt } } }",
            json!({}),
        )
        .await;
    assert_eq!(keys.ok()["apiKeys"]["totalCount"], 2);
    let duplicate = app
        .graphql_as(&admin, r#"mutation($m: ID!) { createApiKey(input: {name: "Dashboard", role: EDITOR, municipality: $m}) { token userErrors { code } } }"#, json!({"m": mechelen}))
        .await;
    assert_eq!(
        duplicate.ok()["createApiKey"]["userErrors"][0]["code"],
        "CONFLICT"
    );
    let no_scope = app
        .graphql_as(&admin, r#"mutation { createApiKey(input: {name: "Loose editor", role: EDITOR}) { token userErrors { field } } }"#, json!({}))
        .await;
    assert_eq!(
        no_scope.ok()["createApiKey"]["userErrors"][0]["field"],
        json!(["input", "municipality"])
    );
    let revoked = app
        .graphql_as(&admin, r#"mutation($id: ID!) { revokeApiKey(input: {id: $id}) { apiKey { active revokedAt } } }"#, json!({"id": payload["apiKey"]["id"]}))
        .await;
    assert_eq!(revoked.ok()["revokeApiKey"]["apiKey"]["active"], false);
    let refused = app
        .graphql_as(&token, "{ viewer { role } }", json!({}))
        .await;
    assert_eq!(refused.status, 401);
    assert_eq!(refused.code(), "UNAUTHENTICATED");
    // Non-admins neither list nor make keys.
    let editor = app.editor_key("Plain editor", "Mechelen").await;
    assert_eq!(
        app.graphql_as(&editor, "{ apiKeys { totalCount } }", json!({}))
            .await
            .code(),
        "FORBIDDEN"
    );
    assert_eq!(
        app.graphql("{ apiKeys { totalCount } }", json!({}))
            .await
            .code(),
        "UNAUTHENTICATED"
    );
    let made = app
        .graphql_as(
            &editor,
            r#"mutation { createApiKey(input: {name: "Sneaky", role: ADMIN}) { token } }"#,
            json!({}),
        )
        .await;
    assert_eq!(made.code(), "FORBIDDEN");
    let _ = KeyRole::Partner;
}

#[tokio::test]
async fn concurrent_duplicate_creates_end_in_one_record_and_conflicts() {
    let app = spawn_app().await;
    let admin = app.admin_key().await;
    let lahti = app.editor_key("Lahti editor", "Lahti").await;
    let mechelen = app.editor_key("Mechelen editor", "Mechelen").await;
    let learning = app.find_id("learnings", "te snel willen gaan").await;
    let initiative = app.find_id("initiatives", "Klusbib").await;
    let organisation = app.find_id("organisations", "Studio Dott").await;
    // Each of these may be created once; eight clients try at the same moment.
    let cases: Vec<(String, &str, Value, &str, &str)> = vec![
        (
            admin.clone(),
            "createTheme",
            json!({"query": "mutation { createTheme(input: {code: \"racing\", label: [{locale: \"en\", text: \"Racing\"}]}) { theme { id } userErrors { field code } } }"}),
            "code",
            "theme",
        ),
        (
            admin.clone(),
            "createIndicator",
            json!({"query": "mutation { createIndicator(input: {code: \"raced\", name: [{locale: \"en\", text: \"Raced\"}], unit: ITEMS, higherIsBetter: true}) { indicator { id } userErrors { field code } } }"}),
            "code",
            "indicator",
        ),
        (
            lahti.clone(),
            "endorseLearning",
            json!({"query": "mutation($l: ID!) { endorseLearning(input: {learning: $l}) { learningEndorsement { id } userErrors { field code } } }", "variables": {"l": learning}}),
            "learning",
            "learningEndorsement",
        ),
        (
            mechelen.clone(),
            "addInitiativePartner",
            json!({"query": "mutation($i: ID!, $o: ID!) { addInitiativePartner(input: {initiative: $i, organisation: $o, role: FUNDER}) { partnership { id } userErrors { field code } } }", "variables": {"i": initiative, "o": organisation}}),
            "role",
            "partnership",
        ),
        (
            admin.clone(),
            "createApiKey",
            json!({"query": "mutation { createApiKey(input: {name: \"Racing key\", role: PARTNER}) { apiKey { id } userErrors { field code } } }"}),
            "name",
            "apiKey",
        ),
    ];
    for (key, mutation, body, field, record) in cases {
        let replies = futures_util::future::join_all((0..8).map(|_| {
            app.client
                .post(app.url("/graphql"))
                .header("accept", crate::helpers::ACCEPT)
                .bearer_auth(&key)
                .json(&body)
                .send()
        }))
        .await;
        let mut created = 0;
        let mut conflicts = 0;
        for reply in replies {
            let reply = crate::helpers::TestApp::reply(reply.unwrap()).await;
            let payload = &reply.ok()[mutation];
            if payload[record].is_object() {
                created += 1;
            } else {
                let error = &payload["userErrors"][0];
                assert_eq!(error["code"], "CONFLICT", "{mutation}: {}", reply.body);
                assert_eq!(error["field"], json!(["input", field]), "{mutation}");
                conflicts += 1;
            }
        }
        assert_eq!((created, conflicts), (1, 7), "{mutation}");
    }
}

/// Every link field refuses a record of another municipality (a city's own theme, area or need)
/// with a user error at its position, for creates and updates alike, and nothing changes.
#[tokio::test]
async fn links_to_another_municipalitys_records_are_refused_everywhere() {
    let app = spawn_app().await;
    let admin = app.admin_key().await;
    let editor = app.editor_key("Link editor", "Mechelen").await;
    let lahti = stroom_api::ids::NodeKind::Municipality
        .id(app.municipality_id("Lahti").await)
        .0;
    let mechelen = stroom_api::ids::NodeKind::Municipality
        .id(app.municipality_id("Mechelen").await)
        .0;
    let made = app
        .graphql_as(
            &admin,
            r#"mutation($m: ID!) {
                theme: createTheme(input: {code: "lahti_only", municipality: $m, label: [{locale: "fi", text: "Oma"}]}) { theme { id } userErrors { message } }
                area: createArea(input: {municipality: $m, kind: DISTRICT, name: [{locale: "fi", text: "Keskusta"}]}) { area { id } userErrors { message } }
                need: createNeed(input: {municipality: $m, title: [{locale: "fi", text: "Tarve"}], source: SURVEY}) { need { id } userErrors { message } }
            }"#,
            json!({"m": lahti}),
        )
        .await;
    let theme = made.ok()["theme"]["theme"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let area = made.ok()["area"]["area"]["id"].as_str().unwrap().to_owned();
    let need = made.ok()["need"]["need"]["id"].as_str().unwrap().to_owned();
    let first = |field: &'static str| {
        let app = &app;
        async move {
            let nodes = app.all_nodes(field, "id version", json!({})).await;
            (nodes[0]["id"].clone(), nodes[0]["version"].clone())
        }
    };
    let (initiative, initiative_version) = first("initiatives").await;
    let (learning, learning_version) = first("learnings").await;
    let (programme, programme_version) = first("programmes").await;
    let title = json!([{"locale": "en", "text": "Linked"}]);
    let base = new_initiative(&ids(&app).await);
    let with = |patch: Value| {
        let mut input = base.clone();
        for (k, v) in patch.as_object().unwrap() {
            input[k] = v.clone();
        }
        input
    };
    let cases = [
        (
            "createInitiative",
            "CreateInitiativeInput",
            with(json!({"themes": [theme]})),
            "themes.0",
        ),
        (
            "createInitiative",
            "CreateInitiativeInput",
            with(json!({"needs": [need]})),
            "needs.0",
        ),
        (
            "updateInitiative",
            "UpdateInitiativeInput",
            json!({"id": initiative, "version": initiative_version, "areas": [area]}),
            "areas.0",
        ),
        (
            "updateInitiative",
            "UpdateInitiativeInput",
            json!({"id": initiative, "version": initiative_version, "themes": [theme]}),
            "themes.0",
        ),
        (
            "createLearning",
            "CreateLearningInput",
            json!({"initiative": initiative, "kind": "SUCCESS_FACTOR", "title": title, "body": title, "themes": [theme]}),
            "themes.0",
        ),
        (
            "updateLearning",
            "UpdateLearningInput",
            json!({"id": learning, "version": learning_version, "themes": [theme]}),
            "themes.0",
        ),
        (
            "createProgramme",
            "CreateProgrammeInput",
            json!({"municipality": mechelen, "name": title, "themes": [theme]}),
            "themes.0",
        ),
        (
            "updateProgramme",
            "UpdateProgrammeInput",
            json!({"id": programme, "version": programme_version, "themes": [theme]}),
            "themes.0",
        ),
    ];
    let before = app.fingerprint().await;
    for (mutation, input_type, input, field) in cases {
        let record = mutation
            .trim_start_matches("create")
            .trim_start_matches("update")
            .to_lowercase();
        let query = format!(
            "mutation($input: {input_type}!) {{ {mutation}(input: $input) {{ {record} {{ id }} userErrors {{ field code message }} }} }}"
        );
        let reply = app
            .graphql_as(&editor, &query, json!({"input": input}))
            .await;
        let payload = &reply.ok()[mutation];
        assert!(payload[&record].is_null(), "{mutation} {input}");
        let error = &payload["userErrors"][0];
        let expected: Vec<String> = std::iter::once("input".to_owned())
            .chain(field.split('.').map(str::to_owned))
            .collect();
        assert_eq!(
            error["field"],
            json!(expected),
            "{mutation} {input}: {error}"
        );
        assert_eq!(error["code"], "BAD_USER_INPUT", "{mutation}: {error}");
        assert!(
            error["message"]
                .as_str()
                .unwrap()
                .contains("belongs to another municipality"),
            "{mutation}: {error}"
        );
        assert_eq!(
            app.fingerprint().await,
            before,
            "{mutation} {input} left a trace"
        );
    }
}
