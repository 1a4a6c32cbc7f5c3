//! Credentials end together: a password reset, a password change and "log
//! out everywhere" end every session and every personal API token; reset
//! links die with the password they were made for; tokens cannot make
//! tokens; read-only tokens only read; where mail is on, an unverified
//! account gets no token.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::backend_tests;
use crate::helpers::{aswan_command, expect_error, run, Backend, Client, TestApp};
use crate::smtp::SmtpSink;

backend_tests!(
    a_reset_by_the_real_owner_ends_a_squatters_api_token,
    a_password_change_and_logging_out_everywhere_end_api_tokens,
    a_reset_link_dies_when_the_password_changes,
    tokens_cannot_make_tokens,
    read_only_tokens_only_read,
    with_mail_an_unverified_account_gets_no_token,
);

/// Makes a personal API token with `client`; its secret.
async fn api_token(client: &Client, body: Value) -> String {
    let res = client.post("/api/me/tokens", body).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    res.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_owned()
}

/// A reset link made on the server (`aswan user reset-password`): its secret.
async fn reset_secret(app: &TestApp, email: &str) -> String {
    let (dir, url, email) = (
        app.data_dir.path().to_owned(),
        app.database_url.clone(),
        email.to_owned(),
    );
    let out = tokio::task::spawn_blocking(move || {
        run(aswan_command(&dir)
            .env("DATABASE_URL", &url)
            .env("PUBLIC_URL", "https://tasks.example.com")
            .args(["user", "reset-password", &email]))
    })
    .await
    .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout)
        .unwrap()
        .trim()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned()
}

async fn login(app: &TestApp, email: &str, password: &str) -> Client {
    let res = app
        .anon()
        .post("/api/login", json!({ "email": email, "password": password }))
        .await;
    assert_eq!(res.status(), StatusCode::OK, "login of {email}");
    let token = res.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    app.anon().with_token(&token)
}

/// Mallory signs up first with Alice's address and makes an API token; the
/// real Alice takes the account back by a reset and joins Corp. Mallory's
/// token must not read Corp's todos as Alice. (Before: it did, 200.)
async fn a_reset_by_the_real_owner_ends_a_squatters_api_token(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.user("owner@corp.example").await;
    let corp = owner.tenant("Corp").await;
    owner.todo(corp, "Quarterly numbers").await;
    let mallory = app.user("alice@corp.example").await;
    let squatted = api_token(&mallory.client, json!({ "name": "mine" })).await;
    let link = owner.invite(corp, "alice@corp.example", "member").await;

    let secret = reset_secret(&app, "alice@corp.example").await;
    let res = app
        .anon()
        .post(
            "/api/password-reset/confirm",
            json!({ "token": secret, "password": "alice's own words" }),
        )
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let alice = login(&app, "alice@corp.example", "alice's own words").await;
    let token = link.rsplit('/').next().unwrap();
    let joined = alice.post(&format!("/api/invitations/{token}/accept"), json!({})).await;
    assert_eq!(joined.status(), StatusCode::OK);

    let as_mallory = app.anon().with_token(&squatted);
    expect_error(
        as_mallory.get(&format!("/api/tenants/{corp}/todos")).await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    expect_error(as_mallory.get("/api/me").await, StatusCode::UNAUTHORIZED).await;
    let tokens: Vec<Value> = alice.get("/api/me/tokens").await.json().await.unwrap();
    assert!(tokens.is_empty(), "no live token is left: {tokens:?}");
}

async fn a_password_change_and_logging_out_everywhere_end_api_tokens(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.user("ada@example.com").await;
    let token = api_token(&ada.client, json!({ "name": "script" })).await;
    let script = app.anon().with_token(&token);
    assert_eq!(script.get("/api/tenants").await.status(), StatusCode::OK);
    let res = ada
        .client
        .post(
            "/api/me/password",
            json!({ "current_password": "correct horse", "new_password": "a brand new phrase" }),
        )
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    expect_error(script.get("/api/tenants").await, StatusCode::UNAUTHORIZED).await;
    // This session stays.
    assert_eq!(ada.client.get("/api/tenants").await.status(), StatusCode::OK);

    let token = api_token(&ada.client, json!({ "name": "script again" })).await;
    let script = app.anon().with_token(&token);
    assert_eq!(script.get("/api/tenants").await.status(), StatusCode::OK);
    let res = ada.client.delete("/api/me/sessions").await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    expect_error(script.get("/api/tenants").await, StatusCode::UNAUTHORIZED).await;
    expect_error(ada.client.get("/api/tenants").await, StatusCode::UNAUTHORIZED).await;
}

/// A link made for the old password does not outlive it. (Before: a link
/// still set a new password after the owner had changed it.)
async fn a_reset_link_dies_when_the_password_changes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.user("ada@example.com").await;
    let secret = reset_secret(&app, "ada@example.com").await;
    let res = ada
        .client
        .post(
            "/api/me/password",
            json!({ "current_password": "correct horse", "new_password": "a brand new phrase" }),
        )
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    expect_error(
        app.anon()
            .post(
                "/api/password-reset/confirm",
                json!({ "token": secret, "password": "someone else's" }),
            )
            .await,
        StatusCode::NOT_FOUND,
    )
    .await;
    login(&app, "ada@example.com", "a brand new phrase").await;
}

