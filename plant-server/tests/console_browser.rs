//! The operator console in a real browser: Debian's Chromium, headless, driven over WebDriver
//! (chromedriver) with fantoccini. One story, in the order a reviewer and an operator would
//! work: refused with a customer token, signed in with a token, an agent found by a customer's
//! words, a pending skill certified after previewing its verdict, a precedent superseded, a
//! write seen arriving in the live feed, trials and jobs, and (on PostgreSQL) a tampered row
//! reported by verify.
//!
//! `scripts/test-browser.sh` installs the browser; `PLANT_CHROMEDRIVER` names the driver when it
//! is not on `PATH`. Without a driver the test is skipped, except under `CI=true`, where that is
//! a failure. With `PLANT_CONSOLE_SCREENSHOTS=docs/console` every page is also saved at desktop
//! (1280 px) and phone (390 px) width.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{mint, req, token};
use fantoccini::error::CmdError;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};

const DESKTOP: (u32, u32) = (1280, 860);
const PHONE: (u32, u32) = (390, 844);

/// A chromedriver process and the profile directory its browser uses; both go away on drop.
struct Driver {
    child: Child,
    profile: PathBuf,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

fn on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    })
}

fn chromedriver() -> Option<PathBuf> {
    std::env::var_os("PLANT_CHROMEDRIVER")
        .map(PathBuf::from)
        .filter(|p| p.is_file())
        .or_else(|| on_path("chromedriver"))
}

