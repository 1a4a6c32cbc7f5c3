/// What can go wrong in the store. The HTTP layer maps these to statuses;
/// `Database` and `Migrate` details are logged, never shown to clients.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique key was taken (an email, a membership).
    #[error("already exists")]
    Conflict,
    /// A referenced row does not exist.
    #[error("not found")]
    NotFound,
    /// The change would leave a tenant without an owner.
    #[error("a tenant must keep at least one owner")]
    LastOwner,
    /// `aswan sql` refused the statement (more than one, or one that would
    /// leave its scope); the text says why.
    #[error("{0}")]
    Refused(String),
    /// The configuration cannot work (bad URL, missing extension …).
    #[error("{0}")]
    Config(String),
    /// The database cannot be reached (down, or every connection busy past
    /// the acquire timeout): try again later.
    #[error("the database is unavailable: {0}")]
    Unavailable(sqlx::Error),
    #[error("database error: {0}")]
    Database(sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) | sqlx::Error::Tls(_) => {
                Self::Unavailable(e)
            }
            sqlx::Error::Database(ref db)
                if db.code().is_some_and(|c| {
                    unavailable_code(&c, db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some())
                }) =>
            {
                Self::Unavailable(e)
            }
            e => Self::Database(e),
        }
    }
}

/// Database error codes that say "not now" rather than "not this": the
/// request was fine and may succeed later, so it is answered 503 (with
/// Retry-After), not 500.
///
/// * SQLite (numeric; the low byte is the primary code): `SQLITE_BUSY` (5),
///   `SQLITE_IOERR` (10), `SQLITE_FULL` (13), `SQLITE_CANTOPEN` (14),
///   `SQLITE_READONLY` (8: the file or its directory was made read-only
///   under the server).
/// * PostgreSQL (SQLSTATE): class 08 (connection exceptions, also a Citus
///   worker that cannot be reached), class 53 (insufficient resources: disk
///   full, out of memory, too many connections), 57P01–57P03 (shutting
///   down, crashed, not yet accepting), 25006 (a read-only standby),
///   40001 and 40P01 (a serialization failure or deadlock: the
///   transaction was rolled back and may simply be tried again).
fn unavailable_code(code: &str, sqlite: bool) -> bool {
    if sqlite {
        return code
            .parse::<u32>()
            .is_ok_and(|n| matches!(n & 0xff, 5 | 8 | 10 | 13 | 14));
    }
    code.starts_with("08")
        || code.starts_with("53")
        || matches!(code, "57P01" | "57P02" | "57P03" | "25006" | "40001" | "40P01")
}

impl StoreError {
    /// Maps a unique-key violation to [`StoreError::Conflict`].
    pub(crate) fn conflict_on_unique(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::Database(db) if db.is_unique_violation() => Self::Conflict,
            _ => e.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::unavailable_code;

    #[test]
    fn not_now_codes_are_told_from_not_this_ones() {
        for code in ["5", "8", "264", "1032", "10", "3850", "13", "14"] {
            assert!(unavailable_code(code, true), "SQLite {code}");
        }
        for code in ["08006", "08001", "53100", "53300", "57P01", "25006", "40P01"] {
            assert!(unavailable_code(code, false), "PostgreSQL {code}");
        }
        // Constraint violations, syntax errors, a bad value: the request's fault.
        for code in ["19", "2067", "1", "787"] {
            assert!(!unavailable_code(code, true), "SQLite {code}");
        }
        for code in ["23505", "23503", "42601", "22P02", "42501"] {
            assert!(!unavailable_code(code, false), "PostgreSQL {code}");
        }
    }
}
