//! Throttling with `governor` (GCRA rate limits, keyed), answered with 429,
//! `Retry-After` and `{"detail"}`:
//!
//! * per client IP on the endpoints anyone can call (sign-up, login,
//!   logout): AUTH_RATE_PER_MINUTE, in a burst or spread out;
//! * per account and client IP after failed password checks: an escalating
//!   delay (the first few failures are free, then 1 s, 2 s, 4 s … up to 15
//!   min) that falls on the guessing client only;
//! * per account, across all clients: at most 100 failed password checks an
//!   hour (ASVS 2.2.1), counted only when a check fails. Past that, the
//!   account takes no password from an unknown device until the budget
//!   refills; a device that has signed in to it before (its signed device
//!   cookie, as OWASP's "device cookies" describe) still may, so guessing
//!   from many addresses cannot lock the real user out (anti-automation
//!   without lockout). Wrong current passwords (password change, account
//!   deletion) count as failed logins;
//! * per account on sign-up and on other account actions (accepting an
//!   invitation, asking for a verification mail), across all clients: a
//!   ceiling generous enough for the account's owner;
//! * per address on password-reset mail: a few an hour; past that the
//!   request is answered the same and no mail goes (the last link sent still
//!   works), so the limit can neither flood a mailbox nor block its owner;
//! * per account on tenant creation: TENANT_RATE_PER_HOUR;
//! * invitations sent or sent again (each may be a mail to an address the
//!   owner typed): INVITATION_RATE_PER_HOUR per inviter, four times that a
//!   day, and twice both per tenant, so that no account or tenant becomes a
//!   mail relay;
//! * imports: one at a time per user and [`IMPORTS_AT_ONCE`] in all, so
//!   their memory is bounded.
//!
//! Keyed state is pruned as it goes, so a flood of keys cannot grow it
//! without bound.

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use super::ApiError;
use crate::domain::{TenantId, UserId};
use uuid::Uuid;

/// Failed logins per account and client that cost nothing.
const FREE_FAILURES: u32 = 5;
/// The longest escalating delay.
const MAX_DELAY: Duration = Duration::from_secs(15 * 60);
/// Account actions (not password checks) per account per minute, from all
/// clients together.
const ACCOUNT_ACTIONS_PER_MINUTE: u32 = 60;
/// Failed password checks per account: this many in a burst, and this many
/// more spread over an hour — at most 100 an hour (ASVS 2.2.1).
const ACCOUNT_FAILURES_PER_HOUR: u32 = 50;
/// Reset mails per address: this many in a burst, refilled over an hour.
const RESET_MAILS_PER_HOUR: u32 = 5;
/// How many keyed entries before stale ones are pruned.
const PRUNE_AT: usize = 10_000;

pub struct Throttle {
    per_ip: DefaultKeyedRateLimiter<IpAddr>,
    per_account: DefaultKeyedRateLimiter<String>,
    account_failures: DefaultKeyedRateLimiter<String>,
    /// Accounts whose failure budget is spent, until when.
    closed_to_strangers: Mutex<HashMap<String, Instant>>,
    reset_mails: DefaultKeyedRateLimiter<String>,
    tenants: DefaultKeyedRateLimiter<UserId>,
    /// Per inviter and per tenant, each by the hour and by the day.
    invitations: [DefaultKeyedRateLimiter<Uuid>; 4],
    failures: Mutex<HashMap<(String, Option<IpAddr>), Failures>>,
    /// Users with an import running; at most [`IMPORTS_AT_ONCE`] in all.
    imports: std::sync::Arc<Mutex<std::collections::HashSet<UserId>>>,
    clock: DefaultClock,
}

/// Imports running at once, server-wide. Each holds its body (≤ 32 MiB)
/// and what it parses into while it runs (~100 MiB at the limit), so the
/// count bounds the memory imports can take.
pub const IMPORTS_AT_ONCE: usize = 2;

/// A running import: one per user, [`IMPORTS_AT_ONCE`] in all; the slot
/// frees when this drops.
pub struct ImportSlot {
    running: std::sync::Arc<Mutex<std::collections::HashSet<UserId>>>,
    user: UserId,
}

impl Drop for ImportSlot {
    fn drop(&mut self) {
        self.running.lock().expect("not poisoned").remove(&self.user);
    }
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    blocked_until: Option<Instant>,
    last: Instant,
}

