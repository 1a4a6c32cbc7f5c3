use std::collections::BTreeSet;

use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::json;

use crate::contract_tests;
use crate::helpers::{Backend, TestApp, User};

contract_tests!(parallel_writers_in_many_tenants_lose_nothing);

const TENANTS: usize = 5;
const USERS_PER_TENANT: usize = 4;
const TODOS_PER_USER: usize = 5;

async fn parallel_writers_in_many_tenants_lose_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let users: Vec<User> =
        join_all((0..TENANTS * USERS_PER_TENANT).map(|i| app.user_owned(format!("u{i}@example.com")))).await;
    let mut tenants = Vec::new();
    for t in 0..TENANTS {
        let owner = &users[t * USERS_PER_TENANT];
        let tenant = owner.tenant(&format!("T{t}")).await;
        for other in &users[t * USERS_PER_TENANT + 1..(t + 1) * USERS_PER_TENANT] {
            owner.add_member(tenant, other, "member").await;
        }
        tenants.push(tenant);
    }
    // Everyone writes at once.
    let writes = users.iter().enumerate().flat_map(|(i, user)| {
        let tenant = tenants[i / USERS_PER_TENANT];
        (0..TODOS_PER_USER).map(move |n| async move {
            let res = user
                .in_tenant(tenant)
                .post("/api/todos", json!({ "title": format!("{i}-{n}") }))
                .await;
            assert_eq!(res.status(), StatusCode::OK);
        })
    });
    join_all(writes).await;

    for (i, user) in users.iter().enumerate() {
        let t = i / USERS_PER_TENANT;
        let expected: BTreeSet<String> = (t * USERS_PER_TENANT..(t + 1) * USERS_PER_TENANT)
            .flat_map(|u| (0..TODOS_PER_USER).map(move |n| format!("{u}-{n}")))
            .collect();
        let seen: BTreeSet<String> = user.titles(tenants[t]).await.into_iter().collect();
        assert_eq!(seen, expected, "user {i} sees exactly its tenant's todos");
        let listed: serde_json::Value = user.client.get("/api/tenants").await.json().await.unwrap();
        assert_eq!(listed.as_array().unwrap().len(), 1);
    }
}
