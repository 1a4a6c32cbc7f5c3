//! The store contract (src/store/contract.rs), checked directly against both
//! backends: every invariant written on a method, without HTTP in between.
//! Tenant handles come through the doors a server uses: a session's
//! membership check and a claimed job.

// The suite checks the job claim itself, which clippy.toml keeps for the
// estimate worker alone.
#![expect(clippy::disallowed_methods)]

use std::time::Duration;

use aswan::ai::{Ai, JobOutcome};
use aswan::domain::{Email, Role, TenantId, TenantName, TodoFilter, TodoTitle, TokenScope, UserId};
use aswan::store::prelude::*;
use aswan::store::{
    EmailPurpose, EstimateOutcome, EstimateStatus, NewApiToken, NewInvitation, NewSession, NewTodo, OwnerTenant,
    PageRequest, SessionTenant, Store, StoreError, TenantStore, TodoPatch,
};
use aswan::Settings;
use chrono::Utc;
use uuid::Uuid;

use crate::contract_tests;
use crate::fake_ai::{Behaviour, FakeAi};
use crate::helpers::{configure_ai, Backend, TestApp};

contract_tests!(
    a_taken_email_is_a_conflict_and_writes_nothing,
    sessions_end_when_revoked_expired_or_their_user_is_gone,
    api_tokens_are_found_by_hash_until_revoked_or_expired,
    ended_credentials_are_pruned_and_live_ones_stay,
    email_links_are_single_use_and_expire,
    a_password_changes_with_every_credential_at_once,
    a_reset_that_fails_part_way_changes_nothing,
    an_unverified_account_cannot_be_added_directly,
    invitations_go_only_to_their_address_and_once,
    deleting_a_tenant_takes_everything_in_it,
    deleting_an_account_keeps_shared_tenants_owned,
    the_tenant_door_needs_a_live_session_and_a_membership,
    tenants_and_members_are_listed_oldest_first,
    adding_members_reports_unknown_and_duplicate_accounts,
    a_tenant_keeps_its_last_owner,
    racing_demotions_leave_an_owner,
    todos_are_newest_first_and_filtered,
    a_foreign_todo_id_is_not_found_and_untouched,
    creating_queues_the_estimate_leased_to_the_caller,
    a_new_title_drops_the_embedding,
    similar_stays_within_tenant_model_and_distance,
    concurrent_claimers_never_share_a_job,
    a_retried_job_comes_back_with_its_attempts,
    deleting_a_todo_removes_its_job,
    a_todo_deleted_before_its_estimate_is_dropped,
    a_todo_deleted_during_its_estimate_is_dropped,
    titles_containing_matches_words_literally,
    pages_cover_a_list_once_in_order,
);

struct Fixture {
    /// Keeps the SQLite file's folder alive.
    _dir: tempfile::TempDir,
    url: String,
    store: Store,
}

async fn fixture(backend: Backend) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let url = TestApp::fresh_url(backend, &dir).await;
    let store = Store::open(&url, 4).await.expect("the store opens");
    Fixture { _dir: dir, url, store }
}

fn email(s: &str) -> Email {
    Email::parse(s).unwrap()
}

/// An account with a verified email (as after following a verification link).
async fn user(store: &Store, address: &str) -> UserId {
    let id = unverified(store, address).await;
    assert!(store.mark_email_verified(id, address).await.unwrap());
    id
}

async fn unverified(store: &Store, address: &str) -> UserId {
    store
        .create_user(&email(address), None, "$argon2id$fake")
        .await
        .unwrap()
        .id
}

/// A live sign-in session of `user`: its id.
async fn session(store: &Store, user: UserId) -> Uuid {
    let id = Uuid::new_v4();
    store
        .create_session(&NewSession {
            id,
            user,
            expires_at: Utc::now() + chrono::Duration::hours(1),
            user_agent: Some("test".into()),
            ip: None,
        })
        .await
        .unwrap();
    id
}

/// A user with a tenant of their own, and its handle through the session door.
async fn owner_with_tenant(store: &Store, address: &str, name: &str) -> (UserId, OwnerTenant) {
    let owner = user(store, address).await;
    let tenant = store
        .create_tenant(&TenantName::parse(name).unwrap(), owner)
        .await
        .unwrap();
    (owner, owner_door(store, tenant.id, owner).await)
}

/// The door a request goes through; panics unless `user` is a member.
async fn door(store: &Store, tenant: TenantId, user: UserId) -> TenantStore {
    let jti = session(store, user).await;
    match store.tenant_for_session(tenant, user, jti).await.unwrap() {
        SessionTenant::Member(handle, _) => handle,
        SessionTenant::Owner(handle, _) => TenantStore::clone(&handle),
        _ => panic!("{user:?} is not a member of {tenant:?}"),
    }
}

/// The same door for an owner: the handle that can do what only owners
/// may. Panics unless `user` owns the tenant.
async fn owner_door(store: &Store, tenant: TenantId, user: UserId) -> OwnerTenant {
    let jti = session(store, user).await;
    match store.tenant_for_session(tenant, user, jti).await.unwrap() {
        SessionTenant::Owner(handle, _) => handle,
        _ => panic!("{user:?} does not own {tenant:?}"),
    }
}

fn new_todo(title: &str, estimate: bool) -> NewTodo {
    NewTodo {
        title: TodoTitle::parse(title).unwrap(),
        complete: false,
        estimate,
    }
}

async fn titles(t: &TenantStore, filter: TodoFilter) -> Vec<String> {
    t.list_todos(filter, PageRequest::first(1000))
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|t| t.title)
        .collect()
}