/// A token that could make tokens would outlive its own revocation.
/// (Before: 201.)
async fn tokens_cannot_make_tokens(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.user("ada@example.com").await;
    let token = api_token(&ada.client, json!({ "name": "script" })).await;
    let detail = expect_error(
        app.anon()
            .with_token(&token)
            .post("/api/me/tokens", json!({ "name": "child" }))
            .await,
        StatusCode::FORBIDDEN,
    )
    .await;
    assert!(detail.contains("sign in"), "{detail}");
    let tokens: Vec<Value> = ada.client.get("/api/me/tokens").await.json().await.unwrap();
    assert_eq!(tokens.len(), 1, "nothing was made");
}

async fn read_only_tokens_only_read(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.user("ada@example.com").await;
    let t = ada.tenant("Home").await;
    ada.todo(t, "Water the plants").await;
    let reader = app
        .anon()
        .with_token(&api_token(&ada.client, json!({ "name": "dashboard", "scope": "read" })).await);
    let res = reader.get(&format!("/api/tenants/{t}/todos")).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.json::<Vec<Value>>().await.unwrap().len(), 1);
    for (method, path, body) in [
        (
            reqwest::Method::POST,
            format!("/api/tenants/{t}/todos"),
            json!({ "title": "x" }),
        ),
        (reqwest::Method::POST, "/api/tenants".to_owned(), json!({ "name": "x" })),
        (reqwest::Method::DELETE, format!("/api/tenants/{t}"), json!({})),
    ] {
        let detail = expect_error(reader.send(method, &path, body).await, StatusCode::FORBIDDEN).await;
        assert!(detail.contains("only read"), "{detail}");
    }
    assert_eq!(ada.titles(t).await, ["Water the plants"], "nothing was written");
    let tokens: Vec<Value> = ada.client.get("/api/me/tokens").await.json().await.unwrap();
    assert_eq!(tokens[0]["scope"], "read");
    // The default is the account's rights; an unknown scope is refused.
    let writer = app
        .anon()
        .with_token(&api_token(&ada.client, json!({ "name": "script" })).await);
    assert_eq!(
        writer
            .post(&format!("/api/tenants/{t}/todos"), json!({ "title": "Feed the cat" }))
            .await
            .status(),
        StatusCode::OK
    );
    expect_error(
        ada.client
            .post("/api/me/tokens", json!({ "name": "x", "scope": "admin" }))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
}

/// Where the server sends mail, an account that has not proven its address
/// gets no credential that would survive the real owner's reset.
async fn with_mail_an_unverified_account_gets_no_token(backend: Backend) {
    let smtp = SmtpSink::start().await;
    let dir = tempfile::tempdir().unwrap();
    let url = TestApp::fresh_url(backend, &dir).await;
    let smtp_url = smtp.url();
    let app = TestApp::spawn_configured(backend, url, dir, move |s| {
        s.smtp_url = Some(aswan::config::Secret::new(smtp_url));
        s.smtp_from = "Aswan <aswan@aswan.test>".into();
        s.public_url = Some("http://aswan.test".into());
    })
    .await;
    let ada = app.user("ada@example.com").await;
    let detail = expect_error(
        ada.client.post("/api/me/tokens", json!({ "name": "script" })).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    assert!(detail.contains("verify"), "{detail}");
    let verify = smtp.wait_for("ada@example.com", "Confirm your email").await;
    let link = verify.link("http://aswan.test/verify-email/");
    let res = app
        .anon()
        .post(
            "/api/verify-email",
            json!({ "token": link.rsplit('/').next().unwrap() }),
        )
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    api_token(&ada.client, json!({ "name": "script" })).await;
}
