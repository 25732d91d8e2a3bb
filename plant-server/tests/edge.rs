//! The HTTP edge over real connections: errors as problem+json, correlation, CORS, auth, body
//! limits, deadlines, h2c, slow clients and graceful shutdown.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::{get, patch, post};
use common::{Options, b64url, claims, mint, raw, req, start, start_with, token};
use futures_util::future::BoxFuture;
use http::{HeaderMap, StatusCode};
use plant_server::extract::{Authorized, Genesis, Id, Json};
use plant_server::headers::IfMatch;
use plant_server::problem::ApiError;
use plant_server::problem::HandlerResult;
use plant_server::query::Paging;
use plant_server::response::json_response;
use plant_server::state::{AppState, NotReady, Readiness};
use serde_json::json;
use tokio::io::AsyncWriteExt;

#[derive(serde::Deserialize)]
struct Named {
    name: String,
}

async fn genesis_only(Authorized(who, _): Authorized<Genesis>) -> HandlerResult {
    Ok(json_response(
        StatusCode::OK,
        &json!({ "sub": who.subject }),
    ))
}

async fn echo(Json(named): Json<Named>) -> HandlerResult {
    Ok(json_response(
        StatusCode::CREATED,
        &json!({ "name": named.name }),
    ))
}

async fn slow() -> HandlerResult {
    tokio::time::sleep(Duration::from_millis(1500)).await;
    Ok(json_response(StatusCode::OK, &json!({ "slow": true })))
}

async fn panics() -> HandlerResult {
    panic!("secret internal state 0xdeadbeef");
}

async fn fails() -> HandlerResult {
    Err(ApiError::internal(std::io::Error::other(
        "password authentication failed for user plant at 10.1.2.3",
    )))
}

async fn paged(paging: Paging) -> HandlerResult {
    Ok(json_response(
        StatusCode::OK,
        &json!({ "limit": paging.limit, "offset": paging.offset }),
    ))
}

async fn versioned(_: Authorized<Genesis>, headers: HeaderMap) -> HandlerResult {
    IfMatch::require(&headers)?.check(3)?;
    Ok(json_response(StatusCode::OK, &json!({ "version": 4 })))
}

async fn uuid_param(Id(id): Id) -> HandlerResult {
    Ok(json_response(StatusCode::OK, &json!({ "id": id })))
}

fn test_routes(router: Router<AppState>) -> Router<AppState> {
    router
        .route("/t/genesis", get(genesis_only))
        .route("/t/echo", post(echo).patch(echo))
        .route("/t/slow", get(slow))
        .route("/t/panic", get(panics))
        .route("/t/fail", get(fails))
        .route("/t/paged", get(paged))
        .route("/t/versioned", patch(versioned))
        .route("/t/items/{id}", get(uuid_param))
}

async fn server_with(vars: Vec<(&'static str, String)>) -> common::TestServer {
    start_with(Options {
        vars,
        extra_routes: Some(Box::new(test_routes)),
        ..Options::default()
    })
    .await
}

async fn server() -> common::TestServer {
    server_with(Vec::new()).await
}

#[tokio::test]
async fn health_is_200_ok_while_the_process_is_up() {
    let s = start().await;
    let r = req("GET", "/health").send(&s).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.json(), json!({ "status": "ok" }));
    let head = req("HEAD", "/health").send(&s).await;
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
}

struct Down;
impl Readiness for Down {
    fn check(&self) -> BoxFuture<'_, Result<(), NotReady>> {
        Box::pin(async {
            Err(NotReady(
                "connection refused: postgres://plant:hunter2@db".into(),
            ))
        })
    }
}

#[tokio::test]
async fn ready_is_503_problem_without_the_cause_when_the_check_fails() {
    let s = start_with(Options {
        readiness: Some(Arc::new(Down)),
        ..Options::default()
    })
    .await;
    let r = req("GET", "/ready").send(&s).await;
    let p = r.problem(503);
    assert!(!r.text().contains("hunter2") && !r.text().contains("postgres"));
    assert!(p["type"].as_str().unwrap().ends_with("service-unavailable"));
    assert_eq!(r.header("retry-after"), Some("1"));
    assert_eq!(req("GET", "/health").send(&s).await.status, 200);

    let up = start().await;
    assert_eq!(
        req("GET", "/ready").send(&up).await.json(),
        json!({ "status": "ok" })
    );
}

