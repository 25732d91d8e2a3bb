//! Webhook delivery over HTTP: the target policy that keeps deliveries away from private
//! networks (checked when a subscription is made and again before every request, on the address
//! actually connected to), and the [`Transport`] the core worker sends through. The settings
//! (`PLANT_WEBHOOK_*`) are read with the rest of the configuration
//! ([`crate::config::WebhookSettings`]).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use plant_core::store::Store;
use plant_core::webhooks::{Delivery, Transport};
use reqwest::Url;
use reqwest::redirect::Policy;
use tokio::task::JoinHandle;

use crate::config::WebhookSettings;

/// Host names that reach cloud metadata services; refused whatever they resolve to.
const METADATA_HOSTS: &[&str] = &["metadata.google.internal", "metadata"];

/// Bytes of a receiver's answer read (and discarded) at most, so that the connection can be
/// reused without letting a receiver stream without end.
const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// Clients kept per (host, checked address); the cache is emptied past this.
const MAX_CLIENTS: usize = 256;

/// Why a target URL is refused.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error("not an absolute URL")]
    Unparsable(#[source] url::ParseError),
    #[error("the scheme must be https")]
    Scheme,
    #[error("the URL may not carry a user name or password")]
    Credentials,
    #[error("the URL has no host")]
    NoHost,
    #[error("the host {0} is not in PLANT_WEBHOOK_ALLOWED_HOSTS")]
    NotAllowed(String),
    #[error("the host {0} is a cloud metadata service")]
    Metadata(String),
    #[error("the host {host} does not resolve")]
    Unresolvable {
        host: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the host {host} resolves to {addr}, a {why} address")]
    Forbidden {
        host: String,
        addr: IpAddr,
        why: &'static str,
    },
    #[error("plain http is allowed only to loopback; {host} resolves to {addr}")]
    HttpBeyondLoopback { host: String, addr: IpAddr },
}

/// A target that passed the policy: its URL and the one address to connect to.
#[derive(Debug, Clone)]
pub struct CheckedTarget {
    pub url: Url,
    pub host: String,
    pub addr: SocketAddr,
}

/// Why an address may not be delivered to, if it may not. Loopback is refused unless allowed.
pub fn forbidden_reason(ip: IpAddr, allow_loopback: bool) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4, allow_loopback),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return forbidden_v4(v4, allow_loopback);
            }
            let s = v6.segments();
            if v6 == Ipv6Addr::new(0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254) {
                Some("cloud metadata")
            } else if v6.is_loopback() {
                (!allow_loopback).then_some("loopback")
            } else if v6.is_unspecified() {
                Some("unspecified")
            } else if v6.is_multicast() {
                Some("multicast")
            } else if s[0] & 0xfe00 == 0xfc00 {
                Some("private (unique local)")
            } else if s[0] & 0xffc0 == 0xfe80 || s[0] & 0xffc0 == 0xfec0 {
                Some("link-local")
            } else if s[0] == 0x2001 && s[1] == 0x0db8 {
                Some("documentation")
            } else if s[0] == 0x0064 && s[1] == 0xff9b {
                // NAT64 embeds an IPv4 address in the last 32 bits.
                let v4 = Ipv4Addr::new(
                    (s[6] >> 8) as u8,
                    (s[6] & 0xff) as u8,
                    (s[7] >> 8) as u8,
                    (s[7] & 0xff) as u8,
                );
                forbidden_v4(v4, allow_loopback)
            } else {
                None
            }
        }
    }
}

fn forbidden_v4(ip: Ipv4Addr, allow_loopback: bool) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    if ip == Ipv4Addr::new(169, 254, 169, 254) {
        Some("cloud metadata")
    } else if ip.is_loopback() {
        (!allow_loopback).then_some("loopback")
    } else if ip.is_private() {
        Some("private")
    } else if ip.is_link_local() {
        Some("link-local")
    } else if a == 0 || ip.is_broadcast() {
        Some("unspecified")
    } else if ip.is_multicast() || a >= 240 {
        Some("multicast or reserved")
    } else if a == 100 && (64..128).contains(&b) {
        Some("shared (carrier-grade NAT)")
    } else if ip.is_documentation() || (a == 198 && (18..20).contains(&b)) {
        Some("documentation or benchmarking")
    } else if a == 192 && b == 0 && c == 0 {
        Some("IETF protocol assignment")
    } else {
        None
    }
}

