//! `aswan eval`: how good the local embedding model is at what Aswan asks
//! of it, on an evaluation set written for this project (eval/tasks.tsv:
//! clusters of near-duplicate task titles, each with its duration).
//!
//! - Retrieval: recall@3, the share of a title's cluster-mates (up to
//!   three) among its three nearest other titles.
//! - Estimates: leave-one-out. Each title is estimated by the history
//!   estimator from the others, exactly as the server does (its k nearest
//!   within the similarity threshold, their durations as actuals); the
//!   median absolute percentage error over the titles that got a number,
//!   and how many did (coverage).
//! - Baselines on the same set: word overlap (Jaccard similarity of the
//!   titles' words) through the same retrieval and estimator, and the
//!   median duration of all other titles.
//! - Latency: embedding one title.

use std::fmt;
use std::time::Instant;

use anyhow::{bail, Context};
use serde::Serialize;

use crate::ai::history::{self, HistoryEstimate};
use crate::ai::LocalModel;
use crate::domain::TodoId;
use crate::store::Basis;

const BUILTIN_SET: &str = include_str!("../eval/tasks.tsv");

#[derive(Debug, Clone)]
pub struct EvalItem {
    pub cluster: String,
    pub minutes: u32,
    pub title: String,
}

#[derive(Debug, Clone)]
pub struct EvalSet {
    pub items: Vec<EvalItem>,
}

impl EvalSet {
    pub fn builtin() -> Self {
        Self::parse(BUILTIN_SET).expect("eval/tasks.tsv is well-formed")
    }

