//! How good a tenant's estimates are: over its latest timed tasks that had
//! an estimate, the median absolute percentage error, its trend (the same
//! median over consecutive groups of tasks, oldest first), the median ratio
//! actual ÷ estimate (above 1: estimates run short) and the worst misses
//! (by how many times off, either way). Pure arithmetic over what
//! `Todos::estimated_actuals` reads through the tenant handle.

use chrono::{DateTime, Utc};
use serde::Serialize;

pub use crate::store::EstimatedActual;

/// One group of consecutive tasks in the trend.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct TrendPoint {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub tasks: usize,
    pub median_error_percent: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Accuracy {
    /// How many timed tasks with an estimate are counted (the latest, up to 200).
    pub tasks: usize,
    /// Median of |actual − estimate| ÷ actual, in %; null without tasks.
    pub median_error_percent: Option<f64>,
    /// Median of actual ÷ estimate; null without tasks.
    pub median_ratio: Option<f64>,
    /// The median error per group of [`TREND_GROUP`] consecutive tasks, oldest first.
    pub trend: Vec<TrendPoint>,
    /// Up to five tasks the estimate missed most (by factor, either way).
    pub worst: Vec<EstimatedActual>,
    /// Every task counted, newest first (what the chart plots).
    pub points: Vec<EstimatedActual>,
}

/// Tasks per trend group.
pub const TREND_GROUP: usize = 10;

use super::stats::median;

fn error_percent(p: &EstimatedActual) -> f64 {
    f64::from((p.actual_minutes - p.estimate_minutes).abs()) / f64::from(p.actual_minutes.max(1)) * 100.0
}

/// How many times off, either way (≥ 1).
fn miss_factor(p: &EstimatedActual) -> f64 {
    let (a, e) = (f64::from(p.actual_minutes.max(1)), f64::from(p.estimate_minutes.max(1)));
    (a / e).max(e / a)
}

/// `points`: newest first.
pub fn summarise(points: Vec<EstimatedActual>) -> Accuracy {
    let oldest_first: Vec<&EstimatedActual> = points.iter().rev().collect();
    let trend = oldest_first
        .chunks(TREND_GROUP)
        .filter_map(|group| {
            Some(TrendPoint {
                from: group.first()?.updated_at,
                to: group.last()?.updated_at,
                tasks: group.len(),
                median_error_percent: median(group.iter().map(|p| error_percent(p)).collect())?,
            })
        })
        .collect();
    let mut worst = points.clone();
    worst.sort_by(|a, b| miss_factor(b).total_cmp(&miss_factor(a)));
    worst.truncate(5);
    Accuracy {
        tasks: points.len(),
        median_error_percent: median(points.iter().map(error_percent).collect()),
        median_ratio: median(
            points
                .iter()
                .map(|p| f64::from(p.actual_minutes) / f64::from(p.estimate_minutes.max(1)))
                .collect(),
        ),
        trend,
        worst,
        points,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::TodoId;

    fn p(i: i64, estimate: i32, actual: i32) -> EstimatedActual {
        EstimatedActual {
            id: TodoId::new(),
            title: format!("task {i}"),
            estimate_minutes: estimate,
            actual_minutes: actual,
            updated_at: DateTime::from_timestamp(1_800_000_000 + i * 60, 0).unwrap(),
        }
    }

    #[test]
    fn nothing_timed_says_so() {
        let a = summarise(Vec::new());
        assert_eq!((a.tasks, a.median_error_percent, a.median_ratio), (0, None, None));
        assert!(a.trend.is_empty() && a.worst.is_empty());
    }

    #[test]
    fn medians_trend_and_worst_misses() {
        // Newest first: 20 tasks, the older ten off by 50 %, the newer ten by 10 %.
        let mut points: Vec<EstimatedActual> = (10..20).rev().map(|i| p(i, 90, 100)).collect();
        points.extend((0..10).rev().map(|i| p(i, 50, 100)));
        points[3] = p(16, 10, 100); // ten times short
        let a = summarise(points);
        assert_eq!(a.tasks, 20);
        assert_eq!(a.trend.len(), 2);
        assert_eq!(a.trend[0].median_error_percent, 50.0);
        assert_eq!(a.trend[1].median_error_percent, 10.0);
        assert!(a.trend[0].to < a.trend[1].from);
        assert_eq!(a.worst[0].estimate_minutes, 10);
        // Ratios: nine of 1.11, ten of 2 and one of 10: the median is 2.
        assert_eq!(a.median_ratio, Some(2.0));
    }
}