impl WebhookSettings {
    /// Parses `url` and checks it against the policy, resolving its host: what a subscription
    /// is checked with when made, and every delivery before it connects.
    pub async fn check_target(&self, url: &str) -> Result<CheckedTarget, TargetError> {
        let url = Url::parse(url.trim()).map_err(TargetError::Unparsable)?;
        let http = match url.scheme() {
            "https" => false,
            "http" if self.allow_http_loopback => true,
            _ => return Err(TargetError::Scheme),
        };
        if !url.username().is_empty() || url.password().is_some() {
            return Err(TargetError::Credentials);
        }
        let host = url
            .host_str()
            .ok_or(TargetError::NoHost)?
            .trim_end_matches('.')
            .to_ascii_lowercase();
        let bare = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        if METADATA_HOSTS.contains(&bare.as_str()) {
            return Err(TargetError::Metadata(bare));
        }
        if let Some(allowed) = &self.allowed_hosts {
            let ok = allowed.iter().any(|a| match a.strip_prefix('.') {
                Some(domain) => bare.ends_with(&format!(".{domain}")) || bare == domain,
                None => *a == bare,
            });
            if !ok {
                return Err(TargetError::NotAllowed(bare));
            }
        }
        let port = url.port_or_known_default().unwrap_or(443);
        let addrs: Vec<SocketAddr> = match bare.parse::<IpAddr>() {
            Ok(ip) => vec![SocketAddr::new(ip, port)],
            Err(_) => tokio::net::lookup_host((bare.as_str(), port))
                .await
                .map_err(|source| TargetError::Unresolvable {
                    host: bare.clone(),
                    source,
                })?
                .collect(),
        };
        let first = *addrs.first().ok_or_else(|| TargetError::Unresolvable {
            host: bare.clone(),
            source: std::io::Error::other("no addresses"),
        })?;
        // Every address must pass: a name that resolves to one public and one private address
        // could otherwise be steered to the private one.
        for addr in &addrs {
            if let Some(why) = forbidden_reason(addr.ip(), self.allow_http_loopback) {
                return Err(TargetError::Forbidden {
                    host: bare.clone(),
                    addr: addr.ip(),
                    why,
                });
            }
            if http && !addr.ip().is_loopback() {
                return Err(TargetError::HttpBeyondLoopback {
                    host: bare.clone(),
                    addr: addr.ip(),
                });
            }
        }
        Ok(CheckedTarget {
            url,
            host: bare,
            addr: first,
        })
    }
}

/// Posts deliveries with reqwest, to the address the policy checked (DNS is not asked again
/// between the check and the connection, so a rebinding name cannot slip a private address in),
/// without following redirects or proxies, within the timeout, reading at most
/// `MAX_RESPONSE_BYTES` (64 KiB) of the answer.
#[derive(Debug)]
pub struct HttpTransport {
    settings: WebhookSettings,
    clients: Mutex<HashMap<(String, SocketAddr), reqwest::Client>>,
}

impl HttpTransport {
    pub fn new(settings: WebhookSettings) -> Self {
        Self {
            settings,
            clients: Mutex::default(),
        }
    }

    fn client(&self, target: &CheckedTarget) -> Result<reqwest::Client, String> {
        let key = (target.host.clone(), target.addr);
        let mut clients = self
            .clients
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(client) = clients.get(&key) {
            return Ok(client.clone());
        }
        let client = reqwest::Client::builder()
            .redirect(Policy::none())
            .no_proxy()
            .timeout(self.settings.timeout)
            .connect_timeout(self.settings.timeout)
            .resolve(&target.host, target.addr)
            .user_agent(concat!("plant-webhooks/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot build an HTTP client: {e}"))?;
        if clients.len() >= MAX_CLIENTS {
            clients.clear();
        }
        clients.insert(key, client.clone());
        Ok(client)
    }
}

