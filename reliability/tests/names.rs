//! Names that look alike are one name, across processes: two plant-server instances on one
//! database receive a name and its look-alike at the same moment (a combining accent against the
//! precomposed letter, fullwidth letters, a joiner, a Cyrillic letter in an agent's name); exactly
//! one is created and the other answers 409, because the database's unique index on the folded
//! name key decides, not a check in either process. A zero-width space is refused with 422.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;

use plant_reliability::client::req;
use plant_reliability::db::{TestDb, count};
use plant_reliability::fixtures::{list, skill_body};
use plant_reliability::server::{Options, Server};
use plant_reliability::{cli, token};
use serde_json::{Value, json};

/// Sends both creates at once, one to each instance; returns both statuses.
async fn race(addrs: [SocketAddr; 2], path: &str, token: &str, bodies: [Value; 2]) -> [u16; 2] {
    let [a, b] = bodies;
    let (a, b) = (
        req("POST", path).bearer(token).json(&a),
        req("POST", path).bearer(token).json(&b),
    );
    let (ra, rb) = tokio::join!(a.ok(addrs[0]), b.ok(addrs[1]));
    for r in [&ra, &rb] {
        if r.status != 201 {
            r.assert_4xx_problem("a look-alike name");
        }
    }
    [ra.status, rb.status]
}

fn one_created_one_conflict(statuses: [u16; 2], what: &str) {
    let mut sorted = statuses;
    sorted.sort_unstable();
    assert_eq!(sorted, [201, 409], "{what}: {statuses:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn look_alike_names_sent_to_two_instances_at_once_create_one_and_conflict_the_other() {
    let Some(db) = TestDb::migrated("names_across_instances").await else {
        return;
    };
    cli::seed(&db.url);
    let secret = plant_reliability::random_secret();
    let servers: Vec<Server> = (0..2)
        .map(|_| Server::start(Options::database(&db.url).secret(&secret)))
        .collect();
    let addrs = [servers[0].addr, servers[1].addr];
    let genesis = token::role(&secret, "genesis");
    let skills = "/api/v1/genesis/skills";

    let pairs = [
        ("Caf\u{e9} Writing", "Cafe\u{301} writing"),
        (
            "Ledger Audits",
            "\u{ff2c}\u{ff45}\u{ff44}\u{ff47}\u{ff45}\u{ff52} Audits",
        ),
        ("Podcast Editing", "Podcast\u{200d} EDITING"),
    ];
    for (round, (original, imitation)) in pairs.into_iter().enumerate() {
        // Each round swaps which instance gets the original, so either may lose the race.
        let bodies = if round % 2 == 0 {
            [skill_body(original), skill_body(imitation)]
        } else {
            [skill_body(imitation), skill_body(original)]
        };
        let statuses = race(addrs, skills, &genesis, bodies).await;
        one_created_one_conflict(statuses, original);
    }

    // A seeded agent's name with a Cyrillic А and а, against the Latin spelling of a new one.
    let agents = list(addrs[0], "/api/v1/agents").await;
    let ava = agents
        .iter()
        .find(|a| a["name"] == "Ava Flux")
        .expect("the seed has Ava Flux")
        .clone();
    let agent = |name: &str| {
        json!({ "name": name, "skill_id": ava["skill_id"], "job_role_id": ava["job_role_id"],
                "industry_id": ava["industry_id"] })
    };
    let r = req("POST", "/api/v1/agents")
        .bearer(&genesis)
        .json(&agent("\u{410}v\u{430} Flux"))
        .ok(addrs[1])
        .await;
    assert_eq!(r.status, 409, "a Cyrillic Ava Flux: {}", r.text());
    r.assert_4xx_problem("a Cyrillic Ava Flux");
    let statuses = race(
        addrs,
        "/api/v1/agents",
        &genesis,
        [agent("Nova Prime"), agent("N\u{43e}va Prim\u{435}")],
    )
    .await;
    one_created_one_conflict(statuses, "Nova Prime");

    // Invisible characters are refused, not compared.
    let r = req("POST", skills)
        .bearer(&genesis)
        .json(&skill_body("Content Marketing\u{200b}"))
        .ok(addrs[0])
        .await;
    assert_eq!(r.status, 422, "a zero-width space: {}", r.text());
    assert!(
        r.text().contains("U+200B"),
        "names the character: {}",
        r.text()
    );

    // What the database holds: one row per name, each with its key.
    let mut conn = db.connect().await;
    for (table, sql) in [
        (
            "skill",
            "select count(*) from skill where name_key in \
             ('caf\u{e9} writing', 'ledger audits', 'podcast editing')",
        ),
        ("skill", "select count(*) from skill where name_key is null"),
        ("agent", "select count(*) from agent where name_key is null"),
    ] {
        let n = count(&mut conn, sql).await;
        let expected = if sql.contains(" in ") { 3 } else { 0 };
        assert_eq!(n, expected, "{table}: {sql}");
    }
    drop(servers);
    db.drop_db().await;
}
