//! The linear map: a d×d matrix W fitted so that the static model's pooled
//! embedding of a sentence, times W, points where the teacher's embedding of
//! the same sentence points (cosine loss). Pooling is a mean, so the map
//! folds into the rows afterwards (mean(rows)·W = mean(rows·W)) and costs
//! nothing at run time.

use anyhow::Result;
use candle_core::{DType, Device, Tensor, Var};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};

use crate::teacher::normalise;

pub struct Fit {
    pub map: Vec<f32>,
    /// Mean cosine between static and teacher embeddings on the held-out
    /// tenth of the sentences, before and after.
    pub held_out_before: f64,
    pub held_out_after: f64,
}

/// A fixed permutation (xorshift), so runs are repeatable.
fn shuffled(n: usize, seed: u64) -> Vec<usize> {
    let mut state = seed | 1;
    let mut order: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        order.swap(i, (state % (i as u64 + 1)) as usize);
    }
    order
}

fn mean_cosine(x: &Tensor, w: &Tensor, y: &Tensor) -> Result<f64> {
    let predicted = normalise(&x.matmul(w)?)?;
    Ok(predicted.mul(y)?.sum(1)?.mean_all()?.to_scalar::<f32>()? as f64)
}

/// `static_means` and `teacher` are n×dim row-major; the teacher's rows are
/// unit length.
pub fn fit_map(static_means: &[f32], teacher: &[f32], dim: usize, epochs: usize, lr: f64) -> Result<Fit> {
    let device = Device::Cpu;
    let n = static_means.len() / dim;
    let (train, held): (Vec<usize>, Vec<usize>) = (0..n).partition(|i| i % 10 != 0);
    let rows = |idx: &[usize], from: &[f32]| -> Result<Tensor> {
        let flat: Vec<f32> = idx
            .iter()
            .flat_map(|&i| from[i * dim..(i + 1) * dim].iter().copied())
            .collect();
        Ok(Tensor::from_vec(flat, (idx.len(), dim), &device)?)
    };
    let (held_x, held_y) = (rows(&held, static_means)?, rows(&held, teacher)?);
    let w = Var::from_tensor(&Tensor::eye(dim, DType::F32, &device)?)?;
    let held_out_before = mean_cosine(&held_x, w.as_tensor(), &held_y)?;
    let mut opt = AdamW::new(
        vec![w.clone()],
        ParamsAdamW {
            lr,
            weight_decay: 0.0,
            ..Default::default()
        },
    )?;
    const BATCH: usize = 1024;
    for epoch in 0..epochs {
        let order = shuffled(train.len(), 0x5eed + epoch as u64);
        let mut loss_sum = 0.0;
        let mut batches = 0;
        for chunk in order.chunks(BATCH) {
            let idx: Vec<usize> = chunk.iter().map(|&k| train[k]).collect();
            let (x, y) = (rows(&idx, static_means)?, rows(&idx, teacher)?);
            let predicted = normalise(&x.matmul(w.as_tensor())?)?;
            let loss = (1.0 - predicted.mul(&y)?.sum(1)?.mean_all()?)?;
            opt.backward_step(&loss)?;
            loss_sum += loss.to_scalar::<f32>()? as f64;
            batches += 1;
        }
        eprint!(
            "\rfit: epoch {}/{epochs}, loss {:.4}",
            epoch + 1,
            loss_sum / batches as f64
        );
    }
    eprintln!();
    let held_out_after = mean_cosine(&held_x, w.as_tensor(), &held_y)?;
    Ok(Fit {
        map: w.as_tensor().flatten_all()?.to_vec1()?,
        held_out_before,
        held_out_after,
    })
}
