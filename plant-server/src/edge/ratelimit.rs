//! The throttle on endpoints anyone may call: governor's keyed GCRA limiter, one quota per client.
//!
//! A client is an IPv4 address or an IPv6 /64 (one subscriber's prefix: a single host can use
//! any of its 2^64 addresses, so addresses within it are one client). Memory is bounded without
//! ever forgetting an active client: past [`MAX_KEYS`] keys, the keys whose quota has fully
//! recovered are dropped (governor's `retain_recent`), and while the store is still full, clients
//! it does not hold share one overflow quota. Flooding the limiter with new keys therefore
//! throttles new keys, never resets the quota of a client already counted.
//!
//! It is per process: with several instances the effective limit is the sum. That bounds abuse
//! of anonymous bookings well enough without a shared store.

use std::hash::Hash;
use std::net::{IpAddr, Ipv4Addr};
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::middleware::NoOpMiddleware;
use governor::nanos::Nanos;
use governor::state::StateStore;
use governor::state::keyed::{DashMapStateStore, ShrinkableKeyedStateStore};
use governor::{Quota, RateLimiter as Gcra};

/// Keys held at most (about 100 bytes each); see the module documentation.
pub const MAX_KEYS: usize = 100_000;

/// How often a full store is swept for recovered keys, at most.
const SWEEP_INTERVAL: Duration = Duration::from_secs(1);

/// Who a client is, for throttling.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ClientKey {
    V4(Ipv4Addr),
    /// The upper 64 bits of an IPv6 address.
    V6Net(u64),
    /// A key that is not an IP address (a forwarded entry with a port, `unknown`).
    Other(Box<str>),
    /// The shared quota of clients the full store does not hold.
    Overflow,
}

impl ClientKey {
    /// The key of a client address as text (see `extract::client_address`).
    pub fn parse(text: &str) -> Self {
        match text.trim().parse::<IpAddr>() {
            Ok(ip) => Self::from_ip(ip),
            Err(_) => Self::Other(text.chars().take(64).collect()),
        }
    }

    /// The key of `ip`: itself for IPv4 (also when mapped into IPv6), its /64 for IPv6.
    pub fn from_ip(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(v4) => Self::V4(v4),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Self::V4(v4),
                // The shift leaves 64 bits: the cast cannot truncate.
                None => Self::V6Net((v6.to_bits() >> 64) as u64),
            },
        }
    }
}

/// governor's dashmap store, holding at most `max` keys besides [`ClientKey::Overflow`].
#[derive(Debug)]
struct BoundedStore {
    inner: DashMapStateStore<ClientKey>,
    max: usize,
}

impl StateStore for BoundedStore {
    type Key = ClientKey;

    fn measure_and_replace<T, F, E>(&self, key: &ClientKey, f: F) -> Result<T, E>
    where
        F: Fn(Option<Nanos>) -> Result<(T, Nanos), E>,
    {
        if self.inner.len() >= self.max && !self.inner.contains_key(key) {
            return self.inner.measure_and_replace(&ClientKey::Overflow, f);
        }
        self.inner.measure_and_replace(key, f)
    }
}

impl ShrinkableKeyedStateStore<ClientKey> for BoundedStore {
    fn retain_recent(&self, drop_below: Nanos) {
        ShrinkableKeyedStateStore::retain_recent(&self.inner, drop_below);
    }

    fn shrink_to_fit(&self) {
        ShrinkableKeyedStateStore::shrink_to_fit(&self.inner);
    }

    fn len(&self) -> usize {
        self.inner.len()
    }

    fn is_empty(&self) -> bool {
        self.inner.is_empty()
    }
}

/// A per-client quota of calls.
#[derive(Debug)]
pub struct RateLimiter {
    gcra: Gcra<
        ClientKey,
        BoundedStore,
        DefaultClock,
        NoOpMiddleware<<DefaultClock as Clock>::Instant>,
    >,
    clock: DefaultClock,
    max_keys: usize,
    last_sweep: Mutex<Instant>,
}

