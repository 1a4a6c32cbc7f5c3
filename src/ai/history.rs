//! The history estimator, used when no chat model is configured: a
//! similarity-weighted estimate from the tenant's own similar tasks. Their
//! actual durations count; only when none of them has one do their
//! estimates stand in. With no similar task that has either, there is no
//! number: never an invented one.

use super::parse::{format_minutes, MAX_MINUTES};
use crate::store::Basis;

/// What a todo says when its tenant has too little history to go on.
pub const NOT_ENOUGH_HISTORY: &str = "not enough history yet";

#[derive(Debug, Clone, PartialEq)]
pub enum HistoryEstimate {
    Ready { minutes: u32, text: String },
    Insufficient { reason: String },
}

/// Estimates from `basis`: the similar tasks (already limited to those
/// closer than the model's similarity threshold), nearest first.
///
/// The estimate is a weighted geometric mean (durations are spread on a log
/// scale: a 10-minute and a 2-hour task average to ~35 minutes, not an hour)
/// with weights that grow with similarity.
pub fn estimate(basis: &[Basis]) -> HistoryEstimate {
    let actual: Vec<&Basis> = basis.iter().filter(|b| b.actual && b.minutes.is_some()).collect();
    let (used, source) = if actual.is_empty() {
        let estimated: Vec<&Basis> = basis.iter().filter(|b| b.minutes.is_some()).collect();
        (estimated, "the estimates of")
    } else {
        (actual, "the actual durations of")
    };
    if used.is_empty() {
        let reason = if basis.is_empty() {
            "no similar task in this tenant yet; record how long tasks take when you complete them"
        } else {
            "similar tasks have no duration yet; record how long they took when you complete them"
        };
        return HistoryEstimate::Insufficient {
            reason: reason.to_owned(),
        };
    }
    let (mut sum, mut weights) = (0.0f64, 0.0f64);
    for b in &used {
        let minutes = f64::from(b.minutes.unwrap_or(1).max(1));
        let similarity = (1.0 - f64::from(b.distance)).clamp(0.01, 1.0);
        let w = similarity * similarity;
        sum += w * minutes.ln();
        weights += w;
    }
    let minutes = round_minutes((sum / weights).exp());
    let n = used.len();
    let tasks = if n == 1 {
        "1 similar task"
    } else {
        &format!("{n} similar tasks")
    };
    HistoryEstimate::Ready {
        minutes,
        text: format!("{}, from {source} {tasks}", format_minutes(minutes)),
    }
}

/// Rounds to what a person would say: 5 minutes under two hours, a quarter
/// hour under a day, half an hour beyond.
fn round_minutes(m: f64) -> u32 {
    let step = match m {
        m if m < 120.0 => 5.0,
        m if m < 480.0 => 15.0,
        _ => 30.0,
    };
    let rounded = ((m / step).round() * step).max(step.min(m.ceil()));
    (rounded as u32).clamp(1, MAX_MINUTES)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::TodoId;

    fn b(minutes: Option<i32>, actual: bool, distance: f32) -> Basis {
        Basis {
            id: TodoId::new(),
            title: "t".into(),
            minutes,
            actual,
            distance,
        }
    }

    fn minutes(e: HistoryEstimate) -> u32 {
        match e {
            HistoryEstimate::Ready { minutes, .. } => minutes,
            other => panic!("expected an estimate, got {other:?}"),
        }
    }

    #[test]
    fn one_actual_duration_is_the_estimate() {
        let e = estimate(&[b(Some(90), true, 0.2)]);
        assert_eq!(
            e,
            HistoryEstimate::Ready {
                minutes: 90,
                text: "1 h 30 min, from the actual durations of 1 similar task".into()
            }
        );
    }

    #[test]
    fn actual_durations_win_over_estimates() {
        let m = minutes(estimate(&[b(Some(600), false, 0.05), b(Some(30), true, 0.3)]));
        assert_eq!(m, 30);
    }

    #[test]
    fn estimates_stand_in_when_nothing_was_timed() {
        let e = estimate(&[b(Some(60), false, 0.1), b(None, false, 0.1)]);
        assert!(
            matches!(&e, HistoryEstimate::Ready { minutes: 60, text } if text.contains("the estimates of 1 similar task")),
            "{e:?}"
        );
    }

    #[test]
    fn closer_tasks_weigh_more_and_the_mean_is_geometric() {
        // Equal weights: the geometric mean of 10 and 160 is 40.
        assert_eq!(
            minutes(estimate(&[b(Some(10), true, 0.3), b(Some(160), true, 0.3)])),
            40
        );
        // The nearer one pulls the estimate towards itself.
        assert!(minutes(estimate(&[b(Some(10), true, 0.05), b(Some(160), true, 0.6)])) < 40);
    }

    #[test]
    fn no_history_gives_no_number() {
        assert!(matches!(estimate(&[]), HistoryEstimate::Insufficient { .. }));
        assert!(matches!(
            estimate(&[b(None, false, 0.1), b(None, false, 0.2)]),
            HistoryEstimate::Insufficient { .. }
        ));
    }

    #[test]
    fn rounding_reads_naturally() {
        assert_eq!(round_minutes(2.4), 3);
        assert_eq!(round_minutes(47.0), 45);
        assert_eq!(round_minutes(130.0), 135);
        assert_eq!(round_minutes(500.0), 510);
        assert_eq!(round_minutes(1e9), MAX_MINUTES);
    }
}
