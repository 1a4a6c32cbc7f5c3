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
            e => Self::Database(e),
        }
    }
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
