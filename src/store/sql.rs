//! SQL text shared by the store's files and both backends' own code (the
//! last-owner rule lives in each backend; what it runs alongside is here).
//! It imports nothing, so every file of the store may use it.
//!
//! Statements are fixed text; where callers add a clause, they add it at
//! compile time (`concat!`), never by formatting at run time.

/// The member query: the shared SELECT; callers append the WHERE.
macro_rules! member_query {
    ($where:literal) => {
        concat!(
            "SELECT u.id, u.email, u.name, tu.role, tu.created_at
             FROM tenant_users tu JOIN users u ON u.id = tu.user_id ",
            $where
        )
    };
}
pub(super) use member_query;

/// Withdraws the pending invitations to tenant `$1` that `$2` sent (they
/// stop being an owner there, or leave): the invitation would otherwise
/// still grant what its sender no longer may.
pub(super) const FORGET_INVITATIONS_BY: &str = "DELETE FROM invitations WHERE tenant_id = $1 AND invited_by = $2";

/// Stops `$2`'s timer if it runs in tenant `$1` (the member is leaving it:
/// the timer would keep showing a tenant they can no longer open).
pub(super) const STOP_TIMER_IN_TENANT: &str = "DELETE FROM timers WHERE tenant_id = $1 AND user_id = $2";