#[tokio::test]
async fn unknown_path_is_404_problem_with_instance() {
    let s = start().await;
    let r = req("GET", "/api/v1/nothing-here?x=1").send(&s).await;
    let p = r.problem(404);
    assert_eq!(p["instance"], "/api/v1/nothing-here");
}

#[tokio::test]
async fn wrong_method_is_405_problem_with_allow() {
    let s = start().await;
    let r = req("DELETE", "/health").send(&s).await;
    r.problem(405);
    let allow = r.header("allow").unwrap();
    assert!(
        allow.contains("GET") && allow.contains("HEAD") && !allow.contains("DELETE"),
        "{allow}"
    );
    let options = req("OPTIONS", "/health").send(&s).await;
    assert_eq!(options.status, 204);
    assert!(options.header("allow").unwrap().contains("GET"));
}

#[tokio::test]
async fn correlation_id_is_echoed_or_generated() {
    let s = start().await;
    let given = req("GET", "/health")
        .header("x-correlation-id", "abc-123")
        .send(&s)
        .await;
    assert_eq!(given.header("x-correlation-id"), Some("abc-123"));
    let request_id = req("GET", "/nope")
        .header("x-request-id", "req-9")
        .send(&s)
        .await;
    assert_eq!(request_id.header("x-correlation-id"), Some("req-9"));
    assert_eq!(request_id.problem(404)["correlation_id"], "req-9");
    let generated = req("GET", "/health").send(&s).await;
    assert!(uuid::Uuid::parse_str(generated.header("x-correlation-id").unwrap()).is_ok());
}

#[tokio::test]
async fn cors_preflight_allows_listed_origins_only() {
    let s = start().await;
    let ok = req("OPTIONS", "/api/v1/agents")
        .header("origin", "https://cp.example")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization, content-type",
        )
        .send(&s)
        .await;
    // Any 2xx passes a preflight (Fetch's "ok status"); tower-http answers 200.
    assert_eq!(ok.status, 200);
    assert_eq!(
        ok.header("access-control-allow-origin"),
        Some("https://cp.example")
    );
    assert!(
        ok.header("access-control-allow-methods")
            .unwrap()
            .contains("PATCH")
    );
    assert!(
        ok.header("access-control-allow-headers")
            .unwrap()
            .contains("if-match")
    );

    let foreign = req("OPTIONS", "/api/v1/agents")
        .header("origin", "https://evil.example")
        .header("access-control-request-method", "POST")
        .send(&s)
        .await;
    assert_eq!(foreign.header("access-control-allow-origin"), None);

    let actual = req("GET", "/health")
        .header("origin", "https://pp.example")
        .send(&s)
        .await;
    assert_eq!(
        actual.header("access-control-allow-origin"),
        Some("https://pp.example")
    );
    assert!(
        actual
            .header("access-control-expose-headers")
            .unwrap()
            .contains("x-correlation-id")
    );
    let actual = req("GET", "/health")
        .header("origin", "https://evil.example")
        .send(&s)
        .await;
    assert_eq!(actual.header("access-control-allow-origin"), None);
}

#[tokio::test]
async fn a_valid_token_with_the_role_is_accepted() {
    let s = server().await;
    let r = req("GET", "/t/genesis")
        .bearer(&token(&s, "genesis"))
        .send(&s)
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["sub"], "test-genesis");
    let mut roles = claims("x");
    roles["roles"] = json!(["operator", "genesis"]);
    roles.as_object_mut().unwrap().remove("role");
    let r = req("GET", "/t/genesis")
        .bearer(&mint(&s.secret, &roles))
        .send(&s)
        .await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn missing_token_is_401_with_www_authenticate() {
    let s = server().await;
    let r = req("GET", "/t/genesis").send(&s).await;
    r.problem(401);
    assert!(r.header("www-authenticate").unwrap().starts_with("Bearer"));
    let basic = req("GET", "/t/genesis")
        .header("authorization", "Basic Zm9vOmJhcg==")
        .send(&s)
        .await;
    basic.problem(401);
}

