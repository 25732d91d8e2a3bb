//! Hostile input, table-driven and property-based: every answer is a 4xx problem+json (or, for
//! a few reads that may legitimately succeed, a 200), never a 5xx or a hang, and the audit
//! chain's head does not move.
//!
//! Runs against PostgreSQL when `DATABASE_URL` is set (so database-level surprises such as NUL
//! bytes in text or bigint overflow are exercised), else against the in-memory catalog.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::time::Duration;

use plant_reliability::client::{Req, Response, raw, req};
use plant_reliability::fixtures::{seeded_server, verified_head};
use plant_reliability::server::Options;
use plant_reliability::token;
use proptest::prelude::*;
use serde_json::{Value, json};

/// What an answer may be.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Expect {
    /// A 4xx problem+json.
    Problem,
    /// A 4xx problem+json, or a 200 (a read whose odd parameter is still meaningful).
    ProblemOrOk,
    /// Malformed HTTP refused by the protocol layer: any 4xx, or the connection closed.
    Protocol,
}

fn check(name: &str, expect: Expect, r: &Result<Response, String>) {
    match (expect, r) {
        (Expect::Protocol, Err(e)) if !e.starts_with("no response") => {}
        (Expect::Protocol, Ok(r)) => assert!(
            (400..500).contains(&r.status),
            "{name}: expected a 4xx, got {} {}",
            r.status,
            r.brief()
        ),
        (_, Err(e)) => panic!("{name}: no answer: {e}"),
        (Expect::Problem, Ok(r)) => r.assert_4xx_problem(name),
        (Expect::ProblemOrOk, Ok(r)) => {
            if r.status != 200 {
                r.assert_4xx_problem(name);
            }
        }
    }
}

fn skill_post(genesis: &str) -> Req {
    req("POST", "/api/v1/genesis/skills").bearer(genesis)
}

fn nested(depth: usize) -> String {
    format!(
        r#"{{"name":{}1{},"description":"d","category":"technical"}}"#,
        "[".repeat(depth),
        "]".repeat(depth)
    )
}