#[async_trait]
impl Transport for HttpTransport {
    async fn send(&self, delivery: &Delivery) -> Result<u16, String> {
        let target = self
            .settings
            .check_target(&delivery.url)
            .await
            .map_err(|e| format!("target refused: {e}"))?;
        let client = self.client(&target)?;
        let mut request = client.post(target.url.clone()).body(delivery.body.clone());
        for (name, value) in &delivery.headers {
            request = request.header(*name, value);
        }
        let mut response = request.send().await.map_err(|e| describe(&e))?;
        let status = response.status().as_u16();
        let mut read = 0;
        while read < MAX_RESPONSE_BYTES {
            match response.chunk().await {
                Ok(Some(chunk)) => read += chunk.len(),
                Ok(None) | Err(_) => break,
            }
        }
        Ok(status)
    }
}

fn describe(err: &reqwest::Error) -> String {
    let what = if err.is_timeout() {
        "timed out"
    } else if err.is_connect() {
        "cannot connect"
    } else {
        "request failed"
    };
    let mut text = format!("{what}: {err}");
    let mut source = std::error::Error::source(err);
    while let Some(s) = source {
        text.push_str(&format!(": {s}"));
        source = s.source();
    }
    text
}

/// Starts the delivery worker on `store`, when it keeps webhooks.
pub fn spawn_worker(store: Arc<dyn Store>, settings: &WebhookSettings) -> Option<JoinHandle<()>> {
    plant_core::webhooks::spawn_worker(
        store,
        Arc::new(HttpTransport::new(settings.clone())),
        settings.worker_options(),
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn refused(ip: &str) -> Option<&'static str> {
        forbidden_reason(ip.parse().unwrap(), false)
    }

    #[test]
    fn private_link_local_loopback_and_metadata_addresses_are_refused() {
        for ip in [
            "10.0.0.1",
            "172.16.5.4",
            "192.168.1.1",
            "127.0.0.1",
            "169.254.169.254",
            "169.254.1.1",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00:ec2::254",
            "fc00::1",
            "fe80::1",
            "::ffff:10.0.0.1",
            "::ffff:127.0.0.1",
            "64:ff9b::a00:1",
        ] {
            assert!(refused(ip).is_some(), "{ip} passed");
        }
        for ip in [
            "93.184.216.34",
            "2606:2800:220:1:248:1893:25c8:1946",
            "8.8.8.8",
        ] {
            assert_eq!(refused(ip), None, "{ip}");
        }
        assert_eq!(forbidden_reason("127.0.0.1".parse().unwrap(), true), None);
        assert!(forbidden_reason("169.254.169.254".parse().unwrap(), true).is_some());
    }

    #[tokio::test]
    async fn targets_are_checked_for_scheme_credentials_metadata_and_allow_list() {
        let strict = WebhookSettings::default();
        assert!(matches!(
            strict.check_target("http://93.184.216.34/").await,
            Err(TargetError::Scheme)
        ));
        assert!(matches!(
            strict.check_target("https://u:p@93.184.216.34/").await,
            Err(TargetError::Credentials)
        ));
        assert!(matches!(
            strict
                .check_target("https://metadata.google.internal/")
                .await,
            Err(TargetError::Metadata(_))
        ));
        assert!(
            strict
                .check_target("https://93.184.216.34/hook")
                .await
                .is_ok()
        );
        let listed = WebhookSettings {
            allowed_hosts: Some(vec![".example.com".into()]),
            ..WebhookSettings::default()
        };
        assert!(matches!(
            listed.check_target("https://93.184.216.34/").await,
            Err(TargetError::NotAllowed(_))
        ));
        let dev = WebhookSettings {
            allow_http_loopback: true,
            ..WebhookSettings::default()
        };
        assert!(dev.check_target("http://127.0.0.1:9/").await.is_ok());
        assert!(matches!(
            dev.check_target("http://93.184.216.34/").await,
            Err(TargetError::HttpBeyondLoopback { .. })
        ));
    }
}
