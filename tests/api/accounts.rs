use base64::Engine;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::contract_tests;
use crate::helpers::{expect_error, Backend, TestApp};

contract_tests!(
    sign_up_answers_the_seed_contract_and_sets_cookies,
    cookie_and_bearer_both_authenticate,
    duplicate_email_is_409_and_creates_no_second_account,
    sign_up_validates_its_input,
    login_succeeds_and_fails_alike_for_unknown_emails,
    me_requires_a_valid_session,
    logout_revokes_the_token_server_side,
    sessions_survive_a_restart,
);

fn set_cookies(res: &reqwest::Response) -> Vec<String> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

async fn sign_up_answers_the_seed_contract_and_sets_cookies(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let res = app
        .anon()
        .post(
            "/api/sign-up",
            json!({ "email": "  Ada@Example.COM ", "password": "correct horse" }),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let cookies = set_cookies(&res);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["token_type"], "bearer");
    let token = body["access_token"].as_str().unwrap();

    // The JWT carries the seed's claims.
    let claims = token.split('.').nth(1).unwrap();
    let claims: Value =
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(claims).unwrap()).unwrap();
    assert_eq!(claims["email"], "ada@example.com");
    assert!(claims["sub"].as_str().unwrap().parse::<uuid::Uuid>().is_ok());
    assert!(claims["exp"].as_i64().unwrap() > chrono::Utc::now().timestamp());

    let access = cookies
        .iter()
        .find(|c| c.starts_with("access_token="))
        .expect("access_token cookie");
    assert!(access.starts_with(&format!("access_token={token};")));
    for attr in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(access.contains(attr), "{access} lacks {attr}");
    }
    assert!(!access.contains("Secure"));
    let user_data = cookies
        .iter()
        .find(|c| c.starts_with("user_data="))
        .expect("user_data cookie");
    assert!(!user_data.contains("HttpOnly"), "the UI must be able to read user_data");
    let value = user_data.trim_start_matches("user_data=").split(';').next().unwrap();
    let decoded: Value =
        serde_json::from_str(&percent_encoding::percent_decode_str(value).decode_utf8().unwrap()).unwrap();
    assert_eq!(decoded["email"], "ada@example.com");
    assert_eq!(decoded["id"], claims["sub"]);
    assert!(decoded.get("name").is_some());
}

