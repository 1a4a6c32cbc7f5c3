//! Where embeddings come from: an OpenAI-compatible vendor, or a static
//! model in this process. Every vector is stored with [`Embedder::model`], so
//! vectors from different models are never compared.

use super::local::LocalModel;
use super::{VendorClient, VendorError};

pub enum Embedder {
    Vendor {
        client: VendorClient,
        model: String,
        dimensions: Option<u32>,
        query_prefix: String,
        document_prefix: String,
    },
    Local(LocalModel),
}

impl Embedder {
    /// The name stored beside each vector this embedder makes.
    pub fn model(&self) -> &str {
        match self {
            Self::Vendor { model, .. } => model,
            Self::Local(m) => m.name(),
        }
    }

    /// The vectors' length, when known before the first call.
    pub fn dimensions(&self) -> Option<usize> {
        match self {
            Self::Vendor { dimensions, .. } => dimensions.map(|d| d as usize),
            Self::Local(m) => Some(m.dimensions()),
        }
    }

    pub fn is_local(&self) -> bool {
        matches!(self, Self::Local(_))
    }

    /// A title's query and document forms (one vendor request for both).
    pub async fn embed_title(&self, title: &str) -> Result<(Vec<f32>, Vec<f32>), VendorError> {
        match self {
            Self::Vendor {
                client,
                model,
                dimensions,
                query_prefix,
                document_prefix,
            } => {
                let inputs = [format!("{query_prefix}{title}"), format!("{document_prefix}{title}")];
                let mut vectors = client.embed(model, &inputs, *dimensions).await?;
                let document = vectors.pop().expect("two vectors");
                let query = vectors.pop().expect("two vectors");
                Ok((query, document))
            }
            // A static model has no query/document asymmetry.
            Self::Local(m) => {
                let v = m.embed(title);
                Ok((v.clone(), v))
            }
        }
    }

    /// A search query's vector.
    pub async fn embed_query(&self, text: &str) -> Result<Vec<f32>, VendorError> {
        match self {
            Self::Vendor {
                client,
                model,
                dimensions,
                query_prefix,
                ..
            } => {
                let mut v = client
                    .embed(model, &[format!("{query_prefix}{text}")], *dimensions)
                    .await?;
                Ok(v.remove(0))
            }
            Self::Local(m) => Ok(m.embed(text)),
        }
    }

    /// Document vectors for many titles (reindexing), in one request.
    pub async fn embed_documents(&self, titles: &[String]) -> Result<Vec<Vec<f32>>, VendorError> {
        match self {
            Self::Vendor {
                client,
                model,
                dimensions,
                document_prefix,
                ..
            } => {
                let inputs: Vec<String> = titles.iter().map(|t| format!("{document_prefix}{t}")).collect();
                client.embed(model, &inputs, *dimensions).await
            }
            Self::Local(m) => Ok(m.embed_many(titles)),
        }
    }
}
