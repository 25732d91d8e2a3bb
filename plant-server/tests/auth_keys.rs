//! Tokens bound to plant and a newcomer's first write: an identity provider's tokens must name
//! plant's audience and the provider's issuer; a JWKS is cached, refreshed on an unknown `kid`
//! (rate-limited) so the provider can rotate keys; the zero-configuration binary prints
//! development tokens that work, and prints nothing once a key is configured.
#![allow(clippy::unwrap_used)]

mod common;

use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Options, b64url, raw, req, start_with};
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::pkcs8::{EncodePrivateKey, LineEnding};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};

const AUDIENCE: &str = "plant";
const ISSUER: &str = "https://id.example";

/// An ES256 signing key of the test identity provider.
struct ProviderKey {
    kid: String,
    private_pem: String,
    jwk: Value,
}

impl ProviderKey {
    fn new(kid: &str) -> Self {
        let mut bytes = [0_u8; 32];
        bytes[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        bytes[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        let secret = p256::SecretKey::from_slice(&bytes).unwrap();
        let point = secret.public_key().to_encoded_point(false);
        Self {
            kid: kid.to_owned(),
            private_pem: secret.to_pkcs8_pem(LineEnding::LF).unwrap().to_string(),
            jwk: json!({
                "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": kid,
                "x": b64url(point.x().unwrap()), "y": b64url(point.y().unwrap()),
            }),
        }
    }

    /// A token signed by this key naming `kid` in its header.
    fn sign_as(&self, kid: &str, claims: &Value) -> String {
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
        header.kid = Some(kid.to_owned());
        jsonwebtoken::encode(
            &header,
            claims,
            &jsonwebtoken::EncodingKey::from_ec_pem(self.private_pem.as_bytes()).unwrap(),
        )
        .unwrap()
    }

    fn sign(&self, claims: &Value) -> String {
        self.sign_as(&self.kid, claims)
    }
}

/// Operator claims bound to plant, with `aud` and `iss` as given.
fn operator_claims(aud: &str, iss: &str) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({ "sub": "op@id.example", "role": "operator", "aud": aud, "iss": iss, "iat": now, "exp": now + 600 })
}

fn bound() -> Value {
    operator_claims(AUDIENCE, ISSUER)
}

/// The identity provider's JWKS endpoint on 127.0.0.1: serves whatever set the test puts in,
/// counting fetches.
struct JwksServer {
    url: String,
    keys: Arc<Mutex<Value>>,
    fetches: Arc<AtomicUsize>,
}

impl JwksServer {
    async fn start(keys: Value) -> Self {
        let keys = Arc::new(Mutex::new(keys));
        let fetches = Arc::new(AtomicUsize::new(0));
        let (served, counted) = (keys.clone(), fetches.clone());
        let app = axum::Router::new().route(
            "/.well-known/jwks.json",
            axum::routing::get(move || {
                let (served, counted) = (served.clone(), counted.clone());
                async move {
                    counted.fetch_add(1, Ordering::SeqCst);
                    let body = served.lock().unwrap().clone();
                    axum::Json(body)
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self {
            url: format!("http://{addr}/.well-known/jwks.json"),
            keys,
            fetches,
        }
    }

    fn publish(&self, keys: &[&ProviderKey]) {
        *self.keys.lock().unwrap() =
            json!({ "keys": keys.iter().map(|k| k.jwk.clone()).collect::<Vec<_>>() });
    }

    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

fn set_of(keys: &[&ProviderKey]) -> Value {
    json!({ "keys": keys.iter().map(|k| k.jwk.clone()).collect::<Vec<_>>() })
}

async fn server_on(jwks: &JwksServer, min_refresh_ms: u64) -> common::TestServer {
    start_with(Options {
        vars: vec![
            ("PLANT_JWT_JWKS_URL", jwks.url.clone()),
            ("PLANT_JWT_AUDIENCE", AUDIENCE.into()),
            ("PLANT_JWT_ISSUER", ISSUER.into()),
            ("PLANT_JWT_JWKS_MIN_REFRESH_MS", min_refresh_ms.to_string()),
        ],
        ..Options::default()
    })
    .await
}

/// The status of an operator-only read with `token`, and the problem's detail when refused.
async fn verify_with(s: &common::TestServer, token: &str) -> (u16, String) {
    let reply = req("GET", "/api/v1/audit/verify")
        .bearer(token)
        .send(s)
        .await;
    let detail = if reply.status == 200 {
        String::new()
    } else {
        reply.problem(reply.status)["detail"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    (reply.status, detail)
}

#[tokio::test]
async fn a_providers_token_for_another_audience_or_from_another_issuer_is_401() {
    let key = ProviderKey::new("k1");
    let jwks = JwksServer::start(set_of(&[&key])).await;
    let s = server_on(&jwks, 60_000).await;

    assert_eq!(verify_with(&s, &key.sign(&bound())).await.0, 200);

    let (status, detail) =
        verify_with(&s, &key.sign(&operator_claims("billing-service", ISSUER))).await;
    assert_eq!(status, 401);
    assert!(detail.contains("audience"), "{detail}");

    let (status, detail) = verify_with(
        &s,
        &key.sign(&operator_claims(AUDIENCE, "https://other.example")),
    )
    .await;
    assert_eq!(status, 401);
    assert!(detail.contains("issuer"), "{detail}");

    let mut unbound = bound();
    unbound.as_object_mut().unwrap().remove("aud");
    assert_eq!(verify_with(&s, &key.sign(&unbound)).await.0, 401);
}

#[tokio::test]
async fn an_unknown_kid_refreshes_the_set_so_a_rotated_key_works_and_the_removed_one_stops() {
    let old = ProviderKey::new("2026-11");
    let new = ProviderKey::new("2026-12");
    let jwks = JwksServer::start(set_of(&[&old])).await;
    let min_refresh = Duration::from_millis(300);
    let s = server_on(&jwks, 300).await;
    assert_eq!(jwks.fetches(), 1, "the set is loaded at start-up");
    assert_eq!(verify_with(&s, &old.sign(&bound())).await.0, 200);
    assert_eq!(jwks.fetches(), 1, "a known kid is served from the cache");

    // The provider rotates: only the new key is published.
    jwks.publish(&[&new]);
    tokio::time::sleep(min_refresh).await;
    let (status, detail) = verify_with(&s, &new.sign(&bound())).await;
    assert_eq!(status, 200, "{detail}");
    assert_eq!(jwks.fetches(), 2, "the unknown kid fetched the set once");

    // The removed key no longer verifies: its kid is unknown now, and a refresh does not bring
    // it back.
    tokio::time::sleep(min_refresh).await;
    let (status, detail) = verify_with(&s, &old.sign(&bound())).await;
    assert_eq!(status, 401);
    assert!(detail.contains("does not publish"), "{detail}");
    assert_eq!(jwks.fetches(), 3);
    assert_eq!(verify_with(&s, &new.sign(&bound())).await.0, 200);
}

#[tokio::test]
async fn unknown_kids_cannot_hammer_the_provider() {
    let key = ProviderKey::new("k1");
    let jwks = JwksServer::start(set_of(&[&key])).await;
    let s = server_on(&jwks, 60_000).await;
    assert_eq!(jwks.fetches(), 1);
    let mut refused = Vec::new();
    for i in 0..20 {
        let token = key.sign_as(&format!("made-up-{i}"), &bound());
        refused.push(verify_with(&s, &token).await.0);
    }
    assert!(refused.iter().all(|status| *status == 401), "{refused:?}");
    assert_eq!(jwks.fetches(), 1, "refreshes are at most one per interval");
}

#[tokio::test]
async fn a_symmetric_key_in_the_set_is_never_used_and_a_jwks_file_rotates_too() {
    let key = ProviderKey::new("k1");
    let oct_secret = "an HMAC secret the provider should not have published";
    let dir = std::env::temp_dir().join(format!("plant-jwks-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("jwks.json");
    let mut set = set_of(&[&key]);
    set["keys"].as_array_mut().unwrap().push(json!({
        "kty": "oct", "kid": "hmac", "k": b64url(oct_secret.as_bytes()),
    }));
    std::fs::write(&file, set.to_string()).unwrap();
    let s = start_with(Options {
        vars: vec![
            ("PLANT_JWT_JWKS_FILE", file.display().to_string()),
            ("PLANT_JWT_AUDIENCE", AUDIENCE.into()),
            ("PLANT_JWT_ISSUER", ISSUER.into()),
            ("PLANT_JWT_JWKS_MIN_REFRESH_MS", "200".into()),
        ],
        ..Options::default()
    })
    .await;
    assert_eq!(verify_with(&s, &key.sign(&bound())).await.0, 200);

    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.kid = Some("hmac".into());
    let forged = jsonwebtoken::encode(
        &header,
        &bound(),
        &jsonwebtoken::EncodingKey::from_secret(oct_secret.as_bytes()),
    )
    .unwrap();
    assert_eq!(verify_with(&s, &forged).await.0, 401);

    let rotated = ProviderKey::new("k2");
    std::fs::write(&file, set_of(&[&rotated]).to_string()).unwrap();
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert_eq!(verify_with(&s, &rotated.sign(&bound())).await.0, 200);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A port that was free a moment ago.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The server binary with exactly `vars` in its environment.
fn binary(vars: &[(&str, &str)]) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_plant-server"));
    command
        .env_clear()
        .env("LOG_FORMAT", "json")
        .envs(vars.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}

async fn wait_healthy(addr: std::net::SocketAddr) {
    for _ in 0..300 {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            let reply = raw(addr, &req("GET", "/health").bytes()).await;
            if reply.status == 200 {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the server at {addr} never became healthy");
}

/// The value of `export NAME=value` in the announcement.
fn exported<'a>(text: &'a str, name: &str) -> &'a str {
    let prefix = format!("export {name}=");
    text.lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no {prefix} in:\n{text}"))
}

#[tokio::test]
async fn the_zero_configuration_binary_prints_development_tokens_that_can_write() {
    let port = free_port();
    let port_text = port.to_string();
    let mut child = binary(&[("PORT", &port_text)]).spawn().unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut announcement = String::new();
    let read = async {
        while let Some(line) = stderr.next_line().await.unwrap() {
            announcement.push_str(&line);
            announcement.push('\n');
            if line.starts_with("More tokens") {
                announcement.push_str(&stderr.next_line().await.unwrap().unwrap());
                break;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(60), read)
        .await
        .expect("no development tokens announced within 60 s");
    assert!(announcement.contains("DEVELOPMENT ONLY"), "{announcement}");
    let genesis = exported(&announcement, "G").to_owned();
    let operator = exported(&announcement, "OP").to_owned();
    let secret = announcement
        .split("PLANT_JWT_SECRET=")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap()
        .to_owned();

    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    wait_healthy(addr).await;
    let body = json!({ "name": "Technical SEO", "description": "Crawlability and structured data", "category": "technical" });
    let created = raw(
        addr,
        &req("POST", "/api/v1/genesis/skills")
            .bearer(&genesis)
            .json(&body)
            .bytes(),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.text());
    let verified = raw(
        addr,
        &req("GET", "/api/v1/audit/verify").bearer(&operator).bytes(),
    )
    .await;
    assert_eq!(verified.status, 200, "{}", verified.text());
    assert_eq!(verified.json()["ok"], true);

    // The printed secret is the one in use: a token minted with it (as `plant-cli token` would)
    // is accepted, and the genesis token is no operator.
    let customer = common::mint(
        &secret,
        &json!({ "sub": "you@example.com", "role": "customer", "email": "you@example.com",
                 "exp": chrono::Utc::now().timestamp() + 600 }),
    );
    let trials = raw(
        addr,
        &req("GET", "/api/v1/trials").bearer(&customer).bytes(),
    )
    .await;
    assert_eq!(trials.status, 200, "{}", trials.text());
    let forbidden = raw(
        addr,
        &req("GET", "/api/v1/audit/verify").bearer(&genesis).bytes(),
    )
    .await;
    assert_eq!(forbidden.status, 403);
    child.kill().await.unwrap();
}

/// Everything the binary wrote on stderr until it was stopped, once it has served `/health`.
async fn stderr_of_a_running_binary(vars: &[(&str, &str)], port: u16) -> String {
    let mut child = binary(vars).spawn().unwrap();
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    wait_healthy(addr).await;
    let refused = raw(
        addr,
        &req("POST", "/api/v1/genesis/skills")
            .json(&json!({ "name": "x", "description": "y", "category": "technical" }))
            .bytes(),
    )
    .await;
    assert_eq!(refused.status, 401, "{}", refused.text());
    child.kill().await.unwrap();
    let mut text = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut text)
        .await
        .unwrap();
    text
}

#[tokio::test]
async fn with_a_secret_or_a_database_configured_no_development_token_is_printed() {
    let port = free_port();
    let secret = common::random_secret();
    let text = stderr_of_a_running_binary(
        &[("PORT", &port.to_string()), ("PLANT_JWT_SECRET", &secret)],
        port,
    )
    .await;
    assert!(!text.contains("DEVELOPMENT ONLY"), "{text}");
    assert!(!text.contains("export G="), "{text}");

    // On PostgreSQL (scripts/test-db.sh run -- …; required under CI=true) with no key at all.
    if let Some(admin) = common::admin_url() {
        let database = common::fresh_database(&admin).await;
        let url = database.url.clone();
        plant_core::store::postgres::migrate(&url).await.unwrap();
        let port = free_port();
        let text = stderr_of_a_running_binary(
            &[("PORT", &port.to_string()), ("DATABASE_URL", &url)],
            port,
        )
        .await;
        assert!(!text.contains("DEVELOPMENT ONLY"), "{text}");
        assert!(!text.contains("export G="), "{text}");
    }
}

#[tokio::test]
async fn a_providers_key_without_audience_or_issuer_stops_start_up_with_exit_2() {
    let key = ProviderKey::new("k1");
    let jwks = JwksServer::start(set_of(&[&key])).await;
    let port = free_port().to_string();
    let output = binary(&[
        ("PORT", &port),
        ("PLANT_JWT_JWKS_URL", &jwks.url),
        ("PLANT_JWT_ISSUER", ISSUER),
    ])
    .output()
    .await
    .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let text = String::from_utf8_lossy(&output.stderr);
    assert!(
        text.contains("PLANT_JWT_AUDIENCE") && text.contains("PLANT_JWT_JWKS_URL"),
        "{text}"
    );
    assert!(!text.contains("DEVELOPMENT ONLY"), "{text}");
}

#[tokio::test]
async fn a_jwks_url_that_cannot_be_fetched_stops_start_up_with_exit_2() {
    // A port nothing listens on: the provider is unreachable.
    let url = format!("http://127.0.0.1:{}/.well-known/jwks.json", free_port());
    let port = free_port().to_string();
    let output = binary(&[
        ("PORT", &port),
        ("PLANT_JWT_JWKS_URL", &url),
        ("PLANT_JWT_AUDIENCE", AUDIENCE),
        ("PLANT_JWT_ISSUER", ISSUER),
    ])
    .output()
    .await
    .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let text = String::from_utf8_lossy(&output.stderr);
    assert!(
        text.contains("cannot start") && text.contains("cannot be fetched"),
        "{text}"
    );
    // The log's own line too: the log thread's queue is written out before the process exits.
    assert!(
        text.lines()
            .any(|line| line.starts_with('{') && line.contains(r#""message":"cannot start""#)),
        "{text}"
    );
}