async fn a_taken_email_is_a_conflict_and_writes_nothing(backend: Backend) {
    let f = fixture(backend).await;
    let first = f
        .store
        .create_user(&email("a@x.io"), Some("A"), "hash-1")
        .await
        .unwrap();
    let again = f.store.create_user(&email("a@x.io"), Some("B"), "hash-2").await;
    assert!(matches!(again, Err(StoreError::Conflict)), "{again:?}");
    let found = f.store.user_with_password(&email("a@x.io")).await.unwrap().unwrap();
    assert_eq!((found.user.id, found.password_hash.as_str()), (first.id, "hash-1"));
    assert_eq!(
        f.store.user(first.id).await.unwrap().unwrap().name.as_deref(),
        Some("A")
    );
    assert!(f.store.user_with_password(&email("b@x.io")).await.unwrap().is_none());
}

async fn sessions_end_when_revoked_expired_or_their_user_is_gone(backend: Backend) {
    let f = fixture(backend).await;
    let ada = user(&f.store, "ada@x.io").await;
    let (one, two) = (session(&f.store, ada).await, session(&f.store, ada).await);
    assert!(f.store.credential_is_live(one, ada).await.unwrap());
    assert!(!f.store.credential_is_live(Uuid::new_v4(), ada).await.unwrap());
    assert!(
        !f.store.credential_is_live(one, UserId::new()).await.unwrap(),
        "another user's id"
    );
    assert_eq!(f.store.sessions_of(ada).await.unwrap().len(), 2);
    assert!(f.store.revoke_session(ada, one).await.unwrap());
    assert!(
        !f.store.revoke_session(ada, one).await.unwrap(),
        "twice: no such live session"
    );
    assert!(!f.store.credential_is_live(one, ada).await.unwrap());
    let bob = user(&f.store, "bob@x.io").await;
    assert!(!f.store.revoke_session(bob, two).await.unwrap(), "not bob's to end");
    // Expired: not live, not listed.
    let old = Uuid::new_v4();
    let expired = NewSession {
        id: old,
        user: ada,
        expires_at: Utc::now() - chrono::Duration::seconds(1),
        user_agent: None,
        ip: None,
    };
    f.store.create_session(&expired).await.unwrap();
    assert!(!f.store.credential_is_live(old, ada).await.unwrap());
    let listed: Vec<Uuid> = f.store.sessions_of(ada).await.unwrap().iter().map(|s| s.id).collect();
    assert_eq!(listed, [two]);
    // Everywhere but one; then the user goes, and so does the rest.
    let three = session(&f.store, ada).await;
    assert_eq!(f.store.end_credentials(ada, Some(three)).await.unwrap(), 1);
    assert!(f.store.credential_is_live(three, ada).await.unwrap());
    f.store.delete_user(ada).await.unwrap();
    assert!(!f.store.credential_is_live(three, ada).await.unwrap());
}

async fn api_tokens_are_found_by_hash_until_revoked_or_expired(backend: Backend) {
    let f = fixture(backend).await;
    let ada = user(&f.store, "ada@x.io").await;
    let new = |name: &str, hash: &str, expires_at| NewApiToken {
        user: ada,
        name: name.into(),
        token_hash: hash.into(),
        expires_at,
        scope: TokenScope::Write,
    };
    let ci = f.store.create_api_token(&new("ci", "h1", None)).await.unwrap();
    let gone = Utc::now() - chrono::Duration::seconds(1);
    f.store.create_api_token(&new("old", "h2", Some(gone))).await.unwrap();
    assert_eq!(
        f.store.api_token("h1").await.unwrap(),
        Some((ci.id, ada, TokenScope::Write))
    );
    assert_eq!(f.store.api_token("h2").await.unwrap(), None, "expired");
    assert_eq!(f.store.api_token("nope").await.unwrap(), None);
    assert!(f.store.credential_is_live(ci.id, ada).await.unwrap());
    let listed: Vec<String> = f
        .store
        .api_tokens_of(ada)
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(listed, ["ci"]);
    f.store.touch_credential(ci.id, Utc::now()).await.unwrap();
    assert!(f.store.api_tokens_of(ada).await.unwrap()[0].last_used_at.is_some());
    let bob = user(&f.store, "bob@x.io").await;
    assert!(!f.store.revoke_api_token(bob, ci.id).await.unwrap(), "not bob's");
    assert!(f.store.revoke_api_token(ada, ci.id).await.unwrap());
    assert_eq!(f.store.api_token("h1").await.unwrap(), None);
    assert!(!f.store.credential_is_live(ci.id, ada).await.unwrap());
    let taken = f.store.create_api_token(&new("again", "h1", None)).await;
    assert!(taken.is_err(), "a hash is unique");
}

/// Housekeeping deletes what can no longer be used (revoked or expired
/// sessions and tokens), and nothing else. (Before: ended
/// sessions were kept forever.)
async fn ended_credentials_are_pruned_and_live_ones_stay(backend: Backend) {
    let f = fixture(backend).await;
    let ada = user(&f.store, "ada@x.io").await;
    let live = session(&f.store, ada).await;
    let revoked = session(&f.store, ada).await;
    assert!(f.store.revoke_session(ada, revoked).await.unwrap());
    let expired = Uuid::new_v4();
    f.store
        .create_session(&NewSession {
            id: expired,
            user: ada,
            expires_at: Utc::now() - chrono::Duration::seconds(1),
            user_agent: None,
            ip: None,
        })
        .await
        .unwrap();
    let token = |name: &str, hash: &str| NewApiToken {
        user: ada,
        name: name.into(),
        token_hash: hash.into(),
        expires_at: None,
        scope: TokenScope::Read,
    };
    let kept = f.store.create_api_token(&token("kept", "k1")).await.unwrap();
    let ended = f.store.create_api_token(&token("ended", "k2")).await.unwrap();
    assert!(f.store.revoke_api_token(ada, ended.id).await.unwrap());
    let hour = chrono::Duration::hours(1);
    f.store
        .create_email_token(
            ada,
            EmailPurpose::VerifyEmail,
            "new-link",
            "ada@x.io",
            Utc::now() + hour,
        )
        .await
        .unwrap();

    assert_eq!(f.store.prune_ended_credentials(Utc::now()).await.unwrap(), 3);
    assert_eq!(
        f.store.prune_ended_credentials(Utc::now()).await.unwrap(),
        0,
        "nothing left to prune"
    );
    assert!(f.store.credential_is_live(live, ada).await.unwrap());
    assert!(f.store.credential_is_live(kept.id, ada).await.unwrap());
    assert!(f
        .store
        .take_email_token("new-link", EmailPurpose::VerifyEmail)
        .await
        .unwrap()
        .is_some());
}

