//! Where embeddings come from: an OpenAI-compatible vendor, or a static
//! model in this process. Every vector is stored with [`Embedder::model`], so
//! vectors from different models are never compared.

use super::local::LocalModel;
use super::{VendorClient, VendorError};

pub enum Embedder {
    Vendor(VendorEmbedder),
    Local(LocalModel),
}

/// A vendor's embedding model, with the prefixes of a title's two forms.
pub struct VendorEmbedder {
    pub client: VendorClient,
    pub model: String,
    pub dimensions: Option<u32>,
    pub query_prefix: String,
    pub document_prefix: String,
}

impl VendorEmbedder {
    /// One request for all of `texts`, each with `prefix`.
    async fn embed(&self, prefix: &str, texts: &[&str]) -> Result<Vec<Vec<f32>>, VendorError> {
        let inputs: Vec<String> = texts.iter().map(|t| format!("{prefix}{t}")).collect();
        self.client.embed(&self.model, &inputs, self.dimensions).await
    }
}

impl Embedder {
    /// The name stored beside each vector this embedder makes.
    pub fn model(&self) -> &str {
        match self {
            Self::Vendor(v) => &v.model,
            Self::Local(m) => m.name(),
        }
    }

    /// The vectors' length, when known before the first call.
    pub fn dimensions(&self) -> Option<usize> {
        match self {
            Self::Vendor(v) => v.dimensions.map(|d| d as usize),
            Self::Local(m) => Some(m.dimensions()),
        }
    }

    pub fn is_local(&self) -> bool {
        matches!(self, Self::Local(_))
    }

    /// A title's query and document forms (one vendor request for both).
    pub async fn embed_title(&self, title: &str) -> Result<(Vec<f32>, Vec<f32>), VendorError> {
        match self {
            Self::Vendor(v) => {
                let inputs = [
                    format!("{}{title}", v.query_prefix),
                    format!("{}{title}", v.document_prefix),
                ];
                let mut vectors = v.client.embed(&v.model, &inputs, v.dimensions).await?;
                let document = vectors.pop().expect("two vectors");
                let query = vectors.pop().expect("two vectors");
                Ok((query, document))
            }
            // A static model has no query/document asymmetry.
            Self::Local(m) => {
                crate::monitoring::embedded("local", 1);
                let v = m.embed(title);
                Ok((v.clone(), v))
            }
        }
    }

    /// A search query's vector.
    pub async fn embed_query(&self, text: &str) -> Result<Vec<f32>, VendorError> {
        match self {
            Self::Vendor(v) => Ok(v.embed(&v.query_prefix, &[text]).await?.remove(0)),
            Self::Local(m) => {
                crate::monitoring::embedded("local", 1);
                Ok(m.embed(text))
            }
        }
    }

    /// Document vectors for many titles (reindexing, retitling), in one request.
    pub async fn embed_documents(&self, titles: &[&str]) -> Result<Vec<Vec<f32>>, VendorError> {
        match self {
            Self::Vendor(v) => v.embed(&v.document_prefix, titles).await,
            Self::Local(m) => {
                crate::monitoring::embedded("local", titles.len());
                Ok(titles.iter().map(|t| m.embed(t)).collect())
            }
        }
    }
}
