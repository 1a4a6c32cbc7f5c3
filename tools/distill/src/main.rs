//! Distils Aswan's built-in static embedding model from a sentence
//! transformer (the teacher), in the model2vec format:
//!
//! 1. every vocabulary token is run through the teacher on its own
//!    (`[CLS] token [SEP]`, mean-pooled like the sentence model);
//! 2. optionally, whole English words the vocabulary splits into pieces are
//!    added as tokens of their own, each embedded by the teacher as a whole
//!    (`--words`), so "deploy" is one meaning rather than "dep" + "##loy";
//! 3. the table is centred (the common direction carries no meaning);
//! 4. tokens are weighted by smooth inverse frequency, a / (a + p(token)),
//!    with p counted over the training sentences (`--frequencies corpus`) or
//!    from Zipf's law on the vocabulary order (`zipf`, the first recipe);
//! 5. optionally, a linear map is fitted so that the pooled static
//!    embedding of each training sentence approximates the teacher's
//!    (`--map`), and folded into the rows;
//! 6. rows are quantised to int8 with one f32 scale each.
//!
//! The output is a model2vec folder (model.safetensors with `embeddings` and
//! `weights`, tokenizer.json, config.json) that model2vec-rs and Python's
//! model2vec both load. Aswan embeds the one in models/ into its binary;
//! `tools/distill/build.sh` writes it (inputs, flags and digest).

mod corpus;
mod fit;
mod teacher;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::{Parser, ValueEnum};
use safetensors::tensor::{Dtype, TensorView};
use serde_json::{json, Value};
use tokenizers::Tokenizer;

use teacher::{normalise_rows, Teacher};

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Frequencies {
    /// p(rank) ∝ 1/(rank + 2) over the vocabulary order.
    Zipf,
    /// Token counts over the training sentences, tokenised as titles are.
    Corpus,
}

#[derive(Parser)]
#[command(about = "Distil a model2vec-format static embedding model from a BERT sentence transformer")]
struct Args {
    /// The sentence transformer's folder (config.json, model.safetensors, tokenizer.json).
    #[arg(long)]
    from: PathBuf,
    /// Where to write the static model.
    #[arg(long)]
    out: PathBuf,
    /// WordNet's dict folder (data.noun, data.verb, data.adj, data.adv): the training sentences.
    #[arg(long)]
    wordnet: Option<PathBuf>,
    /// A word list, one word per line: the whole words that `--words` may add.
    #[arg(long)]
    word_list: Option<PathBuf>,
    /// How many whole words to add (the most frequent in the sentences first); 0 adds none.
    #[arg(long, default_value_t = 0)]
    words: usize,
    /// Where token frequencies come from.
    #[arg(long, value_enum, default_value_t = Frequencies::Zipf)]
    frequencies: Frequencies,
    /// The smooth-inverse-frequency constant a.
    #[arg(long, default_value_t = 1e-4)]
    sif: f64,
    /// Fit a linear map on this many training sentences (0: no map).
    #[arg(long, default_value_t = 0)]
    map_sentences: usize,
    /// Also fit the map on this many short task-like phrases built from
    /// common WordNet lemmas (0: none).
    #[arg(long, default_value_t = 0)]
    phrases: usize,
    /// Passes over the sentences when fitting the map.
    #[arg(long, default_value_t = 30)]
    epochs: usize,
    /// The fit's learning rate (AdamW).
    #[arg(long, default_value_t = 2e-3)]
    lr: f64,
    /// Tokens per forward pass of the teacher.
    #[arg(long, default_value_t = 4096)]
    batch_tokens: usize,
    /// Keeps the teacher's outputs here between runs (they do not depend on
    /// the flags that follow them), so trying a recipe takes seconds.
    #[arg(long)]
    cache: Option<PathBuf>,
    /// Also write the unquantised f32 table to this folder (4× larger), to
    /// measure what int8 costs (`aswan eval` with EMBEDDING_MODEL_DIR).
    #[arg(long)]
    f32_out: Option<PathBuf>,
    /// Instead of distilling: embed this evaluation set's titles (eval/tasks.tsv
    /// format) with the teacher itself and print its recall@3 per split, the
    /// ceiling a static model distilled from it is measured against.
    #[arg(long)]
    teacher_eval: Option<PathBuf>,
    /// Instead of distilling: print the teacher's cosine distance from the
    /// first of these titles to each of the others (to compare with the
    /// static model's, e.g. when tuning a threshold).
    #[arg(long, num_args = 2..)]
    teacher_distances: Vec<String>,
    /// The name recorded in config.json.
    #[arg(long, default_value = "sentence-transformers/all-MiniLM-L6-v2")]
    base_model: String,
}

