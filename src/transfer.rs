//! Tenant export and import (`aswan export`, `aswan import`): one tenant as
//! JSON Lines, to move it between instances or from SQLite to PostgreSQL.
//!
//! ```text
//! {"aswan_export":1,"tenant":{"name":"Acme"},"exported_at":"…"}
//! {"member":{"email":"ada@example.com","role":"owner"}}
//! {"todo":{"id":"…","title":"…","complete":false,"estimate":"…","estimate_status":"ready",…}}
//! ```
//!
//! A todo line is the API's todo: every field, its id included (other todos'
//! estimate bases refer to it). Embeddings are not carried: the importing
//! instance computes its own (`aswan import` embeds the new tenant's todos
//! when estimates are on). Timestamps are kept to the microsecond.

use std::io::BufRead;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::domain::{Email, Role, TenantName, TodoFilter, TodoId, TodoTitle};
use crate::store::prelude::*;
use crate::store::{EstimateStatus, ImportedTodo, PageRequest, TenantImport, TenantStore};

/// The format's version, in the first line.
pub const VERSION: u32 = 1;

#[derive(Serialize, Deserialize)]
struct Header {
    aswan_export: u32,
    tenant: HeaderTenant,
    #[serde(default)]
    exported_at: Option<DateTime<Utc>>,
}

#[derive(Serialize, Deserialize)]
struct HeaderTenant {
    name: String,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
enum Line {
    Member(MemberLine),
    Todo(TodoLine),
}

#[derive(Serialize, Deserialize)]
struct MemberLine {
    email: String,
    role: Role,
}

#[derive(Serialize, Deserialize)]
struct TodoLine {
    id: TodoId,
    title: String,
    complete: bool,
    estimate: Option<String>,
    estimate_status: String,
    estimate_minutes: Option<i32>,
    estimate_basis: Box<RawValue>,
    #[serde(default, alias = "estimate_error")]
    estimate_reason: Option<String>,
    actual_minutes: Option<i32>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    // Added with estimate ranges and calibration: absent from older exports
    // (still version 1: the fields are optional both ways).
    #[serde(default)]
    estimate_low_minutes: Option<i32>,
    #[serde(default)]
    estimate_high_minutes: Option<i32>,
    #[serde(default)]
    estimate_model_minutes: Option<i32>,
}

/// Sends `tenant` as JSON Lines to `out`, a page (up to 500 lines) per
/// chunk, waiting while the reader is behind: memory stays flat for a tenant
/// of any size. The number of todos sent.
pub async fn export(tenant: &TenantStore, out: tokio::sync::mpsc::Sender<Vec<u8>>) -> anyhow::Result<u64> {
    let closed = || anyhow::anyhow!("the export's reader went away");
    let info = tenant.info().await?;
    let header = Header {
        aswan_export: VERSION,
        tenant: HeaderTenant { name: info.name },
        exported_at: Some(Utc::now()),
    };
    let mut chunk = serde_json::to_vec(&header)?;
    chunk.push(b'\n');
    let mut page = PageRequest::first(500);
    loop {
        let got = tenant.members(page.clone()).await?;
        for m in got.items {
            let line = Line::Member(MemberLine {
                email: m.email,
                role: m.role,
            });
            serde_json::to_writer(&mut chunk, &line)?;
            chunk.push(b'\n');
        }
        match got.next {
            Some(next) => page.after = Some(next),
            None => break,
        }
    }
    out.send(std::mem::take(&mut chunk)).await.map_err(|_| closed())?;
    let (mut page, mut sent) = (PageRequest::first(500), 0u64);
    loop {
        let every = TodoFilter {
            with_basis: true,
            ..TodoFilter::default()
        };
        let got = tenant.list_todos(every, page.clone()).await?;
        for t in got.items {
            // Through the API's own serialisation, then renamed into a line.
            let todo: TodoLine = serde_json::from_value(serde_json::to_value(&t)?)?;
            serde_json::to_writer(&mut chunk, &Line::Todo(todo))?;
            chunk.push(b'\n');
            sent += 1;
        }
        out.send(std::mem::take(&mut chunk)).await.map_err(|_| closed())?;
        match got.next {
            Some(next) => page.after = Some(next),
            None => break,
        }
    }
    Ok(sent)
}

/// A line that cannot be imported, and why.
#[derive(Debug, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct LineError {
    pub line: usize,
    pub message: String,
}

