//! Accepting an invitation: the rules around the store's one transaction
//! (which makes the membership and uses the invitation up together).

use crate::auth::secret_hash;
use crate::store::prelude::*;
use crate::store::{Membership, Store, StoreError, User};

/// Why an invitation was not accepted.
#[derive(Debug)]
pub enum NotAccepted {
    /// Where this server sends mail, the account's address is not proven
    /// yet (the invitation waits for it).
    Unproven,
    /// No live invitation has this link.
    NoInvitation,
    /// It was sent to another address (it stays for its owner).
    OtherAddress,
    /// Already a member (the invitation is used up).
    AlreadyMember,
    Store(StoreError),
}

/// Where emails are verified (`mail_on`), only a proven address may take
/// what was sent to it, or make credentials that last (API tokens): an
/// account pre-registered in someone's name gets nothing meant for them.
pub fn address_is_proven(mail_on: bool, user: &User) -> bool {
    !mail_on || user.email_verified
}

/// `user` accepts the invitation behind the link secret `token`.
pub async fn accept_invitation(
    store: &Store,
    mail_on: bool,
    user: &User,
    token: &str,
) -> Result<Membership, NotAccepted> {
    if !address_is_proven(mail_on, user) {
        return Err(NotAccepted::Unproven);
    }
    store
        .accept_invitation(&secret_hash(token.trim()), user.id, &user.email)
        .await
        .map_err(|e| match e {
            StoreError::NotFound => NotAccepted::NoInvitation,
            StoreError::Refused(_) => NotAccepted::OtherAddress,
            StoreError::Conflict => NotAccepted::AlreadyMember,
            e => NotAccepted::Store(e),
        })
}
