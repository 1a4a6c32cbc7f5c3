//! Local embeddings: a static (model2vec) model run in-process. The built-in
//! one is distilled from all-MiniLM-L6-v2 by `tools/distill` and compiled
//! into the binary, so semantic similarity works with no vendor, no network
//! and no configuration. EMBEDDING_MODEL_DIR loads any other model2vec
//! folder (e.g. a downloaded potion-base-8M) instead.

use std::path::Path;
use std::sync::OnceLock;

use anyhow::Context;
use model2vec_rs::model::StaticModel;
use safetensors::SafeTensors;
use sha2::{Digest, Sha256};
use tokenizers::Tokenizer;

/// The name stored beside every embedding the built-in model makes. Bump
/// the version whenever the committed model changes, so `aswan reindex`
/// knows which vectors are stale.
pub const BUILTIN_MODEL: &str = "aswan/minilm-l6-static-v2";

const BUILTIN_TOKENIZER: &[u8] = include_bytes!("../../models/minilm-l6-static/tokenizer.json");
const BUILTIN_WEIGHTS: &[u8] = include_bytes!("../../models/minilm-l6-static/model.safetensors");

/// Titles are short; anything past this many tokens adds little meaning.
const MAX_TOKENS: usize = 128;

/// Builds the built-in model over the bytes in the binary: what the first
/// [`LocalModel::builtin`] costs (public for the benchmark). The int8 table
/// is used in place, not copied, so only the rows of tokens actually seen
/// are ever paged in.
pub fn decode_builtin_uncached() -> anyhow::Result<StaticModel> {
    static WEIGHTS: OnceLock<Box<[f32]>> = OnceLock::new();
    let tensors = SafeTensors::deserialize(BUILTIN_WEIGHTS).context("the built-in model's weights")?;
    let table = tensors.tensor("embeddings").context("the built-in model's table")?;
    let [rows, cols]: [usize; 2] = table.shape().try_into().context("a 2-D table")?;
    let bytes: &'static [u8] = table.data();
    // SAFETY: i8 and u8 have the same size and alignment, and the bytes are
    // static: the slice is the same memory read as signed bytes.
    let embeddings: &'static [i8] = unsafe { std::slice::from_raw_parts(bytes.as_ptr().cast::<i8>(), bytes.len()) };
    let weights = match WEIGHTS.get() {
        Some(w) => w,
        None => {
            let raw = tensors.tensor("weights").context("the built-in model's token scales")?;
            let decoded: Box<[f32]> = raw
                .data()
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
            WEIGHTS.get_or_init(|| decoded)
        }
    };
    let tokenizer =
        Tokenizer::from_bytes(BUILTIN_TOKENIZER).map_err(|e| anyhow::anyhow!("the built-in tokenizer: {e}"))?;
    StaticModel::from_borrowed_i8(tokenizer, embeddings, rows, cols, true, Some(weights), None)
        .context("loading the built-in embedding model")
}

pub struct LocalModel {
    model: StaticModel,
    name: String,
}

impl LocalModel {
    /// The model compiled into the binary, decoded once per process (the
    /// model shares its tables between clones).
    pub fn builtin() -> anyhow::Result<Self> {
        static DECODED: OnceLock<StaticModel> = OnceLock::new();
        let model = match DECODED.get() {
            Some(model) => model.clone(),
            None => {
                let model = decode_builtin_uncached()?;
                DECODED.get_or_init(|| model).clone()
            }
        };
        Ok(Self {
            model,
            name: BUILTIN_MODEL.to_owned(),
        })
    }

    /// A model2vec folder (model.safetensors, tokenizer.json, config.json).
    /// Its name carries a digest of its weights: a different file is a
    /// different model, whose vectors must not be compared with these.
    pub fn from_dir(dir: &Path) -> anyhow::Result<Self> {
        let weights = std::fs::read(dir.join("model.safetensors")).with_context(|| {
            format!(
                "invalid EMBEDDING_MODEL_DIR: cannot read {}/model.safetensors",
                dir.display()
            )
        })?;
        let read = |file: &str| {
            std::fs::read(dir.join(file))
                .with_context(|| format!("invalid EMBEDDING_MODEL_DIR: cannot read {}/{file}", dir.display()))
        };
        let model = StaticModel::from_bytes(read("tokenizer.json")?, &weights, read("config.json")?, Some(true))
            .with_context(|| {
                format!(
                    "invalid EMBEDDING_MODEL_DIR: {} is not a model2vec model",
                    dir.display()
                )
            })?;
        let digest = Sha256::digest(&weights);
        let short: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
        let folder = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        Ok(Self {
            model,
            name: format!("model2vec:{folder}@{short}"),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn dimensions(&self) -> usize {
        self.model.dim()
    }

    /// One unit-length vector for `text`.
    pub fn embed(&self, text: &str) -> Vec<f32> {
        self.model
            .encode_with_args(&[text.to_owned()], Some(MAX_TOKENS), 1)
            .pop()
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cosine(a: &[f32], b: &[f32]) -> f32 {
        a.iter().zip(b).map(|(x, y)| x * y).sum()
    }

    #[test]
    fn builtin_model_loads_and_gives_unit_vectors() {
        let m = LocalModel::builtin().unwrap();
        assert_eq!(m.dimensions(), 384);
        let v = m.embed("Fix the login bug");
        assert_eq!(v.len(), 384);
        let norm: f32 = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-3, "norm {norm}");
    }

    #[test]
    fn builtin_model_ranks_a_paraphrase_above_an_unrelated_task() {
        let m = LocalModel::builtin().unwrap();
        let q = m.embed("Repair the broken sign-in page");
        let paraphrase = m.embed("Fix the login bug");
        let unrelated = m.embed("Mow the lawn");
        assert!(
            cosine(&q, &paraphrase) > cosine(&q, &unrelated) + 0.1,
            "paraphrase {} vs unrelated {}",
            cosine(&q, &paraphrase),
            cosine(&q, &unrelated)
        );
    }

    #[test]
    fn a_model_folder_loads_under_a_name_that_tracks_its_weights() {
        let dir = tempfile::tempdir().unwrap();
        for f in ["model.safetensors", "tokenizer.json", "config.json"] {
            std::fs::copy(Path::new("models/minilm-l6-static").join(f), dir.path().join(f)).unwrap();
        }
        let m = LocalModel::from_dir(dir.path()).unwrap();
        assert!(m.name().starts_with("model2vec:"), "{}", m.name());
        assert_eq!(
            m.embed("Water the plants"),
            LocalModel::builtin().unwrap().embed("Water the plants")
        );
        let missing = LocalModel::from_dir(&dir.path().join("nope")).err().unwrap();
        assert!(missing.to_string().contains("EMBEDDING_MODEL_DIR"), "{missing}");
    }
}