/// A reset whose step that ends the sessions fails (a trigger injects the
/// failure) leaves the old password, the sessions and the link as they
/// were: the use case is one transaction. (Before: four transactions; a
/// failure after the second left the new password set and the old sessions
/// alive.)
async fn a_reset_that_fails_part_way_changes_nothing(backend: Backend) {
    use sqlx::{Connection, Executor};
    let f = fixture(backend).await;
    let ada = unverified(&f.store, "ada@x.io").await;
    let one = session(&f.store, ada).await;
    let before = f.store.password_hash(ada).await.unwrap();
    let hour = Utc::now() + chrono::Duration::hours(1);
    f.store
        .create_email_token(ada, EmailPurpose::ResetPassword, "r1", "ada@x.io", hour)
        .await
        .unwrap();
    let (inject, remove): (&[&str], &[&str]) = match backend {
        Backend::Sqlite => (
            &["CREATE TRIGGER inject BEFORE UPDATE ON sessions BEGIN SELECT RAISE(ABORT, 'injected'); END"],
            &["DROP TRIGGER inject"],
        ),
        Backend::Postgres | Backend::Citus => (
            &[
                "CREATE FUNCTION public.inject() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'injected'; END $$",
                "CREATE TRIGGER inject BEFORE UPDATE ON auth.sessions FOR EACH STATEMENT EXECUTE FUNCTION public.inject()",
            ],
            &["DROP TRIGGER inject ON auth.sessions"],
        ),
    };
    let run = |statements: &'static [&'static str]| {
        let url = f.url.clone();
        async move {
            match backend {
                Backend::Sqlite => {
                    let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
                    for sql in statements {
                        c.execute(*sql).await.unwrap();
                    }
                }
                Backend::Postgres | Backend::Citus => {
                    let mut c = sqlx::PgConnection::connect(&url).await.unwrap();
                    for sql in statements {
                        c.execute(*sql).await.unwrap();
                    }
                }
            }
        }
    };
    run(inject).await;
    assert!(
        f.store.reset_password("r1", "new-hash").await.is_err(),
        "the injected failure"
    );
    assert_eq!(
        f.store.password_hash(ada).await.unwrap(),
        before,
        "the old password stays"
    );
    assert!(f.store.credential_is_live(one, ada).await.unwrap(), "the session stays");
    assert!(
        f.store
            .email_link_is_live("r1", EmailPurpose::ResetPassword)
            .await
            .unwrap(),
        "the link was not used up"
    );
    assert!(!f.store.user(ada).await.unwrap().unwrap().email_verified);
    run(remove).await;
    assert_eq!(f.store.reset_password("r1", "new-hash").await.unwrap(), Some(ada));
    assert!(!f.store.credential_is_live(one, ada).await.unwrap());
}

/// A reset and a change are one transaction each: the password, every
/// credential and the reset links change together, or (a link that does not
/// work) nothing does.
async fn a_password_changes_with_every_credential_at_once(backend: Backend) {
    let f = fixture(backend).await;
    let ada = unverified(&f.store, "ada@x.io").await;
    let (one, two) = (session(&f.store, ada).await, session(&f.store, ada).await);
    let token = f
        .store
        .create_api_token(&NewApiToken {
            user: ada,
            name: "ci".into(),
            token_hash: "t1".into(),
            expires_at: None,
            scope: TokenScope::Write,
        })
        .await
        .unwrap();
    let hour = Utc::now() + chrono::Duration::hours(1);
    let before = f.store.password_hash(ada).await.unwrap();
    // An unknown link changes nothing.
    assert_eq!(f.store.reset_password("nope", "new-hash").await.unwrap(), None);
    assert_eq!(f.store.password_hash(ada).await.unwrap(), before);
    assert!(f.store.credential_is_live(one, ada).await.unwrap());
    assert!(f.store.credential_is_live(token.id, ada).await.unwrap());
    // A live link changes everything at once.
    f.store
        .create_email_token(ada, EmailPurpose::ResetPassword, "r1", "ada@x.io", hour)
        .await
        .unwrap();
    assert!(f
        .store
        .email_link_is_live("r1", EmailPurpose::ResetPassword)
        .await
        .unwrap());
    assert!(!f
        .store
        .email_link_is_live("r1", EmailPurpose::VerifyEmail)
        .await
        .unwrap());
    assert_eq!(f.store.reset_password("r1", "new-hash").await.unwrap(), Some(ada));
    assert_eq!(f.store.password_hash(ada).await.unwrap().as_deref(), Some("new-hash"));
    for id in [one, two, token.id] {
        assert!(!f.store.credential_is_live(id, ada).await.unwrap(), "{id} ended");
    }
    assert!(
        f.store.user(ada).await.unwrap().unwrap().email_verified,
        "the link proved the address"
    );
    assert_eq!(f.store.reset_password("r1", "again").await.unwrap(), None, "single use");
    // A change keeps the asking session and kills an unused reset link.
    let (kept, other) = (session(&f.store, ada).await, session(&f.store, ada).await);
    f.store
        .create_email_token(ada, EmailPurpose::ResetPassword, "r2", "ada@x.io", hour)
        .await
        .unwrap();
    f.store.change_password(ada, "newer-hash", Some(kept)).await.unwrap();
    assert!(f.store.credential_is_live(kept, ada).await.unwrap());
    assert!(!f.store.credential_is_live(other, ada).await.unwrap());
    assert!(!f
        .store
        .email_link_is_live("r2", EmailPurpose::ResetPassword)
        .await
        .unwrap());
    assert_eq!(f.store.reset_password("r2", "x").await.unwrap(), None);
    assert_eq!(f.store.password_hash(ada).await.unwrap().as_deref(), Some("newer-hash"));
    // A user who is gone: not found, nothing written.
    let ghost = UserId::new();
    assert!(matches!(
        f.store.change_password(ghost, "h", None).await,
        Err(aswan::store::StoreError::NotFound)
    ));
}

