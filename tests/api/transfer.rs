//! `aswan export` / `aswan import`: a tenant moves between instances and
//! backends with every field of its todos; a bad file imports nothing.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::backend_tests;
use crate::helpers::{aswan_command, run, Backend, TestApp, User};

backend_tests!(
    a_malformed_line_imports_nothing,
    without_an_owner_here_an_owner_must_be_named,
    owners_export_and_import_over_http,
    imports_run_one_per_user_and_follow_the_apis_field_rules
);

fn export(app: &TestApp, tenant: uuid::Uuid) -> String {
    let out = run(aswan_command(app.data_dir.path())
        .env("DATABASE_URL", &app.database_url)
        .args(["export", "--tenant", &tenant.to_string()]));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn import(app: &TestApp, body: &str, args: &[&str]) -> std::process::Output {
    let file = app
        .data_dir
        .path()
        .join(format!("import-{}.jsonl", uuid::Uuid::new_v4()));
    std::fs::write(&file, body).unwrap();
    run(aswan_command(app.data_dir.path())
        .env("DATABASE_URL", &app.database_url)
        .arg("import")
        .args(args)
        .arg(&file))
}

/// The new tenant's id, from `aswan import`'s summary.
fn imported_id(out: &std::process::Output) -> uuid::Uuid {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    let id = text
        .split('(')
        .nth(1)
        .and_then(|r| r.split(')').next())
        .expect("an id in the summary");
    id.parse().unwrap()
}

/// The member and todo lines, parsed (the header carries the export time).
fn lines(export: &str) -> (Vec<Value>, Vec<Value>) {
    let mut it = export.lines().map(|l| serde_json::from_str::<Value>(l).unwrap());
    let header = it.next().unwrap();
    assert_eq!(header["aswan_export"], 1);
    let (mut members, mut todos) = (Vec::new(), Vec::new());
    for line in it {
        if let Some(m) = line.get("member") {
            members.push(m.clone());
        } else {
            todos.push(line["todo"].clone());
        }
    }
    (members, todos)
}

async fn users(app: &TestApp, emails: &[&str]) -> Vec<User> {
    let mut out = Vec::new();
    for e in emails {
        out.push(app.user(e).await);
    }
    out
}

/// SQLite → PostgreSQL → SQLite keeps every field of every todo, and the
/// members that have accounts; embeddings are made anew, so similarity works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_round_trips_sqlite_postgres_sqlite() {
    let one = TestApp::spawn(Backend::Sqlite).await;
    let [ada, bob] = <[User; 2]>::try_from(users(&one, &["ada@example.com", "bob@example.com"]).await)
        .ok()
        .unwrap();
    let t = ada.tenant("Acme").await;
    ada.add_member(t, &bob, "member").await;
    let login = ada.todo(t, "Fix the login bug").await;
    let res = ada
        .client
        .patch(
            &format!("/api/tenants/{t}/todos/{}", login["id"].as_str().unwrap()),
            json!({ "actual_minutes": 90 }),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let similar = ada.todo(t, "Fix the login bug on Safari").await;
    assert_eq!(similar["estimate_status"], "ready", "{similar}");
    ada.todo(t, "Buy milk").await;
    let first = export(&one, t);
    let (members, todos) = lines(&first);
    assert_eq!(todos.len(), 3);
    assert_eq!(members.len(), 2);

    let two = TestApp::spawn(Backend::Postgres).await;
    let on_two = users(&two, &["ada@example.com", "bob@example.com"]).await;
    let pg_tenant = imported_id(&import(&two, &first, &[]));
    let again = imported_id(&import(&two, &first, &["--into", "Acme again"]));
    assert_ne!(pg_tenant, again, "importing twice makes two tenants");
    let second = export(&two, pg_tenant);
    assert_eq!(lines(&second), (members.clone(), todos.clone()), "SQLite → PostgreSQL");
    // Seen through the API, with the importing instance's embeddings.
    assert_eq!(on_two[1].titles(pg_tenant).await.len(), 3, "bob is a member");
    let hits: Value = on_two[0]
        .client
        .get(&format!("/api/tenants/{pg_tenant}/todos/search?q=login%20bug"))
        .await
        .json()
        .await
        .unwrap();
    assert!(
        hits[0]["title"].as_str().unwrap().starts_with("Fix the login bug"),
        "{hits}"
    );

    let three = TestApp::spawn(Backend::Sqlite).await;
    three.user("ada@example.com").await;
    let out = import(&three, &second, &[]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("no account here for bob@example.com"));
    let back = imported_id(&out);
    let (members_back, todos_back) = lines(&export(&three, back));
    assert_eq!(todos_back, todos, "PostgreSQL → SQLite");
    assert_eq!(members_back, vec![members[0].clone()], "only ada has an account");
}

async fn a_malformed_line_imports_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.user("ada@example.com").await;
    let t = ada.tenant("Acme").await;
    ada.todo(t, "one").await;
    ada.todo(t, "two").await;
    let good = export(&app, t);
    let mut body: Vec<&str> = good.lines().collect();
    let broken = body[3].replace("\"title\":\"one\"", "\"title\":\"\"");
    body[3] = &broken;
    let out = import(&app, &body.join("\n"), &[]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line 4"), "{err}");
    let list: Value = ada.client.get("/api/tenants").await.json().await.unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1, "nothing imported");
    let out = import(
        &app,
        "{\"aswan_export\":1,\"tenant\":{\"name\":\"X\"}}\nnot json\n",
        &[],
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("line 2"));
}

