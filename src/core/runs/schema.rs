//! The database schema and its migrations. `schema_version` holds one row; migration `k`
//! (1-based) brings a store from version k-1 to k inside one transaction. A store written by a
//! newer gradlab is refused, never touched.

use rusqlite::{Connection, OptionalExtension};

/// Migrations in order; the store's version is the number applied.
const MIGRATIONS: &[&str] = &[
    // 1: the first schema.
    "
    CREATE TABLE runs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        lab TEXT NOT NULL,
        name TEXT NOT NULL,
        status TEXT NOT NULL,
        config TEXT NOT NULL,
        config_key TEXT NOT NULL,
        seed INTEGER,
        dataset TEXT,
        dataset_sha256 TEXT,
        command TEXT NOT NULL,
        gradlab_version TEXT NOT NULL,
        git_commit TEXT,
        machine TEXT NOT NULL,
        pid INTEGER NOT NULL,
        pid_start INTEGER,
        started_ms INTEGER NOT NULL,
        ended_ms INTEGER,
        progress_done INTEGER,
        progress_total INTEGER,
        summary TEXT,
        main_metric TEXT,
        main_value REAL,
        error TEXT,
        notes TEXT NOT NULL DEFAULT '',
        deleted_ms INTEGER
    );
    CREATE INDEX runs_started ON runs(deleted_ms, started_ms);
    CREATE INDEX runs_config_key ON runs(config_key);
    CREATE INDEX runs_status ON runs(status);
    CREATE TABLE tags (
        run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        tag TEXT NOT NULL,
        PRIMARY KEY (run_id, tag)
    ) WITHOUT ROWID;
    CREATE INDEX tags_tag ON tags(tag);
    CREATE TABLE metrics (
        run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        key TEXT NOT NULL,
        step REAL NOT NULL,
        value REAL NOT NULL,
        wall REAL NOT NULL
    );
    CREATE INDEX metrics_run_key ON metrics(run_id, key);
    CREATE TABLE logs (
        run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        wall REAL NOT NULL,
        line TEXT NOT NULL
    );
    CREATE INDEX logs_run ON logs(run_id);
    CREATE TABLE artifacts (
        run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        path TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        size INTEGER NOT NULL,
        PRIMARY KEY (run_id, name)
    ) WITHOUT ROWID;
    ",
    // 2: sweeps, and which run answers which grid point and seed of a sweep.
    "
    CREATE TABLE sweeps (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        sweep_key TEXT NOT NULL UNIQUE,
        lab TEXT NOT NULL,
        command TEXT NOT NULL,
        base_config TEXT NOT NULL,
        grid TEXT NOT NULL,
        seeds TEXT NOT NULL,
        points INTEGER NOT NULL,
        total INTEGER NOT NULL,
        metric TEXT NOT NULL,
        status TEXT NOT NULL,
        pid INTEGER,
        pid_start INTEGER,
        created_ms INTEGER NOT NULL,
        updated_ms INTEGER NOT NULL
    );
    CREATE TABLE sweep_runs (
        sweep_id INTEGER NOT NULL REFERENCES sweeps(id) ON DELETE CASCADE,
        point INTEGER NOT NULL,
        slot INTEGER NOT NULL,
        params TEXT NOT NULL,
        run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        PRIMARY KEY (sweep_id, point, slot)
    ) WITHOUT ROWID;
    CREATE INDEX sweep_runs_run ON sweep_runs(run_id);
    ",
    // 3: a sweep's base flags (JSON words), so the app can resume it without re-parsing the
    // command line it was started with.
    "
    ALTER TABLE sweeps ADD COLUMN base_words TEXT;
    ",
];

/// The version this build writes and reads.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    #[error(
        "it was written by a newer gradlab (schema version {found}; this gradlab reads up to {SCHEMA_VERSION}): update gradlab or use another --runs-dir"
    )]
    Newer { found: i64 },
    #[error("it is not a gradlab run store (tables {0} but no schema_version)")]
    Foreign(String),
    #[error(transparent)]
    Sql(#[from] rusqlite::Error),
}

/// The version of the store behind `conn`: 0 for an empty database.
pub fn version(conn: &Connection) -> Result<i64, SchemaError> {
    if !conn.is_autocommit() {
        return version_in_snapshot(conn);
    }
    // One read transaction, so the queries below see one snapshot: outside it another process
    // creating the store between them made a new store look like a foreign database.
    let tx = conn.unchecked_transaction()?;
    let v = version_in_snapshot(&tx);
    drop(tx);
    v
}

fn version_in_snapshot(conn: &Connection) -> Result<i64, SchemaError> {
    let has_table: bool = conn
        .query_row(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'",
            [],
            |_| Ok(true),
        )
        .optional()?
        .unwrap_or(false);
    if !has_table {
        let tables: Vec<String> = conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table' LIMIT 5")?
            .query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        if !tables.is_empty() {
            return Err(SchemaError::Foreign(tables.join(", ")));
        }
        return Ok(0);
    }
    Ok(conn
        .query_row("SELECT version FROM schema_version", [], |r| r.get(0))
        .optional()?
        .unwrap_or(0))
}

/// Brings the store up to [`SCHEMA_VERSION`]; refuses a newer or foreign database before
/// writing anything.
pub fn migrate(conn: &mut Connection) -> Result<(), SchemaError> {
    let found = version(conn)?;
    if found > SCHEMA_VERSION {
        return Err(SchemaError::Newer { found });
    }
    if found == SCHEMA_VERSION {
        return Ok(());
    }
    // IMMEDIATE: two processes creating the same new store do not both run migration 1.
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let found = version(&tx)?;
    if found > SCHEMA_VERSION {
        return Err(SchemaError::Newer { found });
    }
    if found == 0 {
        tx.execute_batch("CREATE TABLE schema_version (version INTEGER NOT NULL)")?;
        tx.execute("INSERT INTO schema_version VALUES (0)", [])?;
    }
    for (k, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        tx.execute_batch(sql)?;
        tx.execute("UPDATE schema_version SET version = ?1", [k as i64 + 1])?;
    }
    tx.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrate_creates_then_is_idempotent() {
        let mut c = Connection::open_in_memory().unwrap();
        assert_eq!(version(&c).unwrap(), 0);
        migrate(&mut c).unwrap();
        assert_eq!(version(&c).unwrap(), SCHEMA_VERSION);
        migrate(&mut c).unwrap();
        assert_eq!(version(&c).unwrap(), SCHEMA_VERSION);
    }

    #[test]
    fn newer_and_foreign_databases_are_refused_untouched() {
        let mut c = Connection::open_in_memory().unwrap();
        migrate(&mut c).unwrap();
        c.execute("UPDATE schema_version SET version = 99", [])
            .unwrap();
        let e = migrate(&mut c).unwrap_err();
        assert!(e.to_string().contains("newer gradlab"), "{e}");
        assert_eq!(version(&c).unwrap(), 99);

        let mut f = Connection::open_in_memory().unwrap();
        f.execute_batch("CREATE TABLE photos (x)").unwrap();
        let e = migrate(&mut f).unwrap_err();
        assert!(e.to_string().contains("photos"), "{e}");
    }
}