async fn email_links_are_single_use_and_expire(backend: Backend) {
    let f = fixture(backend).await;
    let ada = unverified(&f.store, "ada@x.io").await;
    let soon = Utc::now() + chrono::Duration::minutes(30);
    f.store
        .create_email_token(ada, EmailPurpose::VerifyEmail, "v1", "ada@x.io", soon)
        .await
        .unwrap();
    // A second link of the same purpose replaces the first.
    f.store
        .create_email_token(ada, EmailPurpose::VerifyEmail, "v2", "ada@x.io", soon)
        .await
        .unwrap();
    assert_eq!(
        f.store.take_email_token("v1", EmailPurpose::VerifyEmail).await.unwrap(),
        None
    );
    assert_eq!(
        f.store
            .take_email_token("v2", EmailPurpose::ResetPassword)
            .await
            .unwrap(),
        None,
        "another purpose"
    );
    let taken = f.store.take_email_token("v2", EmailPurpose::VerifyEmail).await.unwrap();
    assert_eq!(taken, Some((ada, "ada@x.io".to_owned())));
    assert_eq!(
        f.store.take_email_token("v2", EmailPurpose::VerifyEmail).await.unwrap(),
        None,
        "used"
    );
    let past = Utc::now() - chrono::Duration::seconds(1);
    f.store
        .create_email_token(ada, EmailPurpose::ResetPassword, "r1", "ada@x.io", past)
        .await
        .unwrap();
    assert_eq!(
        f.store
            .take_email_token("r1", EmailPurpose::ResetPassword)
            .await
            .unwrap(),
        None,
        "expired"
    );
    // Verifying proves only the address the link went to.
    assert!(!f.store.mark_email_verified(ada, "other@x.io").await.unwrap());
    assert!(!f.store.user(ada).await.unwrap().unwrap().email_verified);
    assert!(f.store.mark_email_verified(ada, "ada@x.io").await.unwrap());
    assert!(f.store.user(ada).await.unwrap().unwrap().email_verified);
}

async fn an_unverified_account_cannot_be_added_directly(backend: Backend) {
    let f = fixture(backend).await;
    let (_, t) = owner_with_tenant(&f.store, "ada@x.io", "A").await;
    unverified(&f.store, "mallory@x.io").await;
    let added = t.add_member(&email("mallory@x.io"), Role::Member).await;
    assert!(matches!(added, Err(StoreError::Refused(_))), "{added:?}");
    assert_eq!(t.members(PageRequest::first(100)).await.unwrap().items.len(), 1);
}

async fn invitations_go_only_to_their_address_and_once(backend: Backend) {
    let f = fixture(backend).await;
    let (ada, t) = owner_with_tenant(&f.store, "ada@x.io", "Acme").await;
    let invite = |address: &str, hash: &str, role| NewInvitation {
        email: email(address),
        role,
        token_hash: hash.into(),
        invited_by: ada,
        expires_at: Utc::now() + chrono::Duration::days(7),
    };
    let first = t.invite(&invite("bob@x.io", "i1", Role::Member)).await.unwrap();
    // Inviting the same address again replaces the pending invitation.
    t.invite(&invite("bob@x.io", "i2", Role::Owner)).await.unwrap();
    let pending = t.invitations().await.unwrap();
    assert_eq!(pending.len(), 1);
    assert_ne!(pending[0].id, first.id);
    assert_eq!(pending[0].role, Role::Owner);
    assert!(
        f.store.invitation("i1").await.unwrap().is_none(),
        "the old link is dead"
    );
    let seen = f.store.invitation("i2").await.unwrap().unwrap();
    assert_eq!((seen.tenant_name.as_str(), seen.email.as_str()), ("Acme", "bob@x.io"));
    // Someone else's account cannot take it, and it stays.
    let mallory = user(&f.store, "mallory@x.io").await;
    let stolen = f.store.accept_invitation("i2", mallory, "mallory@x.io").await;
    assert!(matches!(stolen, Err(StoreError::Refused(_))), "{stolen:?}");
    // Bob signs up after the invitation was sent, and accepts once.
    let bob = user(&f.store, "bob@x.io").await;
    let joined = f.store.accept_invitation("i2", bob, "bob@x.io").await.unwrap();
    assert_eq!((joined.tenant.id, joined.role), (t.tenant_id(), Role::Owner));
    let again = f.store.accept_invitation("i2", bob, "bob@x.io").await;
    assert!(matches!(again, Err(StoreError::NotFound)), "{again:?}");
    assert!(t.invitations().await.unwrap().is_empty());
    // A member cannot be invited; revoke and renew work on this tenant's only.
    let member = t.invite(&invite("bob@x.io", "i3", Role::Member)).await;
    assert!(matches!(member, Err(StoreError::Conflict)), "{member:?}");
    let carol = t.invite(&invite("carol@x.io", "i4", Role::Member)).await.unwrap();
    let later = Utc::now() + chrono::Duration::days(7);
    let (_, other) = owner_with_tenant(&f.store, "zed@x.io", "Other").await;
    assert!(other.renew_invitation(carol.id, "i5", later).await.unwrap().is_none());
    assert!(!other.revoke_invitation(carol.id).await.unwrap());
    assert!(t.renew_invitation(carol.id, "i5", later).await.unwrap().is_some());
    assert!(f.store.invitation("i4").await.unwrap().is_none());
    assert!(t.revoke_invitation(carol.id).await.unwrap());
    assert!(f.store.invitation("i5").await.unwrap().is_none());
}

