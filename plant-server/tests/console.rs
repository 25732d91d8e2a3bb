//! The operator console over plain HTTP: signing in, roles, CSRF, escaping, the security headers
//! on every page, Identity-Aware Proxy, and the live feed's resume. The same scenarios in a real
//! browser are in `console_browser.rs`.
#![allow(clippy::unwrap_used)]

mod common;
mod console_support;

use std::sync::Arc;
use std::time::Duration;

use common::{Options, mint, req, token};
use console_support::{Browser, CSP, csrf_of, set_cookies};
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::pkcs8::{EncodePrivateKey, LineEnding};
use plant_server::console::{Console, ConsoleConfig};
use serde_json::{Value, json};

fn reviewer(server: &common::TestServer) -> String {
    let now = chrono::Utc::now().timestamp();
    mint(
        &server.secret,
        &json!({"sub": "reviewer", "role": "genesis operator", "exp": now + 600, "iat": now}),
    )
}

async fn signed_in(server: &common::TestServer) -> Browser {
    let mut browser = Browser::default();
    let reply = browser.sign_in(server, &reviewer(server)).await;
    assert_eq!(reply.status, 303, "{}", reply.text());
    browser
}

async fn new_skill(server: &common::TestServer, name: &str) -> Value {
    let reply = req("POST", "/api/v1/genesis/skills")
        .bearer(&token(server, "genesis"))
        .json(&json!({"name": name, "description": "Answers support tickets within one hour.", "category": "technical"}))
        .send(server)
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text());
    reply.json()
}

#[tokio::test]
async fn a_token_signs_in_with_a_strict_http_only_cookie_and_opens_the_catalog() {
    let server = common::start().await;
    let mut browser = Browser::default();
    let reply = browser.sign_in(&server, &reviewer(&server)).await;
    assert_eq!(reply.status, 303);
    assert_eq!(reply.header("location"), Some("/console"));
    let cookies = set_cookies(&reply);
    let (_, value, attributes) = cookies
        .iter()
        .find(|(name, _, _)| name == "plant_console")
        .expect("a session cookie");
    assert_eq!(value.matches('.').count(), 2, "the cookie holds the token");
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/console", "Secure"] {
        assert!(
            attributes.contains(attribute),
            "{attribute} missing: {attributes}"
        );
    }
    let page = browser.get(&server, "/console/catalog/agents").await;
    assert_eq!(page.status, 200, "{}", page.text());
    let html = page.text();
    assert!(html.contains("Theo March"), "the seed's agents are listed");
    assert!(html.contains("reviewer"), "the page names who is signed in");

    // No cookie: the login page; a garbage cookie: the login page again, and the cookie is gone.
    let anonymous = req("GET", "/console/catalog/agents").send(&server).await;
    assert_eq!(anonymous.status, 303);
    assert_eq!(anonymous.header("location"), Some("/console/login"));
    let forged = req("GET", "/console/catalog/agents")
        .header("cookie", "plant_console=not.a.token")
        .send(&server)
        .await;
    assert_eq!(forged.status, 303);
    assert!(
        set_cookies(&forged)
            .iter()
            .any(|(n, _, a)| n == "plant_console" && a.contains("Max-Age=0"))
    );
}