    /// `cluster<TAB>minutes<TAB>title` lines; `#` comments and blank lines skipped.
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let mut items = Vec::new();
        for (n, line) in text.lines().enumerate() {
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let mut fields = line.splitn(3, '\t');
            let (Some(cluster), Some(minutes), Some(title)) = (fields.next(), fields.next(), fields.next()) else {
                bail!("line {}: expected cluster<TAB>minutes<TAB>title", n + 1);
            };
            let minutes: u32 = minutes
                .trim()
                .parse()
                .with_context(|| format!("line {}: minutes must be a positive number", n + 1))?;
            if minutes == 0 {
                bail!("line {}: minutes must be a positive number", n + 1);
            }
            items.push(EvalItem {
                cluster: cluster.trim().to_owned(),
                minutes,
                title: title.trim().to_owned(),
            });
        }
        if items.len() < 2 {
            bail!("the evaluation set needs at least two titles");
        }
        Ok(Self { items })
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct MethodResult {
    pub method: String,
    /// `None` for a baseline that retrieves nothing.
    pub recall_at_3: Option<f64>,
    /// Median absolute percentage error of the estimates given, in %.
    pub mdape: f64,
    /// Share of titles that got an estimate.
    pub coverage: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct SweepRow {
    pub max_distance: f32,
    pub coverage: f64,
    pub mdape: f64,
    /// Share of the neighbours used that are from the title's own cluster.
    pub neighbour_precision: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Latency {
    pub mean_us: f64,
    pub p50_us: f64,
    pub p99_us: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct EvalReport {
    pub model: String,
    pub dimensions: usize,
    pub titles: usize,
    pub clusters: usize,
    pub similar_tasks: usize,
    pub max_distance: f32,
    pub methods: Vec<MethodResult>,
    pub sweep: Vec<SweepRow>,
    pub latency: Latency,
}

/// Pairwise cosine distances of unit vectors.
fn embedding_distances(vectors: &[Vec<f32>]) -> Vec<Vec<f32>> {
    vectors
        .iter()
        .map(|a| {
            vectors
                .iter()
                .map(|b| 1.0 - a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>())
                .collect()
        })
        .collect()
}

const STOPWORDS: &[&str] = &[
    "a", "an", "the", "and", "or", "for", "to", "of", "in", "on", "at", "with", "from", "my", "our", "this", "that",
    "it", "is", "be", "by", "up", "as",
];

fn words(title: &str) -> Vec<String> {
    let mut w: Vec<String> = title
        .to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty() && !STOPWORDS.contains(w))
        .map(str::to_owned)
        .collect();
    w.sort();
    w.dedup();
    w
}

/// 1 − Jaccard similarity of the titles' word sets.
fn word_distances(items: &[EvalItem]) -> Vec<Vec<f32>> {
    let sets: Vec<Vec<String>> = items.iter().map(|i| words(&i.title)).collect();
    sets.iter()
        .map(|a| {
            sets.iter()
                .map(|b| {
                    let shared = a.iter().filter(|w| b.contains(w)).count();
                    let union = a.len() + b.len() - shared;
                    if union == 0 {
                        1.0
                    } else {
                        1.0 - shared as f32 / union as f32
                    }
                })
                .collect()
        })
        .collect()
}

/// The other titles, nearest first (ties by position).
fn ranked(distances: &[Vec<f32>], i: usize) -> Vec<usize> {
    let mut others: Vec<usize> = (0..distances.len()).filter(|&j| j != i).collect();
    others.sort_by(|&a, &b| distances[i][a].total_cmp(&distances[i][b]).then(a.cmp(&b)));
    others
}

fn recall_at_3(items: &[EvalItem], distances: &[Vec<f32>]) -> f64 {
    let mut total = 0.0;
    for (i, item) in items.iter().enumerate() {
        let mates = items
            .iter()
            .enumerate()
            .filter(|(j, o)| *j != i && o.cluster == item.cluster)
            .count();
        if mates == 0 {
            continue;
        }
        let hits = ranked(distances, i)
            .into_iter()
            .take(3)
            .filter(|&j| items[j].cluster == item.cluster)
            .count();
        total += hits as f64 / mates.min(3) as f64;
    }
    total / items.len() as f64
}

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    if v.len() % 2 == 0 {
        (v[mid - 1] + v[mid]) / 2.0
    } else {
        v[mid]
    }
}

fn ape(estimate: f64, truth: u32) -> f64 {
    (estimate - f64::from(truth)).abs() / f64::from(truth) * 100.0
}

/// Leave-one-out history estimates: (MdAPE %, coverage, neighbour precision).
fn history_estimates(items: &[EvalItem], distances: &[Vec<f32>], k: usize, max_distance: f32) -> (f64, f64, f64) {
    let (mut errors, mut used, mut same) = (Vec::new(), 0usize, 0usize);
    for (i, item) in items.iter().enumerate() {
        let basis: Vec<Basis> = ranked(distances, i)
            .into_iter()
            .filter(|&j| distances[i][j] < max_distance)
            .take(k)
            .map(|j| {
                used += 1;
                same += usize::from(items[j].cluster == item.cluster);
                Basis {
                    id: TodoId::new(),
                    title: items[j].title.clone(),
                    minutes: Some(i32::try_from(items[j].minutes).unwrap_or(i32::MAX)),
                    actual: true,
                    distance: distances[i][j],
                }
            })
            .collect();
        if let HistoryEstimate::Ready { minutes, .. } = history::estimate(&basis) {
            errors.push(ape(f64::from(minutes), item.minutes));
        }
    }
    let coverage = errors.len() as f64 / items.len() as f64;
    let precision = if used == 0 { 0.0 } else { same as f64 / used as f64 };
    (median(errors), coverage, precision)
}

pub fn evaluate(set: &EvalSet, model: &LocalModel, max_distance: f32, k: usize) -> EvalReport {
    let items = &set.items;
    let mut timings = Vec::with_capacity(items.len());
    let mut vectors = Vec::with_capacity(items.len());
    // One warm-up pass, so the timings are the steady state.
    for item in items {
        std::hint::black_box(model.embed(&item.title));
    }
    for item in items {
        let started = Instant::now();
        vectors.push(model.embed(&item.title));
        timings.push(started.elapsed().as_secs_f64() * 1e6);
    }
    let model_d = embedding_distances(&vectors);
    let word_d = word_distances(items);

    let (mdape, coverage, _) = history_estimates(items, &model_d, k, max_distance);
    // Word overlap: any shared word counts as similar.
    let (w_mdape, w_coverage, _) = history_estimates(items, &word_d, k, 1.0);
    let global: Vec<f64> = items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let others: Vec<f64> = items
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(_, o)| f64::from(o.minutes))
                .collect();
            ape(median(others), item.minutes)
        })
        .collect();
    let methods = vec![
        MethodResult {
            method: format!("{} + history", model.name()),
            recall_at_3: Some(recall_at_3(items, &model_d)),
            mdape,
            coverage,
        },
        MethodResult {
            method: "word overlap (Jaccard) + history".into(),
            recall_at_3: Some(recall_at_3(items, &word_d)),
            mdape: w_mdape,
            coverage: w_coverage,
        },
        MethodResult {
            method: "median of all other tasks".into(),
            recall_at_3: None,
            mdape: median(global),
            coverage: 1.0,
        },
    ];
    let sweep = (6..=14)
        .map(|step| {
            let d = step as f32 * 0.05;
            let (mdape, coverage, neighbour_precision) = history_estimates(items, &model_d, k, d);
            SweepRow {
                max_distance: d,
                coverage,
                mdape,
                neighbour_precision,
            }
        })
        .collect();
    let mean_us = timings.iter().sum::<f64>() / timings.len() as f64;
    let mut sorted = timings.clone();
    sorted.sort_by(f64::total_cmp);
    let p99 = sorted[((sorted.len() as f64 * 0.99).ceil() as usize).saturating_sub(1)];
    let clusters = {
        let mut c: Vec<&str> = items.iter().map(|i| i.cluster.as_str()).collect();
        c.sort_unstable();
        c.dedup();
        c.len()
    };
    EvalReport {
        model: model.name().to_owned(),
        dimensions: model.dimensions(),
        titles: items.len(),
        clusters,
        similar_tasks: k,
        max_distance,
        methods,
        sweep,
        latency: Latency {
            mean_us,
            p50_us: median(timings),
            p99_us: p99,
        },
    }
}