async fn deleting_a_tenant_takes_everything_in_it(backend: Backend) {
    let f = fixture(backend).await;
    let (ada, t) = owner_with_tenant(&f.store, "ada@x.io", "A").await;
    let (_, keep) = owner_with_tenant(&f.store, "zed@x.io", "Kept").await;
    t.create_todo(&new_todo("one", true)).await.unwrap();
    keep.create_todo(&new_todo("kept", true)).await.unwrap();
    user(&f.store, "bob@x.io").await;
    t.add_member(&email("bob@x.io"), Role::Member).await.unwrap();
    let invitation = NewInvitation {
        email: email("carol@x.io"),
        role: Role::Member,
        token_hash: "inv".into(),
        invited_by: ada,
        expires_at: Utc::now() + chrono::Duration::days(7),
    };
    t.invite(&invitation).await.unwrap();
    t.delete_tenant().await.unwrap();
    assert!(f
        .store
        .tenants_of(ada, PageRequest::first(10))
        .await
        .unwrap()
        .items
        .is_empty());
    assert!(f.store.invitation("inv").await.unwrap().is_none());
    assert!(matches!(t.info().await, Err(StoreError::NotFound)));
    assert!(f
        .store
        .claim_estimate_jobs(10)
        .await
        .unwrap()
        .iter()
        .all(|j| j.tenant.tenant_id() == keep.tenant_id()));
    assert_eq!(
        keep.list_todos(TodoFilter::default(), PageRequest::first(10))
            .await
            .unwrap()
            .items
            .len(),
        1
    );
}

async fn deleting_an_account_keeps_shared_tenants_owned(backend: Backend) {
    let f = fixture(backend).await;
    let (ada, shared) = owner_with_tenant(&f.store, "ada@x.io", "Shared").await;
    let alone = f
        .store
        .create_tenant(&TenantName::parse("Alone").unwrap(), ada)
        .await
        .unwrap();
    user(&f.store, "bob@x.io").await;
    let bob = shared.add_member(&email("bob@x.io"), Role::Member).await.unwrap();
    let refused = f.store.delete_user(ada).await;
    assert!(matches!(refused, Err(StoreError::LastOwner)), "{refused:?}");
    assert!(f.store.user(ada).await.unwrap().is_some(), "nothing deleted");
    shared.set_member_role(bob.user_id, Role::Owner).await.unwrap();
    let deleted = f.store.delete_user(ada).await.unwrap();
    assert_eq!(deleted, [alone.id], "the tenant only ada was in goes with her");
    assert!(f.store.user(ada).await.unwrap().is_none());
    let left: Vec<String> = shared
        .members(PageRequest::first(10))
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|m| m.email)
        .collect();
    assert_eq!(left, ["bob@x.io"]);
}

async fn the_tenant_door_needs_a_live_session_and_a_membership(backend: Backend) {
    let f = fixture(backend).await;
    let (ada, a) = owner_with_tenant(&f.store, "ada@x.io", "A").await;
    let bob = user(&f.store, "bob@x.io").await;
    let jti = session(&f.store, ada).await;
    let found = f.store.tenant_for_session(a.tenant_id(), ada, jti).await.unwrap();
    assert!(matches!(found, SessionTenant::Owner(_, m) if m.role == Role::Owner));
    let bobs = session(&f.store, bob).await;
    let stranger = f.store.tenant_for_session(a.tenant_id(), bob, bobs).await.unwrap();
    assert!(matches!(stranger, SessionTenant::NotMember));
    // Another user's session is no session at all.
    let stranger = f.store.tenant_for_session(a.tenant_id(), bob, jti).await.unwrap();
    assert!(matches!(stranger, SessionTenant::Ended));
    let stranger = f.store.tenant_for_session(a.tenant_id(), bob, bobs).await.unwrap();
    assert!(matches!(stranger, SessionTenant::NotMember));
    // A member's door: the tenant's handle, and no owner's one.
    a.add_member(&Email::parse("bob@x.io").unwrap(), Role::Member)
        .await
        .unwrap();
    let member = f.store.tenant_for_session(a.tenant_id(), bob, bobs).await.unwrap();
    assert!(matches!(member, SessionTenant::Member(_, m) if m.role == Role::Member));
    assert_eq!(door(&f.store, a.tenant_id(), bob).await.tenant_id(), a.tenant_id());
    let nowhere = f.store.tenant_for_session(TenantId::new(), ada, jti).await.unwrap();
    assert!(matches!(nowhere, SessionTenant::NotMember));
    f.store.revoke_session(ada, jti).await.unwrap();
    let ended = f.store.tenant_for_session(a.tenant_id(), ada, jti).await.unwrap();
    assert!(matches!(ended, SessionTenant::Ended));
}

async fn tenants_and_members_are_listed_oldest_first(backend: Backend) {
    let f = fixture(backend).await;
    let (ada, first) = owner_with_tenant(&f.store, "ada@x.io", "First").await;
    let second = f
        .store
        .create_tenant(&TenantName::parse("Second").unwrap(), ada)
        .await
        .unwrap();
    let (_, third) = owner_with_tenant(&f.store, "zed@x.io", "Third").await;
    third.add_member(&email("ada@x.io"), Role::Member).await.unwrap();
    let mine: Vec<_> = f.store.tenants_of(ada, PageRequest::first(100)).await.unwrap().items;
    let names: Vec<_> = mine.iter().map(|m| m.tenant.name.as_str()).collect();
    assert_eq!(names, ["First", "Second", "Third"]);
    assert_eq!(mine[2].role, Role::Member);
    let mut ids = vec![first.tenant_id(), second.id, third.tenant_id()];
    ids.sort();
    assert_eq!(f.store.tenant_ids().await.unwrap(), ids);
    let members: Vec<_> = third
        .members(PageRequest::first(100))
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|m| m.email)
        .collect();
    assert_eq!(members, ["zed@x.io", "ada@x.io"]);
    let renamed = first.rename(&TenantName::parse("Renamed").unwrap()).await.unwrap();
    assert_eq!(renamed.name, "Renamed");
}

