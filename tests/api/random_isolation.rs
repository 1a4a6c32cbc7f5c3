//! A randomized, model-checked isolation test: 20 users in 5 tenants, 2,000
//! mixed operations (create, list, toggle, edit, delete, membership changes,
//! and attempts on tenants and todos the actor has no right to). After every
//! step the API's answers are compared with an in-memory model; every 100
//! steps every user's view of every tenant is checked.

use std::collections::{BTreeMap, BTreeSet};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::contract_tests;
use crate::helpers::{Backend, TestApp, User};

contract_tests!(random_operations_never_cross_tenants);

const USERS: usize = 20;
const TENANTS: usize = 5;
const STEPS: usize = 2_000;

#[derive(Default)]
struct Model {
    /// tenant index → member user indices (the owner is never removed).
    members: Vec<BTreeSet<usize>>,
    /// tenant index → todo id → (title, complete).
    todos: Vec<BTreeMap<String, (String, bool)>>,
}

impl Model {
    fn tenant_of(&self, todo: &str) -> Option<usize> {
        self.todos.iter().position(|t| t.contains_key(todo))
    }
}

async fn check_view(users: &[User], tenants: &[Uuid], model: &Model, u: usize, t: usize, step: usize) {
    let res = users[u].client.get(&format!("/api/tenants/{}/todos", tenants[t])).await;
    if model.members[t].contains(&u) {
        assert_eq!(res.status(), StatusCode::OK, "step {step}: user {u} lists tenant {t}");
        let list: Value = res.json().await.unwrap();
        let seen: BTreeMap<String, (String, bool)> = list
            .as_array()
            .unwrap()
            .iter()
            .map(|v| {
                assert_eq!(v["tenant_id"], tenants[t].to_string(), "step {step}: foreign row");
                (
                    v["id"].as_str().unwrap().to_owned(),
                    (
                        v["title"].as_str().unwrap().to_owned(),
                        v["complete"].as_bool().unwrap(),
                    ),
                )
            })
            .collect();
        assert_eq!(
            seen, model.todos[t],
            "step {step}: user {u} sees exactly tenant {t}'s todos"
        );
    } else {
        assert_eq!(
            res.status(),
            StatusCode::NOT_FOUND,
            "step {step}: user {u} is not in tenant {t}"
        );
    }
}

async fn random_operations_never_cross_tenants(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut rng = StdRng::seed_from_u64(0xA5_2026);
    let mut users = Vec::new();
    for i in 0..USERS {
        users.push(app.user(&format!("user{i}@example.com")).await);
    }
    let mut tenants = Vec::new();
    let mut model = Model::default();
    for t in 0..TENANTS {
        // User t owns tenant t; users are spread over tenants to start with.
        tenants.push(users[t].tenant(&format!("tenant {t}")).await);
        let mut members = BTreeSet::from([t]);
        for u in (TENANTS..USERS).filter(|u| u % TENANTS == t) {
            users[t].add_member(tenants[t], &users[u], "member").await;
            members.insert(u);
        }
        model.members.push(members);
        model.todos.push(BTreeMap::new());
    }

    for step in 0..STEPS {
        let u = rng.gen_range(0..USERS);
        let t = rng.gen_range(0..TENANTS);
        let member = model.members[t].contains(&u);
        let ctx = users[u].in_tenant(tenants[t]);
        let any_todo: Option<String> = {
            let all: Vec<&String> = model.todos.iter().flat_map(|m| m.keys()).collect();
            (!all.is_empty()).then(|| all[rng.gen_range(0..all.len())].clone())
        };
        match rng.gen_range(0..100) {
            0..=34 => {
                let title = format!("task {step}");
                let res = ctx.post("/api/todos", json!({ "title": title })).await;
                if member {
                    assert_eq!(res.status(), StatusCode::OK, "step {step}");
                    let todo: Value = res.json().await.unwrap();
                    model.todos[t].insert(todo["id"].as_str().unwrap().to_owned(), (title, false));
                } else {
                    assert_eq!(res.status(), StatusCode::NOT_FOUND, "step {step}");
                }
            }
            // A plain list: the check after every step does it.
            35..=49 => {}
            50..=79 => {
                let Some(id) = any_todo else { continue };
                let owner = model.tenant_of(&id).unwrap();
                let allowed = member && owner == t;
                let kind = rng.gen_range(0..3);
                let res = match kind {
                    0 => ctx.put("/api/todos", json!({ "id": id, "complete": true })).await,
                    1 => {
                        ctx.patch(
                            &format!("/api/todos/{id}"),
                            json!({ "title": format!("edited {step}") }),
                        )
                        .await
                    }
                    _ => ctx.delete(&format!("/api/todos/{id}")).await,
                };
                if allowed {
                    assert!(res.status().is_success(), "step {step}: {}", res.status());
                    match kind {
                        0 => model.todos[t].get_mut(&id).unwrap().1 = true,
                        1 => model.todos[t].get_mut(&id).unwrap().0 = format!("edited {step}"),
                        _ => {
                            model.todos[t].remove(&id);
                        }
                    }
                } else {
                    assert_eq!(res.status(), StatusCode::NOT_FOUND, "step {step}: foreign todo");
                }
            }
            _ => {
                // Membership change by the tenant's owner (user t).
                let other = rng.gen_range(TENANTS..USERS);
                let path = format!("/api/tenants/{}/members", tenants[t]);
                if model.members[t].contains(&other) {
                    let res = users[t].client.delete(&format!("{path}/{}", users[other].id)).await;
                    assert_eq!(res.status(), StatusCode::NO_CONTENT, "step {step}");
                    model.members[t].remove(&other);
                } else {
                    users[t].add_member(tenants[t], &users[other], "member").await;
                    model.members[t].insert(other);
                }
                check_view(&users, &tenants, &model, other, t, step).await;
            }
        }
        check_view(&users, &tenants, &model, u, t, step).await;
        if step % 100 == 99 {
            for u in 0..USERS {
                for t in 0..TENANTS {
                    check_view(&users, &tenants, &model, u, t, step).await;
                }
                let mine: Value = users[u].client.get("/api/tenants").await.json().await.unwrap();
                let ids: BTreeSet<String> = mine
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|m| m["id"].as_str().unwrap().to_owned())
                    .collect();
                let expected: BTreeSet<String> = (0..TENANTS)
                    .filter(|t| model.members[*t].contains(&u))
                    .map(|t| tenants[t].to_string())
                    .collect();
                assert_eq!(ids, expected, "step {step}: user {u}'s tenants");
            }
        }
    }
}
