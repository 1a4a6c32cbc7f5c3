//! Distils a static embedding model from a sentence transformer, the
//! model2vec way: every vocabulary token is run through the transformer on
//! its own (`[CLS] token [SEP]`, mean-pooled like the sentence model), the
//! table is centred (the common direction carries no meaning), tokens are
//! weighted by smooth inverse frequency (Zipf's law on the vocabulary order,
//! which for BERT's vocabulary follows frequency), and the rows are
//! quantised to int8 with one f32 scale each.
//!
//! The output is a model2vec folder (model.safetensors with `embeddings` and
//! `weights`, tokenizer.json, config.json) that model2vec-rs and Python's
//! model2vec both load. Aswan embeds the one this tool wrote into its binary.
//!
//! ```text
//! cargo run --release -p aswan-distill -- --from <sentence-transformer dir> --out models/minilm-l6-static
//! ```

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use clap::Parser;
use safetensors::tensor::{Dtype, TensorView};
use serde_json::{json, Value};

#[derive(Parser)]
#[command(about = "Distil a model2vec-format static embedding model from a BERT sentence transformer")]
struct Args {
    /// The sentence transformer's folder (config.json, model.safetensors, tokenizer.json).
    #[arg(long)]
    from: PathBuf,
    /// Where to write the static model.
    #[arg(long)]
    out: PathBuf,
    /// Tokens per forward pass.
    #[arg(long, default_value_t = 512)]
    batch: usize,
    /// The smooth-inverse-frequency coefficient (model2vec's default).
    #[arg(long, default_value_t = 1e-4)]
    sif: f64,
    /// Also write the unquantised f32 table to this folder (4× larger), to
    /// measure what int8 costs (`aswan eval` with EMBEDDING_MODEL_DIR).
    #[arg(long)]
    f32_out: Option<PathBuf>,
    /// The name recorded in config.json.
    #[arg(long, default_value = "sentence-transformers/all-MiniLM-L6-v2")]
    base_model: String,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let read = |name: &str| {
        std::fs::read_to_string(args.from.join(name))
            .with_context(|| format!("reading {name} in {}", args.from.display()))
    };
    let config: Config = serde_json::from_str(&read("config.json")?).context("config.json")?;
    let mut tokenizer: Value = serde_json::from_str(&read("tokenizer.json")?).context("tokenizer.json")?;
    let vocab = tokenizer["model"]["vocab"]
        .as_object()
        .context("tokenizer.json has no WordPiece vocabulary")?;
    let id_of = |token: &str| -> Result<u32> {
        let id = vocab
            .get(token)
            .and_then(Value::as_u64)
            .with_context(|| format!("no {token} token"))?;
        Ok(u32::try_from(id)?)
    };
    let (cls, sep) = (id_of("[CLS]")?, id_of("[SEP]")?);
    let rows = config.vocab_size;
    if vocab.len() != rows {
        bail!("the tokenizer has {} tokens, the model {rows}", vocab.len());
    }
    // Placeholder tokens that text never tokenises to: zero rows.
    let unused: Vec<bool> = {
        let mut flags = vec![false; rows];
        for (token, id) in vocab {
            let is_placeholder = token.starts_with("[unused") && token.ends_with(']');
            if let (true, Some(id)) = (is_placeholder, id.as_u64()) {
                flags[id as usize] = true;
            }
        }
        flags
    };

    let device = Device::Cpu;
    let weights = args.from.join("model.safetensors");
    // SAFETY: the weights file is not modified while this process maps it.
    let vb = unsafe { VarBuilder::from_mmaped_safetensors(&[weights], DType::F32, &device)? };
    let model = BertModel::load(vb, &config).context("loading the transformer")?;
    let dim = config.hidden_size;

    let started = Instant::now();
    let mut table = vec![0f32; rows * dim];
    for start in (0..rows).step_by(args.batch) {
        let end = (start + args.batch).min(rows);
        let ids: Vec<u32> = (start..end).flat_map(|t| [cls, t as u32, sep]).collect();
        let input = Tensor::from_vec(ids, (end - start, 3), &device)?;
        let types = input.zeros_like()?;
        let mask = input.ones_like()?;
        // Mean over the three positions, as the sentence model pools.
        let pooled = model.forward(&input, &types, Some(&mask))?.mean(1)?;
        let flat: Vec<f32> = pooled.flatten_all()?.to_vec1()?;
        table[start * dim..end * dim].copy_from_slice(&flat);
        eprint!("\r{end}/{rows} tokens ({:.0} s)", started.elapsed().as_secs_f64());
    }
    eprintln!();

    // Centre: subtract the mean of the real tokens.
    let live = unused.iter().filter(|u| !**u).count() as f64;
    let mut mean = vec![0f64; dim];
    for (row, _) in table.chunks(dim).zip(&unused).filter(|(_, u)| !**u) {
        for (m, x) in mean.iter_mut().zip(row) {
            *m += f64::from(*x) / live;
        }
    }
    // Smooth inverse frequency: p(rank) ∝ 1/(rank+2) (Zipf), weight = a/(a+p).
    let harmonic: f64 = (0..rows).map(|r| 1.0 / (r as f64 + 2.0)).sum();
    let mut quantised = vec![0i8; rows * dim];
    let mut scales = vec![0f32; rows];
    let mut full = vec![0f32; rows * dim];
    for (t, row) in table.chunks(dim).enumerate() {
        if unused[t] {
            continue;
        }
        let p = 1.0 / (t as f64 + 2.0) / harmonic;
        let weight = args.sif / (args.sif + p);
        let centred: Vec<f64> = row
            .iter()
            .zip(&mean)
            .map(|(x, m)| (f64::from(*x) - m) * weight)
            .collect();
        for (f, x) in full[t * dim..(t + 1) * dim].iter_mut().zip(&centred) {
            *f = *x as f32;
        }
        let peak = centred.iter().fold(0f64, |a, x| a.max(x.abs()));
        if peak == 0.0 {
            continue;
        }
        let scale = peak / 127.0;
        for (q, x) in quantised[t * dim..(t + 1) * dim].iter_mut().zip(&centred) {
            *q = (x / scale).round().clamp(-127.0, 127.0) as i8;
        }
        scales[t] = scale as f32;
    }

    if let Some(dir) = &args.f32_out {
        std::fs::create_dir_all(dir)?;
        let bytes: Vec<u8> = full.iter().flat_map(|x| x.to_le_bytes()).collect();
        let tensors = vec![(
            "embeddings".to_owned(),
            TensorView::new(Dtype::F32, vec![rows, dim], &bytes)?,
        )];
        safetensors::serialize_to_file(tensors, &None, &dir.join("model.safetensors"))?;
        std::fs::copy(args.from.join("tokenizer.json"), dir.join("tokenizer.json"))?;
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

    // The static model pools whole texts itself: no truncation or padding.
    tokenizer["truncation"] = Value::Null;
    tokenizer["padding"] = Value::Null;
    std::fs::write(args.out.join("tokenizer.json"), serde_json::to_string(&tokenizer)?)?;
    let config = json!({
        "model_type": "model2vec",
        "architectures": ["StaticModel"],
        "base_model": args.base_model,
        "hidden_dim": dim,
        "normalize": true,
        "apply_pca": null,
        "sif_coefficient": args.sif,
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