async fn adding_members_reports_unknown_and_duplicate_accounts(backend: Backend) {
    let f = fixture(backend).await;
    let (_, t) = owner_with_tenant(&f.store, "ada@x.io", "A").await;
    let unknown = t.add_member(&email("nobody@x.io"), Role::Member).await;
    assert!(matches!(unknown, Err(StoreError::NotFound)), "{unknown:?}");
    user(&f.store, "bob@x.io").await;
    let bob = t.add_member(&email("bob@x.io"), Role::Member).await.unwrap();
    assert_eq!((bob.email.as_str(), bob.role), ("bob@x.io", Role::Member));
    let twice = t.add_member(&email("bob@x.io"), Role::Owner).await;
    assert!(matches!(twice, Err(StoreError::Conflict)), "{twice:?}");
    assert_eq!(t.members(PageRequest::first(100)).await.unwrap().items.len(), 2);
}

async fn a_tenant_keeps_its_last_owner(backend: Backend) {
    let f = fixture(backend).await;
    let (ada, t) = owner_with_tenant(&f.store, "ada@x.io", "A").await;
    let demote = t.set_member_role(ada, Role::Member).await;
    assert!(matches!(demote, Err(StoreError::LastOwner)), "{demote:?}");
    let leave = t.remove_member(ada).await;
    assert!(matches!(leave, Err(StoreError::LastOwner)), "{leave:?}");
    let stranger = t.set_member_role(UserId::new(), Role::Owner).await;
    assert!(matches!(stranger, Err(StoreError::NotFound)), "{stranger:?}");
    assert!(matches!(
        t.remove_member(UserId::new()).await,
        Err(StoreError::NotFound)
    ));
    // With a second owner, either may go.
    let bob = user(&f.store, "bob@x.io").await;
    t.add_member(&email("bob@x.io"), Role::Owner).await.unwrap();
    assert_eq!(t.set_member_role(ada, Role::Member).await.unwrap().role, Role::Member);
    assert!(matches!(t.remove_member(bob).await, Err(StoreError::LastOwner)));
}

async fn racing_demotions_leave_an_owner(backend: Backend) {
    let f = fixture(backend).await;
    for round in 0..5 {
        let (ada, t) = owner_with_tenant(&f.store, &format!("ada{round}@x.io"), "A").await;
        let bob = user(&f.store, &format!("bob{round}@x.io")).await;
        t.add_member(&email(&format!("bob{round}@x.io")), Role::Owner)
            .await
            .unwrap();
        let (one, two) = tokio::join!(t.set_member_role(ada, Role::Member), t.remove_member(bob));
        assert!(one.is_ok() != two.is_ok(), "exactly one wins: {one:?} / {two:?}");
        let owners = t
            .members(PageRequest::first(100))
            .await
            .unwrap()
            .items
            .into_iter()
            .filter(|m| m.role == Role::Owner)
            .count();
        assert_eq!(owners, 1, "round {round}");
    }
}

async fn todos_are_newest_first_and_filtered(backend: Backend) {
    let f = fixture(backend).await;
    let (_, t) = owner_with_tenant(&f.store, "ada@x.io", "A").await;
    for title in ["one", "two", "three"] {
        t.create_todo(&new_todo(title, false)).await.unwrap();
    }
    assert_eq!(titles(&t, TodoFilter::default()).await, ["three", "two", "one"]);
    let two = t
        .list_todos(TodoFilter::default(), PageRequest::first(10))
        .await
        .unwrap()
        .items[1]
        .id;
    let patch = TodoPatch {
        complete: Some(true),
        ..TodoPatch::default()
    };
    t.update_todo(two, &patch).await.unwrap().unwrap();
    assert_eq!(
        titles(
            &t,
            TodoFilter {
                complete: Some(true),
                ..TodoFilter::default()
            }
        )
        .await,
        ["two"]
    );
    assert_eq!(
        titles(
            &t,
            TodoFilter {
                complete: Some(false),
                ..TodoFilter::default()
            }
        )
        .await,
        ["three", "one"]
    );
}

async fn a_foreign_todo_id_is_not_found_and_untouched(backend: Backend) {
    let f = fixture(backend).await;
    let (_, a) = owner_with_tenant(&f.store, "ada@x.io", "A").await;
    let (_, b) = owner_with_tenant(&f.store, "bob@x.io", "B").await;
    let (theirs, _) = b.create_todo(&new_todo("B's secret", true)).await.unwrap();
    let patch = TodoPatch {
        title: Some(TodoTitle::parse("pwned").unwrap()),
        complete: Some(true),
        actual_minutes: Some(5),
    };
    assert!(a.todo(theirs.id).await.unwrap().is_none());
    assert!(a.update_todo(theirs.id, &patch).await.unwrap().is_none());
    assert!(a.request_estimate(theirs.id).await.unwrap().is_none());
    let outcome = EstimateOutcome::Failed { reason: "x".into() };
    assert!(a.save_estimate(theirs.id, &outcome).await.unwrap().is_none());
    assert!(!a.delete_todo(theirs.id).await.unwrap());
    assert!(a
        .list_todos(TodoFilter::default(), PageRequest::first(10))
        .await
        .unwrap()
        .items
        .is_empty());
    let still = b.todo(theirs.id).await.unwrap().unwrap();
    assert_eq!((still.title.as_str(), still.complete), ("B's secret", false));
    assert_eq!(still.estimate_status, EstimateStatus::Pending);
}

async fn creating_queues_the_estimate_leased_to_the_caller(backend: Backend) {
    let f = fixture(backend).await;
    let (_, t) = owner_with_tenant(&f.store, "ada@x.io", "A").await;
    let (todo, job) = t.create_todo(&new_todo("estimate me", true)).await.unwrap();
    assert_eq!(todo.estimate_status, EstimateStatus::Pending);
    let job = job.expect("a job, leased to the caller");
    assert_eq!((job.todo_id, job.attempts), (todo.id, 0));
    // Leased: nobody else can claim it while the caller tries inline.
    assert!(f.store.claim_estimate_jobs(10).await.unwrap().is_empty());
    let (off, none) = t.create_todo(&new_todo("no estimate", false)).await.unwrap();
    assert_eq!(off.estimate_status, EstimateStatus::Off);
    assert!(none.is_none());
    let (again, job) = t.request_estimate(off.id).await.unwrap().unwrap();
    assert_eq!((again.estimate_status, job.todo_id), (EstimateStatus::Pending, off.id));
}

