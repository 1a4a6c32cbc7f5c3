//! Accounts people can trust: invitations instead of
//! inherited memberships, look-alike emails, mail through a real SMTP server
//! on loopback, passwords, sessions, API tokens, deletion, one's own data.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::backend_tests;
use crate::helpers::{aswan_command, count_rows, eventually, expect_error, run, Backend, TestApp, User};
use crate::smtp::SmtpSink;

backend_tests!(
    a_preregistered_address_inherits_nothing,
    look_alike_emails_are_refused_or_folded,
    with_mail_only_the_owner_of_the_address_joins,
    a_password_change_ends_the_other_sessions,
    sessions_are_listed_and_ended,
    api_tokens_work_as_bearer_only_until_revoked,
    tenants_and_accounts_are_deleted_with_confirmation,
    my_data_comes_out_as_json,
    the_server_prints_a_reset_link_without_mail,
    migrate_reports_old_addresses_that_would_collide,
    ended_sessions_and_tokens_are_pruned_by_the_server,
    mail_asked_for_just_before_shutdown_is_still_sent,
);

/// An app that sends mail to `smtp`, with links to PUBLIC_URL.
async fn with_mail(backend: Backend, smtp: &SmtpSink) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let url = TestApp::fresh_url(backend, &dir).await;
    let smtp_url = smtp.url();
    TestApp::spawn_configured(backend, url, dir, move |s| {
        s.smtp_url = Some(aswan::config::Secret::new(smtp_url));
        s.smtp_from = "Aswan <aswan@aswan.test>".into();
        s.public_url = Some("http://aswan.test".into());
    })
    .await
}

async fn sign_up(app: &TestApp, email: &str, password: &str) -> reqwest::Response {
    app.anon()
        .post("/api/sign-up", json!({ "email": email, "password": password }))
        .await
}

async fn login(app: &TestApp, email: &str, password: &str) -> reqwest::Response {
    app.anon()
        .post("/api/login", json!({ "email": email, "password": password }))
        .await
}