async fn cookie_and_bearer_both_authenticate(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let res = app
        .anon()
        .post("/api/login", json!({ "email": "x@y.zz", "password": "whatever1" }))
        .await;
    expect_error(res, StatusCode::UNAUTHORIZED).await;
    let user = app.user("cookie@example.com").await;
    // A browser-like client with a cookie jar, no Authorization header.
    let browser = reqwest::Client::builder().cookie_store(true).build().unwrap();
    let res = browser
        .post(app.url("/api/login"))
        .json(&json!({ "email": "cookie@example.com", "password": "correct horse" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let me: Value = browser
        .get(app.url("/api/me"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["id"], user.id.to_string());
    let me: Value = user.client.get("/api/me").await.json().await.unwrap();
    assert_eq!(me["email"], "cookie@example.com");
}

async fn duplicate_email_is_409_and_creates_no_second_account(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.user("dup@example.com").await;
    let res = app
        .anon()
        .post(
            "/api/sign-up",
            json!({ "email": "DUP@example.com", "password": "another password" }),
        )
        .await;
    let detail = expect_error(res, StatusCode::CONFLICT).await;
    assert!(detail.contains("already exists"), "{detail}");
    // The original password still works and the second one does not.
    let login = |pw: &'static str| {
        let c = app.anon();
        async move {
            c.post("/api/login", json!({ "email": "dup@example.com", "password": pw }))
                .await
                .status()
        }
    };
    assert_eq!(login("correct horse").await, StatusCode::OK);
    assert_eq!(login("another password").await, StatusCode::UNAUTHORIZED);
}

async fn sign_up_validates_its_input(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let anon = app.anon();
    let cases = [
        (json!({ "email": "not-an-email", "password": "correct horse" }), "email"),
        (json!({ "email": "a@b.co", "password": "short" }), "password"),
        (json!({ "email": "a@b.co", "password": "x".repeat(129) }), "password"),
        (json!({ "password": "correct horse" }), "email"),
        (json!({ "email": "a@b.co" }), "password"),
        (json!({ "email": 42, "password": "correct horse" }), "email"),
    ];
    for (body, field) in cases {
        let detail = expect_error(
            anon.post("/api/sign-up", body.clone()).await,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
        assert!(detail.contains(field), "{body} → {detail}");
    }
    // Nothing was created by the failures: a valid sign-up of a@b.co works.
    let res = anon
        .post(
            "/api/sign-up",
            json!({ "email": "a@b.co", "password": "correct horse" }),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
}

async fn login_succeeds_and_fails_alike_for_unknown_emails(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.user("known@example.com").await;
    let anon = app.anon();
    let ok = anon
        .post(
            "/api/login",
            json!({ "email": "KNOWN@example.com ", "password": "correct horse" }),
        )
        .await;
    assert_eq!(ok.status(), StatusCode::OK);
    let body: Value = ok.json().await.unwrap();
    assert_eq!(body["token_type"], "bearer");
    let wrong_pw = expect_error(
        anon.post(
            "/api/login",
            json!({ "email": "known@example.com", "password": "wrong horse" }),
        )
        .await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    let unknown = expect_error(
        anon.post(
            "/api/login",
            json!({ "email": "nobody@example.com", "password": "wrong horse" }),
        )
        .await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    assert_eq!(wrong_pw, unknown, "no hint whether the email exists");
}

async fn me_requires_a_valid_session(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    expect_error(app.anon().get("/api/me").await, StatusCode::UNAUTHORIZED).await;
    expect_error(
        app.anon().with_token("not.a.jwt").get("/api/me").await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    // A token signed with another key is refused.
    let other = TestApp::spawn(backend).await;
    let stranger = other.user("s@example.com").await;
    let res = app
        .anon()
        .request(reqwest::Method::GET, "/api/me")
        .header("cookie", format!("access_token={}", stranger.token))
        .send()
        .await
        .unwrap();
    expect_error(res, StatusCode::UNAUTHORIZED).await;
}

async fn logout_revokes_the_token_server_side(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.user("bye@example.com").await;
    let saved = user.token.clone();
    let saved_cookie = format!("access_token={saved}");
    let with_cookie = || {
        app.anon()
            .request(reqwest::Method::GET, "/api/me")
            .header("cookie", saved_cookie.clone())
            .send()
    };
    assert_eq!(with_cookie().await.unwrap().status(), StatusCode::OK);

    let res = app
        .anon()
        .request(reqwest::Method::POST, "/api/logout")
        .header("cookie", saved_cookie.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let cleared = set_cookies(&res);
    assert!(cleared
        .iter()
        .any(|c| c.starts_with("access_token=;") && c.contains("Max-Age=0")));
    assert!(cleared
        .iter()
        .any(|c| c.starts_with("user_data=;") && c.contains("Max-Age=0")));

    // The saved copy of the cookie no longer works, nor does it as a bearer.
    expect_error(with_cookie().await.unwrap(), StatusCode::UNAUTHORIZED).await;
    expect_error(
        app.anon().with_token(&saved).get("/api/me").await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    // Other sessions of the same user are unaffected.
    let other_session = app
        .anon()
        .post(
            "/api/login",
            json!({ "email": "bye@example.com", "password": "correct horse" }),
        )
        .await;
    let other: Value = other_session.json().await.unwrap();
    let other = app.anon().with_token(other["access_token"].as_str().unwrap());
    assert_eq!(other.get("/api/me").await.status(), StatusCode::OK);
    // Logging out anonymously is harmless.
    assert_eq!(
        app.anon().post("/api/logout", json!({})).await.status(),
        StatusCode::NO_CONTENT
    );
}

async fn sessions_survive_a_restart(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.user("stay@example.com").await;
    let token = user.token.clone();
    let tenant = user.tenant("Persistent").await;
    user.todo(tenant, "kept across restarts").await;
    let again = app.restart(backend, |_| {}).await;
    // The generated JWT secret was kept under the data dir.
    let client = again.anon().with_token(&token);
    assert_eq!(client.get("/api/me").await.status(), StatusCode::OK);
    let list: Value = client
        .get(&format!("/api/tenants/{tenant}/todos"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(crate::helpers::titles(&list), ["kept across restarts"]);
}