async fn a_new_title_drops_the_embedding(backend: Backend) {
    let f = fixture(backend).await;
    let (_, t) = owner_with_tenant(&f.store, "ada@x.io", "A").await;
    let (todo, _) = t.create_todo(&new_todo("old title", false)).await.unwrap();
    t.save_embedding(todo.id, "m", &[1.0, 0.0, 0.0]).await.unwrap();
    assert_eq!(t.count_stale_embeddings("m").await.unwrap(), 0);
    let same = TodoPatch {
        title: Some(TodoTitle::parse("old title").unwrap()),
        ..TodoPatch::default()
    };
    t.update_todo(todo.id, &same).await.unwrap().unwrap();
    assert_eq!(t.count_stale_embeddings("m").await.unwrap(), 0, "same title: kept");
    let new = TodoPatch {
        title: Some(TodoTitle::parse("new title").unwrap()),
        ..TodoPatch::default()
    };
    t.update_todo(todo.id, &new).await.unwrap().unwrap();
    assert_eq!(t.count_stale_embeddings("m").await.unwrap(), 1);
    assert_eq!(
        t.stale_embeddings("m", 10).await.unwrap(),
        [(todo.id, "new title".to_owned())]
    );
}

async fn similar_stays_within_tenant_model_and_distance(backend: Backend) {
    let f = fixture(backend).await;
    let (_, a) = owner_with_tenant(&f.store, "ada@x.io", "A").await;
    let (_, b) = owner_with_tenant(&f.store, "bob@x.io", "B").await;
    let mut ids = Vec::new();
    for (title, v) in [
        ("near", [1.0, 0.1, 0.0]),
        ("nearer", [1.0, 0.01, 0.0]),
        ("far", [0.0, 1.0, 0.0]),
        ("self", [1.0, 0.0, 0.0]),
    ] {
        let (todo, _) = a.create_todo(&new_todo(title, false)).await.unwrap();
        a.save_embedding(todo.id, "m", &v).await.unwrap();
        ids.push(todo.id);
    }
    let (other_model, _) = a.create_todo(&new_todo("other model", false)).await.unwrap();
    a.save_embedding(other_model.id, "m2", &[1.0, 0.0, 0.0]).await.unwrap();
    let (foreign, _) = b.create_todo(&new_todo("B's twin", false)).await.unwrap();
    b.save_embedding(foreign.id, "m", &[1.0, 0.0, 0.0]).await.unwrap();

    let found = a.similar(&[1.0, 0.0, 0.0], "m", 5, 0.5, Some(ids[3])).await.unwrap();
    let names: Vec<_> = found.iter().map(|b| b.title.as_str()).collect();
    assert_eq!(
        names,
        ["nearer", "near"],
        "nearest first, under the distance, never self"
    );
    assert!(found[0].distance <= found[1].distance);
    let one = a.similar(&[1.0, 0.0, 0.0], "m", 1, 2.0, None).await.unwrap();
    assert_eq!(one.len(), 1, "at most k");
    assert!(
        a.similar(&[1.0, 0.0], "m", 5, 2.0, None).await.unwrap().is_empty(),
        "other dimensions"
    );
}

/// Makes `n` jobs due now in `t` (created leased, then released).
async fn due_jobs(t: &TenantStore, n: usize) {
    for i in 0..n {
        let (_, job) = t.create_todo(&new_todo(&format!("job {i}"), true)).await.unwrap();
        let past = Utc::now() - chrono::Duration::seconds(1);
        t.retry_estimate_job(&job.unwrap(), past, "released for the test")
            .await
            .unwrap();
    }
}

async fn concurrent_claimers_never_share_a_job(backend: Backend) {
    let f = fixture(backend).await;
    let (_, a) = owner_with_tenant(&f.store, "ada@x.io", "A").await;
    let (_, b) = owner_with_tenant(&f.store, "bob@x.io", "B").await;
    due_jobs(&a, 12).await;
    due_jobs(&b, 12).await;
    // A second process: its own pools on the same database.
    let other = Store::open(&f.url, 4).await.unwrap();
    let mut seen = std::collections::HashSet::new();
    loop {
        let (x, y) = tokio::join!(f.store.claim_estimate_jobs(5), other.claim_estimate_jobs(5));
        let claimed: Vec<_> = x.unwrap().into_iter().chain(y.unwrap()).collect();
        if claimed.is_empty() {
            break;
        }
        for c in claimed {
            let todo = c
                .tenant
                .todo(c.job.todo_id)
                .await
                .unwrap()
                .expect("the job's tenant has the todo");
            assert!(seen.insert(todo.id), "claimed twice: {}", todo.title);
        }
    }
    assert_eq!(seen.len(), 24);
    other.close().await;
}

async fn a_retried_job_comes_back_with_its_attempts(backend: Backend) {
    let f = fixture(backend).await;
    let (_, t) = owner_with_tenant(&f.store, "ada@x.io", "A").await;
    due_jobs(&t, 1).await;
    let claimed = f.store.claim_estimate_jobs(10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].job.attempts, 1);
    assert_eq!(claimed[0].tenant.tenant_id(), t.tenant_id());
    // Leased now: not claimable again; retried into the future: not due.
    assert!(f.store.claim_estimate_jobs(10).await.unwrap().is_empty());
    let later = Utc::now() + chrono::Duration::hours(1);
    t.retry_estimate_job(&claimed[0].job, later, "later").await.unwrap();
    assert!(f.store.claim_estimate_jobs(10).await.unwrap().is_empty());
    t.retry_estimate_job(&claimed[0].job, Utc::now() - chrono::Duration::seconds(1), "now")
        .await
        .unwrap();
    let again = f.store.claim_estimate_jobs(10).await.unwrap();
    assert_eq!(again[0].job.attempts, 3);
    t.finish_estimate_job(&again[0].job).await.unwrap();
    t.retry_estimate_job(&again[0].job, Utc::now() - chrono::Duration::seconds(1), "gone")
        .await
        .unwrap();
    assert!(
        f.store.claim_estimate_jobs(10).await.unwrap().is_empty(),
        "finished is gone"
    );
}