fn nonzero(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n.max(1)).expect("at least 1")
}

impl Throttle {
    pub fn new(auth_per_minute: u32, tenants_per_hour: u32, invitations_per_hour: u32) -> Self {
        let hourly = |n: u32| RateLimiter::keyed(Quota::per_hour(nonzero(n)));
        let daily = |n: u32| {
            RateLimiter::keyed(
                Quota::with_period(Duration::from_secs(86_400) / n.max(1))
                    .expect("a positive period")
                    .allow_burst(nonzero(n)),
            )
        };
        let n = invitations_per_hour;
        Self {
            per_ip: RateLimiter::keyed(Quota::per_minute(nonzero(auth_per_minute))),
            per_account: RateLimiter::keyed(Quota::per_minute(nonzero(ACCOUNT_ACTIONS_PER_MINUTE))),
            account_failures: RateLimiter::keyed(
                Quota::with_period(Duration::from_secs(3600) / ACCOUNT_FAILURES_PER_HOUR)
                    .expect("a positive period")
                    .allow_burst(nonzero(ACCOUNT_FAILURES_PER_HOUR)),
            ),
            closed_to_strangers: Mutex::new(HashMap::new()),
            reset_mails: RateLimiter::keyed(
                Quota::with_period(Duration::from_secs(3600) / RESET_MAILS_PER_HOUR)
                    .expect("a positive period")
                    .allow_burst(nonzero(RESET_MAILS_PER_HOUR)),
            ),
            tenants: RateLimiter::keyed(Quota::per_hour(nonzero(tenants_per_hour))),
            invitations: [
                hourly(n),
                daily(n.saturating_mul(4)),
                hourly(n.saturating_mul(2)),
                daily(n.saturating_mul(8)),
            ],
            failures: Mutex::new(HashMap::new()),
            imports: std::sync::Arc::default(),
            clock: DefaultClock::default(),
        }
    }

    /// One call to an unauthenticated endpoint from `ip`.
    pub fn client(&self, ip: Option<IpAddr>) -> Result<(), ApiError> {
        let Some(ip) = ip else { return Ok(()) };
        self.check(&self.per_ip, &ip, "client")
    }

    /// May `account` have a password checked now, from `ip`? `known_device`:
    /// the request comes from a device that has signed in to this account
    /// before (or from a live session of it), which the account's failure
    /// budget never shuts out.
    pub fn login_attempt(&self, account: &str, ip: Option<IpAddr>, known_device: bool) -> Result<(), ApiError> {
        let now = Instant::now();
        if let Some(f) = self
            .failures
            .lock()
            .expect("not poisoned")
            .get(&(account.to_owned(), ip))
        {
            if let Some(until) = f.blocked_until.filter(|u| *u > now) {
                return Err(too_many("failed_logins", until - now));
            }
        }
        if !known_device {
            let mut closed = self.closed_to_strangers.lock().expect("not poisoned");
            match closed.get(account) {
                Some(until) if *until > now => return Err(too_many("account_failures", *until - now)),
                Some(_) => {
                    closed.remove(account);
                }
                None => {}
            }
        }
        Ok(())
    }

    /// One action on `account` (a sign-up for its email, an invitation
    /// accepted, a verification mail asked for), from anywhere.
    pub fn account(&self, account: &str) -> Result<(), ApiError> {
        self.check(&self.per_account, &account.to_owned(), "account")
    }

    /// Whether a password-reset mail may go to `email` now (else the request
    /// is answered the same and nothing is sent).
    pub fn reset_mail(&self, email: &str) -> bool {
        prune(&self.reset_mails);
        let allowed = self.reset_mails.check_key(&email.to_owned()).is_ok();
        if !allowed {
            crate::monitoring::throttled("reset_mail");
        }
        allowed
    }

