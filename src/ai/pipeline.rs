//! One estimate, start to end: embed the title (query and document forms in
//! one request), find the tenant's similar tasks, ask the chat model, parse,
//! store. And the job lifecycle around it: finish, retry later, or fail.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use rand::Rng;
use tracing::Instrument;

use super::calibration::{self, Calibration};
use super::history::{self, HistoryEstimate, NOT_ENOUGH_HISTORY};
use super::parse::{format_minutes, format_range, parse_estimate};
use super::{prompt, Ai, Estimator, VendorError};
use crate::store::prelude::*;
use crate::store::{Basis, EstimateJob, EstimateOutcome, StoreError, TenantStore, Todo};

/// How many neighbours are read per similar task used: the nearest ones
/// may have no duration yet (open, unestimated), and a task without one
/// adds nothing to an estimate.
const CANDIDATES_PER_TASK: i64 = 4;

/// The `k` nearest neighbours that have a duration (actual or estimated);
/// when none has, the `k` nearest (so the todo can say that similar tasks
/// exist but have no duration yet). Nearest first either way.
fn with_durations_first(near: Vec<Basis>, k: i64) -> Vec<Basis> {
    let k = usize::try_from(k).unwrap_or(usize::MAX);
    let timed: Vec<Basis> = near.iter().filter(|b| b.minutes.is_some()).take(k).cloned().collect();
    if timed.is_empty() {
        near.into_iter().take(k).collect()
    } else {
        timed
    }
}

/// The longest wait between attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(600);

/// How one run of a job ended.
#[derive(Debug)]
pub enum JobOutcome {
    /// The estimate is settled (ready, insufficient history, or failed for
    /// good) and the job is closed.
    Settled(Todo),
    /// Not this time: the job is due again later (or its lease runs out).
    RetryLater,
    /// The todo is gone (deleted meanwhile): the job is closed, nothing to do.
    Dropped,
}

enum Failure {
    Vendor(VendorError),
    Store(StoreError),
    /// The todo was deleted while it was being estimated.
    Gone,
}