async fn without_an_owner_here_an_owner_must_be_named(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.user("ada@example.com").await;
    let t = ada.tenant("Acme").await;
    ada.todo(t, "one").await;
    let body = export(&app, t).replace("ada@example.com", "gone@example.com");
    let out = import(&app, &body, &[]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--owner"));
    let list: Value = ada.client.get("/api/tenants").await.json().await.unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1, "nothing left behind");
    let id = imported_id(&import(&app, &body, &["--owner", "ada@example.com"]));
    assert_eq!(ada.titles(id).await, ["one"]);
}

/// Over HTTP: owners export (streamed JSON Lines); anyone signed in imports
/// into a new tenant they own; members are not carried (invitations are).
async fn owners_export_and_import_over_http(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let [ada, bob, eve] =
        <[User; 3]>::try_from(users(&app, &["ada@example.com", "bob@example.com", "eve@example.com"]).await)
            .ok()
            .unwrap();
    let t = ada.tenant("Acme").await;
    ada.add_member(t, &bob, "member").await;
    for title in ["one", "two", "three"] {
        ada.todo(t, title).await;
    }
    let path = format!("/api/tenants/{t}/export");
    crate::helpers::expect_error(bob.client.get(&path).await, StatusCode::FORBIDDEN).await;
    crate::helpers::expect_error(eve.client.get(&path).await, StatusCode::NOT_FOUND).await;
    let res = ada.client.get(&path).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "application/x-ndjson");
    let body = res.text().await.unwrap();
    assert_eq!(
        lines(&body),
        lines(&export(&app, t)),
        "the CLI's file, but for its time"
    );

    let res = eve
        .client
        .request(reqwest::Method::POST, "/api/tenants/import?name=Copy")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let answer: Value = res.json().await.unwrap();
    assert_eq!(
        (answer["name"].as_str(), answer["role"].as_str()),
        (Some("Copy"), Some("owner"))
    );
    assert_eq!(answer["todos"], 3);
    assert_eq!(
        answer["members_not_imported"],
        json!(["ada@example.com", "bob@example.com"])
    );
    let copy: uuid::Uuid = answer["id"].as_str().unwrap().parse().unwrap();
    assert_eq!(eve.titles(copy).await, ["three", "two", "one"]);
    crate::helpers::expect_error(
        bob.client.get(&format!("/api/tenants/{copy}/todos")).await,
        StatusCode::NOT_FOUND,
    )
    .await;

    let bad = body.replacen("\"title\":\"two\",\"complete\"", "\"title\":\"\",\"complete\"", 1);
    let res = eve
        .client
        .request(reqwest::Method::POST, "/api/tenants/import")
        .body(bad)
        .send()
        .await
        .unwrap();
    let detail = crate::helpers::expect_error(res, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(detail.starts_with("line "), "{detail}");
    let list: Value = eve.client.get("/api/tenants").await.json().await.unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1, "nothing imported");
}