/// Starts chromedriver and a headless Chromium with a fresh profile.
async fn open_browser() -> Option<(Driver, Client)> {
    let Some(path) = chromedriver() else {
        assert!(
            !common::in_ci(),
            "CI=true and chromedriver is missing: scripts/test-browser.sh installs it"
        );
        eprintln!("skipped: no chromedriver (scripts/test-browser.sh installs it)");
        return None;
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let profile = std::env::temp_dir().join(format!("plant-console-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&profile).unwrap();
    let child = Command::new(&path)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", path.display()));
    let driver = Driver { child, profile };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "chromedriver did not start"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut options = json!({
        "args": [
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-dev-shm-usage", "--hide-scrollbars",
            format!("--user-data-dir={}", driver.profile.display()),
            format!("--window-size={},{}", DESKTOP.0, DESKTOP.1),
        ],
    });
    if let Some(binary) = std::env::var_os("PLANT_CHROMIUM")
        .map(PathBuf::from)
        .or_else(|| on_path("chromium"))
    {
        options["binary"] = json!(binary.display().to_string());
    }
    let mut capabilities = serde_json::Map::new();
    capabilities.insert("goog:chromeOptions".into(), options);
    let client = ClientBuilder::new(HttpConnector::new())
        .capabilities(capabilities)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .unwrap_or_else(|e| panic!("no browser session: {e}"));
    Some((driver, client))
}

/// Where screenshots go (`PLANT_CONSOLE_SCREENSHOTS`, relative to the workspace), if anywhere.
fn shots_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("PLANT_CONSOLE_SCREENSHOTS")?;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(dir);
    std::fs::create_dir_all(&dir).unwrap();
    Some(dir)
}

/// Saves the page at desktop and phone width, when screenshots are asked for.
async fn shot(c: &Client, name: &str) -> Result<(), CmdError> {
    let Some(dir) = shots_dir() else {
        return Ok(());
    };
    for ((w, h), label) in [(DESKTOP, "desktop"), (PHONE, "phone")] {
        c.set_window_size(w, h).await?;
        tokio::time::sleep(Duration::from_millis(150)).await;
        let png = c.screenshot().await?;
        std::fs::write(dir.join(format!("{name}-{label}.png")), png).unwrap();
    }
    c.set_window_size(DESKTOP.0, DESKTOP.1).await
}

async fn text(c: &Client, css: &str) -> Result<String, CmdError> {
    c.wait()
        .at_most(Duration::from_secs(15))
        .for_element(Locator::Css(css))
        .await?
        .text()
        .await
}

async fn fill(c: &Client, css: &str, value: &str) -> Result<(), CmdError> {
    let field = c
        .wait()
        .at_most(Duration::from_secs(15))
        .for_element(Locator::Css(css))
        .await?;
    field.clear().await?;
    field.send_keys(value).await
}

async fn click(c: &Client, css: &str) -> Result<(), CmdError> {
    c.wait()
        .at_most(Duration::from_secs(15))
        .for_element(Locator::Css(css))
        .await?
        .click()
        .await
}

/// Waits until `check` holds of the text of `css`, up to 20 s.
async fn until(
    c: &Client,
    css: &str,
    what: &str,
    check: impl Fn(&str) -> bool,
) -> Result<String, CmdError> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let now = match c.find(Locator::Css(css)).await {
            Ok(e) => e.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        if check(&now) {
            return Ok(now);
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: `{css}` reads `{now}`"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn sign_in(c: &Client, base: &str, token: &str) -> Result<(), CmdError> {
    c.goto(&format!("{base}/console/login")).await?;
    fill(c, "#token", token).await?;
    click(c, "#sign-in").await
}

async fn api(
    server: &common::TestServer,
    method: &str,
    path: &str,
    role: &str,
    body: Value,
) -> Value {
    let reply = req(method, path)
        .bearer(&token(server, role))
        .json(&body)
        .send(server)
        .await;
    assert!(
        reply.status < 300,
        "{method} {path}: {} {}",
        reply.status,
        reply.text()
    );
    reply.json()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reviewer_and_an_operator_work_through_the_console_in_a_real_browser() {
    let Some((driver, client)) = open_browser().await else {
        return;
    };
    let server = common::start().await;
    let base = format!("http://127.0.0.1:{}", server.addr.port());
    let outcome = story(&server, &client, &base).await;
    let _ = client.close().await;
    drop(driver);
    outcome.unwrap();
}

async fn story(server: &common::TestServer, c: &Client, base: &str) -> Result<(), CmdError> {
    // A customer's token does not open the console.
    c.goto(&format!("{base}/console/login")).await?;
    shot(c, "login").await?;
    sign_in(c, base, &token(server, "customer")).await?;
    assert_eq!(text(c, "#error-status").await?, "403 Forbidden");
    shot(c, "forbidden").await?;

    // A reviewer who is also an operator signs in with a pasted token.
    let now = chrono::Utc::now().timestamp();
    let reviewer = mint(
        &server.secret,
        &json!({"sub": "reviewer", "role": "genesis operator", "exp": now + 3600, "iat": now}),
    );
    sign_in(c, base, &reviewer).await?;
    text(c, "#results").await?;
    assert!(
        c.current_url()
            .await?
            .path()
            .ends_with("/console/catalog/agents")
    );
    shot(c, "catalog").await?;

    // A customer's words find the agent.
    fill(
        c,
        "#q",
        "someone to sit with my child through math homework every night",
    )
    .await?;
    click(c, "#search").await?;
    until(c, "#results", "search results", |t| t.contains("Score")).await?;
    let names: Vec<String> = {
        let mut out = Vec::new();
        for link in c
            .find_all(Locator::Css("#results tbody td:first-child a"))
            .await?
        {
            out.push(link.text().await?);
        }
        out
    };
    assert!(
        names.iter().take(3).any(|n| n == "Theo March"),
        "the homework helper ranks near the top: {names:?}"
    );
    shot(c, "search").await?;
    c.find(Locator::LinkText("Theo March"))
        .await?
        .click()
        .await?;
    assert_eq!(text(c, "#entity-name").await?, "Theo March");
    click(c, "#compare").await?;
    text(c, "#diff").await?;
    shot(c, "entity").await?;

    // A pending skill, certified after previewing its verdict.
    let skill = api(
        server,
        "POST",
        "/api/v1/genesis/skills",
        "genesis",
        json!({"name": "Invoice reconciliation", "description": "Matches every invoice to its payment and flags the gaps.", "category": "domain_expertise"}),
    )
    .await;
    let id = skill["id"].as_str().unwrap().to_owned();
    c.goto(&format!("{base}/console/review")).await?;
    click(c, &format!("input[value=\"Skill:{id}\"]")).await?;
    shot(c, "review").await?;
    click(c, "#preview").await?;
    assert!(text(c, "#summary").await?.contains("Dry run"));
    assert!(text(c, "#verdicts").await?.contains("would be certified"));
    let path = format!("/api/v1/genesis/skills/{id}");
    let unchanged = req("GET", &path).send(server).await.json();
    assert_eq!(
        unchanged["certification"]["status"],
        "pending_certification"
    );
    shot(c, "review-preview").await?;
    click(c, "#certify").await?;
    until(c, "#summary", "certification", |t| {
        t.starts_with("1 of 1 certified")
    })
    .await?;
    let certified = req("GET", &path).send(server).await.json();
    assert_eq!(certified["certification"]["status"], "certified");
    shot(c, "review-certified").await?;

    // A precedent superseded: the successor names it, and it names its successor.
    c.goto(&format!("{base}/console/precedents")).await?;
    text(c, "#seeds").await?;
    shot(c, "precedents").await?;
    c.goto(&format!("{base}/console/precedents/PS-003")).await?;
    fill(
        c,
        "#s-title",
        "Skill descriptions state observable, measurable outcomes",
    )
    .await?;
    click(c, "#supersede").await?;
    let notice = text(c, "#notice").await?;
    assert!(notice.contains("supersedes PS-003"), "{notice}");
    assert!(text(c, "#lineage").await?.contains("PS-003"));
    shot(c, "precedent").await?;
    c.goto(&format!("{base}/console/precedents/PS-003")).await?;
    assert!(text(c, "#seed-status").await?.contains("superseded"));
    assert!(!text(c, "#superseded-by").await?.is_empty());

    // A write appears in the live feed.
    c.goto(&format!("{base}/console/audit")).await?;
    until(c, "#feed-state", "the feed connects", |t| t == "live").await?;
    let written = api(
        server,
        "POST",
        "/api/v1/genesis/skills",
        "genesis",
        json!({"name": "Live feed proof", "description": "Shows that writes stream to the console.", "category": "technical"}),
    )
    .await;
    let written_id = written["id"].as_str().unwrap().to_owned();
    until(c, "#feed", "the write reaches the feed", |t| {
        t.contains(&written_id)
    })
    .await?;
    shot(c, "audit").await?;

    // Trials and jobs, by status and one at a time.
    let agents = req("GET", "/api/v1/agents?limit=1")
        .send(server)
        .await
        .json();
    let agent_id = agents[0]["id"].as_str().unwrap().to_owned();
    let trial = api(
        server,
        "POST",
        "/api/v1/trials",
        "operator",
        json!({"agent_id": agent_id, "customer_name": "Dana Example", "customer_email": "dana@example.com", "company": "Example Bakery"}),
    )
    .await;
    api(
        server,
        "POST",
        "/api/v1/jobs",
        "operator",
        json!({"agent_id": agent_id, "trial_id": trial["id"], "title": "Draft the spring newsletter", "input": {"words": 400}}),
    )
    .await;
    c.goto(&format!("{base}/console/trials?status=active"))
        .await?;
    assert!(text(c, "#records").await?.contains("Dana Example"));
    shot(c, "trials").await?;
    c.find(Locator::LinkText("Dana Example"))
        .await?
        .click()
        .await?;
    assert!(text(c, "#history").await?.contains("create"));
    shot(c, "trial").await?;
    c.goto(&format!("{base}/console/jobs")).await?;
    assert!(
        text(c, "#records")
            .await?
            .contains("Draft the spring newsletter")
    );
    shot(c, "jobs").await?;
    c.find(Locator::LinkText("Draft the spring newsletter"))
        .await?
        .click()
        .await?;
    text(c, "#fields").await?;
    shot(c, "job").await?;

    // Verify: intact, then (on PostgreSQL) a row edited behind the server's back is named.
    c.goto(&format!("{base}/console/audit/verify")).await?;
    assert!(text(c, "#verdict").await?.starts_with("OK"));
    shot(c, "verify").await?;
    if let Some(url) = &server.database_url {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
        let uuid = uuid::Uuid::parse_str(&id).unwrap();
        sqlx::query("update skill set description = description || ' (edited)' where id = $1")
            .bind(uuid)
            .execute(&mut conn)
            .await
            .unwrap();
        let (expected,): (i64,) =
            sqlx::query_as("select max(seq) from audit_log where entity_id = $1")
                .bind(uuid)
                .fetch_one(&mut conn)
                .await
                .unwrap();
        c.goto(&format!("{base}/console/audit/verify")).await?;
        assert!(text(c, "#verdict").await?.starts_with("BROKEN"));
        assert_eq!(text(c, "#break-seq").await?, expected.to_string());
        assert!(text(c, "#break-reason").await?.contains(&id));
        shot(c, "verify-broken").await?;
    }
    Ok(())
}