#[tokio::test]
async fn expired_not_yet_valid_wrongly_signed_and_unsigned_tokens_are_401() {
    let s = server().await;
    let now = chrono::Utc::now().timestamp();

    let mut expired = claims("genesis");
    expired["exp"] = json!(now - 3600);
    let mut early = claims("genesis");
    early["nbf"] = json!(now + 3600);
    early["exp"] = json!(now + 7200);
    let wrong_key = mint(&common::random_secret(), &claims("genesis"));
    let header = b64url(br#"{"alg":"none","typ":"JWT"}"#);
    let payload = b64url(
        serde_json::to_string(&claims("genesis"))
            .unwrap()
            .as_bytes(),
    );
    let unsigned = format!("{header}.{payload}.");
    let hs512 = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS512),
        &claims("genesis"),
        &jsonwebtoken::EncodingKey::from_secret(s.secret.as_bytes()),
    )
    .unwrap();

    for (what, token) in [
        ("expired", mint(&s.secret, &expired)),
        ("not yet valid", mint(&s.secret, &early)),
        ("wrong signature", wrong_key),
        ("alg none", unsigned),
        ("other algorithm", hs512),
        ("garbage", "not.a.token".to_owned()),
    ] {
        let r = req("GET", "/t/genesis").bearer(&token).send(&s).await;
        assert_eq!(r.status, 401, "{what}: {}", r.text());
        r.problem(401);
        assert!(r.header("www-authenticate").is_some(), "{what}");
        assert!(
            !r.text().contains(&token) || token.is_empty(),
            "{what}: token echoed"
        );
    }
}

#[tokio::test]
async fn wrong_role_is_403() {
    let s = server().await;
    let r = req("GET", "/t/genesis")
        .bearer(&token(&s, "customer"))
        .send(&s)
        .await;
    let p = r.problem(403);
    assert!(p["detail"].as_str().unwrap().contains("genesis"));
}

