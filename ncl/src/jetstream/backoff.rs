//! The delay before a failed message is delivered again.

use std::time::Duration;

/// Exponential delays between deliveries of a message that failed.
///
/// The delay after the `n`-th failed delivery is `initial * factor^(n - 1)`, capped at
/// `max`. The default, [`Backoff::DEFAULT`], waits 1 s, 2 s, 4 s, … up to 1 minute.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// use ncl::jetstream::Backoff;
///
/// let backoff = Backoff {
///     initial: Duration::from_millis(100),
///     factor: 3.0,
///     max: Duration::from_secs(1),
/// };
/// assert_eq!(backoff.delay(1), Duration::from_millis(100));
/// assert_eq!(backoff.delay(2), Duration::from_millis(300));
/// assert_eq!(backoff.delay(3), Duration::from_millis(900));
/// assert_eq!(backoff.delay(4), Duration::from_secs(1));
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Backoff {
    /// Delay after the first failed delivery.
    pub initial: Duration,
    /// Multiplier applied for each further failed delivery, at least 1.
    pub factor: f64,
    /// Upper bound of every delay.
    pub max: Duration,
}

impl Backoff {
    /// 1 s, doubling per failed delivery, at most 1 minute.
    pub const DEFAULT: Self = Self {
        initial: Duration::from_secs(1),
        factor: 2.0,
        max: Duration::from_secs(60),
    };

    /// Returns the delay after failed delivery number `delivery` (1 for the first).
    ///
    /// `0` is treated as `1`.
    pub fn delay(&self, delivery: u32) -> Duration {
        let exponent = i32::try_from(delivery.saturating_sub(1)).unwrap_or(i32::MAX);
        let seconds = self.initial.as_secs_f64() * self.factor.powi(exponent);
        match Duration::try_from_secs_f64(seconds) {
            Ok(delay) => delay.min(self.max),
            // Overflow or a factor that is not a number: fall back to the bound.
            Err(_) => self.max,
        }
    }

    /// Returns `true` when the factor is a finite number of at least 1 and
    /// `initial <= max`.
    pub(crate) fn is_valid(&self) -> bool {
        self.factor.is_finite() && self.factor >= 1.0 && self.initial <= self.max
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Self::DEFAULT
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delay_grows_then_caps() {
        let backoff = Backoff::DEFAULT;
        let delays: Vec<u64> = (1..=8).map(|n| backoff.delay(n).as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 32, 60, 60]);
    }

    #[test]
    fn delay_of_huge_delivery_count_is_max() {
        assert_eq!(Backoff::DEFAULT.delay(u32::MAX), Duration::from_secs(60));
    }

    #[test]
    fn delivery_zero_counts_as_first() {
        assert_eq!(Backoff::DEFAULT.delay(0), Duration::from_secs(1));
    }

    #[test]
    fn factor_below_one_is_invalid() {
        let backoff = Backoff {
            factor: 0.5,
            ..Backoff::DEFAULT
        };
        assert!(!backoff.is_valid());
        assert!(Backoff::DEFAULT.is_valid());
    }
}
