//! The schema migrations, embedded in the binary. `sqlx::migrate!` would embed the same files,
//! but sqlx's macros compile sqlx and SQLite a second time (for the build host) in every cold
//! build. Checksums and descriptions are computed as the macro computes them, so databases
//! migrated by either are the same to sqlx.

use std::borrow::Cow;

use sqlx::SqlSafeStr;
use sqlx::migrate::{Migration, MigrationType, Migrator};

/// Version, description (the file name's words), SQL.
type Step = (i64, &'static str, &'static str);

pub(crate) const SQLITE: [Step; 13] = [
    (1, "events", include_str!("../migrations/sqlite/0001_events.sql")),
    (2, "api key scopes", include_str!("../migrations/sqlite/0002_api_key_scopes.sql")),
    (3, "accounts", include_str!("../migrations/sqlite/0003_accounts.sql")),
    (4, "server secrets", include_str!("../migrations/sqlite/0004_server_secrets.sql")),
    (5, "sign in failures", include_str!("../migrations/sqlite/0005_sign_in_failures.sql")),
    (6, "facet indexes", include_str!("../migrations/sqlite/0006_facet_indexes.sql")),
    (7, "export jobs", include_str!("../migrations/sqlite/0007_export_jobs.sql")),
    (8, "deliveries", include_str!("../migrations/sqlite/0008_deliveries.sql")),
    (9, "flag notes", include_str!("../migrations/sqlite/0009_flag_notes.sql")),
    (10, "system messages", include_str!("../migrations/sqlite/0010_system_messages.sql")),
    (11, "job kinds", include_str!("../migrations/sqlite/0011_job_kinds.sql")),
    (12, "detail indexes", include_str!("../migrations/sqlite/0012_detail_indexes.sql")),
    (13, "event hours", include_str!("../migrations/sqlite/0013_event_hours.sql")),
];

pub(crate) const POSTGRES: [Step; 13] = [
    (1, "events", include_str!("../migrations/postgres/0001_events.sql")),
    (2, "api key scopes", include_str!("../migrations/postgres/0002_api_key_scopes.sql")),
    (3, "accounts", include_str!("../migrations/postgres/0003_accounts.sql")),
    (4, "server secrets", include_str!("../migrations/postgres/0004_server_secrets.sql")),
    (5, "sign in failures", include_str!("../migrations/postgres/0005_sign_in_failures.sql")),
    (6, "facet indexes", include_str!("../migrations/postgres/0006_facet_indexes.sql")),
    (7, "export jobs", include_str!("../migrations/postgres/0007_export_jobs.sql")),
    (8, "deliveries", include_str!("../migrations/postgres/0008_deliveries.sql")),
    (9, "flag notes", include_str!("../migrations/postgres/0009_flag_notes.sql")),
    (10, "system messages", include_str!("../migrations/postgres/0010_system_messages.sql")),
    (11, "job kinds", include_str!("../migrations/postgres/0011_job_kinds.sql")),
    (12, "detail indexes", include_str!("../migrations/postgres/0012_detail_indexes.sql")),
    (13, "event hours", include_str!("../migrations/postgres/0013_event_hours.sql")),
];

pub(crate) fn migrator(steps: &[Step]) -> Migrator {
    let migrations = steps
        .iter()
        .map(|&(version, description, sql)| {
            let no_tx = sql.starts_with("-- no-transaction");
            let kind = MigrationType::Simple;
            Migration::new(version, Cow::Borrowed(description), kind, sql.into_sql_str(), no_tx)
        })
        .collect();
    Migrator::with_migrations(migrations)
}

#[cfg(test)]
mod tests {
    /// Every migration file is listed, in order, for both dialects.
    #[test]
    fn every_file_is_embedded() {
        for (dir, steps) in [("sqlite", &super::SQLITE), ("postgres", &super::POSTGRES)] {
            let path = format!("{}/migrations/{dir}", env!("CARGO_MANIFEST_DIR"));
            let mut files: Vec<String> = std::fs::read_dir(path)
                .unwrap()
                .map(|f| f.unwrap().file_name().into_string().unwrap())
                .collect();
            files.sort();
            let listed: Vec<String> = steps
                .iter()
                .map(|(v, d, _)| format!("{v:04}_{}.sql", d.replace(' ', "_")))
                .collect();
            assert_eq!(files, listed, "{dir}");
        }
    }
}