#[tokio::test]
async fn the_catalog_filters_by_industry_and_status_and_pages_by_cursor() {
    let server = common::start().await;
    let mut browser = signed_in(&server).await;
    let industries = req("GET", "/api/v1/industries").send(&server).await.json();
    let education = industries
        .as_array()
        .unwrap()
        .iter()
        .find(|i| {
            i["name"]
                .as_str()
                .unwrap()
                .eq_ignore_ascii_case("education")
        })
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let page = browser
        .get(
            &server,
            &format!("/console/catalog/agents?industry={education}"),
        )
        .await
        .text();
    assert!(page.contains("Theo March"), "an education agent");
    assert!(
        !page.contains("Ava Flux"),
        "a marketing agent is filtered out"
    );
    let archived = browser
        .get(&server, "/console/catalog/agents?status=archived")
        .await
        .text();
    assert!(archived.contains("Nothing matches."));
    // A full first page links to the next one by cursor; it continues where the first ended.
    let agents = req("GET", "/api/v1/agents?limit=1")
        .send(&server)
        .await
        .json();
    let one = &agents[0];
    let extra = req("POST", "/api/v1/agents")
        .bearer(&token(&server, "genesis"))
        .json(&json!({"name": "Page two agent", "description": "Lands on the second page.",
            "skill_id": one["skill_id"], "job_role_id": one["job_role_id"], "industry_id": one["industry_id"]}))
        .send(&server)
        .await;
    assert_eq!(extra.status, 201, "{}", extra.text());
    let first = browser.get(&server, "/console/catalog/agents").await.text();
    let marker = "rel=\"next\"";
    let link_at = first.find(marker).expect("a next link on a full page");
    let href_start = first[..link_at].rfind("href=\"").unwrap() + "href=\"".len();
    let href = first[href_start..]
        .split('"')
        .next()
        .unwrap()
        .replace("&#38;", "&")
        .replace("&amp;", "&");
    assert!(href.contains("after="), "{href}");
    let second = browser.get(&server, &href).await;
    assert_eq!(second.status, 200, "{}", second.text());
    let rows = |html: &str| -> Vec<String> {
        html.split("<td><a href=\"/console/catalog/agents/")
            .skip(1)
            .map(|s| s.split('"').next().unwrap().to_owned())
            .collect()
    };
    let (a, b) = (rows(&first), rows(&second.text()));
    assert_eq!(a.len(), 50);
    assert!(
        b.iter().all(|id| !a.contains(id)),
        "no row repeats on the next page"
    );
    let bad = browser
        .get(&server, "/console/catalog/agents?after=nonsense")
        .await;
    assert_eq!(bad.status, 422);
}

#[tokio::test]
async fn cookies_are_not_secure_only_on_localhost() {
    let server = common::start().await;
    let form = req("GET", "/console/login").send(&server).await;
    let local = common::raw(
        server.addr,
        b"GET /console/login HTTP/1.1\r\nhost: localhost:8000\r\nconnection: close\r\n\r\n",
    )
    .await;
    assert!(
        set_cookies(&form)
            .iter()
            .all(|(_, _, a)| a.contains("Secure"))
    );
    assert!(
        set_cookies(&local)
            .iter()
            .all(|(_, _, a)| !a.contains("Secure"))
    );
    assert!(!set_cookies(&local).is_empty());
}

#[tokio::test]
async fn a_customer_token_is_refused_with_the_403_page() {
    let server = common::start().await;
    let mut browser = Browser::default();
    let reply = browser.sign_in(&server, &token(&server, "customer")).await;
    assert_eq!(reply.status, 403);
    assert!(reply.text().contains("403 Forbidden"));
    assert!(
        set_cookies(&reply)
            .iter()
            .all(|(n, _, _)| n != "plant_console")
    );
    // A customer token planted in the cookie by hand is refused on every page too.
    let planted = req("GET", "/console/catalog/agents")
        .header(
            "cookie",
            &format!("plant_console={}", token(&server, "customer")),
        )
        .send(&server)
        .await;
    assert_eq!(planted.status, 403);
    assert!(
        planted
            .header("content-type")
            .unwrap()
            .starts_with("text/html")
    );
    // An operator may not certify (genesis only), as in the API.
    let mut operator = Browser::default();
    assert_eq!(
        operator
            .sign_in(&server, &token(&server, "operator"))
            .await
            .status,
        303
    );
    assert_eq!(operator.get(&server, "/console/review").await.status, 403);
    assert_eq!(operator.get(&server, "/console/audit").await.status, 200);
    let mut genesis = Browser::default();
    assert_eq!(
        genesis
            .sign_in(&server, &token(&server, "genesis"))
            .await
            .status,
        303
    );
    assert_eq!(genesis.get(&server, "/console/audit").await.status, 403);
    assert_eq!(genesis.get(&server, "/console/trials").await.status, 403);
}

