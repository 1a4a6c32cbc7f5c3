//! `aswan eval`: how good the local embedding model is at what Aswan asks
//! of it, on an evaluation set written for this project (eval/tasks.tsv:
//! clusters of near-duplicate task titles across domains, each with its
//! duration, in a `dev` split that tuning may look at and a `test` split
//! that it never does). Each split is evaluated on its own: a title's
//! neighbours come from its own split.
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
    pub split: String,
    pub domain: String,
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

    /// `split<TAB>domain<TAB>cluster<TAB>minutes<TAB>title` lines, or the
    /// first format's `cluster<TAB>minutes<TAB>title` (all `dev`, no
    /// domain); `#` comments and blank lines skipped.
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let mut items = Vec::new();
        for (n, line) in text.lines().enumerate() {
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let fields: Vec<&str> = line.split('\t').map(str::trim).collect();
            let (split, domain, cluster, minutes, title) = match fields[..] {
                [split, domain, cluster, minutes, title] => (split, domain, cluster, minutes, title),
                [cluster, minutes, title] => ("dev", "", cluster, minutes, title),
                _ => bail!(
                    "line {}: expected split<TAB>domain<TAB>cluster<TAB>minutes<TAB>title (or cluster<TAB>minutes<TAB>title)",
                    n + 1
                ),
            };
            if !matches!(split, "dev" | "test") {
                bail!("line {}: the split must be dev or test, not {split:?}", n + 1);
            }
            let minutes: u32 = minutes
                .parse()
                .with_context(|| format!("line {}: minutes must be a positive number", n + 1))?;
            if minutes == 0 {
                bail!("line {}: minutes must be a positive number", n + 1);
            }
            items.push(EvalItem {
                split: split.to_owned(),
                domain: domain.to_owned(),
                cluster: cluster.to_owned(),
                minutes,
                title: title.to_owned(),
            });
        }
        for item in &items {
            if items.iter().any(|o| o.cluster == item.cluster && o.split != item.split) {
                bail!("cluster {} straddles the dev and test splits", item.cluster);
            }
        }
        if items.len() < 2 {
            bail!("the evaluation set needs at least two titles");
        }
        Ok(Self { items })
    }

    /// The splits present, dev first.
    fn splits(&self) -> Vec<&'static str> {
        ["dev", "test"]
            .into_iter()
            .filter(|s| self.items.iter().any(|i| i.split == *s))
            .collect()
    }
}

