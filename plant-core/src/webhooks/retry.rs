//! When a failed delivery is tried again: exponential backoff with jitter, over a bounded
//! schedule, after which the subscription is marked failing.

use std::time::Duration;

/// The retry schedule. The default retries for about a day: 10 s, 40 s, 160 s, … capped at
/// 4 h, 12 attempts in all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetrySchedule {
    /// The delay after the first failure.
    pub base: Duration,
    /// The longest delay between two attempts.
    pub cap: Duration,
    /// Attempts of one entry (the first included) before the subscription is marked failing.
    pub max_attempts: u32,
}

impl Default for RetrySchedule {
    fn default() -> Self {
        Self {
            base: Duration::from_secs(10),
            cap: Duration::from_secs(4 * 3600),
            max_attempts: 12,
        }
    }
}

impl RetrySchedule {
    /// The delay before the next attempt after `failures` failed ones (1 for the first), without
    /// jitter; `None` when the schedule is exhausted.
    ///
    /// ```
    /// use std::time::Duration;
    /// use plant_core::webhooks::RetrySchedule;
    /// let s = RetrySchedule::default();
    /// assert_eq!(s.delay(1), Some(Duration::from_secs(10)));
    /// assert_eq!(s.delay(2), Some(Duration::from_secs(40)));
    /// assert_eq!(s.delay(11), Some(Duration::from_secs(4 * 3600)));
    /// assert_eq!(s.delay(12), None);
    /// ```
    pub fn delay(&self, failures: u32) -> Option<Duration> {
        if failures == 0 || failures >= self.max_attempts {
            return None;
        }
        let factor = 4_u32.checked_pow(failures - 1).unwrap_or(u32::MAX);
        Some(self.base.saturating_mul(factor).min(self.cap))
    }

    /// [`Self::delay`] spread by up to ±20 % (from `random`, any value), so that consumers that
    /// failed together do not all come back at the same instant.
    pub fn delay_with_jitter(&self, failures: u32, random: u32) -> Option<Duration> {
        let delay = self.delay(failures)?;
        // random / u32::MAX in [0, 1] → a factor in [0.8, 1.2].
        let permille = 800 + u64::from(random) * 400 / u64::from(u32::MAX);
        let millis = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
        Some(Duration::from_millis(
            millis.saturating_mul(permille) / 1000,
        ))
    }

    /// The whole schedule: the sum of its delays (what a consumer has to come back within).
    pub fn total(&self) -> Duration {
        (1..self.max_attempts).filter_map(|n| self.delay(n)).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_default_schedule_lasts_about_a_day() {
        let total = RetrySchedule::default().total();
        assert!(total > Duration::from_secs(20 * 3600), "{total:?}");
        assert!(total < Duration::from_secs(28 * 3600), "{total:?}");
    }

    proptest! {
        #[test]
        fn jitter_stays_within_a_fifth_and_delays_never_shrink(failures in 1_u32..12, random: u32) {
            let s = RetrySchedule::default();
            let plain = s.delay(failures).unwrap_or_default();
            let jittered = s.delay_with_jitter(failures, random).unwrap_or_default();
            prop_assert!(jittered >= plain * 4 / 5 && jittered <= plain * 6 / 5);
            if let (Some(a), Some(b)) = (s.delay(failures), s.delay(failures + 1)) {
                prop_assert!(b >= a);
            }
        }
    }
}