async fn token_of(res: reqwest::Response) -> String {
    assert_eq!(res.status(), StatusCode::OK);
    res.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// A takeover by pre-registration, without mail: Mallory signs up first
/// with Alice's address; the owner adds it directly; Mallory used to see the
/// tenant. Now the direct add is refused (the address is not proven) and
/// Mallory has nothing.
async fn a_preregistered_address_inherits_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.user("owner@corp.example").await;
    let t = owner.tenant("Corp").await;
    owner.todo(t, "Secret roadmap").await;
    let mallory = app.user("alice@corp.example").await;
    expect_error(
        sign_up(&app, "alice@corp.example", "correct horse").await,
        StatusCode::CONFLICT,
    )
    .await;
    let res = owner
        .client
        .post(
            &format!("/api/tenants/{t}/members"),
            json!({ "email": "Alice@Corp.example" }),
        )
        .await;
    expect_error(res, StatusCode::CONFLICT).await;
    let mine: Value = mallory.client.get("/api/tenants").await.json().await.unwrap();
    assert_eq!(mine, json!([]));
    expect_error(
        mallory.client.get(&format!("/api/tenants/{t}/todos")).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    // An invitation's link goes to whom the owner gives it; someone else's
    // account cannot use it.
    let link = owner.invite(t, "carol@corp.example", "member").await;
    expect_error(mallory.accept(&link).await, StatusCode::FORBIDDEN).await;
    let carol = app.user("carol@corp.example").await;
    assert_eq!(carol.accept(&link).await.status(), StatusCode::OK);
    expect_error(carol.accept(&link).await, StatusCode::NOT_FOUND).await;
    assert_eq!(carol.titles(t).await, ["Secret roadmap"]);
}

/// Each look-alike address is refused, or becomes the address
/// it imitates (and then meets the existing account).
async fn look_alike_emails_are_refused_or_folded(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.user("alice@corp.example").await;
    app.user("jos\u{e9}@corp.example").await;
    for sneaky in [
        "ali\u{202E}ce@corp.example",
        "ali\u{200B}ce@corp.example",
        "ali\u{2060}ce@corp.example",
        "ali\u{AD}ce@corp.example",
        "alice@co\u{AD}rp.example",
        "\u{430}lice@corp.example",
        "alice@c\u{43E}rp.example",
    ] {
        let res = sign_up(&app, sneaky, "correct horse").await;
        expect_error(res, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    for same in [
        "jose\u{301}@corp.example",
        "\u{FF41}lice@corp.example",
        "ALICE@corp.example",
    ] {
        expect_error(sign_up(&app, same, "correct horse").await, StatusCode::CONFLICT).await;
    }
    // And the login of the folded form reaches the account.
    assert_eq!(
        login(&app, "jose\u{301}@corp.example", "correct horse").await.status(),
        StatusCode::OK
    );
}

/// With mail: sign-up sends a verification link; an invitation is mailed;
/// a squatter holding the address's account cannot accept it (unverified),
/// the real owner of the address takes the account back by a password reset
/// (which ends the squatter's sessions) and joins from the mailed link.
async fn with_mail_only_the_owner_of_the_address_joins(backend: Backend) {
    let smtp = SmtpSink::start().await;
    let app = with_mail(backend, &smtp).await;
    let owner = app.user("owner@corp.example").await;
    let verify = smtp.wait_for("owner@corp.example", "Confirm your email").await;
    assert!(verify.raw.contains("multipart/alternative") && verify.raw.contains("text/html"));
    assert_eq!(verify.header("From").unwrap(), "Aswan <aswan@aswan.test>");
    let link = verify.link("http://aswan.test/verify-email/");
    let token = link.rsplit('/').next().unwrap();
    let res = app.anon().post("/api/verify-email", json!({ "token": token })).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    expect_error(
        app.anon().post("/api/verify-email", json!({ "token": token })).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    let me: Value = owner.client.get("/api/me").await.json().await.unwrap();
    assert_eq!(me["email_verified"], true);

    let t = owner.tenant("Corp").await;
    let mallory = app.user("alice@corp.example").await;
    let res = owner
        .client
        .post(
            &format!("/api/tenants/{t}/invitations"),
            json!({ "email": "alice@corp.example" }),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let sent: Value = res.json().await.unwrap();
    assert_eq!(sent["emailed"], true);
    let invitation = smtp
        .wait_for("alice@corp.example", "You have an invitation on Aswan")
        .await;
    assert!(invitation.text.contains("join Corp"), "the body names the tenant");
    let link = invitation.link("http://aswan.test/invite/");
    assert_eq!(link, sent["link"].as_str().unwrap());
    // Even holding the link, the squatter's unproven address takes nothing.
    let detail = expect_error(mallory.accept(&link).await, StatusCode::FORBIDDEN).await;
    assert!(detail.contains("verify"), "{detail}");

    // The real Alice resets the password from her mailbox.
    let res = app
        .anon()
        .post("/api/password-reset", json!({ "email": "alice@corp.example" }))
        .await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let unknown = app
        .anon()
        .post("/api/password-reset", json!({ "email": "nobody@corp.example" }))
        .await;
    assert_eq!(unknown.status(), StatusCode::ACCEPTED, "the same answer for no account");
    let reset = smtp.wait_for("alice@corp.example", "Reset your Aswan password").await;
    let secret = reset
        .link("http://aswan.test/reset-password/")
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    let weak = app
        .anon()
        .post(
            "/api/password-reset/confirm",
            json!({ "token": secret, "password": "password1" }),
        )
        .await;
    expect_error(weak, StatusCode::UNPROCESSABLE_ENTITY).await;
    let res = app
        .anon()
        .post(
            "/api/password-reset/confirm",
            json!({ "token": secret, "password": "alice's own words" }),
        )
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    expect_error(mallory.client.get("/api/me").await, StatusCode::UNAUTHORIZED).await;
    expect_error(
        login(&app, "alice@corp.example", "correct horse").await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    let alice = app
        .anon()
        .with_token(&token_of(login(&app, "alice@corp.example", "alice's own words").await).await);
    let me: Value = alice.get("/api/me").await.json().await.unwrap();
    assert_eq!(me["email_verified"], true, "the reset proved the address");
    let token = link.rsplit('/').next().unwrap();
    let joined = alice.post(&format!("/api/invitations/{token}/accept"), json!({})).await;
    assert_eq!(joined.status(), StatusCode::OK);
    let members: Value = owner
        .client
        .get(&format!("/api/tenants/{t}/members"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(members.as_array().unwrap().len(), 2);
    // Now verified, a direct add of a verified account works too.
    let res = owner
        .client
        .post(
            &format!("/api/tenants/{t}/members"),
            json!({ "email": "owner@corp.example" }),
        )
        .await;
    expect_error(res, StatusCode::CONFLICT).await;
}

async fn a_password_change_ends_the_other_sessions(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.user("ada@example.com").await;
    let laptop = app
        .anon()
        .with_token(&token_of(login(&app, "ada@example.com", "correct horse").await).await);
    let change = |current: &str, new: &str| json!({ "current_password": current, "new_password": new });
    expect_error(
        ada.client
            .post("/api/me/password", change("wrong one!", "a new phrase"))
            .await,
        StatusCode::FORBIDDEN,
    )
    .await;
    for weak in ["        ", "password        ", "iloveyou"] {
        expect_error(
            ada.client.post("/api/me/password", change("correct horse", weak)).await,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    let res = ada
        .client
        .post("/api/me/password", change("correct horse", "a new phrase"))
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        ada.client.get("/api/me").await.status(),
        StatusCode::OK,
        "this session stays"
    );
    expect_error(laptop.get("/api/me").await, StatusCode::UNAUTHORIZED).await;
    expect_error(
        login(&app, "ada@example.com", "correct horse").await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    assert_eq!(
        login(&app, "ada@example.com", "a new phrase").await.status(),
        StatusCode::OK
    );
}

async fn sessions_are_listed_and_ended(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.user("ada@example.com").await;
    let other = app
        .anon()
        .with_token(&token_of(login(&app, "ada@example.com", "correct horse").await).await);
    let list: Value = ada.client.get("/api/me/sessions").await.json().await.unwrap();
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list.iter().filter(|s| s["current"] == true).count(), 1);
    for field in ["id", "created_at", "last_seen_at", "expires_at", "user_agent", "ip"] {
        assert!(list[0].get(field).is_some(), "{field}: {list:?}");
    }
    assert_eq!(list[0]["ip"], "127.0.0.1");
    let theirs = list.iter().find(|s| s["current"] == false).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Nobody else can end it.
    let bob = app.user("bob@example.com").await;
    expect_error(
        bob.client.delete(&format!("/api/me/sessions/{theirs}")).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert_eq!(other.get("/api/me").await.status(), StatusCode::OK);
    let res = ada.client.delete(&format!("/api/me/sessions/{theirs}")).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    expect_error(other.get("/api/me").await, StatusCode::UNAUTHORIZED).await;
    // Everywhere, this one too; its cookies are cleared.
    let third = app
        .anon()
        .with_token(&token_of(login(&app, "ada@example.com", "correct horse").await).await);
    let res = ada.client.delete("/api/me/sessions").await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let cleared: Vec<_> = res.headers().get_all("set-cookie").iter().collect();
    assert_eq!(cleared.len(), 2);
    expect_error(ada.client.get("/api/me").await, StatusCode::UNAUTHORIZED).await;
    expect_error(third.get("/api/me").await, StatusCode::UNAUTHORIZED).await;
}

async fn api_tokens_work_as_bearer_only_until_revoked(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.user("ada@example.com").await;
    let t = ada.tenant("Acme").await;
    ada.todo(t, "Ship it").await;
    let res = ada
        .client
        .post("/api/me/tokens", json!({ "name": "CI", "expires_in_days": 30 }))
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let made: Value = res.json().await.unwrap();
    let secret = made["token"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("aswan_pat_"), "{secret}");
    assert!(made["expires_at"].is_string());
    let listed: Value = ada.client.get("/api/me/tokens").await.json().await.unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert!(!listed.to_string().contains(&secret), "the secret is shown once");
    let script = app.anon().with_token(&secret);
    assert_eq!(
        script.get(&format!("/api/tenants/{t}/todos")).await.status(),
        StatusCode::OK
    );
    let res = script
        .post(&format!("/api/tenants/{t}/todos"), json!({ "title": "From CI" }))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    // Never as a cookie.
    let res = reqwest::Client::new()
        .get(app.url("/api/me"))
        .header("cookie", format!("access_token={secret}"))
        .send()
        .await
        .unwrap();
    expect_error(res, StatusCode::UNAUTHORIZED).await;
    eventually(10, "the token's last use is recorded", || async {
        let listed: Value = ada.client.get("/api/me/tokens").await.json().await.unwrap();
        listed[0]["last_used_at"].is_string()
    })
    .await;
    let id = made["id"].as_str().unwrap();
    expect_error(
        ada.client.post("/api/me/tokens", json!({ "name": "  " })).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(
        ada.client.delete(&format!("/api/me/tokens/{id}")).await.status(),
        StatusCode::NO_CONTENT
    );
    expect_error(script.get("/api/me").await, StatusCode::UNAUTHORIZED).await;
    expect_error(
        ada.client.delete(&format!("/api/me/tokens/{id}")).await,
        StatusCode::NOT_FOUND,
    )
    .await;
}

async fn delete_with(user: &User, path: &str, body: Value) -> reqwest::Response {
    user.client.send(Method::DELETE, path, body).await
}

async fn tenants_and_accounts_are_deleted_with_confirmation(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.user("ada@example.com").await;
    let bob = app.user("bob@example.com").await;
    let shared = ada.tenant("Shared").await;
    let doomed = ada.tenant("Doomed").await;
    ada.todo(doomed, "gone soon").await;
    ada.add_member(shared, &bob, "member").await;
    ada.add_member(doomed, &bob, "member").await;
    let path = format!("/api/tenants/{doomed}");
    expect_error(
        delete_with(&ada, &path, json!({ "name": "doomed" })).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    expect_error(
        delete_with(&bob, &path, json!({ "name": "Doomed" })).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    assert_eq!(
        delete_with(&ada, &path, json!({ "name": "Doomed" })).await.status(),
        StatusCode::NO_CONTENT
    );
    expect_error(ada.client.get(&path).await, StatusCode::NOT_FOUND).await;
    expect_error(bob.client.get(&format!("{path}/todos")).await, StatusCode::NOT_FOUND).await;

    // The last owner of a tenant with other members cannot leave it ownerless.
    expect_error(
        delete_with(&ada, "/api/me", json!({ "password": "wrong!!!" })).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    let detail = expect_error(
        delete_with(&ada, "/api/me", json!({ "password": "correct horse" })).await,
        StatusCode::CONFLICT,
    )
    .await;
    assert!(detail.contains("last owner"), "{detail}");
    // Bob deletes his account: he owns nothing shared.
    let mine = bob.tenant("Bob's own").await;
    let res = delete_with(&bob, "/api/me", json!({ "password": "correct horse" })).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    expect_error(bob.client.get("/api/me").await, StatusCode::UNAUTHORIZED).await;
    expect_error(
        login(&app, "bob@example.com", "correct horse").await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    expect_error(
        ada.client.get(&format!("/api/tenants/{mine}")).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    let members: Value = ada
        .client
        .get(&format!("/api/tenants/{shared}/members"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(members.as_array().unwrap().len(), 1);
    // The address is free again.
    assert_eq!(
        sign_up(&app, "bob@example.com", "correct horse").await.status(),
        StatusCode::OK
    );
}

async fn my_data_comes_out_as_json(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.user("ada@example.com").await;
    ada.tenant("Acme").await;
    ada.client.post("/api/me/tokens", json!({ "name": "CI" })).await;
    let res = ada.client.get("/api/me/export").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .contains("attachment"));
    let data: Value = res.json().await.unwrap();
    assert_eq!(data["user"]["email"], "ada@example.com");
    assert_eq!(data["tenants"][0]["name"], "Acme");
    assert_eq!(data["sessions"].as_array().unwrap().len(), 1);
    assert_eq!(data["api_tokens"][0]["name"], "CI");
    assert!(!data.to_string().contains("argon2"), "no password hash");
}

/// Without mail, the operator makes a one-time link on the server.
async fn the_server_prints_a_reset_link_without_mail(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.user("ada@example.com").await;
    expect_error(
        app.anon()
            .post("/api/password-reset", json!({ "email": "ada@example.com" }))
            .await,
        StatusCode::CONFLICT,
    )
    .await;
    let (dir, url) = (app.data_dir.path().to_owned(), app.database_url.clone());
    let out = tokio::task::spawn_blocking(move || {
        run(aswan_command(&dir)
            .env("DATABASE_URL", &url)
            .env("PUBLIC_URL", "https://tasks.example.com")
            .args(["user", "reset-password", "Ada@Example.com"]))
    })
    .await
    .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let link = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let secret = link
        .strip_prefix("https://tasks.example.com/reset-password/")
        .unwrap_or_else(|| panic!("{link}"));
    let res = app
        .anon()
        .post(
            "/api/password-reset/confirm",
            json!({ "token": secret, "password": "a new phrase" }),
        )
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    expect_error(ada.client.get("/api/me").await, StatusCode::UNAUTHORIZED).await;
    assert_eq!(
        login(&app, "ada@example.com", "a new phrase").await.status(),
        StatusCode::OK
    );
    let (dir, url) = (app.data_dir.path().to_owned(), app.database_url.clone());
    let out = tokio::task::spawn_blocking(move || {
        run(aswan_command(&dir)
            .env("DATABASE_URL", &url)
            .args(["user", "reset-password", "nobody@example.com"]))
    })
    .await
    .unwrap();
    assert!(!out.status.success());
}

/// Accounts made before the email rules are checked by `aswan migrate`,
/// which reports what would collide or is refused now, and changes nothing.
async fn migrate_reports_old_addresses_that_would_collide(backend: Backend) {
    use sqlx::Connection;
    let app = TestApp::spawn(backend).await;
    app.user("jos\u{e9}@corp.example").await;
    app.user("placeholder@corp.example").await;
    app.user("other@corp.example").await;
    // As an older version stored them: decomposed, and with an invisible character.
    let table = match backend {
        Backend::Sqlite => "users",
        _ => "users.users",
    };
    let renames = [
        ("placeholder@corp.example", "jose\u{301}@corp.example"),
        ("other@corp.example", "ali\u{200B}ce@corp.example"),
    ];
    for (from, to) in renames {
        let sql = format!("UPDATE {table} SET email = $1 WHERE email = $2");
        match backend {
            Backend::Sqlite => {
                let mut c = sqlx::SqliteConnection::connect(&app.database_url).await.unwrap();
                sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
                    .bind(to)
                    .bind(from)
                    .execute(&mut c)
                    .await
                    .unwrap();
            }
            _ => {
                let mut c = sqlx::PgConnection::connect(&app.database_url).await.unwrap();
                sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
                    .bind(to)
                    .bind(from)
                    .execute(&mut c)
                    .await
                    .unwrap();
            }
        }
    }
    let (dir, url) = (app.data_dir.path().to_owned(), app.database_url.clone());
    let out = tokio::task::spawn_blocking(move || run(aswan_command(&dir).env("DATABASE_URL", &url).arg("migrate")))
        .await
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report = String::from_utf8(out.stdout).unwrap();
    assert!(report.contains("collide as \"jos\u{e9}@corp.example\""), "{report}");
    assert!(report.contains("refused by the current rules"), "{report}");
    assert!(report.contains("nothing was changed"), "{report}");
    // Both accounts are still there, apart.
    assert_eq!(
        login(&app, "jos\u{e9}@corp.example", "correct horse").await.status(),
        StatusCode::OK
    );
}

/// A deleted account leaves no trace of its email in the SQLite files
/// (`secure_delete`): free pages are zeroed, not left readable. (Before:
/// the address could still be read from the file after deletion.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_accounts_email_is_gone_from_the_sqlite_file() {
    let mut app = TestApp::spawn(Backend::Sqlite).await;
    let needle = "zq-needle-7731@example.com";
    let gone = app.user(needle).await;
    let ada = app.user("ada@example.com").await;
    let t = ada.tenant("Acme").await;
    for i in 0..50 {
        ada.todo(t, &format!("keep the file busy {i}")).await;
    }
    let res = delete_with(&gone, "/api/me", json!({ "password": "correct horse" })).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    app.stop().await;
    let mut files = 0;
    for entry in std::fs::read_dir(app.data_dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            files += 1;
            let bytes = std::fs::read(&path).unwrap();
            let found = bytes.windows(needle.len()).any(|w| w == needle.as_bytes());
            assert!(!found, "{} still holds the deleted address", path.display());
        }
    }
    assert!(files > 0, "the data directory holds the database");
}

/// The server deletes ended sessions and tokens (at start, then hourly):
/// the tables hold what can still be used. (Before: every sign-in ever
/// made was kept.)
async fn ended_sessions_and_tokens_are_pruned_by_the_server(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.user("ada@example.com").await;
    let second = app
        .anon()
        .post(
            "/api/login",
            json!({ "email": "ada@example.com", "password": "correct horse" }),
        )
        .await;
    assert_eq!(second.status(), StatusCode::OK);
    let second = second.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let res = app.anon().with_token(&second).post("/api/logout", json!({})).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let made = ada.client.post("/api/me/tokens", json!({ "name": "ci" })).await;
    assert_eq!(made.status(), StatusCode::CREATED);
    let id = made.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    let res = ada.client.delete(&format!("/api/me/tokens/{id}")).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let url = app.database_url.clone();
    assert_eq!(count_rows(backend, &url, "sessions").await, 2, "ended, not yet pruned");
    let app = app.restart(backend, |_| {}).await;
    eventually(10, "ended credentials pruned", || async {
        count_rows(backend, &url, "sessions").await == 1 && count_rows(backend, &url, "api_tokens").await == 0
    })
    .await;
    let ada = ada.on(&app);
    assert_eq!(
        ada.client.get("/api/me").await.status(),
        StatusCode::OK,
        "the live session stays"
    );
}

/// A reset mail asked for a moment before the server stops is still sent:
/// it is work on the server's one background tracker, which shutdown waits
/// for before it closes the store (a detached task would find the store
/// closed, and the mail would be lost without a word).
async fn mail_asked_for_just_before_shutdown_is_still_sent(backend: Backend) {
    let smtp = SmtpSink::start().await;
    let mut app = with_mail(backend, &smtp).await;
    app.user("ada@example.com").await;
    smtp.wait_for("ada@example.com", "Confirm your email").await;
    let res = app
        .anon()
        .post("/api/password-reset", json!({ "email": "ada@example.com" }))
        .await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    app.stop().await;
    let mail = smtp.wait_for("ada@example.com", "Reset your Aswan password").await;
    assert!(mail.text.contains("http://aswan.test/reset-password/"));
}