/// Imports hold a slot from before their body is read: one per user, two in
/// all (each can take ~100 MiB at the size limit); fields the server writes
/// follow its own bounds. (Before: no limit, 661 MiB RSS at 6 concurrent
/// 31 MiB imports; a 1 MB `estimate` and a 120-deep basis were stored.)
async fn imports_run_one_per_user_and_follow_the_apis_field_rules(backend: Backend) {
    use std::io::Write;
    let app = TestApp::spawn(backend).await;
    let [ada, bob, eve] =
        <[User; 3]>::try_from(users(&app, &["ada@example.com", "bob@example.com", "eve@example.com"]).await)
            .ok()
            .unwrap();
    let t = ada.tenant("Acme").await;
    ada.todo(t, "one").await;
    let body = ada
        .client
        .get(&format!("/api/tenants/{t}/export"))
        .await
        .text()
        .await
        .unwrap();
    let import = |who: &User, body: String| {
        who.client
            .request(reqwest::Method::POST, "/api/tenants/import")
            .body(body)
            .send()
    };
    // An import whose body is still arriving holds its slot (until the
    // body read times out or the client goes). A held request that lost the
    // race for a slot is answered at once: then it is sent again.
    let hold = |who: &User| {
        let mut s = std::net::TcpStream::connect(app.addr).unwrap();
        write!(
            s,
            "POST /api/tenants/import HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {}\r\nContent-Length: 100000\r\n\r\n{{",
            who.token
        )
        .unwrap();
        s.set_nonblocking(true).unwrap();
        s
    };
    let answered = |s: &std::net::TcpStream| matches!(s.peek(&mut [0u8; 1]), Ok(n) if n > 0);
    // Until `probe` is refused while `who`'s held import is in its slot.
    async fn refused_while_held(
        who: &User,
        hold: &dyn Fn(&User) -> std::net::TcpStream,
        answered: &dyn Fn(&std::net::TcpStream) -> bool,
        probe: impl AsyncFn() -> reqwest::Response,
    ) -> std::net::TcpStream {
        let mut held = hold(who);
        for _ in 0..200 {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            if answered(&held) {
                held = hold(who);
                continue;
            }
            let res = probe().await;
            if res.status() == StatusCode::TOO_MANY_REQUESTS {
                assert!(res.headers().contains_key("retry-after"));
                return held;
            }
            assert_eq!(res.status(), StatusCode::CREATED);
        }
        panic!("never refused while {}'s import was held", who.email);
    }
    let ada_holds = refused_while_held(&ada, &hold, &answered, async || {
        import(&ada, body.clone()).await.unwrap()
    })
    .await;
    // Another user's import runs beside it; a third is one too many.
    let bob_holds = refused_while_held(&bob, &hold, &answered, async || {
        import(&eve, body.clone()).await.unwrap()
    })
    .await;
    drop((ada_holds, bob_holds));
    crate::helpers::eventually(30, "the slots free when the held imports end", || async {
        import(&eve, body.clone()).await.unwrap().status() == StatusCode::CREATED
    })
    .await;

    // Fields only the server writes follow its bounds.
    let huge = "x".repeat(1_000_000);
    let nested = format!("{}{}", "[".repeat(120), "]".repeat(120));
    let base = body.replace("\"estimate_basis\":[]", "\"estimate_basis\":BASIS");
    assert!(base.contains("BASIS"), "{base}");
    for bad in [
        base.replace("BASIS", &nested),
        base.replace("BASIS", "[]")
            .replace("\"estimate_reason\":\"", &format!("\"estimate_reason\":\"{huge}")),
        base.replace("BASIS", "[]")
            .replace("\"estimate\":\"", &format!("\"estimate\":\"{huge}")),
    ] {
        assert_ne!(bad, base.replace("BASIS", "[]"), "the export has the fields replaced");
        let res = import(&eve, bad).await.unwrap();
        let detail = crate::helpers::expect_error(res, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert!(detail.starts_with("line "), "{detail}");
    }
}