fn distinct<'a>(values: impl Iterator<Item = &'a str>) -> usize {
    let mut v: Vec<&str> = values.filter(|v| !v.is_empty()).collect();
    v.sort_unstable();
    v.dedup();
    v.len()
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
    /// Share of the neighbours used that are from the title's own cluster.
    pub neighbour_precision: Option<f64>,
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

/// One split's results.
#[derive(Debug, Clone, Serialize)]
pub struct SplitReport {
    pub split: String,
    pub titles: usize,
    pub clusters: usize,
    pub domains: usize,
    pub methods: Vec<MethodResult>,
    pub sweep: Vec<SweepRow>,
}

#[derive(Debug, Clone, Serialize)]
pub struct EvalReport {
    pub model: String,
    pub dimensions: usize,
    pub similar_tasks: usize,
    pub max_distance: f32,
    pub splits: Vec<SplitReport>,
    pub latency: Latency,
}

impl EvalReport {
    pub fn split(&self, name: &str) -> Option<&SplitReport> {
        self.splits.iter().find(|s| s.split == name)
    }
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

/// The median, NaN for none (the report prints it as such).
fn median(values: Vec<f64>) -> f64 {
    crate::ai::stats::median(values).unwrap_or(f64::NAN)
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

fn evaluate_split(
    name: &str,
    items: &[EvalItem],
    vectors: &[Vec<f32>],
    model: &LocalModel,
    max_distance: f32,
    k: usize,
) -> SplitReport {
    let model_d = embedding_distances(vectors);
    let word_d = word_distances(items);
    let (mdape, coverage, neighbour_precision) = history_estimates(items, &model_d, k, max_distance);
    // Word overlap: any shared word counts as similar.
    let (w_mdape, w_coverage, w_precision) = history_estimates(items, &word_d, k, 1.0);
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
            neighbour_precision: Some(neighbour_precision),
        },
        MethodResult {
            method: "word overlap (Jaccard) + history".into(),
            recall_at_3: Some(recall_at_3(items, &word_d)),
            mdape: w_mdape,
            coverage: w_coverage,
            neighbour_precision: Some(w_precision),
        },
        MethodResult {
            method: "median of all other tasks".into(),
            recall_at_3: None,
            mdape: median(global),
            coverage: 1.0,
            neighbour_precision: None,
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
    SplitReport {
        split: name.to_owned(),
        titles: items.len(),
        clusters: distinct(items.iter().map(|i| i.cluster.as_str())),
        domains: distinct(items.iter().map(|i| i.domain.as_str())),
        methods,
        sweep,
    }
}

pub fn evaluate(set: &EvalSet, model: &LocalModel, max_distance: f32, k: usize) -> EvalReport {
    let mut timings = Vec::with_capacity(set.items.len());
    // One warm-up pass, so the timings are the steady state.
    for item in &set.items {
        std::hint::black_box(model.embed(&item.title));
    }
    let mut vectors = Vec::with_capacity(set.items.len());
    for item in &set.items {
        let started = Instant::now();
        vectors.push(model.embed(&item.title));
        timings.push(started.elapsed().as_secs_f64() * 1e6);
    }
    let splits = set
        .splits()
        .into_iter()
        .map(|name| {
            let (items, vectors): (Vec<EvalItem>, Vec<Vec<f32>>) = set
                .items
                .iter()
                .zip(&vectors)
                .filter(|(i, _)| i.split == name)
                .map(|(i, v)| (i.clone(), v.clone()))
                .unzip();
            evaluate_split(name, &items, &vectors, model, max_distance, k)
        })
        .collect();
    let mean_us = timings.iter().sum::<f64>() / timings.len() as f64;
    let mut sorted = timings.clone();
    sorted.sort_by(f64::total_cmp);
    let p99 = sorted[((sorted.len() as f64 * 0.99).ceil() as usize).saturating_sub(1)];
    EvalReport {
        model: model.name().to_owned(),
        dimensions: model.dimensions(),
        similar_tasks: k,
        max_distance,
        splits,
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
            "model {} ({} dims); k = {}, max distance {:.2}",
            self.model, self.dimensions, self.similar_tasks, self.max_distance
        )?;
        for split in &self.splits {
            writeln!(
                f,
                "\n{} split: {} titles in {} clusters across {} domains\n",
                split.split, split.titles, split.clusters, split.domains
            )?;
            writeln!(
                f,
                "{:<58} {:>9} {:>8} {:>9} {:>10}",
                "method", "recall@3", "MdAPE", "coverage", "precision"
            )?;
            for m in &split.methods {
                let recall = m.recall_at_3.map_or("-".to_owned(), |r| format!("{r:.3}"));
                let precision = m
                    .neighbour_precision
                    .map_or("-".to_owned(), |p| format!("{:.0}%", p * 100.0));
                writeln!(
                    f,
                    "{:<58} {:>9} {:>7.1}% {:>8.0}% {:>10}",
                    m.method,
                    recall,
                    m.mdape,
                    m.coverage * 100.0,
                    precision
                )?;
            }
            writeln!(f, "\nthreshold sweep ({} split, the model above)", split.split)?;
            writeln!(
                f,
                "{:>12} {:>9} {:>8} {:>20}",
                "max distance", "coverage", "MdAPE", "neighbour precision"
            )?;
            for r in &split.sweep {
                writeln!(
                    f,
                    "{:>12.2} {:>8.0}% {:>7.1}% {:>19.0}%",
                    r.max_distance,
                    r.coverage * 100.0,
                    r.mdape,
                    r.neighbour_precision * 100.0
                )?;
            }
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

    /// The bar for the set: ≥ 400 titles in ≥ 100 clusters across
    /// ≥ 15 domains, every cluster with mates, both splits present.
    #[test]
    fn the_set_is_large_varied_and_split() {
        let set = EvalSet::builtin();
        let items = &set.items;
        assert!(items.len() >= 400, "{}", items.len());
        assert!(distinct(items.iter().map(|i| i.cluster.as_str())) >= 100);
        assert!(distinct(items.iter().map(|i| i.domain.as_str())) >= 15);
        for item in items {
            let mates = items.iter().filter(|o| o.cluster == item.cluster).count();
            assert!(mates >= 4, "cluster {} has {mates} titles", item.cluster);
        }
        assert_eq!(set.splits(), ["dev", "test"]);
        let test = items.iter().filter(|i| i.split == "test").count();
        assert!(test >= 150, "{test} test titles");
    }

    #[test]
    fn parse_rejects_bad_lines() {
        assert!(EvalSet::parse("a\t10\tx\nb\tten\ty").is_err());
        assert!(EvalSet::parse("a\t0\tx\nb\t1\ty").is_err());
        assert!(EvalSet::parse("a\t10").is_err());
        assert_eq!(EvalSet::parse("# c\na\t10\tx\n\nb\t5\ty").unwrap().items.len(), 2);
        assert!(EvalSet::parse("train\tx\ta\t10\tx\ndev\tx\tb\t5\ty").is_err());
        let straddles = EvalSet::parse("dev\tx\ta\t10\tx\ntest\tx\ta\t5\ty").unwrap_err();
        assert!(straddles.to_string().contains("straddles"), "{straddles}");
        let set = EvalSet::parse("dev\thome\ta\t10\tx\ntest\tcar\tb\t5\ty").unwrap();
        assert_eq!(
            (set.items[1].split.as_str(), set.items[1].domain.as_str()),
            ("test", "car")
        );
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
    /// baselines on each split: better retrieval than word overlap and
    /// smaller estimate errors than guessing the median.
    #[test]
    fn the_builtin_model_beats_the_baselines() {
        let model = LocalModel::builtin().unwrap();
        let r = evaluate(&EvalSet::builtin(), &model, crate::ai::LOCAL_MAX_DISTANCE, 3);
        for split in &r.splits {
            let (ours, words, median) = (&split.methods[0], &split.methods[1], &split.methods[2]);
            assert!(ours.recall_at_3 > words.recall_at_3, "{r}");
            assert!(ours.mdape < median.mdape, "{r}");
            assert!(ours.mdape < words.mdape, "{r}");
            assert!(ours.coverage >= 0.6, "{r}");
        }
    }

    /// The target set for the second model: recall@3 ≥ 0.68 on the first
    /// set (the first 164 dev titles, where the first model scored 0.575).
    /// The dev split as a whole holds harder titles since (hard negatives):
    /// there even the teacher scores 0.661 (BENCHMARKS.md).
    #[test]
    fn the_builtin_model_meets_its_target_on_the_first_set() {
        let model = LocalModel::builtin().unwrap();
        let first = EvalSet {
            items: EvalSet::builtin()
                .items
                .into_iter()
                .filter(|i| i.split == "dev")
                .take(164)
                .collect(),
        };
        assert_eq!(first.items.last().unwrap().title, "Plant flowers along the front path");
        let r = evaluate(&first, &model, crate::ai::LOCAL_MAX_DISTANCE, 3);
        let recall = r.split("dev").unwrap().methods[0].recall_at_3.unwrap();
        assert!(recall >= 0.68, "{r}");
    }
}