/// Reads and validates a whole export before anything is written: a bad line
/// is an error naming it, and nothing is imported.
pub fn parse(input: impl BufRead, into: Option<&str>, owner: Option<&str>) -> Result<TenantImport, LineError> {
    let err = |line: usize, message: String| LineError { line, message };
    let mut lines = input.lines().enumerate().map(|(i, l)| (i + 1, l));
    let (_, first) = lines.next().ok_or_else(|| err(1, "the file is empty".into()))?;
    let first = first.map_err(|e| err(1, e.to_string()))?;
    let header: Header =
        serde_json::from_str(&first).map_err(|e| err(1, format!("not an Aswan export header: {e}")))?;
    if header.aswan_export != VERSION {
        return Err(err(
            1,
            format!(
                "export format {} is not supported (this is {VERSION})",
                header.aswan_export
            ),
        ));
    }
    let name = TenantName::parse(into.unwrap_or(&header.tenant.name)).map_err(|e| err(1, e.to_string()))?;
    let owner_fallback = owner
        .map(|o| Email::parse(o).map_err(|e| err(0, format!("--owner: {e}"))))
        .transpose()?;
    let (mut members, mut todos) = (Vec::new(), Vec::new());
    let mut ids = std::collections::HashSet::new();
    for (n, line) in lines {
        let line = line.map_err(|e| err(n, e.to_string()))?;
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Line>(&line).map_err(|e| err(n, e.to_string()))? {
            Line::Member(m) => {
                let email = Email::parse(&m.email).map_err(|e| err(n, e.to_string()))?;
                members.push((email, m.role));
            }
            Line::Todo(t) => {
                if !ids.insert(t.id) {
                    return Err(err(n, format!("todo {} appears twice", t.id)));
                }
                todos.push(todo(t).map_err(|message| err(n, message))?);
            }
        }
    }
    Ok(TenantImport {
        name,
        members,
        owner_fallback,
        todos,
    })
}

/// The longest estimate or reason text an import may carry: more than the
/// server ever writes (an estimate's words are cut at 256 characters), far
/// less than a line could hold.
const MAX_IMPORTED_TEXT: usize = 1_000;

/// The most similar tasks an estimate's basis may list: SIMILAR_TASKS's
/// ceiling.
const MAX_BASIS: usize = 50;

/// A server-written text field: at most [`MAX_IMPORTED_TEXT`] characters,
/// no control characters.
fn server_text(field: &str, value: Option<String>) -> Result<Option<String>, String> {
    match &value {
        Some(text) if text.chars().count() > MAX_IMPORTED_TEXT => {
            Err(format!("{field}: longer than {MAX_IMPORTED_TEXT} characters"))
        }
        Some(text) if text.chars().any(|c| c.is_control() && c != '\n') => {
            Err(format!("{field}: must not contain control characters"))
        }
        _ => Ok(value),
    }
}

/// An estimate's basis as the server writes it: at most [`MAX_BASIS`]
/// similar tasks, each with its id, a valid title, minutes and distance.
/// (Anything else — other shapes, deep nesting, huge strings — is refused.)
fn basis(raw: &RawValue) -> Result<(), String> {
    let items: Vec<crate::store::Basis> =
        serde_json::from_str(raw.get()).map_err(|e| format!("estimate_basis: not a list of similar tasks: {e}"))?;
    if items.len() > MAX_BASIS {
        return Err(format!("estimate_basis: more than {MAX_BASIS} similar tasks"));
    }
    for item in &items {
        TodoTitle::parse(&item.title).map_err(|e| format!("estimate_basis: {e}"))?;
        if !item.distance.is_finite() {
            return Err("estimate_basis: a distance is not a number".into());
        }
    }
    Ok(())
}