fn table(genesis: &str, operator: &str) -> Vec<(String, Expect, Req)> {
    let json_body = |name: &str, body: Vec<u8>| {
        (
            name.to_owned(),
            Expect::Problem,
            skill_post(genesis).raw_body("application/json", body),
        )
    };
    let skill = |name: Value| json!({ "name": name, "description": "d", "category": "technical" });
    let mut cases = vec![
        json_body(
            "oversize body (2 MiB)",
            format!(r#"{{"name":"{}"}}"#, "a".repeat(2 * 1024 * 1024)).into_bytes(),
        ),
        json_body("deep nesting (100k arrays)", nested(100_000).into_bytes()),
        json_body(
            "deep nesting (object in object)",
            format!("{}1{}", r#"{"a":"#.repeat(5_000), "}".repeat(5_000)).into_bytes(),
        ),
        json_body(
            "invalid UTF-8 in a string",
            b"{\"name\":\"\xff\xfe\xfd\",\"description\":\"d\",\"category\":\"technical\"}"
                .to_vec(),
        ),
        json_body(
            "NUL byte in the name",
            skill(json!("nul\u{0}name")).to_string().into_bytes(),
        ),
        json_body(
            "very long unicode name (100k chars)",
            skill(json!("名".repeat(100_000))).to_string().into_bytes(),
        ),
        json_body(
            "duplicate keys",
            br#"{"name":"Dup A","name":"Dup B","description":"d","category":"technical"}"#.to_vec(),
        ),
        json_body(
            "trailing garbage",
            br#"{"name":"Trail","description":"d","category":"technical"} junk"#.to_vec(),
        ),
        json_body("empty body", Vec::new()),
        json_body("null", b"null".to_vec()),
        json_body("array", b"[]".to_vec()),
        json_body("bare string", br#""skill""#.to_vec()),
        json_body("number too large", br#"{"name":1e400}"#.to_vec()),
        json_body(
            "wrong types",
            br#"{"name":5,"description":[],"category":{}}"#.to_vec(),
        ),
        json_body(
            "category injection",
            skill(json!("Injected"))
                .to_string()
                .replace("technical", "technical' or '1'='1")
                .into_bytes(),
        ),
        json_body(
            "JSON smuggled in a string field",
            br#"{"name":"x\",\"category\":\"certification","description":"d"}"#.to_vec(),
        ),
        (
            "text/plain".into(),
            Expect::Problem,
            skill_post(genesis)
                .raw_body("text/plain", skill(json!("Plain")).to_string().into_bytes()),
        ),
        (
            "form encoded".into(),
            Expect::Problem,
            skill_post(genesis).raw_body(
                "application/x-www-form-urlencoded",
                b"name=Form&description=d&category=technical".to_vec(),
            ),
        ),
        (
            "no content type".into(),
            Expect::Problem,
            skill_post(genesis).bare_body(skill(json!("Bare")).to_string().into_bytes()),
        ),
        (
            "If-Match garbage on PATCH".into(),
            Expect::Problem,
            req(
                "PATCH",
                &format!("/api/v1/genesis/skills/{}", uuid::Uuid::new_v4()),
            )
            .bearer(genesis)
            .header("if-match", "\"v99999999999999999999999\"")
            .json(&json!({ "description": "x" })),
        ),
    ];
    let gets: &[(&str, Expect)] = &[
        ("/api/v1/agents?limit=-1", Expect::Problem),
        ("/api/v1/agents?limit=0", Expect::Problem),
        ("/api/v1/agents?limit=1001", Expect::Problem),
        (
            "/api/v1/agents?limit=99999999999999999999999",
            Expect::Problem,
        ),
        ("/api/v1/agents?limit=abc", Expect::Problem),
        ("/api/v1/agents?limit=1e3", Expect::Problem),
        ("/api/v1/agents?offset=-1", Expect::Problem),
        (
            "/api/v1/agents?offset=99999999999999999999999",
            Expect::Problem,
        ),
        (
            "/api/v1/agents?offset=18446744073709551615",
            Expect::ProblemOrOk,
        ),
        (
            "/api/v1/agents?offset=9223372036854775808",
            Expect::ProblemOrOk,
        ),
        (
            "/api/v1/genesis/skills?offset=9223372036854775807",
            Expect::ProblemOrOk,
        ),
        ("/api/v1/genesis/skills/not-a-uuid", Expect::Problem),
        (
            "/api/v1/genesis/skills/00000000-0000-0000-0000-00000000000g",
            Expect::Problem,
        ),
        ("/api/v1/genesis/skills/'%20or%201=1--", Expect::Problem),
        (
            "/api/v1/genesis/skills/..%2F..%2F..%2Fetc%2Fpasswd",
            Expect::Problem,
        ),
        ("/api/v1/genesis/skills/%00", Expect::Problem),
        ("/api/v1/genesis/skills/%2e%2e", Expect::Problem),
        ("/api/v1/genesis/skills/..;/..;/etc/passwd", Expect::Problem),
        (
            "/api/v1/genesis/skills?category=technical'%20OR%201=1--",
            Expect::Problem,
        ),
        (
            "/api/v1/genesis/job-roles?seniority_level=%00",
            Expect::Problem,
        ),
        ("/api/v1/agents?after=garbage", Expect::Problem),
        (
            "/api/v1/agents?after=';drop%20table%20audit_log;--",
            Expect::Problem,
        ),
        ("/api/v1/agents?after=eyJpZCI6MX0", Expect::Problem),
        ("/api/v1/agents?after=%FF%FE", Expect::Problem),
        (
            "/api/v1/agents?industry_id=1'%20OR%20'1'='1",
            Expect::Problem,
        ),
        ("/api/v1/agents?status=active%00", Expect::Problem),
        ("/api/v1/agents?q=%FF%FE", Expect::ProblemOrOk),
        (
            "/api/v1/agents/00000000-0000-0000-0000-000000000000",
            Expect::Problem,
        ),
        ("/api/v1/search?q=seo&k=-1", Expect::Problem),
        ("/api/v1/search?q=seo&k=99999999999", Expect::ProblemOrOk),
        ("/api/v1/nope", Expect::Problem),
        (
            "/api/v1/genesis/skills/../../../etc/passwd",
            Expect::Problem,
        ),
    ];
    for (path, expect) in gets {
        cases.push(((*path).to_owned(), *expect, req("GET", path)));
    }
    let long_query = format!("/api/v1/search?q={}", "%E5%90%8D".repeat(3_000));
    cases.push((
        "very long query".into(),
        Expect::ProblemOrOk,
        req("GET", &long_query),
    ));
    for path in [
        "/api/v1/audit/tampering/..%2F..%2Fetc%2Fpasswd",
        "/api/v1/audit/export?after=-1",
        "/api/v1/audit/export?limit=100000",
        "/api/v1/trials/not-a-uuid",
        "/api/v1/trials?limit=-5",
        "/api/v1/jobs?offset=abc",
    ] {
        cases.push((
            path.to_owned(),
            Expect::Problem,
            req("GET", path).bearer(operator),
        ));
    }
    cases
}

fn raw_cases() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        (
            "invalid UTF-8 in the path",
            b"GET /api/v1/genesis/skills/\xff\xfe HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"
                .to_vec(),
        ),
        (
            "NUL in a header",
            b"GET /health HTTP/1.1\r\nhost: x\r\nx-a: a\x00b\r\nconnection: close\r\n\r\n".to_vec(),
        ),
        ("huge header (1 MB)", {
            let mut v = b"GET /health HTTP/1.1\r\nhost: x\r\nx-big: ".to_vec();
            v.extend(std::iter::repeat_n(b'a', 1_000_000));
            v.extend_from_slice(b"\r\nconnection: close\r\n\r\n");
            v
        }),
        (
            "not HTTP",
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 hello\r\n\r\n".to_vec(),
        ),
        (
            "negative content-length",
            b"POST /api/v1/trials HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: -1\r\nconnection: close\r\n\r\n{}"
                .to_vec(),
        ),
        (
            "two content-lengths",
            b"POST /api/v1/trials HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 2\r\ncontent-length: 3\r\nconnection: close\r\n\r\n{}"
                .to_vec(),
        ),
    ]
}

async fn head(addr: SocketAddr, secret: &str) -> Value {
    verified_head(addr, secret).await
}

#[tokio::test]
async fn hostile_requests_get_4xx_problems_and_leave_the_chain_alone() {
    let (mut server, db) = seeded_server(Options::memory()).await;
    let addr = server.addr;
    let genesis = token::role(&server.secret, "genesis");
    let operator = token::role(&server.secret, "operator");
    let before = head(addr, &server.secret).await;

    let cases = table(&genesis, &operator);
    let total = cases.len();
    for (name, expect, request) in cases {
        let r = request.send_within(addr, Duration::from_secs(20)).await;
        check(&name, expect, &r);
    }
    for (name, bytes) in raw_cases() {
        let r = raw(addr, &bytes, Duration::from_secs(20)).await;
        check(name, Expect::Protocol, &r);
    }
    assert!(server.alive(), "the server survived the table");
    assert_eq!(head(addr, &server.secret).await, before, "the chain moved");
    eprintln!(
        "hostile table: {total} requests and {} raw requests",
        raw_cases().len()
    );
    drop(server);
    if let Some(db) = db {
        db.drop_db().await;
    }
}

fn percent_encode(text: &str) -> String {
    text.bytes().map(|b| format!("%{b:02X}")).collect()
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        ".{0,40}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(".{0,12}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

#[test]
fn arbitrary_bodies_ids_and_paging_values_never_get_past_the_edge() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (server, db) = rt.block_on(seeded_server(Options::memory()));
    let addr = server.addr;
    let secret = server.secret.clone();
    let genesis = token::role(&secret, "genesis");
    let before = rt.block_on(head(addr, &secret));
    let config = ProptestConfig {
        cases: 48,
        failure_persistence: None,
        ..ProptestConfig::default()
    };

    proptest!(config.clone(), |(body in prop::collection::vec(any::<u8>(), 0..512))| {
        let r = rt.block_on(skill_post(&genesis).raw_body("application/json", body).send(addr));
        check("arbitrary bytes as a skill", Expect::Problem, &r);
    });
    proptest!(config.clone(), |(value in json_value())| {
        let r = rt.block_on(skill_post(&genesis).json(&value).send(addr));
        check("arbitrary JSON as a skill", Expect::Problem, &r);
    });
    proptest!(config.clone(), |(id in ".{1,80}")| {
        let path = format!("/api/v1/genesis/skills/{}", percent_encode(&id));
        let r = rt.block_on(req("GET", &path).send(addr));
        check("arbitrary id", Expect::Problem, &r);
    });
    proptest!(config, |(limit in ".{0,24}", offset in ".{0,24}", after in ".{0,40}")| {
        let path = format!(
            "/api/v1/agents?limit={}&offset={}&after={}",
            percent_encode(&limit),
            percent_encode(&offset),
            percent_encode(&after)
        );
        let r = rt.block_on(req("GET", &path).send(addr));
        check("arbitrary paging", Expect::ProblemOrOk, &r);
    });

    assert_eq!(rt.block_on(head(addr, &secret)), before, "the chain moved");
    drop(server);
    if let Some(db) = db {
        rt.block_on(db.drop_db());
    }
}
