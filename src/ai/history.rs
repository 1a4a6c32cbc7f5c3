//! The history estimator, used when no chat model is configured: a
//! similarity-weighted estimate from the tenant's own similar tasks. Their
//! actual durations count; only when none of them has one do their
//! estimates stand in. With no similar task that has either, there is no
//! number: never an invented one.

use super::parse::{format_minutes, format_range, MAX_MINUTES};
use crate::store::Basis;

/// What a todo says when its tenant has too little history to go on.
pub const NOT_ENOUGH_HISTORY: &str = "not enough history yet";

#[derive(Debug, Clone, PartialEq)]
pub enum HistoryEstimate {
    Ready {
        minutes: u32,
        text: String,
        /// Low and high ends from the similar tasks' spread ([`range`]).
        range: Option<(u32, u32)>,
    },
    Insufficient {
        reason: String,
    },
}

/// Estimates from `basis`: the similar tasks (already limited to those
/// closer than the model's similarity threshold), nearest first.
///
/// The estimate is a weighted geometric mean (durations are spread on a log
/// scale: a 10-minute and a 2-hour task average to ~35 minutes, not an hour)
/// with weights that grow with similarity.
pub fn estimate(basis: &[Basis]) -> HistoryEstimate {
    let (used, source) = durations(basis);
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
    let minutes = round_minutes(weighted_geomean(&used));
    let n = used.len();
    let tasks = if n == 1 {
        "1 similar task"
    } else {
        &format!("{n} similar tasks")
    };
    let range = spread(&used, minutes);
    let point = match range {
        Some((low, high)) => format!("{} ({})", format_minutes(minutes), format_range(low, high)),
        None => format_minutes(minutes),
    };
    HistoryEstimate::Ready {
        minutes,
        text: format!("{point}, from {source} {tasks}"),
        range,
    }
}

/// The durations that count, with their similarity weights: the actual
/// ones, or the estimates only when no similar task has an actual.
fn durations(basis: &[Basis]) -> (Vec<(f64, f64)>, &'static str) {
    let weighted = |b: &&Basis| {
        let minutes = f64::from(b.minutes.unwrap_or(1).max(1));
        let similarity = (1.0 - f64::from(b.distance)).clamp(0.01, 1.0);
        (minutes, similarity * similarity)
    };
    let actual: Vec<(f64, f64)> = basis
        .iter()
        .filter(|b| b.actual && b.minutes.is_some())
        .map(|b| weighted(&b))
        .collect();
    if actual.is_empty() {
        let estimated = basis
            .iter()
            .filter(|b| b.minutes.is_some())
            .map(|b| weighted(&b))
            .collect();
        (estimated, "the estimates of")
    } else {
        (actual, "the actual durations of")
    }
}

fn weighted_geomean(used: &[(f64, f64)]) -> f64 {
    let (sum, weights) = used.iter().fold((0.0, 0.0), |(s, w), (minutes, weight)| {
        (s + weight * minutes.ln(), w + weight)
    });
    (sum / weights).exp()
}

/// Below this ratio of the longest to the shortest duration, similar tasks
/// agree: no range.
const MIN_SPREAD: f64 = 1.2;

/// The range around `point` that the similar tasks' spread gives: their
/// shortest and longest duration relative to their (weighted geometric)
/// mean, applied to `point`. For a history estimate, whose point is that
/// mean, it is about the shortest to the longest; for a chat model's number
/// it is the same relative spread around what the model said. `None` with
/// fewer than two durations, or when the rounded ends meet.
pub fn range(basis: &[Basis], point: u32) -> Option<(u32, u32)> {
    spread(&durations(basis).0, point)
}

/// [`range`] over the durations already picked (with their weights).
fn spread(used: &[(f64, f64)], point: u32) -> Option<(u32, u32)> {
    if used.len() < 2 {
        return None;
    }
    let centre = weighted_geomean(used);
    let (lowest, highest) = used
        .iter()
        .fold((f64::MAX, 0f64), |(lo, hi), (m, _)| (lo.min(*m), hi.max(*m)));
    // Tasks that (nearly) agree give no range; rounding alone must not
    // invent one ("40–42 min" from two 42s).
    if highest / lowest < MIN_SPREAD {
        return None;
    }
    let point_f = f64::from(point);
    let low = round_minutes(point_f * lowest / centre).min(point);
    let high = round_minutes(point_f * highest / centre).max(point);
    (low < high).then_some((low, high))
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
                text: "1 h 30 min, from the actual durations of 1 similar task".into(),
                range: None,
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
            matches!(&e, HistoryEstimate::Ready { minutes: 60, text, .. } if text.contains("the estimates of 1 similar task")),
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
    fn two_or_more_durations_give_a_range() {
        let e = estimate(&[b(Some(60), true, 0.2), b(Some(120), true, 0.2), b(Some(90), true, 0.3)]);
        match e {
            HistoryEstimate::Ready { minutes, text, range } => {
                assert_eq!(range, Some((60, 120)), "{text}");
                assert!((60..=120).contains(&minutes));
                assert!(
                    text.starts_with(&format!("{} (1–2 h), from the actual", format_minutes(minutes))),
                    "{text}"
                );
            }
            other => panic!("{other:?}"),
        }
        // Agreeing tasks: no range to speak of, whatever the rounding.
        assert_eq!(range(&[b(Some(60), true, 0.2), b(Some(60), true, 0.3)], 60), None);
        assert_eq!(range(&[b(Some(42), false, 0.2), b(Some(42), false, 0.3)], 42), None);
        assert_eq!(range(&[b(Some(40), true, 0.2), b(Some(45), true, 0.3)], 42), None);
        // Around a chat model's number: the same relative spread.
        assert_eq!(
            range(&[b(Some(30), true, 0.2), b(Some(120), true, 0.2)], 120),
            Some((60, 240))
        );
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
