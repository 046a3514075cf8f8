//! How sign-in attempts are slowed down after repeated failures.
//!
//! Failures are counted over a sliding window, separately for the account
//! (the email typed) and for the client address. An address gets a higher
//! allowance than an account because many people can share one address.

use std::time::Duration;

/// The window over which failures count.
pub const WINDOW: Duration = Duration::from_secs(15 * 60);

/// Failures for one account after which each attempt is slowed down.
pub const ACCOUNT_SLOW_AFTER: i64 = 5;
/// Failures for one account after which attempts are refused until the window passes.
pub const ACCOUNT_REFUSE_AFTER: i64 = 10;
/// The same two limits for one client address.
pub const ADDRESS_SLOW_AFTER: i64 = 20;
pub const ADDRESS_REFUSE_AFTER: i64 = 50;

/// The delay added to an attempt once it is being slowed down.
pub const SLOW_DOWN_BY: Duration = Duration::from_millis(500);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Throttle {
    /// Check the password now.
    Allow,
    /// Check the password after waiting this long.
    SlowDown(Duration),
    /// Do not check the password at all; tell the person to wait.
    Refuse,
}

/// What to do with a sign-in attempt, given the recent failures for the
/// account and for the address it comes from.
pub fn decide(account_failures: i64, address_failures: i64) -> Throttle {
    if account_failures >= ACCOUNT_REFUSE_AFTER || address_failures >= ADDRESS_REFUSE_AFTER {
        Throttle::Refuse
    } else if account_failures >= ACCOUNT_SLOW_AFTER || address_failures >= ADDRESS_SLOW_AFTER {
        Throttle::SlowDown(SLOW_DOWN_BY)
    } else {
        Throttle::Allow
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_few_failures_change_nothing() {
        assert_eq!(decide(0, 0), Throttle::Allow);
        assert_eq!(decide(ACCOUNT_SLOW_AFTER - 1, ADDRESS_SLOW_AFTER - 1), Throttle::Allow);
    }

    #[test]
    fn repeated_failures_for_an_account_slow_it_down_then_refuse() {
        assert_eq!(decide(ACCOUNT_SLOW_AFTER, 0), Throttle::SlowDown(SLOW_DOWN_BY));
        assert_eq!(decide(ACCOUNT_REFUSE_AFTER, 0), Throttle::Refuse);
    }

    #[test]
    fn an_address_trying_many_accounts_is_limited_too() {
        assert_eq!(decide(0, ADDRESS_SLOW_AFTER), Throttle::SlowDown(SLOW_DOWN_BY));
        assert_eq!(decide(1, ADDRESS_REFUSE_AFTER), Throttle::Refuse);
    }
}
