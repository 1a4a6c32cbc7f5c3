//! The two backends behind one handle, and [`on!`], which runs one query
//! body on either. A body is written once and compiled twice, once per
//! backend's connection type (the pattern of vaultwarden's `db_run!`), so a
//! query shared by SQLite and PostgreSQL exists in one place only. The few
//! operations that truly differ live in `sqlite/` and `postgres/`
//! (ARCHITECTURE.md, "The store").

use super::{postgres, sqlite};

/// Which database this process talks to. Private to the store: nothing
/// outside it can name a backend or reach its pools.
#[derive(Clone)]
pub(super) enum Db {
    Sqlite(sqlite::SqliteDb),
    Postgres(postgres::PgDb),
}

/// Runs a body with `c` bound to a connection of the right kind, written
/// like a closure so that rustfmt formats it:
///
/// * `on!(read(db), |c| …)`: global reads (any pooled connection);
/// * `on!(write(db), |c| …)`: global writes, in one transaction (SQLite: on
///   its single writer);
/// * `on!(write_one(db), |c| …)`: one writing statement on its own
///   (autocommit), on the writer;
/// * `on!(tenant_read(db, t), |c| …)` / `on!(tenant_write(db, t), |c| …)`:
///   tenant data. On PostgreSQL inside a transaction in `t`'s context
///   (row-level security); on SQLite on the read pool or in a write
///   transaction. The body still filters on `t`.
///
/// The body refers to the connection as `&mut *c`; `?` inside it returns
/// from the enclosing function, dropping (rolling back) the transaction.
macro_rules! on {
    (read($db:expr), |$c:ident| $body:expr) => {
        match $db {
            $crate::store::backend::Db::Sqlite(s) => {
                let mut $c = s.read.acquire().await?;
                $body
            }
            $crate::store::backend::Db::Postgres(p) => {
                let mut $c = p.pool.acquire().await?;
                $body
            }
        }
    };
    (write($db:expr), |$c:ident| $body:expr) => {
        match $db {
            $crate::store::backend::Db::Sqlite(s) => {
                let mut $c = s.write.begin().await?;
                let out = $body;
                $c.commit().await?;
                out
            }
            $crate::store::backend::Db::Postgres(p) => {
                let mut $c = p.pool.begin().await?;
                let out = $body;
                $c.commit().await?;
                out
            }
        }
    };
    (write_one($db:expr), |$c:ident| $body:expr) => {
        match $db {
            $crate::store::backend::Db::Sqlite(s) => {
                let mut $c = s.write.acquire().await?;
                $body
            }
            $crate::store::backend::Db::Postgres(p) => {
                let mut $c = p.pool.acquire().await?;
                $body
            }
        }
    };
    (tenant_read($db:expr, $t:expr), |$c:ident| $body:expr) => {
        match $db {
            $crate::store::backend::Db::Sqlite(s) => {
                let mut $c = s.read.acquire().await?;
                $body
            }
            $crate::store::backend::Db::Postgres(p) => {
                let mut $c = p.tenant_tx($t).await?;
                let out = $body;
                $c.commit().await?;
                out
            }
        }
    };
    (tenant_write($db:expr, $t:expr), |$c:ident| $body:expr) => {
        match $db {
            $crate::store::backend::Db::Sqlite(s) => {
                let mut $c = s.write.begin().await?;
                let out = $body;
                $c.commit().await?;
                out
            }
            $crate::store::backend::Db::Postgres(p) => {
                let mut $c = p.tenant_tx($t).await?;
                let out = $body;
                $c.commit().await?;
                out
            }
        }
    };
}
pub(super) use on;
