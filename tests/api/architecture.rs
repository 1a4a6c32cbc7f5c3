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
        let uses_door = text.contains(".unchecked_tenant(") || text.contains("clippy::disallowed_methods");
        if uses_door && !allowed.contains(&rel.as_str()) {
            offenders.push(rel);
        }
    }
    assert!(offenders.is_empty(), "the maintenance door is used in {offenders:?}");
}

#[test]
fn clippy_forbids_the_door() {
    let clippy = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("clippy.toml")).unwrap();
    assert!(clippy.contains("aswan::store::Store::unchecked_tenant"), "{clippy}");
}
