//! `aswan reindex`: re-embeds every todo whose vector was made by another
//! model (or none), tenant by tenant through the tenant's own handle, in
//! batches of one embedding call and one transaction. Work done is never
//! redone: each batch picks the todos still stale, so an interrupted run
//! resumes when started again.

use anyhow::anyhow;
use indicatif::{ProgressBar, ProgressStyle};

use super::Ai;
use crate::store::prelude::*;
use crate::store::{Store, TenantStore};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReindexReport {
    /// Tenants that had stale embeddings.
    pub tenants: usize,
    pub todos: u64,
}

pub async fn reindex(store: &Store, ai: &Ai, batch: u32, progress: bool) -> anyhow::Result<ReindexReport> {
    let embedder = ai.embedder();
    let model = embedder.model();
    let mut stale = Vec::new();
    let mut total = 0u64;
    for tenant in store.tenant_ids().await? {
        // Maintenance visits every tenant: the one door without a
        // membership check (ARCHITECTURE.md, "Isolation").
        #[expect(clippy::disallowed_methods)]
        let tenant = store.unchecked_tenant(tenant);
        let n = tenant.count_stale_embeddings(model).await?;
        if n > 0 {
            total += n;
            stale.push(tenant);
        }
    }
    let bar = if progress {
        ProgressBar::new(total)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} todos, {per_sec}, {eta} left")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut done = 0u64;
    for tenant in &stale {
        done += reindex_tenant(tenant, ai, batch, done, &bar).await?;
    }
    bar.finish_and_clear();
    if let Some(dims) = embedder.dimensions() {
        store.ensure_vector_index(dims).await?;
    }
    Ok(ReindexReport {
        tenants: stale.len(),
        todos: done,
    })
}

/// Embeds one tenant's stale todos (an imported tenant's, say); the count.
pub async fn reindex_tenant(
    tenant: &TenantStore,
    ai: &Ai,
    batch: u32,
    done_before: u64,
    bar: &ProgressBar,
) -> anyhow::Result<u64> {
    let embedder = ai.embedder();
    let model = embedder.model();
    let mut done = 0u64;
    {
        loop {
            let rows = tenant.stale_embeddings(model, i64::from(batch)).await?;
            if rows.is_empty() {
                break;
            }
            let titles: Vec<&str> = rows.iter().map(|(_, title)| title.as_str()).collect();
            let vectors = embedder.embed_documents(&titles).await.map_err(|e| {
                anyhow!(
                    "embedding failed after {} todos ({e}); run aswan reindex again to continue",
                    done_before + done
                )
            })?;
            let pairs: Vec<_> = rows.into_iter().map(|(id, _)| id).zip(vectors).collect();
            tenant.save_embeddings(model, &pairs).await?;
            done += pairs.len() as u64;
            bar.inc(pairs.len() as u64);
        }
    }
    Ok(done)
}
