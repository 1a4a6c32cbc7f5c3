//! The teacher: a BERT sentence transformer run through candle, pooled the
//! way sentence-transformers pools (the mean over the real positions).

use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result};
use candle_core::{DType, Device, Tensor, D};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};

pub struct Teacher {
    model: BertModel,
    device: Device,
    pub dim: usize,
    pub vocab_size: usize,
}

impl Teacher {
    pub fn load(dir: &Path) -> Result<Self> {
        let config: Config = serde_json::from_str(
            &std::fs::read_to_string(dir.join("config.json")).context("the teacher's config.json")?,
        )?;
        let device = Device::Cpu;
        // SAFETY: the weights file is not modified while this process maps it.
        let vb = unsafe { VarBuilder::from_mmaped_safetensors(&[dir.join("model.safetensors")], DType::F32, &device)? };
        let model = BertModel::load(vb, &config).context("loading the transformer")?;
        Ok(Self {
            model,
            device,
            dim: config.hidden_size,
            vocab_size: config.vocab_size,
        })
    }

    /// Mean-pooled last hidden states of each id sequence (special tokens
    /// included by the caller), in the order given. Sequences are batched by
    /// length so that little padding is computed; `label` names the progress.
    pub fn embed(&self, sequences: &[Vec<u32>], tokens_per_batch: usize, label: &str) -> Result<Vec<f32>> {
        let mut order: Vec<usize> = (0..sequences.len()).collect();
        order.sort_by_key(|&i| (sequences[i].len(), i));
        let mut out = vec![0f32; sequences.len() * self.dim];
        let started = Instant::now();
        let mut done = 0;
        while done < order.len() {
            // Sorted by length: the last sequence taken is the widest.
            let mut end = done + 1;
            while end < order.len() && (end - done + 1) * sequences[order[end]].len() <= tokens_per_batch {
                end += 1;
            }
            let width = sequences[order[end - 1]].len();
            let rows = end - done;
            let mut ids = vec![0u32; rows * width];
            let mut mask = vec![0u32; rows * width];
            for (r, &i) in order[done..end].iter().enumerate() {
                let seq = &sequences[i];
                ids[r * width..r * width + seq.len()].copy_from_slice(seq);
                mask[r * width..r * width + seq.len()].fill(1);
            }
            let input = Tensor::from_vec(ids, (rows, width), &self.device)?;
            let mask = Tensor::from_vec(mask, (rows, width), &self.device)?;
            let hidden = self.model.forward(&input, &input.zeros_like()?, Some(&mask))?;
            let m = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
            let pooled = hidden.broadcast_mul(&m)?.sum(1)?.broadcast_div(&m.sum(1)?)?;
            let flat: Vec<f32> = pooled.flatten_all()?.to_vec1()?;
            for (r, &i) in order[done..end].iter().enumerate() {
                out[i * self.dim..(i + 1) * self.dim].copy_from_slice(&flat[r * self.dim..(r + 1) * self.dim]);
            }
            done = end;
            eprint!(
                "\r{label}: {done}/{} ({:.0} s)",
                sequences.len(),
                started.elapsed().as_secs_f64()
            );
        }
        eprintln!();
        Ok(out)
    }
}

/// Unit-length rows.
pub fn normalise_rows(table: &mut [f32], dim: usize) {
    for row in table.chunks_mut(dim) {
        let norm = row.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
        row.iter_mut().for_each(|x| *x /= norm);
    }
}

/// The same, as a tensor op (used by the fit).
pub fn normalise(t: &Tensor) -> Result<Tensor> {
    let norm = t.sqr()?.sum_keepdim(D::Minus1)?.sqrt()?.clamp(1e-12, f64::MAX)?;
    Ok(t.broadcast_div(&norm)?)
}
