use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::contract_tests;
use crate::helpers::{expect_error, Backend, TestApp};

contract_tests!(
    owners_add_and_list_members,
    adding_checks_role_email_and_duplicates,
    removed_members_lose_access_at_once,
    the_last_owner_stays,
    members_can_leave_and_owners_change_roles,
);

async fn owners_add_and_list_members(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.user("ada@example.com").await;
    let bob = app.user("bob@example.com").await;
    let acme = ada.tenant("Acme").await;
    // Direct adding is for verified addresses only (none here: no mail).
    let detail = expect_error(
        ada.client
            .post(
                &format!("/api/tenants/{acme}/members"),
                json!({ "email": "BOB@example.com" }),
            )
            .await,
        StatusCode::CONFLICT,
    )
    .await;
    assert!(detail.contains("invitation"), "{detail}");
    let link = ada.invite(acme, "BOB@example.com", "member").await;
    let res = bob.accept(&link).await;
    assert_eq!(res.status(), StatusCode::OK);
    let joined: Value = res.json().await.unwrap();
    assert_eq!(
        (joined["id"].as_str(), joined["role"].as_str()),
        (Some(acme.to_string().as_str()), Some("member"))
    );

    let members: Value = bob
        .client
        .get(&format!("/api/tenants/{acme}/members"))
        .await
        .json()
        .await
        .unwrap();
    let pairs: Vec<(String, String)> = members
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["email"].as_str().unwrap().into(), m["role"].as_str().unwrap().into()))
        .collect();
    assert_eq!(
        pairs,
        [
            ("ada@example.com".into(), "owner".into()),
            ("bob@example.com".into(), "member".into())
        ]
    );
    // Bob now sees the tenant and its todos.
    let tenants: Value = bob.client.get("/api/tenants").await.json().await.unwrap();
    assert_eq!(tenants[0]["id"], acme.to_string());
    ada.todo(acme, "shared task").await;
    assert_eq!(bob.titles(acme).await, ["shared task"]);
}

async fn adding_checks_role_email_and_duplicates(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.user("ada@example.com").await;
    let bob = app.user("bob@example.com").await;
    let cy = app.user("cy@example.com").await;
    let acme = ada.tenant("Acme").await;
    let path = format!("/api/tenants/{acme}/members");
    expect_error(
        ada.client.post(&path, json!({ "email": "ghost@example.com" })).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    expect_error(
        ada.client.post(&path, json!({ "email": "nope" })).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    expect_error(
        ada.client
            .post(&path, json!({ "email": "bob@example.com", "role": "admin" }))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    ada.add_member(acme, &bob, "member").await;
    expect_error(
        ada.client.post(&path, json!({ "email": "bob@example.com" })).await,
        StatusCode::CONFLICT,
    )
    .await;
    // A plain member cannot add people; a non-member gets 404.
    expect_error(
        bob.client.post(&path, json!({ "email": "cy@example.com" })).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    expect_error(
        cy.client.post(&path, json!({ "email": "cy@example.com" })).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    let members: Value = ada.client.get(&path).await.json().await.unwrap();
    assert_eq!(members.as_array().unwrap().len(), 2);
}

async fn removed_members_lose_access_at_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.user("ada@example.com").await;
    let bob = app.user("bob@example.com").await;
    let acme = ada.tenant("Acme").await;
    ada.add_member(acme, &bob, "member").await;
    ada.todo(acme, "secret plan").await;
    assert_eq!(bob.titles(acme).await, ["secret plan"]);

    // A member cannot remove others.
    let res = bob
        .client
        .delete(&format!("/api/tenants/{acme}/members/{}", ada.id))
        .await;
    expect_error(res, StatusCode::FORBIDDEN).await;
    let res = ada
        .client
        .delete(&format!("/api/tenants/{acme}/members/{}", bob.id))
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);

    // Same token, immediately: no access by path, by header, or to the tenant.
    expect_error(
        bob.client.get(&format!("/api/tenants/{acme}/todos")).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    expect_error(bob.in_tenant(acme).get("/api/todos").await, StatusCode::NOT_FOUND).await;
    expect_error(
        bob.client.get(&format!("/api/tenants/{acme}")).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    let res = bob
        .in_tenant(acme)
        .post("/api/todos", json!({ "title": "sneaky" }))
        .await;
    expect_error(res, StatusCode::NOT_FOUND).await;
    assert_eq!(ada.titles(acme).await, ["secret plan"]);
    let tenants: Value = bob.client.get("/api/tenants").await.json().await.unwrap();
    assert_eq!(tenants, json!([]));
    // Removing again: 404.
    let res = ada
        .client
        .delete(&format!("/api/tenants/{acme}/members/{}", bob.id))
        .await;
    expect_error(res, StatusCode::NOT_FOUND).await;
}

async fn the_last_owner_stays(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.user("ada@example.com").await;
    let bob = app.user("bob@example.com").await;
    let acme = ada.tenant("Acme").await;
    let me = format!("/api/tenants/{acme}/members/{}", ada.id);
    expect_error(ada.client.delete(&me).await, StatusCode::CONFLICT).await;
    expect_error(
        ada.client.patch(&me, json!({ "role": "member" })).await,
        StatusCode::CONFLICT,
    )
    .await;
    // With a second owner, the first may step down.
    ada.add_member(acme, &bob, "owner").await;
    let res = ada.client.patch(&me, json!({ "role": "member" })).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.json::<Value>().await.unwrap()["role"], "member");
    // Now ada is a member: she cannot demote bob, and bob is the last owner.
    let bob_path = format!("/api/tenants/{acme}/members/{}", bob.id);
    expect_error(
        ada.client.patch(&bob_path, json!({ "role": "member" })).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    expect_error(bob.client.delete(&bob_path).await, StatusCode::CONFLICT).await;
    let members: Value = bob
        .client
        .get(&format!("/api/tenants/{acme}/members"))
        .await
        .json()
        .await
        .unwrap();
    let owners = members
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "owner")
        .count();
    assert_eq!(owners, 1);
}

async fn members_can_leave_and_owners_change_roles(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.user("ada@example.com").await;
    let bob = app.user("bob@example.com").await;
    let acme = ada.tenant("Acme").await;
    ada.add_member(acme, &bob, "member").await;
    let bob_path = format!("/api/tenants/{acme}/members/{}", bob.id);
    let res = ada.client.patch(&bob_path, json!({ "role": "owner" })).await;
    assert_eq!(res.status(), StatusCode::OK);
    // As an owner, bob can rename the tenant.
    let res = bob
        .client
        .patch(&format!("/api/tenants/{acme}"), json!({ "name": "Bobcorp" }))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    // Bob leaves on his own.
    assert_eq!(bob.client.delete(&bob_path).await.status(), StatusCode::NO_CONTENT);
    expect_error(
        bob.client.get(&format!("/api/tenants/{acme}")).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    let path = format!("/api/tenants/{acme}/members/not-a-uuid");
    expect_error(ada.client.delete(&path).await, StatusCode::BAD_REQUEST).await;
}