#[tokio::test]
async fn a_form_post_without_its_csrf_token_is_refused_and_certifies_nothing() {
    let server = common::start().await;
    let skill = new_skill(&server, "Ticket triage").await;
    let id = skill["id"].as_str().unwrap();
    let item = format!("Skill:{id}");
    let mut browser = signed_in(&server).await;
    // A cross-site page cannot read the token: its post carries none (the cookie is attached
    // here as if SameSite did not hold it back).
    let forged = browser
        .post(&server, "/console/review/certify", &[("item", &item)])
        .await;
    assert_eq!(forged.status, 403, "{}", forged.text());
    assert!(forged.text().contains("CSRF"));
    // Another session's token is worthless here.
    let mut other = signed_in(&server).await;
    let theirs = other.csrf(&server).await;
    let mine = browser.csrf(&server).await;
    assert_ne!(theirs, mine);
    let wrong = browser
        .post(
            &server,
            "/console/review/certify",
            &[("item", &item), ("csrf", &theirs)],
        )
        .await;
    assert_eq!(wrong.status, 403);
    // The login form is protected the same way.
    let login = Browser::default()
        .post(&server, "/console/login", &[("token", &reviewer(&server))])
        .await;
    assert_eq!(login.status, 403);
    let current = req("GET", &format!("/api/v1/genesis/skills/{id}"))
        .send(&server)
        .await
        .json();
    assert_eq!(current["certification"]["status"], "pending_certification");
    assert_eq!(current["version"], 1, "nothing was written");

    // With the token, the preview records nothing and the confirmation certifies.
    let preview = browser
        .post(
            &server,
            "/console/review/preview",
            &[("item", &item), ("csrf", &mine)],
        )
        .await;
    assert_eq!(preview.status, 200, "{}", preview.text());
    assert!(preview.text().contains("would be certified"));
    let after = req("GET", &format!("/api/v1/genesis/skills/{id}"))
        .send(&server)
        .await
        .json();
    assert_eq!(after["version"], 1, "a preview writes nothing");
    let done = browser
        .post(
            &server,
            "/console/review/certify",
            &[("item", &item), ("csrf", &csrf_of(&preview.text()))],
        )
        .await;
    assert_eq!(done.status, 200, "{}", done.text());
    let certified = req("GET", &format!("/api/v1/genesis/skills/{id}"))
        .send(&server)
        .await
        .json();
    assert_eq!(certified["certification"]["status"], "certified");
    assert_eq!(certified["certification"]["certified_by"], "reviewer");
}

#[tokio::test]
async fn a_stored_script_tag_renders_as_inert_text() {
    let server = common::start().await;
    let name = "<script>alert('x')</script><img src=x onerror=alert(1)>";
    let skill = new_skill(&server, name).await;
    let mut browser = signed_in(&server).await;
    for path in [
        format!("/console/catalog/skills/{}", skill["id"].as_str().unwrap()),
        "/console/catalog/skills".to_owned(),
        "/console/review".to_owned(),
    ] {
        let html = browser.get(&server, &path).await.text();
        assert!(!html.contains("<script>alert"), "{path} renders the tag");
        assert!(!html.contains("<img src=x"), "{path} renders the tag");
        assert!(
            html.contains("&#60;script&#62;alert"),
            "{path} shows the name as text"
        );
    }
}

#[tokio::test]
async fn every_console_page_carries_the_security_headers() {
    let server = common::start().await;
    let skill = new_skill(&server, "Headers everywhere").await;
    let id = skill["id"].as_str().unwrap();
    let mut browser = signed_in(&server).await;
    let paths = [
        "/console/login".to_owned(),
        "/console/catalog/agents".to_owned(),
        "/console/catalog/agents?q=math%20homework".to_owned(),
        "/console/catalog/skills".to_owned(),
        "/console/catalog/job-roles".to_owned(),
        "/console/catalog/teams".to_owned(),
        "/console/catalog/industries".to_owned(),
        format!("/console/catalog/skills/{id}"),
        format!("/console/catalog/skills/{id}?from=1&to=1"),
        "/console/review".to_owned(),
        "/console/precedents".to_owned(),
        "/console/precedents/PS-001".to_owned(),
        "/console/audit".to_owned(),
        "/console/audit/verify".to_owned(),
        "/console/trials".to_owned(),
        "/console/jobs".to_owned(),
        "/console/static/console.css".to_owned(),
        "/console/static/console.js".to_owned(),
        "/console/catalog/nothing".to_owned(),
        format!("/console/catalog/skills/{}", uuid::Uuid::new_v4()),
    ];
    for path in &paths {
        let reply = browser.get(&server, path).await;
        // The login page sends a signed-in browser on to the console.
        assert!(
            matches!(reply.status, 200 | 303 | 404),
            "{path}: {}",
            reply.status
        );
        assert_eq!(reply.header("content-security-policy"), Some(CSP), "{path}");
        assert_eq!(
            reply.header("x-content-type-options"),
            Some("nosniff"),
            "{path}"
        );
        assert_eq!(
            reply.header("referrer-policy"),
            Some("no-referrer"),
            "{path}"
        );
        assert!(
            !reply.text().contains("<script>"),
            "{path} has an inline script"
        );
    }
    // Pages for the signed-out and the refused carry them too.
    for reply in [
        req("GET", "/console/catalog/agents").send(&server).await,
        req("GET", "/console/review")
            .header(
                "cookie",
                &format!("plant_console={}", token(&server, "customer")),
            )
            .send(&server)
            .await,
    ] {
        assert_eq!(reply.header("content-security-policy"), Some(CSP));
    }
}