    /// A wrong password for `account` from `ip`: the next attempt from there
    /// may have to wait, and the account's hourly budget shrinks.
    pub fn login_failed(&self, account: &str, ip: Option<IpAddr>) {
        let now = Instant::now();
        prune(&self.account_failures);
        if let Err(not_until) = self.account_failures.check_key(&account.to_owned()) {
            let until = now + not_until.wait_time_from(self.clock.now());
            let mut closed = self.closed_to_strangers.lock().expect("not poisoned");
            if closed.len() >= PRUNE_AT {
                closed.retain(|_, u| *u > now);
            }
            closed.insert(account.to_owned(), until);
        }
        let mut failures = self.failures.lock().expect("not poisoned");
        if failures.len() >= PRUNE_AT {
            failures.retain(|_, f| now.duration_since(f.last) < MAX_DELAY * 2);
        }
        let f = failures.entry((account.to_owned(), ip)).or_insert(Failures {
            count: 0,
            blocked_until: None,
            last: now,
        });
        f.count = f.count.saturating_add(1);
        f.last = now;
        if f.count > FREE_FAILURES {
            let doubling = (f.count - FREE_FAILURES - 1).min(20);
            let delay = Duration::from_secs(1u64 << doubling).min(MAX_DELAY);
            f.blocked_until = Some(now + delay);
        }
    }

    /// A successful login clears the client's failures for the account.
    pub fn login_succeeded(&self, account: &str, ip: Option<IpAddr>) {
        self.failures
            .lock()
            .expect("not poisoned")
            .remove(&(account.to_owned(), ip));
    }

    /// One tenant created by `user`.
    pub fn tenant_created(&self, user: UserId) -> Result<(), ApiError> {
        self.check(&self.tenants, &user, "tenants")
    }

    /// One invitation sent (or sent again) by `inviter` for `tenant`.
    pub fn invitation(&self, inviter: UserId, tenant: TenantId) -> Result<(), ApiError> {
        let [by_user_hour, by_user_day, by_tenant_hour, by_tenant_day] = &self.invitations;
        self.check(by_user_hour, &inviter.0, "invitations")?;
        self.check(by_user_day, &inviter.0, "invitations")?;
        self.check(by_tenant_hour, &tenant.0, "invitations")?;
        self.check(by_tenant_day, &tenant.0, "invitations")
    }

    /// A slot for `user` to run an import in, taken before its body is
    /// read: 429 while one of theirs runs, or while [`IMPORTS_AT_ONCE`] do.
    pub fn import(&self, user: UserId) -> Result<ImportSlot, ApiError> {
        let mut running = self.imports.lock().expect("not poisoned");
        if running.contains(&user) || running.len() >= IMPORTS_AT_ONCE {
            tracing::info!(limit = "imports", "throttled");
            return Err(too_many("imports", Duration::from_secs(5)));
        }
        running.insert(user);
        Ok(ImportSlot {
            running: std::sync::Arc::clone(&self.imports),
            user,
        })
    }

    /// One event for `key` against `limiter`; 429 once its quota is spent.
    /// (The request's span says who: client IP and user id.)
    fn check<K: std::hash::Hash + Eq + Clone>(
        &self,
        limiter: &DefaultKeyedRateLimiter<K>,
        key: &K,
        limit: &'static str,
    ) -> Result<(), ApiError> {
        prune(limiter);
        limiter.check_key(key).map_err(|not_until| {
            tracing::info!(limit, "throttled");
            too_many(limit, not_until.wait_time_from(self.clock.now()))
        })
    }
}

/// Drops the state of keys whose limits have fully recovered, once the map
/// is large.
fn prune<K: std::hash::Hash + Eq + Clone>(limiter: &DefaultKeyedRateLimiter<K>) {
    if limiter.len() >= PRUNE_AT {
        limiter.retain_recent();
        limiter.shrink_to_fit();
    }
}

