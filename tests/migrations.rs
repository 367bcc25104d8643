//! The SQLite and PostgreSQL migration folders stay in step.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

fn migrations(backend: &str) -> BTreeSet<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations").join(backend);
    fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

/// The names of the tables, indexes and triggers a migration creates.
fn created_objects(backend: &str, migration: &str) -> BTreeSet<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(backend)
        .join(migration)
        .join("up.sql");
    let sql = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let words: Vec<&str> = sql.split_whitespace().collect();
    let mut names = BTreeSet::new();
    for (i, w) in words.iter().enumerate() {
        if w.eq_ignore_ascii_case("CREATE") {
            let rest: Vec<&str> = words[i + 1..].iter().take(3).copied().collect();
            let (kind, name) = match rest.as_slice() {
                ["UNIQUE", "INDEX", name, ..] => ("index", name),
                ["INDEX", name, ..] | ["TABLE", name, ..] | ["TRIGGER", name, ..] => (rest[0], name),
                _ => continue,
            };
            // Triggers differ in shape between the backends, and substring
            // search is backend-specific by design (FTS5 against pg_trgm).
            if kind.eq_ignore_ascii_case("TRIGGER") || name.contains("_search") {
                continue;
            }
            names.insert(format!("{} {}", kind.to_lowercase(), name.trim_matches('(')));
        }
    }
    names
}

/// A migration that only SQLite needs (it says so on its first line); its
/// PostgreSQL twin is a no-op.
fn sqlite_only(migration: &str) -> bool {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations/sqlite")
        .join(migration)
        .join("up.sql");
    fs::read_to_string(path).is_ok_and(|sql| sql.starts_with("-- SQLite only"))
}

#[test]
fn both_backends_have_the_same_migrations() {
    let sqlite = migrations("sqlite");
    let postgres = migrations("postgres");
    assert!(!sqlite.is_empty());
    assert_eq!(
        sqlite, postgres,
        "migrations/sqlite and migrations/postgres must hold the same names"
    );
    for m in &sqlite {
        for backend in ["sqlite", "postgres"] {
            for file in ["up.sql", "down.sql"] {
                let p = Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("migrations")
                    .join(backend)
                    .join(m)
                    .join(file);
                assert!(p.exists(), "{} is missing", p.display());
            }
        }
        if sqlite_only(m) {
            assert!(created_objects("postgres", m).is_empty(), "{m} is SQLite only");
            continue;
        }
        assert_eq!(
            created_objects("sqlite", m),
            created_objects("postgres", m),
            "{m} creates different tables or indexes"
        );
    }
}