#[tokio::test]
async fn non_json_bodies_are_415_bad_json_400_wrong_shape_422() {
    let s = server().await;
    let r = req("POST", "/t/echo")
        .body("text/plain", b"name=x")
        .send(&s)
        .await;
    r.problem(415);
    let r = req("POST", "/t/echo")
        .body("application/json", b"{\"name\":")
        .send(&s)
        .await;
    r.problem(400);
    let r = req("POST", "/t/echo")
        .json(&json!({ "name": 5 }))
        .send(&s)
        .await;
    let p = r.problem(422);
    assert!(!p["type"].as_str().unwrap().contains("constitutional"));
    let r = req("POST", "/t/echo")
        .json(&json!({ "name": "ok" }))
        .send(&s)
        .await;
    assert_eq!(r.status, 201);
    let r = req("PATCH", "/t/echo")
        .body("application/merge-patch+json", br#"{"name":"p"}"#)
        .send(&s)
        .await;
    assert_eq!(r.status, 201);
}

#[tokio::test]
async fn bodies_over_the_limit_are_413_even_when_content_length_is_absent() {
    let s = server_with(vec![("PLANT_BODY_LIMIT", "64".into())]).await;
    let big = json!({ "name": "x".repeat(200) });
    let r = req("POST", "/t/echo").json(&big).send(&s).await;
    r.problem(413);

    // Chunked: no Content-Length to check up front; the limit applies while reading.
    let payload = serde_json::to_vec(&big).unwrap();
    let mut request = b"POST /t/echo HTTP/1.1\r\nhost: t\r\nconnection: close\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n".to_vec();
    for chunk in payload.chunks(16) {
        request.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        request.extend_from_slice(chunk);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"0\r\n\r\n");
    raw(s.addr, &request).await.problem(413);

    // A Content-Length claiming more than the limit is refused without reading the body.
    let lying = b"POST /t/echo HTTP/1.1\r\nhost: t\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: 1000000\r\n\r\n{}";
    raw(s.addr, lying).await.problem(413);

    let small = req("POST", "/t/echo")
        .json(&json!({ "name": "x" }))
        .send(&s)
        .await;
    assert_eq!(small.status, 201);
}

#[tokio::test]
async fn slow_handlers_hit_the_deadline_with_503() {
    let s = server_with(vec![("PLANT_REQUEST_TIMEOUT_MS", "200".into())]).await;
    let started = Instant::now();
    let r = req("GET", "/t/slow").send(&s).await;
    let p = r.problem(503);
    assert!(p["type"].as_str().unwrap().ends_with("timeout"));
    assert!(started.elapsed() < Duration::from_millis(1400));
}

#[tokio::test]
async fn panics_and_internal_errors_are_500_without_internal_text() {
    let s = server().await;
    let r = req("GET", "/t/panic").send(&s).await;
    r.problem(500);
    assert!(
        !r.text().contains("deadbeef") && !r.text().contains("panicked"),
        "{}",
        r.text()
    );
    let r = req("GET", "/t/fail").send(&s).await;
    r.problem(500);
    assert!(!r.text().contains("10.1.2.3") && !r.text().contains("password"));
    // The connection survived the panic: the server still answers.
    assert_eq!(req("GET", "/health").send(&s).await.status, 200);
}

#[tokio::test]
async fn paging_parameters_out_of_range_are_422() {
    let s = server().await;
    let ok = req("GET", "/t/paged?limit=1000&offset=10").send(&s).await;
    assert_eq!(ok.json(), json!({ "limit": 1000, "offset": 10 }));
    for bad in ["limit=1001", "limit=0", "limit=ten", "offset=-1"] {
        let r = req("GET", &format!("/t/paged?{bad}")).send(&s).await;
        let p = r.problem(422);
        assert!(
            !p["type"].as_str().unwrap().contains("constitutional"),
            "{bad}"
        );
        assert!(p["violations"].is_array(), "{bad}");
    }
}

#[tokio::test]
async fn malformed_uuids_in_paths_are_422() {
    let s = server().await;
    req("GET", "/t/items/not-a-uuid")
        .send(&s)
        .await
        .problem(422);
    let id = uuid::Uuid::new_v4();
    assert_eq!(
        req("GET", &format!("/t/items/{id}")).send(&s).await.status,
        200
    );
}

#[tokio::test]
async fn updates_need_if_match_428_and_stale_tags_are_412() {
    let s = server().await;
    let t = token(&s, "genesis");
    req("PATCH", "/t/versioned")
        .bearer(&t)
        .json(&json!({}))
        .send(&s)
        .await
        .problem(428);
    let stale = req("PATCH", "/t/versioned")
        .bearer(&t)
        .header("if-match", "\"v2\"")
        .json(&json!({}));
    stale.send(&s).await.problem(412);
    let fresh = req("PATCH", "/t/versioned")
        .bearer(&t)
        .header("if-match", "\"v3\"")
        .json(&json!({}));
    assert_eq!(fresh.send(&s).await.status, 200);
}

#[tokio::test]
async fn every_error_response_is_problem_json_without_internal_text() {
    let s = server_with(vec![
        ("PLANT_BODY_LIMIT", "64".into()),
        ("PLANT_REQUEST_TIMEOUT_MS", "300".into()),
    ])
    .await;
    let cases: Vec<(u16, common::Req)> = vec![
        (
            400,
            req("POST", "/t/echo").body("application/json", b"{\"a\" 1}"),
        ),
        (401, req("GET", "/t/genesis").bearer("x.y.z")),
        (403, req("GET", "/t/genesis").bearer(&token(&s, "agent"))),
        (404, req("GET", "/does/not/exist")),
        (405, req("PUT", "/health").json(&json!({}))),
        (
            412,
            req("PATCH", "/t/versioned")
                .bearer(&token(&s, "genesis"))
                .header("if-match", "\"v1\"")
                .json(&json!({})),
        ),
        (
            413,
            req("POST", "/t/echo").json(&json!({ "name": "y".repeat(100) })),
        ),
        (415, req("POST", "/t/echo").body("application/xml", b"<a/>")),
        (422, req("POST", "/t/echo").json(&json!({ "nom": "x" }))),
        (
            428,
            req("PATCH", "/t/versioned")
                .bearer(&token(&s, "genesis"))
                .json(&json!({})),
        ),
        (500, req("GET", "/t/panic")),
        (500, req("GET", "/t/fail")),
        (503, req("GET", "/t/slow")),
    ];
    let forbidden = [
        "panicked",
        "deadbeef",
        "10.1.2.3",
        "password",
        "src/",
        ".rs:",
        "hyper::",
        "serde_json",
        "Error {",
        "backtrace",
    ];
    for (status, request) in cases {
        let r = request.send(&s).await;
        r.problem(status);
        let text = r.text();
        for word in forbidden {
            assert!(!text.contains(word), "{status} leaks {word:?}: {text}");
        }
    }
}

#[tokio::test]
async fn h2c_prior_knowledge_is_served() {
    let s = start().await;
    let stream = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(stream),
    )
    .await
    .unwrap();
    tokio::spawn(conn);
    let request = http::Request::builder()
        .uri(format!("http://{}/health", s.addr))
        .body(http_body_util::Empty::<bytes::Bytes>::new())
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.version(), http::Version::HTTP_2);
    assert!(response.headers().contains_key("x-correlation-id"));
}