impl From<VendorError> for Failure {
    fn from(e: VendorError) -> Self {
        Self::Vendor(e)
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

impl Ai {
    /// Runs one attempt for `job` and settles the job: done (the todo is
    /// ready, or failed for good), due again later, or dropped with its todo.
    #[tracing::instrument(name = "estimate", skip_all, fields(tenant_id = %tenant.tenant_id(), todo_id = %job.todo_id, attempt = job.attempts + 1))]
    pub async fn run_job(self: Arc<Self>, tenant: TenantStore, job: EstimateJob) -> JobOutcome {
        let todo = match tenant.todo(job.todo_id).await {
            Ok(Some(todo)) => todo,
            Ok(None) => return self.drop_job(&tenant, &job).await,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the todo; the job stays queued");
                return JobOutcome::RetryLater;
            }
        };
        let failure = match self.attempt(&tenant, &todo).await {
            Ok(ready) => {
                if let Err(e) = tenant.finish_estimate_job(&job).await {
                    tracing::warn!(error = %e, "estimate stored, but its job could not be closed");
                }
                return JobOutcome::Settled(ready);
            }
            Err(Failure::Gone) => return self.drop_job(&tenant, &job).await,
            Err(f) => f,
        };
        let (reason, retry_after, permanent) = match failure {
            Failure::Vendor(VendorError::Permanent(reason)) => (reason, None, true),
            Failure::Vendor(VendorError::Transient { reason, retry_after }) => (reason, retry_after, false),
            Failure::Store(e) => {
                tracing::error!(error = %e, "database error");
                ("internal error".to_owned(), None, false)
            }
            Failure::Gone => unreachable!("handled above"),
        };
        let attempts = job.attempts + 1;
        if permanent || attempts >= self.config.max_attempts {
            let reason = if permanent {
                reason
            } else {
                format!("gave up after {attempts} attempts: {reason}")
            };
            tracing::warn!(%reason, "estimate failed");
            let saved = tenant
                .save_estimate(job.todo_id, &EstimateOutcome::Failed { reason })
                .await;
            let _ = tenant.finish_estimate_job(&job).await;
            return match saved {
                Ok(Some(todo)) => JobOutcome::Settled(todo),
                Ok(None) => JobOutcome::Dropped,
                Err(e) => {
                    tracing::error!(error = %e, "cannot record the failure");
                    JobOutcome::RetryLater
                }
            };
        }
        let wait = self.backoff(job.attempts, retry_after);
        tracing::info!(%reason, retry_in_ms = wait.as_millis() as u64, "estimate will be retried");
        let next_at = Utc::now() + chrono::Duration::from_std(wait).unwrap_or_else(|_| chrono::Duration::seconds(600));
        if let Err(e) = tenant.retry_estimate_job(&job, next_at, &reason).await {
            tracing::error!(error = %e, "cannot reschedule (the lease will expire and release it)");
        }
        JobOutcome::RetryLater
    }

    /// The todo is gone: close its job (usually already gone with it).
    async fn drop_job(&self, tenant: &TenantStore, job: &EstimateJob) -> JobOutcome {
        tracing::debug!("the todo was deleted: job dropped");
        if let Err(e) = tenant.finish_estimate_job(job).await {
            tracing::warn!(error = %e, "cannot close the job of a deleted todo");
        }
        JobOutcome::Dropped
    }

    /// Exponential backoff with jitter (half to full of base·2^attempts),
    /// never sooner than the vendor's Retry-After.
    fn backoff(&self, failed_before: i32, retry_after: Option<Duration>) -> Duration {
        let exp = self
            .config
            .retry_base
            .saturating_mul(1u32 << failed_before.clamp(0, 16));
        let cap = exp.min(MAX_BACKOFF);
        let jittered = cap.mul_f64(rand::thread_rng().gen_range(0.5..=1.0));
        jittered
            .max(retry_after.unwrap_or_default())
            .min(MAX_BACKOFF.max(retry_after.unwrap_or_default()))
    }

    async fn attempt(&self, tenant: &TenantStore, todo: &Todo) -> Result<Todo, Failure> {
        if let Err(wait) = self.breaker.allow() {
            return Err(Failure::Vendor(VendorError::Transient {
                reason: "the AI vendor is unavailable (circuit open)".into(),
                retry_after: Some(wait),
            }));
        }
        let result = self.attempt_unguarded(tenant, todo).await;
        match &result {
            Err(Failure::Vendor(VendorError::Transient { .. })) => self.breaker.failure(),
            Err(Failure::Vendor(VendorError::Permanent(_))) | Ok(_) => self.breaker.success(),
            Err(Failure::Store(_) | Failure::Gone) => {}
        }
        result
    }

    async fn attempt_unguarded(&self, tenant: &TenantStore, todo: &Todo) -> Result<Todo, Failure> {
        let c = &self.config;
        let model = self.embedder.model();
        let (query, document) = self.embedder.embed_title(&todo.title).await?;
        tenant.save_embedding(todo.id, model, &document).await?;
        let basis = if c.similar_tasks > 0 {
            let near = tenant
                .similar(
                    &query,
                    model,
                    c.similar_tasks * CANDIDATES_PER_TASK,
                    c.max_distance,
                    Some(todo.id),
                )
                .await?;
            with_durations_first(near, c.similar_tasks)
        } else {
            Vec::new()
        };
        let outcome = match &self.estimator {
            Estimator::Chat { client, model } => {
                let answer = client
                    .chat(model, prompt::SYSTEM, &prompt::user_prompt(&todo.title, &basis))
                    .await?;
                let estimate = parse_estimate(&answer).ok_or_else(|| VendorError::Transient {
                    reason: "the model's answer held no usable estimate".into(),
                    retry_after: None,
                })?;
                let samples = tenant.calibration_samples(calibration::WINDOW).await?;
                let (minutes, text) = calibrated(estimate.minutes, estimate.text, Calibration::learn(&samples));
                let range = history::range(&basis, minutes);
                let text = match range {
                    Some((low, high)) => format!("{text} (similar tasks: {})", format_range(low, high)),
                    None => text,
                };
                let whole = |m: u32| i32::try_from(m).unwrap_or(i32::MAX);
                EstimateOutcome::Ready {
                    minutes: whole(minutes),
                    text,
                    basis,
                    range: range.map(|(l, h)| (whole(l), whole(h))),
                    model_minutes: Some(whole(estimate.minutes)),
                }
            }
            Estimator::History => match history::estimate(&basis) {
                HistoryEstimate::Ready { minutes, text, range } => {
                    let whole = |m: u32| i32::try_from(m).unwrap_or(i32::MAX);
                    EstimateOutcome::Ready {
                        minutes: whole(minutes),
                        text,
                        basis,
                        range: range.map(|(l, h)| (whole(l), whole(h))),
                        model_minutes: None,
                    }
                }
                HistoryEstimate::Insufficient { reason } => EstimateOutcome::Insufficient {
                    text: NOT_ENOUGH_HISTORY.to_owned(),
                    reason,
                    basis,
                },
            },
        };
        tenant.save_estimate(todo.id, &outcome).await?.ok_or(Failure::Gone)
    }

    /// A freshly queued job: try it now for up to the inline timeout. The job
    /// runs to the end in its own tracked task either way (its lease keeps
    /// the worker off it; shutdown waits for it); past the timeout the caller
    /// answers with the todo pending.
    pub async fn estimate_inline(self: &Arc<Self>, tenant: TenantStore, job: EstimateJob) -> Option<Todo> {
        self.wake.notify_one();
        let span = tracing::Span::current();
        let task = self.tasks.spawn(Arc::clone(self).run_job(tenant, job).instrument(span));
        match tokio::time::timeout(self.config.inline_timeout, task).await {
            Ok(Ok(JobOutcome::Settled(todo))) => Some(todo),
            _ => None,
        }
    }
}

/// The chat model's estimate, adjusted by the tenant's calibration when
/// there is one: the new number, and a text that says what was done.
fn calibrated(minutes: u32, text: String, calibration: Option<Calibration>) -> (u32, String) {
    match calibration {
        Some(c) => {
            let adjusted = c.apply(minutes);
            let note = format!(
                "{}, {} (the model said {})",
                format_minutes(adjusted),
                c.note(),
                format_minutes(minutes)
            );
            (adjusted, note)
        }
        None => (minutes, text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::TodoId;

    fn b(minutes: Option<i32>, distance: f32) -> Basis {
        Basis {
            id: TodoId::new(),
            title: format!("{distance}"),
            minutes,
            actual: minutes.is_some(),
            distance,
        }
    }

    #[test]
    fn neighbours_with_durations_come_first() {
        let near = vec![
            b(None, 0.1),
            b(None, 0.2),
            b(Some(60), 0.3),
            b(None, 0.35),
            b(Some(30), 0.4),
        ];
        let used = with_durations_first(near, 3);
        assert_eq!(used.iter().map(|b| b.minutes).collect::<Vec<_>>(), [Some(60), Some(30)]);
        // None has a duration: the nearest, so the todo can say so.
        let used = with_durations_first(vec![b(None, 0.1), b(None, 0.2), b(None, 0.3), b(None, 0.4)], 3);
        assert_eq!(used.len(), 3);
        assert_eq!(used[0].distance, 0.1);
    }
}