impl fmt::Display for EvalReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} titles in {} clusters; model {} ({} dims); k = {}, max distance {:.2}\n",
            self.titles, self.clusters, self.model, self.dimensions, self.similar_tasks, self.max_distance
        )?;
        writeln!(f, "{:<58} {:>9} {:>8} {:>9}", "method", "recall@3", "MdAPE", "coverage")?;
        for m in &self.methods {
            let recall = m.recall_at_3.map_or("-".to_owned(), |r| format!("{r:.3}"));
            writeln!(
                f,
                "{:<58} {:>9} {:>7.1}% {:>8.0}%",
                m.method,
                recall,
                m.mdape,
                m.coverage * 100.0
            )?;
        }
        writeln!(f, "\nthreshold sweep (built-in model)")?;
        writeln!(
            f,
            "{:>12} {:>9} {:>8} {:>20}",
            "max distance", "coverage", "MdAPE", "neighbour precision"
        )?;
        for r in &self.sweep {
            writeln!(
                f,
                "{:>12.2} {:>8.0}% {:>7.1}% {:>19.0}%",
                r.max_distance,
                r.coverage * 100.0,
                r.mdape,
                r.neighbour_precision * 100.0
            )?;
        }
        writeln!(
            f,
            "\nembedding latency per title: mean {:.1} µs, p50 {:.1} µs, p99 {:.1} µs",
            self.latency.mean_us, self.latency.p50_us, self.latency.p99_us
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_set_has_at_least_150_titles_in_clusters() {
        let set = EvalSet::builtin();
        assert!(set.items.len() >= 150, "{}", set.items.len());
        for item in &set.items {
            let mates = set.items.iter().filter(|o| o.cluster == item.cluster).count();
            assert!(mates >= 4, "cluster {} has {mates} titles", item.cluster);
        }
    }

    #[test]
    fn parse_rejects_bad_lines() {
        assert!(EvalSet::parse("a\t10\tx\nb\tten\ty").is_err());
        assert!(EvalSet::parse("a\t0\tx\nb\t1\ty").is_err());
        assert!(EvalSet::parse("a\t10").is_err());
        assert_eq!(EvalSet::parse("# c\na\t10\tx\n\nb\t5\ty").unwrap().items.len(), 2);
    }

    #[test]
    fn word_overlap_is_jaccard() {
        let items = EvalSet::parse("a\t1\tFix the login bug\nb\t1\tfix login page\nc\t1\tMow lawn")
            .unwrap()
            .items;
        let d = word_distances(&items);
        assert!((d[0][1] - 0.5).abs() < 1e-6, "{}", d[0][1]); // {fix, login} of {fix, login, bug, page}
        assert_eq!(d[0][2], 1.0);
    }

    /// The built-in model, loaded from the committed files, must beat both
    /// baselines on the committed set: better retrieval than word overlap and
    /// smaller estimate errors than guessing the median.
    #[test]
    fn the_builtin_model_beats_the_baselines() {
        let model = LocalModel::builtin().unwrap();
        let r = evaluate(&EvalSet::builtin(), &model, crate::ai::LOCAL_MAX_DISTANCE, 3);
        let (ours, words, median) = (&r.methods[0], &r.methods[1], &r.methods[2]);
        assert!(ours.recall_at_3 > words.recall_at_3, "{r}");
        assert!(ours.mdape < median.mdape, "{r}");
        assert!(ours.mdape < words.mdape, "{r}");
        assert!(ours.coverage >= 0.6, "{r}");
    }
}
