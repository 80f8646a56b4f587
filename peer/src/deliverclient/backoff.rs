//! Fabric's reconnection backoff (`internal/pkg/peer/blocksprovider`, v2.5).
//!
//! After the n-th consecutive failure the client sleeps `⌊1.2^(n−1) × 100⌋` ms (100, 120,
//! 144, 172, 207 ms…), and [`DeliverClientConfig::reconnect_backoff_threshold`] once the
//! formula would exceed it. The sleeps add up; past
//! [`DeliverClientConfig::reconnect_total_time_threshold`] a client that is not a static
//! leader gives up.
//!
//! [`DeliverClientConfig::reconnect_backoff_threshold`]: super::DeliverClientConfig::reconnect_backoff_threshold
//! [`DeliverClientConfig::reconnect_total_time_threshold`]: super::DeliverClientConfig::reconnect_total_time_threshold

use std::time::Duration;

/// The first retry delay (Fabric's `InitialRetryDelay`).
pub const INITIAL_RETRY_DELAY: Duration = Duration::from_millis(100);

/// The growth factor between consecutive retry delays (Fabric's `backoffExponentBase`).
pub const BACKOFF_EXPONENT_BASE: f64 = 1.2;

/// The sleep before the next connection attempt after `failures` consecutive failures
/// (zero when `failures` is 0), capped at `max_retry_delay`.
///
/// As Fabric: with `max_failures = ⌊ln(max / 100 ms) / ln 1.2⌋`, the delay is
/// `max_retry_delay` once `failures − 1 > max_failures`, else `1.2^(failures−1) × 100 ms`
/// truncated to whole milliseconds (and never above `max_retry_delay`).
pub fn backoff_delay(failures: u32, max_retry_delay: Duration) -> Duration {
    if failures == 0 {
        return Duration::ZERO;
    }
    let exponent = failures - 1;
    if exponent > max_failures(max_retry_delay) {
        return max_retry_delay;
    }
    let millis =
        BACKOFF_EXPONENT_BASE.powf(f64::from(exponent)) * INITIAL_RETRY_DELAY.as_millis() as f64;
    // `as` saturates; the guard above keeps the value far below u64::MAX anyway.
    Duration::from_millis(millis.floor() as u64).min(max_retry_delay)
}

/// The largest exponent whose delay stays within `max_retry_delay` (Fabric's
/// `maxFailures`; 0 when the cap is at or below the initial delay).
fn max_failures(max_retry_delay: Duration) -> u32 {
    let ratio = max_retry_delay.as_secs_f64() / INITIAL_RETRY_DELAY.as_secs_f64();
    if ratio <= 1.0 {
        return 0;
    }
    (ratio.ln() / BACKOFF_EXPONENT_BASE.ln()).floor() as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: Duration = Duration::from_secs(3600);

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn schedule_follows_fabrics_formula() {
        let schedule: Vec<Duration> = (0..=6).map(|n| backoff_delay(n, HOUR)).collect();
        assert_eq!(
            schedule,
            [ms(0), ms(100), ms(120), ms(144), ms(172), ms(207), ms(248)]
        );
    }

    #[test]
    fn schedule_is_capped_at_the_max_retry_delay() {
        // ln(36000) / ln(1.2) = 57.5: the 58th failure (exponent 57) is still the formula,
        // about 3260 s; the 59th is the cap.
        assert_eq!(max_failures(HOUR), 57);
        let last_formula = backoff_delay(58, HOUR);
        assert!(last_formula > Duration::from_secs(3200) && last_formula < HOUR);
        assert_eq!(backoff_delay(59, HOUR), HOUR);
        assert_eq!(backoff_delay(u32::MAX, HOUR), HOUR);

        // A small cap: 100, 120, 144, then 150 for ever.
        let cap = ms(150);
        let schedule: Vec<Duration> = (1..=6).map(|n| backoff_delay(n, cap)).collect();
        assert_eq!(
            schedule,
            [ms(100), ms(120), ms(144), ms(150), ms(150), ms(150)]
        );
        // A cap below the initial delay wins from the start.
        assert_eq!(backoff_delay(1, ms(10)), ms(10));
        assert_eq!(backoff_delay(5, ms(10)), ms(10));
    }
}