fn too_many(limit: &'static str, wait: Duration) -> ApiError {
    crate::monitoring::throttled(limit);
    // Whole seconds, rounded up: Retry-After: 0 would invite a hot loop.
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    ApiError::TooManyRequests {
        retry_after: secs.max(1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn retry_after(e: ApiError) -> u64 {
        match e {
            ApiError::TooManyRequests { retry_after } => retry_after,
            other => panic!("expected 429, got {other:?}"),
        }
    }

    #[test]
    fn failures_escalate_for_the_guessing_client_only() {
        let t = Throttle::new(1000, 10, 10);
        let attacker = Some("203.0.113.7".parse().unwrap());
        let owner = Some("198.51.100.1".parse().unwrap());
        for _ in 0..FREE_FAILURES {
            t.login_attempt("alice@x.io", attacker, false).unwrap();
            t.login_failed("alice@x.io", attacker);
        }
        t.login_attempt("alice@x.io", attacker, false).unwrap();
        t.login_failed("alice@x.io", attacker);
        assert_eq!(
            retry_after(t.login_attempt("alice@x.io", attacker, false).unwrap_err()),
            1
        );
        // The owner, elsewhere, is not held up.
        t.login_attempt("alice@x.io", owner, false).unwrap();
        t.login_succeeded("alice@x.io", owner);
    }

    #[test]
    fn the_delay_doubles_and_is_capped() {
        let t = Throttle::new(1000, 10, 10);
        let ip = Some("203.0.113.7".parse().unwrap());
        for _ in 0..(FREE_FAILURES + 40) {
            t.login_failed("a@x.io", ip);
        }
        let wait = retry_after(t.login_attempt("a@x.io", ip, true).unwrap_err());
        assert!(wait <= MAX_DELAY.as_secs() && wait > 60, "{wait}");
        t.login_succeeded("a@x.io", ip);
        t.login_attempt("a@x.io", ip, true).unwrap();
    }

    #[test]
    fn one_account_is_limited_from_everywhere() {
        let t = Throttle::new(1000, 10, 10);
        for _ in 0..ACCOUNT_ACTIONS_PER_MINUTE {
            t.account("probe@x.io").unwrap();
        }
        assert!(retry_after(t.account("probe@x.io").unwrap_err()) >= 1);
        t.account("other@x.io").unwrap();
        // Password checks are not counted here.
        t.login_attempt("probe@x.io", None, false).unwrap();
    }

    /// Guesses from many addresses close the account to unknown devices
    /// after 100 failures at most, never to a device it knows.
    #[test]
    fn many_guessers_cannot_lock_out_a_known_device() {
        let t = Throttle::new(1_000_000, 10, 10);
        let mut checked = 0;
        for i in 0..1000u32 {
            let ip = Some(IpAddr::from([203, 0, (i / 250) as u8, (i % 250) as u8]));
            if t.login_attempt("alice@x.io", ip, false).is_ok() {
                checked += 1;
                t.login_failed("alice@x.io", ip);
            }
        }
        assert!(
            (ACCOUNT_FAILURES_PER_HOUR..=100).contains(&checked),
            "{checked} password checks"
        );
        let home = Some("198.51.100.1".parse().unwrap());
        assert!(t.login_attempt("alice@x.io", home, false).is_err(), "a stranger waits");
        t.login_attempt("alice@x.io", home, true).unwrap();
        t.login_attempt("bob@x.io", home, false).unwrap();
    }

    #[test]
    fn reset_mails_to_one_address_are_limited_and_answer_the_same() {
        let t = Throttle::new(1000, 10, 10);
        for _ in 0..RESET_MAILS_PER_HOUR {
            assert!(t.reset_mail("alice@x.io"));
        }
        assert!(!t.reset_mail("alice@x.io"));
        assert!(t.reset_mail("bob@x.io"));
        // Logins are not touched by it.
        t.login_attempt("alice@x.io", None, false).unwrap();
    }

    #[test]
    fn invitations_are_limited_per_inviter_and_per_tenant() {
        let t = Throttle::new(1000, 10, 3);
        let (ann, bob) = (UserId::new(), UserId::new());
        let (acme, other) = (TenantId(Uuid::new_v4()), TenantId(Uuid::new_v4()));
        for _ in 0..3 {
            t.invitation(ann, acme).unwrap();
        }
        assert!(
            retry_after(t.invitation(ann, other).unwrap_err()) >= 1,
            "the inviter's hour is spent"
        );
        for _ in 0..3 {
            t.invitation(bob, acme).unwrap();
        }
        assert!(
            t.invitation(UserId::new(), acme).is_err(),
            "the tenant's hour (twice) is spent"
        );
        t.invitation(UserId::new(), other).unwrap();
    }

    #[test]
    fn clients_are_limited_per_ip() {
        let t = Throttle::new(3, 10, 10);
        let ip = Some("203.0.113.7".parse().unwrap());
        for _ in 0..3 {
            t.client(ip).unwrap();
        }
        assert!(retry_after(t.client(ip).unwrap_err()) >= 1);
        t.client(Some("203.0.113.8".parse().unwrap())).unwrap();
    }
}