#[tokio::test]
async fn silent_and_slow_clients_are_disconnected() {
    let s = server_with(vec![("PLANT_HEADER_TIMEOUT_MS", "300".into())]).await;
    // Connects and says nothing.
    let mut silent = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    let started = Instant::now();
    let mut buf = Vec::new();
    let read = tokio::time::timeout(
        Duration::from_secs(5),
        tokio::io::AsyncReadExt::read_to_end(&mut silent, &mut buf),
    )
    .await;
    assert!(read.is_ok(), "silent connection was not closed");
    assert!(started.elapsed() < Duration::from_secs(3));

    // Starts a request head and never finishes it.
    let mut slow = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    slow.write_all(b"GET /health HTTP/1.1\r\nhost: t\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    let read = tokio::time::timeout(
        Duration::from_secs(5),
        tokio::io::AsyncReadExt::read_to_end(&mut slow, &mut buf),
    )
    .await;
    assert!(read.is_ok(), "slow connection was not closed");
}

#[tokio::test]
async fn shutdown_drains_in_flight_requests_and_refuses_new_connections() {
    let mut s = server().await;
    let addr = s.addr;
    let in_flight = tokio::spawn(async move { raw(addr, &req("GET", "/t/slow").bytes()).await });
    tokio::time::sleep(Duration::from_millis(300)).await;

    let started = Instant::now();
    let done = s.shutdown();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "still accepting after shutdown"
    );

    let reply = in_flight.await.unwrap();
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json(), json!({ "slow": true }));
    tokio::time::timeout(Duration::from_secs(10), done)
        .await
        .unwrap()
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(10));
}

/// An ES256 key pair made from random bytes: (private PKCS#8 PEM, public SPKI PEM).
fn es256_pair() -> (String, String) {
    use p256::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
    let mut bytes = [0_u8; 32];
    bytes[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    bytes[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    let secret = p256::SecretKey::from_slice(&bytes).unwrap();
    let private = secret.to_pkcs8_pem(LineEnding::LF).unwrap().to_string();
    let public = secret
        .public_key()
        .to_public_key_pem(LineEnding::LF)
        .unwrap();
    (private, public)
}

#[tokio::test]
async fn a_configured_es256_public_key_verifies_tokens_and_refuses_algorithm_swaps() {
    let (private, public) = es256_pair();
    let s = server_with(vec![
        ("PLANT_JWT_PUBLIC_KEY", public.clone()),
        ("PLANT_JWT_ALG", "ES256".into()),
        ("PLANT_JWT_AUDIENCE", "plant".into()),
        ("PLANT_JWT_ISSUER", "https://id.example".into()),
    ])
    .await;
    let mut bound = claims("genesis");
    bound["aud"] = "plant".into();
    bound["iss"] = "https://id.example".into();
    let sign = |pem: &str| {
        jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256),
            &bound,
            &jsonwebtoken::EncodingKey::from_ec_pem(pem.as_bytes()).unwrap(),
        )
        .unwrap()
    };
    let r = req("GET", "/t/genesis")
        .bearer(&sign(&private))
        .send(&s)
        .await;
    assert_eq!(r.status, 200, "{}", r.text());

    let (other, _) = es256_pair();
    req("GET", "/t/genesis")
        .bearer(&sign(&other))
        .send(&s)
        .await
        .problem(401);
    // The public key used as an HMAC secret must not pass (algorithm confusion).
    let confused = mint(&public, &bound);
    req("GET", "/t/genesis")
        .bearer(&confused)
        .send(&s)
        .await
        .problem(401);
}