fn read_f32(path: &Path) -> Option<Vec<f32>> {
    let bytes = std::fs::read(path).ok()?;
    Some(
        bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect(),
    )
}

fn write_f32(path: &Path, data: &[f32]) -> Result<()> {
    let bytes: Vec<u8> = data.iter().flat_map(|x| x.to_le_bytes()).collect();
    Ok(std::fs::write(path, bytes)?)
}

/// The teacher's pooled outputs for `sequences`, from the cache when a run
/// with the same `key` (and the same inputs, checked by `fingerprint`)
/// already computed them.
fn teacher_outputs(
    args: &Args,
    teacher: &Teacher,
    key: &str,
    fingerprint: &str,
    sequences: &[Vec<u32>],
) -> Result<Vec<f32>> {
    let cached = args
        .cache
        .as_ref()
        .map(|dir| (dir.join(format!("{key}.f32")), dir.join(format!("{key}.key"))));
    if let Some((data, stamp)) = &cached {
        if std::fs::read_to_string(stamp).ok().as_deref() == Some(fingerprint) {
            if let Some(v) = read_f32(data).filter(|v| v.len() == sequences.len() * teacher.dim) {
                eprintln!("{key}: {} from the cache", sequences.len());
                return Ok(v);
            }
        }
    }
    let v = teacher.embed(sequences, args.batch_tokens, key)?;
    if let Some((data, stamp)) = &cached {
        std::fs::create_dir_all(args.cache.as_ref().expect("cache dir"))?;
        write_f32(data, &v)?;
        std::fs::write(stamp, fingerprint)?;
    }
    Ok(v)
}

fn tokenizer_from(json: &Value) -> Result<Tokenizer> {
    Tokenizer::from_bytes(serde_json::to_vec(json)?).map_err(|e| anyhow::anyhow!("tokenizer: {e}"))
}

fn ids(tokenizer: &Tokenizer, text: &str) -> Result<Vec<u32>> {
    let encoding = tokenizer
        .encode(text, false)
        .map_err(|e| anyhow::anyhow!("tokenizing: {e}"))?;
    Ok(encoding.get_ids().to_vec())
}

/// A digest of strings for cache stamps (FNV-1a; not for security).
fn fnv(items: impl IntoIterator<Item = impl AsRef<str>>) -> String {
    let mut h: u64 = 0xcbf29ce484222325;
    for s in items {
        for b in s.as_ref().bytes().chain([0]) {
            h = (h ^ u64::from(b)).wrapping_mul(0x100000001b3);
        }
    }
    format!("{h:016x}")
}