#[tokio::test]
async fn the_live_feed_resumes_after_the_last_event_id() {
    let server = common::start().await;
    let cookie = {
        let browser = signed_in(&server).await;
        browser
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    };
    let head = req("GET", "/api/v1/audit/feed?after=0&limit=1000")
        .bearer(&token(&server, "operator"))
        .send(&server)
        .await
        .json();
    let last: u64 = head["entries"].as_array().unwrap().last().unwrap()["seq"]
        .as_u64()
        .unwrap();
    let mut feed = common::sse::SseClient::open(
        server.addr,
        "/console/audit/feed",
        &[
            ("cookie", cookie.clone()),
            ("last-event-id", (last - 2).to_string()),
        ],
    )
    .await;
    assert_eq!(feed.status, 200);
    assert!(feed.is_event_stream());
    assert_eq!(feed.header("content-security-policy").as_deref(), Some(CSP));
    let first = feed.next_entry(Duration::from_secs(10)).await.unwrap();
    assert_eq!(
        first.id,
        Some((last - 1).to_string()),
        "resumes right after Last-Event-ID"
    );
    let second = feed.next_entry(Duration::from_secs(10)).await.unwrap();
    assert_eq!(second.id, Some(last.to_string()));
    // A write made now arrives next.
    let skill = new_skill(&server, "Live feed skill").await;
    let third = feed.next_entry(Duration::from_secs(10)).await.unwrap();
    assert_eq!(third.id, Some((last + 1).to_string()));
    let data: Value = serde_json::from_str(&third.data).unwrap();
    assert_eq!(data["entity_id"], skill["id"]);
    // Without a session there is no feed.
    let anonymous = common::sse::SseClient::open(server.addr, "/console/audit/feed", &[]).await;
    assert_eq!(anonymous.status, 303);
}

/// An IAP-like signer: a P-256 key and its JWKS in a file.
struct Iap {
    pem: String,
    jwks: std::path::PathBuf,
}

