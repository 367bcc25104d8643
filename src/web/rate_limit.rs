//! Rate limits (issue 11): sign-in attempts per account and per client
//! address, and API requests per token.
//!
//! Fixed windows counted in this instance's memory: each key gets `limit`
//! hits per window, counted from its first hit. Several instances behind a
//! load balancer each keep their own counts, so the effective limit is
//! multiplied by the number of instances; that is documented in SECURITY.md
//! and is enough to turn a password-guessing run from thousands of tries an
//! hour into tens. No crate: `governor` would bring a keyed GCRA and its
//! dependency tree for what is a counter and a clock.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Keys kept before expired windows are swept, so a flood of made-up keys
/// (random tokens, e-mail addresses) cannot grow the map without bound.
const SWEEP_AT: usize = 10_000;

pub struct Limiter {
    limit: u32,
    window: Duration,
    /// Keys are hashed with a per-process random seed: no token or e-mail
    /// address is kept in memory as it was sent.
    hasher: std::collections::hash_map::RandomState,
    windows: Mutex<HashMap<u64, (Instant, u32)>>,
}

impl Limiter {
    pub fn new(limit: u32, window: Duration) -> Self {
        Self {
            limit,
            window,
            hasher: Default::default(),
            windows: Mutex::new(HashMap::new()),
        }
    }

    fn key(&self, key: impl Hash) -> u64 {
        self.hasher.hash_one(key)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, (Instant, u32)>> {
        self.windows.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn wait(&self, windows: &HashMap<u64, (Instant, u32)>, key: u64, now: Instant) -> Option<Duration> {
        match windows.get(&key) {
            Some(&(start, hits)) if hits >= self.limit && now < start + self.window => Some(start + self.window - now),
            _ => None,
        }
    }

    fn count(&self, windows: &mut HashMap<u64, (Instant, u32)>, key: u64, now: Instant) {
        if windows.len() >= SWEEP_AT {
            let window = self.window;
            windows.retain(|_, (start, _)| now < *start + window);
        }
        let entry = windows.entry(key).or_insert((now, 0));
        if now >= entry.0 + self.window {
            *entry = (now, 0);
        }
        entry.1 = entry.1.saturating_add(1);
    }

    /// How long until `key` may try again, when it has used its window's hits.
    pub fn blocked(&self, key: impl Hash, now: Instant) -> Option<Duration> {
        self.wait(&self.lock(), self.key(key), now)
    }

    /// Counts one hit for `key`.
    pub fn hit(&self, key: impl Hash, now: Instant) {
        self.count(&mut self.lock(), self.key(key), now);
    }

    /// Counts a hit unless `key` is blocked; returns the wait when it is.
    /// One lock for both, so two requests at once cannot both take the last
    /// hit.
    pub fn check_and_hit(&self, key: impl Hash, now: Instant) -> Result<(), Duration> {
        let key = self.key(key);
        let mut windows = self.lock();
        match self.wait(&windows, key, now) {
            Some(wait) => Err(wait),
            None => {
                self.count(&mut windows, key, now);
                Ok(())
            }
        }
    }

    /// Forgets `key` (an account's failures, after it signs in).
    pub fn clear(&self, key: impl Hash) {
        let key = self.key(key);
        self.lock().remove(&key);
    }
}

/// The limits of one instance.
pub struct RateLimits {
    /// Failed sign-ins per account (the e-mail as typed, lower-cased).
    pub login_account: Limiter,
    /// Sign-in attempts per client address.
    pub login_address: Limiter,
    /// API requests per bearer token.
    pub api_token: Limiter,
}

impl RateLimits {
    pub fn new(settings: &crate::config::Settings) -> Self {
        let login_window = Duration::from_secs(settings.login_window_minutes.max(1) * 60);
        Self {
            login_account: Limiter::new(settings.login_limit_account, login_window),
            login_address: Limiter::new(settings.login_limit_address, login_window),
            api_token: Limiter::new(settings.api_rate_per_minute, Duration::from_secs(60)),
        }
    }
}

/// "3 minutes", "1 minute", "40 seconds": the wait in a sentence.
pub fn wait_in_words(wait: Duration) -> String {
    let secs = wait.as_secs().max(1);
    match secs {
        60.. => {
            let minutes = secs.div_ceil(60);
            format!("{minutes} minute{}", if minutes == 1 { "" } else { "s" })
        }
        _ => format!("{secs} second{}", if secs == 1 { "" } else { "s" }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_gets_its_hits_per_window_then_waits() {
        let limiter = Limiter::new(3, Duration::from_secs(60));
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(limiter.check_and_hit("ada", t0), Ok(()));
        }
        assert_eq!(
            limiter.check_and_hit("ada", t0 + Duration::from_secs(20)),
            Err(Duration::from_secs(40))
        );
        // Another key has its own count.
        assert_eq!(limiter.check_and_hit("bob", t0), Ok(()));
        // The window over, the count starts again.
        assert_eq!(limiter.check_and_hit("ada", t0 + Duration::from_secs(60)), Ok(()));
    }

    #[test]
    fn clearing_forgets_the_failures() {
        let limiter = Limiter::new(1, Duration::from_secs(60));
        let t0 = Instant::now();
        limiter.hit("ada", t0);
        assert!(limiter.blocked("ada", t0).is_some());
        limiter.clear("ada");
        assert_eq!(limiter.blocked("ada", t0), None);
    }

    #[test]
    fn expired_windows_are_swept_when_the_map_is_large() {
        let limiter = Limiter::new(5, Duration::from_secs(1));
        let t0 = Instant::now();
        for i in 0..SWEEP_AT {
            limiter.hit(i, t0);
        }
        limiter.hit("late", t0 + Duration::from_secs(2));
        assert_eq!(limiter.windows.lock().unwrap().len(), 1);
    }

    #[test]
    fn waits_read_as_words() {
        assert_eq!(wait_in_words(Duration::from_secs(1)), "1 second");
        assert_eq!(wait_in_words(Duration::from_secs(40)), "40 seconds");
        assert_eq!(wait_in_words(Duration::from_secs(61)), "2 minutes");
        assert_eq!(wait_in_words(Duration::from_secs(60)), "1 minute");
    }
}
