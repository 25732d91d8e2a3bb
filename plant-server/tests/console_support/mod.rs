//! Signing in to the console over plain HTTP, as a browser would: the login form's CSRF seed
//! cookie and token, then the session cookie.
#![allow(dead_code, clippy::unwrap_used)]

use crate::common::{Reply, TestServer, req};

/// The policy every console response must carry.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; \
                       connect-src 'self'; object-src 'none'; frame-ancestors 'none'; \
                       base-uri 'none'; form-action 'self'";

/// The `name=value` parts of a reply's `Set-Cookie` headers.
pub fn set_cookies(reply: &Reply) -> Vec<(String, String, String)> {
    reply
        .headers
        .iter()
        .filter(|(k, _)| k == "set-cookie")
        .filter_map(|(_, v)| {
            let (pair, attributes) = v.split_once(';').unwrap_or((v, ""));
            let (name, value) = pair.split_once('=')?;
            Some((name.to_owned(), value.to_owned(), attributes.to_owned()))
        })
        .collect()
}

/// The value of the first hidden `csrf` field of a page.
pub fn csrf_of(html: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    let start = html.find(marker).expect("the page has a CSRF field") + marker.len();
    html[start..].split('"').next().unwrap().to_owned()
}

/// A browser-like session: the cookies it holds.
#[derive(Debug, Clone, Default)]
pub struct Browser {
    pub cookies: Vec<(String, String)>,
}

impl Browser {
    fn header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn keep(&mut self, reply: &Reply) {
        for (name, value, attributes) in set_cookies(reply) {
            self.cookies.retain(|(k, _)| *k != name);
            if !attributes.contains("Max-Age=0") {
                self.cookies.push((name, value));
            }
        }
    }

    pub async fn get(&mut self, server: &TestServer, path: &str) -> Reply {
        let mut request = req("GET", path);
        if !self.cookies.is_empty() {
            request = request.header("cookie", &self.header());
        }
        let reply = request.send(server).await;
        self.keep(&reply);
        reply
    }

    pub async fn post(&mut self, server: &TestServer, path: &str, form: &[(&str, &str)]) -> Reply {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let mut request =
            req("POST", path).body("application/x-www-form-urlencoded", body.as_bytes());
        if !self.cookies.is_empty() {
            request = request.header("cookie", &self.header());
        }
        let reply = request.send(server).await;
        self.keep(&reply);
        reply
    }

    /// Signs in with `token` through the login form; the reply to the form post.
    pub async fn sign_in(&mut self, server: &TestServer, token: &str) -> Reply {
        let form = self.get(server, "/console/login").await;
        assert_eq!(form.status, 200, "{}", form.text());
        let csrf = csrf_of(&form.text());
        self.post(
            server,
            "/console/login",
            &[("token", token), ("csrf", &csrf)],
        )
        .await
    }

    /// The CSRF token of this session (read from a page that has a form).
    pub async fn csrf(&mut self, server: &TestServer) -> String {
        let page = self.get(server, "/console/precedents").await;
        assert_eq!(page.status, 200, "{}", page.text());
        csrf_of(&page.text())
    }
}