fn main() -> Result<()> {
    let args = Args::parse();
    let started = Instant::now();
    let mut tokenizer_json: Value = serde_json::from_str(
        &std::fs::read_to_string(args.from.join("tokenizer.json")).context("the teacher's tokenizer.json")?,
    )?;
    // Titles are pooled whole: the sentence model's padding to a fixed
    // length and its truncation would add [PAD]s and cut words.
    tokenizer_json["truncation"] = Value::Null;
    tokenizer_json["padding"] = Value::Null;
    let base = tokenizer_from(&tokenizer_json)?;
    let teacher = Teacher::load(&args.from)?;
    let dim = teacher.dim;
    let vocab: HashMap<String, u32> = base.get_vocab(false);
    if vocab.len() != teacher.vocab_size {
        bail!(
            "the tokenizer has {} tokens, the model {}",
            vocab.len(),
            teacher.vocab_size
        );
    }
    let (cls, sep) = (vocab["[CLS]"], vocab["[SEP]"]);
    let base_rows = vocab.len();
    let wrap = |inner: Vec<u32>| [vec![cls], inner, vec![sep]].concat();
    if let [query, others @ ..] = &args.teacher_distances[..] {
        let seqs = args
            .teacher_distances
            .iter()
            .map(|t| Ok(wrap(ids(&base, t)?)))
            .collect::<Result<Vec<_>>>()?;
        let mut v = teacher.embed(&seqs, 4096, "titles")?;
        normalise_rows(&mut v, dim);
        for (i, other) in others.iter().enumerate() {
            let d = 1.0
                - v[..dim]
                    .iter()
                    .zip(&v[(i + 1) * dim..(i + 2) * dim])
                    .map(|(a, b)| a * b)
                    .sum::<f32>();
            println!("{d:.3}  {query} ↔ {other}");
        }
        return Ok(());
    }
    if let Some(set) = &args.teacher_eval {
        return teacher_eval(&teacher, &base, set, &wrap);
    }

    // 1. Every token alone.
    let token_seqs: Vec<Vec<u32>> = (0..base_rows as u32).map(|t| vec![cls, t, sep]).collect();
    let mut table = teacher_outputs(&args, &teacher, "tokens", &args.from.display().to_string(), &token_seqs)?;
    let mut names: Vec<String> = {
        let mut by_id = vec![String::new(); base_rows];
        for (token, &id) in &vocab {
            by_id[id as usize] = token.clone();
        }
        by_id
    };

    let needs_sentences = args.words > 0 || args.frequencies == Frequencies::Corpus || args.map_sentences > 0;
    let sentences = match (&args.wordnet, needs_sentences) {
        (Some(dir), true) => corpus::wordnet_sentences(dir)?,
        (None, true) => bail!("--words, --frequencies corpus and --map-sentences need --wordnet"),
        _ => Vec::new(),
    };
    if needs_sentences {
        eprintln!("{} training sentences", sentences.len());
    }

    // 2. Whole words.
    if args.words > 0 {
        let list = args.word_list.as_ref().context("--words needs --word-list")?;
        let mut counts: HashMap<&str, usize> = HashMap::new();
        let lowered: Vec<String> = sentences.iter().map(|s| s.to_lowercase()).collect();
        for s in &lowered {
            for w in s.split(|c: char| !c.is_ascii_alphanumeric()).filter(|w| !w.is_empty()) {
                *counts.entry(w).or_default() += 1;
            }
        }
        let mut candidates: Vec<(usize, String)> = corpus::plain_words(list)?
            .into_iter()
            .filter(|w| !vocab.contains_key(w))
            .filter_map(|w| counts.get(w.as_str()).map(|&c| (c, w)))
            .collect();
        candidates.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        candidates.truncate(args.words);
        let words: Vec<String> = candidates.into_iter().map(|(_, w)| w).collect();
        let seqs = words
            .iter()
            .map(|w| Ok(wrap(ids(&base, w)?)))
            .collect::<Result<Vec<_>>>()?;
        let rows = teacher_outputs(&args, &teacher, &format!("words-{}", words.len()), &fnv(&words), &seqs)?;
        table.extend_from_slice(&rows);
        let model_vocab = tokenizer_json["model"]["vocab"]
            .as_object_mut()
            .context("a WordPiece vocabulary")?;
        for (i, w) in words.iter().enumerate() {
            model_vocab.insert(w.clone(), json!(base_rows + i));
        }
        names.extend(words);
        eprintln!(
            "vocabulary: {base_rows} tokens + {} whole words",
            names.len() - base_rows
        );
    }
    let tokenizer = tokenizer_from(&tokenizer_json)?;
    let rows = names.len();
    // Placeholder tokens that text never tokenises to: zero rows.
    let unused: Vec<bool> = names
        .iter()
        .map(|t| t.starts_with("[unused") && t.ends_with(']'))
        .collect();

    // 3. Centre on the mean of the real tokens.
    let live = unused.iter().filter(|u| !**u).count() as f64;
    let mut mean = vec![0f64; dim];
    for (row, _) in table.chunks(dim).zip(&unused).filter(|(_, u)| !**u) {
        for (m, x) in mean.iter_mut().zip(row) {
            *m += f64::from(*x) / live;
        }
    }
    // 4. Smooth inverse frequency.
    let p: Vec<f64> = match args.frequencies {
        Frequencies::Zipf => {
            let harmonic: f64 = (0..rows).map(|r| 1.0 / (r as f64 + 2.0)).sum();
            (0..rows).map(|r| 1.0 / (r as f64 + 2.0) / harmonic).collect()
        }
        Frequencies::Corpus => {
            let mut counts = vec![0u64; rows];
            for s in &sentences {
                for id in ids(&tokenizer, s)? {
                    counts[id as usize] += 1;
                }
            }
            let total = counts.iter().sum::<u64>() as f64;
            counts.iter().map(|&c| c as f64 / total).collect()
        }
    };
    for (t, row) in table.chunks_mut(dim).enumerate() {
        if unused[t] {
            row.fill(0.0);
            continue;
        }
        let weight = args.sif / (args.sif + p[t]);
        for (x, m) in row.iter_mut().zip(&mean) {
            *x = ((f64::from(*x) - m) * weight) as f32;
        }
    }

    // 5. The linear map.
    let mut recipe_map = Value::Null;
    if args.map_sentences > 0 {
        let step = (sentences.len() / args.map_sentences.max(1)).max(1);
        let mut chosen: Vec<&String> = sentences.iter().step_by(step).take(args.map_sentences).collect();
        let seqs = chosen
            .iter()
            .map(|s| Ok(wrap(ids(&base, s)?)))
            .collect::<Result<Vec<_>>>()?;
        let mut targets = teacher_outputs(
            &args,
            &teacher,
            &format!("sentences-{}", chosen.len()),
            &fnv(&chosen),
            &seqs,
        )?;
        let phrases = match (&args.wordnet, args.phrases) {
            (Some(dir), n) if n > 0 => corpus::task_like_phrases(dir, n)?,
            _ => Vec::new(),
        };
        if !phrases.is_empty() {
            let seqs = phrases
                .iter()
                .map(|s| Ok(wrap(ids(&base, s)?)))
                .collect::<Result<Vec<_>>>()?;
            targets.extend(teacher_outputs(
                &args,
                &teacher,
                &format!("phrases-{}", phrases.len()),
                &fnv(&phrases),
                &seqs,
            )?);
            chosen.extend(phrases.iter());
        }
        normalise_rows(&mut targets, dim);
        let unk = vocab["[UNK]"];
        let mut means = vec![0f32; chosen.len() * dim];
        for (s, out) in chosen.iter().zip(means.chunks_mut(dim)) {
            let toks: Vec<u32> = ids(&tokenizer, s)?.into_iter().filter(|&t| t != unk).collect();
            for &t in &toks {
                for (o, x) in out.iter_mut().zip(&table[t as usize * dim..(t as usize + 1) * dim]) {
                    *o += x / toks.len() as f32;
                }
            }
        }
        let fit = fit::fit_map(&means, &targets, dim, args.epochs, args.lr)?;
        eprintln!(
            "map: held-out cosine to the teacher {:.3} → {:.3}",
            fit.held_out_before, fit.held_out_after
        );
        let mut mapped = vec![0f32; table.len()];
        for (src, dst) in table.chunks(dim).zip(mapped.chunks_mut(dim)) {
            for (i, x) in src.iter().enumerate().filter(|(_, x)| **x != 0.0) {
                for (d, w) in dst.iter_mut().zip(&fit.map[i * dim..(i + 1) * dim]) {
                    *d += x * w;
                }
            }
        }
        table = mapped;
        recipe_map = json!({
            "sentences": chosen.len() - phrases.len(),
            "task_like_phrases": phrases.len(),
            "epochs": args.epochs,
            "held_out_cosine_before": fit.held_out_before,
            "held_out_cosine_after": fit.held_out_after,
        });
    }

    // 6. int8, one scale per row.
    let mut quantised = vec![0i8; rows * dim];
    let mut scales = vec![0f32; rows];
    for (t, row) in table.chunks(dim).enumerate() {
        let peak = row.iter().fold(0f32, |a, x| a.max(x.abs()));
        if peak == 0.0 {
            continue;
        }
        let scale = peak / 127.0;
        for (q, x) in quantised[t * dim..(t + 1) * dim].iter_mut().zip(row) {
            *q = (x / scale).round().clamp(-127.0, 127.0) as i8;
        }
        scales[t] = scale;
    }

    if let Some(dir) = &args.f32_out {
        std::fs::create_dir_all(dir)?;
        let bytes: Vec<u8> = table.iter().flat_map(|x| x.to_le_bytes()).collect();
        let tensors = vec![(
            "embeddings".to_owned(),
            TensorView::new(Dtype::F32, vec![rows, dim], &bytes)?,
        )];
        safetensors::serialize_to_file(tensors, &None, &dir.join("model.safetensors"))?;
        std::fs::write(dir.join("tokenizer.json"), serde_json::to_string(&tokenizer_json)?)?;
        std::fs::write(dir.join("config.json"), "{\"normalize\": true}\n")?;
    }
    std::fs::create_dir_all(&args.out)?;
    let embedding_bytes: Vec<u8> = quantised.iter().map(|q| *q as u8).collect();
    let scale_bytes: Vec<u8> = scales.iter().flat_map(|s| s.to_le_bytes()).collect();
    let tensors = vec![
        (
            "embeddings".to_owned(),
            TensorView::new(Dtype::I8, vec![rows, dim], &embedding_bytes)?,
        ),
        (
            "weights".to_owned(),
            TensorView::new(Dtype::F32, vec![rows], &scale_bytes)?,
        ),
    ];
    let metadata: HashMap<String, String> = [("format".to_owned(), "model2vec".to_owned())].into();
    safetensors::serialize_to_file(tensors, &Some(metadata), &args.out.join("model.safetensors"))?;
    std::fs::write(args.out.join("tokenizer.json"), serde_json::to_string(&tokenizer_json)?)?;
    let config = json!({
        "model_type": "model2vec",
        "architectures": ["StaticModel"],
        "base_model": args.base_model,
        "hidden_dim": dim,
        "normalize": true,
        "apply_pca": null,
        "recipe": {
            "whole_words": rows - base_rows,
            "frequencies": match args.frequencies { Frequencies::Zipf => "zipf", Frequencies::Corpus => "corpus" },
            "sif_coefficient": args.sif,
            "training_sentences": sentences.len(),
            "linear_map": recipe_map,
        },
        "quantization": "int8, one f32 scale per token (the weights tensor)",
    });
    std::fs::write(
        args.out.join("config.json"),
        serde_json::to_string_pretty(&config)? + "\n",
    )?;
    eprintln!(
        "wrote {} ({rows} tokens × {dim} dims) in {:.0} s",
        args.out.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// recall@3 of the teacher per split, computed as `aswan eval` does (a
/// title's three nearest others in its split; the share of its cluster-mates
/// among them, up to three).
fn teacher_eval(
    teacher: &Teacher,
    tokenizer: &Tokenizer,
    set: &Path,
    wrap: &dyn Fn(Vec<u32>) -> Vec<u32>,
) -> Result<()> {
    let text = std::fs::read_to_string(set)?;
    let rows: Vec<Vec<&str>> = text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| l.split('\t').collect())
        .collect();
    for split in ["dev", "test"] {
        let items: Vec<(&str, &str)> = rows
            .iter()
            .filter(|r| r.len() == 5 && r[0] == split)
            .map(|r| (r[2], r[4]))
            .collect();
        if items.is_empty() {
            continue;
        }
        let seqs = items
            .iter()
            .map(|(_, t)| Ok(wrap(ids(tokenizer, t)?)))
            .collect::<Result<Vec<_>>>()?;
        let mut v = teacher.embed(&seqs, 4096, split)?;
        normalise_rows(&mut v, teacher.dim);
        let row = |i: usize| &v[i * teacher.dim..(i + 1) * teacher.dim];
        let mut total = 0.0;
        for (i, (cluster, _)) in items.iter().enumerate() {
            let mut others: Vec<(f32, usize)> = (0..items.len())
                .filter(|&j| j != i)
                .map(|j| (1.0 - row(i).iter().zip(row(j)).map(|(a, b)| a * b).sum::<f32>(), j))
                .collect();
            others.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            let mates = items.iter().filter(|(c, _)| c == cluster).count() - 1;
            let hits = others.iter().take(3).filter(|(_, j)| items[*j].0 == *cluster).count();
            total += hits as f64 / mates.clamp(1, 3) as f64;
        }
        println!(
            "teacher {split}: {} titles, recall@3 {:.3}",
            items.len(),
            total / items.len() as f64
        );
    }
    Ok(())
}