/// A todo line, validated as the API validates what it stores.
fn todo(t: TodoLine) -> Result<ImportedTodo, String> {
    let minutes = |field: &str, v: Option<i32>| match v {
        Some(m) if !(1..=i32::try_from(crate::ai::parse::MAX_MINUTES).unwrap_or(i32::MAX)).contains(&m) => {
            Err(format!("{field}: {m} is out of range"))
        }
        _ => Ok(v),
    };
    basis(&t.estimate_basis)?;
    Ok(ImportedTodo {
        id: t.id,
        title: TodoTitle::parse(&t.title).map_err(|e| e.to_string())?,
        complete: t.complete,
        estimate: server_text("estimate", t.estimate)?,
        estimate_status: EstimateStatus::parse(&t.estimate_status)
            .ok_or_else(|| format!("estimate_status: unknown {:?}", t.estimate_status))?,
        estimate_minutes: minutes("estimate_minutes", t.estimate_minutes)?,
        estimate_basis: t.estimate_basis,
        estimate_reason: server_text("estimate_reason", t.estimate_reason)?,
        actual_minutes: minutes("actual_minutes", t.actual_minutes)?,
        created_at: t.created_at,
        updated_at: t.updated_at,
        estimate_low_minutes: minutes("estimate_low_minutes", t.estimate_low_minutes)?,
        estimate_high_minutes: minutes("estimate_high_minutes", t.estimate_high_minutes)?,
        estimate_model_minutes: minutes("estimate_model_minutes", t.estimate_model_minutes)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = r#"{"aswan_export":1,"tenant":{"name":"Acme"}}"#;
    const TODO: &str = r#"{"todo":{"id":"0190c1e5-0000-7000-8000-000000000001","title":"Write","complete":false,"estimate":null,"estimate_status":"off","estimate_minutes":null,"estimate_basis":[],"estimate_reason":null,"actual_minutes":null,"created_at":"2026-01-01T00:00:00Z","updated_at":"2026-01-01T00:00:00Z"}}"#;

    #[test]
    fn a_bad_line_is_named() {
        for (body, line) in [
            (format!("{HEADER}\n{TODO}\nnot json\n"), 3),
            (format!("{HEADER}\n{}\n", TODO.replace("\"off\"", "\"done\"")), 2),
            (format!("{HEADER}\n{TODO}\n{TODO}\n"), 3),
            (format!("{HEADER}\n{}\n", TODO.replace("\"Write\"", "\"\"")), 2),
            ("{\"nope\":1}\n".to_owned(), 1),
            (
                format!("{HEADER}\n{{\"member\":{{\"email\":\"x\",\"role\":\"owner\"}}}}\n"),
                2,
            ),
        ] {
            let e = parse(body.as_bytes(), None, None).unwrap_err();
            assert_eq!(e.line, line, "{body}: {e}");
        }
        let ok = parse(format!("{HEADER}\n{TODO}\n").as_bytes(), Some("Copy"), None).unwrap();
        assert_eq!((ok.name.as_str(), ok.todos.len()), ("Copy", 1));
    }

    /// Server-written fields follow the server's own bounds. (Before: a
    /// 1 MB estimate, a 31 MiB reason and a basis nested 120 deep were
    /// imported.)
    #[test]
    fn server_written_fields_are_bounded() {
        let nested = format!("{}{}", "[".repeat(120), "]".repeat(120));
        let long = "x".repeat(MAX_IMPORTED_TEXT + 1);
        let many = format!(
            "[{}]",
            vec![
                r#"{"id":"0190c1e5-0000-7000-8000-000000000002","title":"t","minutes":5,"actual":true,"distance":0.1}"#;
                MAX_BASIS + 1
            ]
            .join(",")
        );
        for bad in [
            TODO.replace("\"estimate\":null", &format!("\"estimate\":\"{long}\"")),
            TODO.replace("\"estimate_reason\":null", &format!("\"estimate_reason\":\"{long}\"")),
            TODO.replace("\"estimate\":null", "\"estimate\":\"a\\u001bb\""),
            TODO.replace("\"estimate_basis\":[]", &format!("\"estimate_basis\":{nested}")),
            TODO.replace("\"estimate_basis\":[]", &format!("\"estimate_basis\":{many}")),
            TODO.replace("\"estimate_basis\":[]", "\"estimate_basis\":[{\"x\":1}]"),
            TODO.replace("\"estimate_basis\":[]", "\"estimate_basis\":{}"),
        ] {
            assert!(
                parse(format!("{HEADER}\n{bad}\n").as_bytes(), None, None).is_err(),
                "{}",
                &bad[..bad.len().min(300)]
            );
        }
        let fine = TODO.replace(
            "\"estimate_basis\":[]",
            r#""estimate_basis":[{"id":"0190c1e5-0000-7000-8000-000000000002","title":"Draft","minutes":30,"actual":true,"distance":0.2}]"#,
        );
        let ok = parse(format!("{HEADER}\n{fine}\n").as_bytes(), Some("Copy"), None).unwrap();
        assert_eq!((ok.name.as_str(), ok.todos.len()), ("Copy", 1));
    }
}