impl Iap {
    fn new() -> Self {
        let mut bytes = [0_u8; 32];
        bytes[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        bytes[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        let secret = p256::SecretKey::from_slice(&bytes).unwrap();
        let point = secret.public_key().to_encoded_point(false);
        let jwk = json!({
            "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": "iap-1",
            "x": common::b64url(point.x().unwrap()), "y": common::b64url(point.y().unwrap()),
        });
        let dir = std::env::temp_dir().join(format!("plant-iap-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let jwks = dir.join("jwks.json");
        std::fs::write(&jwks, json!({"keys": [jwk]}).to_string()).unwrap();
        Self {
            pem: secret.to_pkcs8_pem(LineEnding::LF).unwrap().to_string(),
            jwks,
        }
    }

    fn assertion(&self, email: &str, audience: &str) -> String {
        let now = chrono::Utc::now().timestamp();
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
        header.kid = Some("iap-1".into());
        jsonwebtoken::encode(
            &header,
            &json!({"sub": "accounts.google.com:1234", "email": email, "aud": audience,
                    "iss": "https://cloud.google.com/iap", "iat": now, "exp": now + 600}),
            &jsonwebtoken::EncodingKey::from_ec_pem(self.pem.as_bytes()).unwrap(),
        )
        .unwrap()
    }
}

#[tokio::test]
async fn behind_iap_the_signed_header_signs_in_with_the_configured_roles() {
    const AUDIENCE: &str = "/projects/1/global/backendServices/2";
    let iap = Iap::new();
    let vars = [
        ("PLANT_CONSOLE_IAP_AUDIENCE", AUDIENCE.to_owned()),
        (
            "PLANT_CONSOLE_IAP_JWKS_FILE",
            iap.jwks.display().to_string(),
        ),
        (
            "PLANT_CONSOLE_IAP_ROLES",
            "reviewer@example.com=genesis; ops@example.com=operator".to_owned(),
        ),
    ];
    let config =
        ConsoleConfig::from_lookup(|k| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone()))
            .unwrap();
    let console = Arc::new(Console::new(&config).unwrap());
    let server = common::start_with(Options {
        // The API's routes with a console configured here, in place of the environment's.
        extra_routes: Some(Box::new(move |_| {
            plant_server::console::routes_with(plant_server::routes::api_router(), console)
        })),
        ..Options::default()
    })
    .await;
    let get = |path: &'static str, assertion: String| {
        req("GET", path).header("x-goog-iap-jwt-assertion", &assertion)
    };
    let review = get(
        "/console/review",
        iap.assertion("Reviewer@Example.com", AUDIENCE),
    )
    .send(&server)
    .await;
    assert_eq!(review.status, 200, "{}", review.text());
    assert!(review.text().contains("Reviewer@Example.com"));
    let ops = get(
        "/console/review",
        iap.assertion("ops@example.com", AUDIENCE),
    )
    .send(&server)
    .await;
    assert_eq!(ops.status, 403, "operators do not certify");
    let audit = get("/console/audit", iap.assertion("ops@example.com", AUDIENCE))
        .send(&server)
        .await;
    assert_eq!(audit.status, 200);
    let stranger = get(
        "/console/catalog/agents",
        iap.assertion("someone@example.com", AUDIENCE),
    )
    .send(&server)
    .await;
    assert_eq!(stranger.status, 403, "an address without roles");
    let elsewhere = get(
        "/console/catalog/agents",
        iap.assertion("reviewer@example.com", "/other"),
    )
    .send(&server)
    .await;
    assert_eq!(elsewhere.status, 401, "an assertion for another backend");
    let forged = get(
        "/console/catalog/agents",
        Iap::new().assertion("reviewer@example.com", AUDIENCE),
    )
    .send(&server)
    .await;
    assert_eq!(forged.status, 401, "an assertion signed by another key");
    // Forms behind IAP carry a CSRF token too.
    let seed_cookie = set_cookies(&review)
        .into_iter()
        .find(|(n, _, _)| n == "plant_console_csrf")
        .unwrap();
    let post = req("POST", "/console/precedents")
        .header(
            "x-goog-iap-jwt-assertion",
            &iap.assertion("reviewer@example.com", AUDIENCE),
        )
        .header("cookie", &format!("plant_console_csrf={}", seed_cookie.1))
        .body(
            "application/x-www-form-urlencoded",
            b"title=t&content=c&applies_to=Skill",
        )
        .send(&server)
        .await;
    assert_eq!(post.status, 403);
}

/// Server time of console pages on the seed catalog and with 10,000 more agents (a measurement,
/// not a check: `cargo test -p plant-server --test console -- --ignored --nocapture
/// console_page_times`). Prints the median of 20 loads per page.
#[tokio::test]
#[ignore = "a measurement; run it by name"]
async fn console_page_times() {
    let server = common::start().await;
    let mut browser = signed_in(&server).await;
    let agents = req("GET", "/api/v1/agents?limit=1")
        .send(&server)
        .await
        .json();
    let agent = &agents[0];
    let agent_path = format!("/console/catalog/agents/{}", agent["id"].as_str().unwrap());
    let pages = [
        "/console/catalog/agents".to_owned(),
        "/console/catalog/agents?q=help%20with%20math%20homework".to_owned(),
        agent_path,
        "/console/review".to_owned(),
        "/console/precedents".to_owned(),
        "/console/audit".to_owned(),
    ];
    let measure = async |label: &str, browser: &mut Browser| {
        for path in &pages {
            let mut times = Vec::new();
            for _ in 0..20 {
                let started = std::time::Instant::now();
                let reply = browser.get(&server, path).await;
                times.push(started.elapsed());
                assert_eq!(reply.status, 200, "{path}");
            }
            times.sort();
            println!(
                "{label}\t{path}\tmedian {:.1} ms",
                times[10].as_secs_f64() * 1000.0
            );
        }
    };
    measure("seed", &mut browser).await;
    let catalog = server.state.catalog();
    // Created 32 at a time: the measurement is of the pages, not of the writes.
    for chunk in (0..10_000).collect::<Vec<u32>>().chunks(32) {
        let writes = chunk.iter().map(|i| {
            catalog.create_json(
                plant_core::model::Kind::Agent,
                json!({
                    "name": format!("Load agent {i:05}"),
                    "description": "Answers customer questions about orders and returns.",
                    "skill_id": agent["skill_id"],
                    "job_role_id": agent["job_role_id"],
                    "industry_id": agent["industry_id"],
                }),
                "measurement",
                false,
            )
        });
        for written in futures_util::future::join_all(writes).await {
            written.unwrap();
        }
    }
    measure("10k more agents", &mut browser).await;
}
