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
    /// The configuration cannot work (bad URL, missing extension …).
    #[error("{0}")]
    Config(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl StoreError {
    /// Maps a unique-key violation to [`StoreError::Conflict`].
    pub(crate) fn conflict_on_unique(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::Database(db) if db.is_unique_violation() => Self::Conflict,
            _ => Self::Database(e),
        }
    }
}