impl RateLimiter {
    /// At most `per_minute` calls per client and minute, in a burst or spread out.
    pub fn per_minute(per_minute: NonZeroU32) -> Self {
        Self::with_capacity(Quota::per_minute(per_minute), MAX_KEYS)
    }

    fn with_capacity(quota: Quota, max_keys: usize) -> Self {
        let clock = DefaultClock::default();
        let store = BoundedStore {
            inner: DashMapStateStore::default(),
            max: max_keys,
        };
        Self {
            gcra: Gcra::new(quota, store, clock.clone()),
            clock,
            max_keys,
            last_sweep: Mutex::new(Instant::now()),
        }
    }

    /// Counts a call by `key`: `Ok` when allowed, or the whole seconds until it would be.
    pub fn check(&self, key: &ClientKey) -> Result<(), u64> {
        if self.gcra.len() >= self.max_keys {
            self.sweep();
        }
        self.gcra.check_key(key).map_err(|not_until| {
            let wait = not_until.wait_time_from(self.clock.now());
            wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
        })
    }

    /// Keys held now (the overflow quota included).
    pub fn len(&self) -> usize {
        self.gcra.len()
    }

    /// Whether no key is held.
    pub fn is_empty(&self) -> bool {
        self.gcra.is_empty()
    }

    /// Drops the keys whose quota has recovered, at most once per [`SWEEP_INTERVAL`].
    fn sweep(&self) {
        let Ok(mut last) = self.last_sweep.try_lock() else {
            return; // another request is sweeping
        };
        if last.elapsed() < SWEEP_INTERVAL {
            return;
        }
        *last = Instant::now();
        self.gcra.retain_recent();
        self.gcra.shrink_to_fit();
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn quota(n: u32) -> Quota {
        Quota::per_minute(NonZeroU32::new(n).unwrap())
    }

    #[test]
    fn calls_past_the_limit_are_refused_per_key_with_a_retry_time() {
        let limiter = RateLimiter::with_capacity(quota(2), 10);
        let a = ClientKey::parse("192.0.2.1");
        assert!(limiter.check(&a).is_ok());
        assert!(limiter.check(&a).is_ok());
        let retry = limiter.check(&a).unwrap_err();
        assert!((1..=30).contains(&retry), "{retry}");
        assert!(limiter.check(&ClientKey::parse("192.0.2.2")).is_ok());
    }

    #[test]
    fn addresses_of_one_ipv6_64_share_one_quota_and_other_64s_do_not() {
        let limiter = RateLimiter::with_capacity(quota(3), 10);
        for host in [
            "2001:db8:1:2::1",
            "2001:db8:1:2::ffff",
            "2001:db8:1:2:aaaa:bbbb:cccc:dddd",
        ] {
            assert!(limiter.check(&ClientKey::parse(host)).is_ok(), "{host}");
        }
        assert!(
            limiter
                .check(&ClientKey::parse("2001:db8:1:2:1234::9"))
                .is_err()
        );
        assert!(limiter.check(&ClientKey::parse("2001:db8:1:3::1")).is_ok());
        assert_eq!(
            ClientKey::parse("::ffff:192.0.2.7"),
            ClientKey::parse("192.0.2.7")
        );
    }

    #[test]
    fn two_hundred_thousand_new_keys_cannot_reset_a_counted_client_and_memory_stays_bounded() {
        let limiter = RateLimiter::per_minute(NonZeroU32::new(2).unwrap());
        let victim = ClientKey::parse("198.51.100.7");
        assert!(limiter.check(&victim).is_ok());
        assert!(limiter.check(&victim).is_ok());
        assert!(limiter.check(&victim).is_err());
        // 200,000 distinct IPv4 clients, twice the store's capacity.
        for n in 0..200_000_u32 {
            let _ = limiter.check(&ClientKey::V4(Ipv4Addr::from(0x0A00_0000 + n)));
        }
        assert!(limiter.len() <= MAX_KEYS + 1, "{}", limiter.len());
        assert!(
            limiter.check(&victim).is_err(),
            "the flood reset a counted client's quota"
        );
        // The clients past the capacity share one quota: the flood throttles itself.
        assert!(limiter.check(&ClientKey::parse("203.0.113.99")).is_err());
    }
}
