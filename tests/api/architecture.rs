//! The house rules that the compiler alone does not hold (ARCHITECTURE.md):
//! the maintenance door to tenant data is used only where it is allowed, and
//! the HTTP layer never names it. (Backend types are private to the store, so
//! naming them fails to compile: the `compile_fail` examples in
//! src/store/mod.rs prove it.)

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files
}

#[test]
fn the_maintenance_door_is_used_only_where_allowed() {
    // The definition, and the whole-database maintenance commands.
    let allowed = ["src/store/mod.rs", "src/ai/reindex.rs", "src/main.rs"];
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut offenders = Vec::new();
    for file in rust_files(&root.join("src")) {
        let text = std::fs::read_to_string(&file).unwrap();
        let rel = file.strip_prefix(root).unwrap().to_string_lossy().replace('\\', "/");
        if text.contains(".unchecked_tenant(") && !allowed.contains(&rel.as_str()) {
            offenders.push(rel.clone());
        }
        // The job claim hands out every tenant with due jobs: the worker's.
        if text.contains(".claim_estimate_jobs(") && rel != "src/ai/worker.rs" {
            offenders.push(rel);
        }
    }
    assert!(
        offenders.is_empty(),
        "a door past the membership check is used in {offenders:?}"
    );
}

#[test]
fn clippy_forbids_the_door() {
    let clippy = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("clippy.toml")).unwrap();
    assert!(clippy.contains("aswan::store::Store::unchecked_tenant"), "{clippy}");
    assert!(
        clippy.contains("aswan::store::EstimateQueue::claim_estimate_jobs"),
        "{clippy}"
    );
}

/// The layers of ARCHITECTURE.md ("The layers"), lowest first: each module
/// may name only the modules listed for it (below it). A file naming a
/// module above its own (the store reaching into the estimates, the
/// estimates into the metrics' caller, …) fails here, and so does a loop.
const MAY_NAME: [(&str, &[&str]); 16] = [
    ("domain", &[]),
    ("server", &[]),
    ("auth", &["domain"]),
    ("store", &["domain"]),
    ("config", &["domain", "store"]),
    ("telemetry", &["config"]),
    ("monitoring", &["store"]),
    ("housekeeping", &["store"]),
    ("mail", &["config"]),
    ("ai", &["config", "domain", "monitoring", "store"]),
    ("accounts", &["auth", "domain", "store"]),
    ("transfer", &["ai", "domain", "store"]),
    ("eval", &["ai", "domain", "store"]),
    (
        "http",
        &[
            "accounts",
            "ai",
            "auth",
            "config",
            "domain",
            "mail",
            "monitoring",
            "server",
            "store",
            "transfer",
        ],
    ),
    (
        "app",
        &[
            "accounts",
            "ai",
            "auth",
            "config",
            "domain",
            "housekeeping",
            "http",
            "mail",
            "monitoring",
            "server",
            "store",
        ],
    ),
    ("lib", &[]),
];

/// The top-level modules a file names as `{prefix}name`.
fn named_modules(text: &str, prefix: &str) -> std::collections::BTreeSet<String> {
    let mut names = std::collections::BTreeSet::new();
    for (i, _) in text.match_indices(prefix) {
        let rest = &text[i + prefix.len()..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if !name.is_empty() {
            names.insert(name);
        }
    }
    names
}

#[test]
fn each_layer_names_only_the_layers_below_it() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let src = root.join("src");
    let mut offences = Vec::new();
    for file in rust_files(&src) {
        let rel = file.strip_prefix(&src).unwrap().to_string_lossy().replace('\\', "/");
        if rel == "main.rs" {
            continue;
        }
        let module = rel.split(['/', '.']).next().unwrap().to_owned();
        let allowed = MAY_NAME
            .iter()
            .find(|(m, _)| *m == module)
            .unwrap_or_else(|| panic!("src/{rel}: the module {module} has no place in MAY_NAME (ARCHITECTURE.md)"))
            .1;
        let text = std::fs::read_to_string(&file).unwrap();
        for named in named_modules(&text, "crate::") {
            if named != module && !allowed.contains(&named.as_str()) {
                offences.push(format!("src/{rel} names crate::{named}"));
            }
        }
    }
    // The binary's commands call use cases, never the HTTP layer.
    let main = std::fs::read_to_string(src.join("main.rs")).unwrap();
    if named_modules(&main, "aswan::").contains("http") {
        offences.push("src/main.rs names aswan::http".into());
    }
    assert!(offences.is_empty(), "layering broken:\n{}", offences.join("\n"));
}

/// The rule above would pass vacuously if it read nothing: it does see the
/// arrows that exist.
#[test]
fn the_layer_check_sees_real_arrows() {
    let http = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/http/todos.rs")).unwrap();
    assert!(named_modules(&http, "crate::").contains("store"));
    assert!(named_modules("use crate::ai::parse::MAX_MINUTES;", "crate::").contains("ai"));
}