async fn deleting_a_todo_removes_its_job(backend: Backend) {
    let f = fixture(backend).await;
    let (_, t) = owner_with_tenant(&f.store, "ada@x.io", "A").await;
    due_jobs(&t, 1).await;
    let id = t
        .list_todos(TodoFilter::default(), PageRequest::first(10))
        .await
        .unwrap()
        .items[0]
        .id;
    assert!(t.delete_todo(id).await.unwrap());
    assert!(!t.delete_todo(id).await.unwrap());
    assert!(f.store.claim_estimate_jobs(10).await.unwrap().is_empty());
}

/// The built-in model and history estimator, or a fake vendor's chat model.
fn ai(vendor: Option<&FakeAi>) -> std::sync::Arc<Ai> {
    let mut s = Settings::defaults();
    if let Some(vendor) = vendor {
        configure_ai(&mut s, &vendor.base_url());
    }
    Ai::from_settings(&s).unwrap().expect("estimates are on")
}

async fn a_todo_deleted_before_its_estimate_is_dropped(backend: Backend) {
    let f = fixture(backend).await;
    let (_, t) = owner_with_tenant(&f.store, "ada@x.io", "A").await;
    let (todo, job) = t.create_todo(&new_todo("short-lived", true)).await.unwrap();
    assert!(t.delete_todo(todo.id).await.unwrap());
    let outcome = ai(None).run_job(TenantStore::clone(&t), job.unwrap()).await;
    assert!(matches!(outcome, JobOutcome::Dropped), "{outcome:?}");
}

async fn a_todo_deleted_during_its_estimate_is_dropped(backend: Backend) {
    let f = fixture(backend).await;
    let vendor = FakeAi::start().await;
    vendor.set_chat(Behaviour::Delay(Duration::from_millis(800)));
    let (_, t) = owner_with_tenant(&f.store, "ada@x.io", "A").await;
    let (todo, job) = t.create_todo(&new_todo("deleted mid-estimate", true)).await.unwrap();
    let running = tokio::spawn(ai(Some(&vendor)).run_job(TenantStore::clone(&t), job.unwrap()));
    crate::helpers::eventually(10, "the chat call starts", || async { vendor.chat_calls() > 0 }).await;
    assert!(t.delete_todo(todo.id).await.unwrap());
    let outcome = running.await.unwrap();
    assert!(matches!(outcome, JobOutcome::Dropped), "{outcome:?}");
    assert!(f.store.claim_estimate_jobs(10).await.unwrap().is_empty(), "not retried");
}

async fn titles_containing_matches_words_literally(backend: Backend) {
    let f = fixture(backend).await;
    let (_, t) = owner_with_tenant(&f.store, "ada@x.io", "A").await;
    for title in ["Fix the LOGIN bug", "Log 100% of errors", "plain_name", "other"] {
        t.create_todo(&new_todo(title, false)).await.unwrap();
    }
    let hits = |needle: &'static str| {
        let t = t.clone();
        async move {
            let found = t.titles_containing(needle, 10).await.unwrap();
            found.into_iter().map(|b| b.title).collect::<Vec<_>>()
        }
    };
    assert_eq!(hits("login").await, ["Fix the LOGIN bug"]);
    assert_eq!(hits("100%").await, ["Log 100% of errors"]);
    assert_eq!(hits("%").await, ["Log 100% of errors"], "% is literal");
    assert_eq!(hits("_").await, ["plain_name"], "_ is literal");
    assert!(hits("zzz").await.is_empty());
}

/// Following the cursors visits every item once, in the list's order, also
/// across ties in the sort key; the last page says there is no next one.
async fn pages_cover_a_list_once_in_order(backend: Backend) {
    let f = fixture(backend).await;
    let (ada, t) = owner_with_tenant(&f.store, "ada@x.io", "A").await;
    for i in 0..23 {
        t.create_todo(&new_todo(&format!("todo {i:02}"), false)).await.unwrap();
    }
    for i in 0..7 {
        let address = format!("m{i}@x.io");
        user(&f.store, &address).await;
        t.add_member(&email(&address), Role::Member).await.unwrap();
        f.store
            .create_tenant(&TenantName::parse(&format!("T{i}")).unwrap(), ada)
            .await
            .unwrap();
    }
    let mut seen = Vec::new();
    let mut page = PageRequest::first(5);
    loop {
        let got = t.list_todos(TodoFilter::default(), page.clone()).await.unwrap();
        assert!(got.items.len() <= 5);
        seen.extend(got.items.into_iter().map(|t| t.title));
        match got.next {
            Some(next) => page.after = Some(next),
            None => break,
        }
    }
    let expected: Vec<String> = (0..23).rev().map(|i| format!("todo {i:02}")).collect();
    assert_eq!(seen, expected);

    let mut members = Vec::new();
    let mut page = PageRequest::first(3);
    loop {
        let got = t.members(page.clone()).await.unwrap();
        members.extend(got.items.into_iter().map(|m| m.email));
        match got.next {
            Some(next) => page.after = Some(next),
            None => break,
        }
    }
    assert_eq!(members.len(), 8);
    assert_eq!(members[0], "ada@x.io");

    let mut tenants = Vec::new();
    let mut page = PageRequest::first(2);
    loop {
        let got = f.store.tenants_of(ada, page.clone()).await.unwrap();
        tenants.extend(got.items.into_iter().map(|m| m.tenant.name));
        match got.next {
            Some(next) => page.after = Some(next),
            None => break,
        }
    }
    assert_eq!(tenants, ["A", "T0", "T1", "T2", "T3", "T4", "T5", "T6"]);
}
