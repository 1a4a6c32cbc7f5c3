//! HNSW indexing of embeddings. pgvector's HNSW needs a fixed dimension, but
//! the `embedding` column is untyped (the model, and so the dimension, is a
//! setting). So each supported dimension gets a partial expression index,
//! `(embedding::vector(D)) vector_cosine_ops WHERE vector_dims(embedding) = D`,
//! and queries of that dimension are written in the same form so the planner
//! can use it. SQL text stays static: one pair of statements per dimension,
//! spliced at compile time.

/// The statements for dimension `$d`: create the index; find neighbours.
macro_rules! for_dimension {
    ($d:literal) => {
        DimensionSql {
            create_index: concat!(
                "CREATE INDEX IF NOT EXISTS todos_embedding_hnsw_",
                $d,
                " ON todos USING hnsw ((embedding::vector(",
                $d,
                ")) vector_cosine_ops) WHERE vector_dims(embedding) = ",
                $d
            ),
            similar: concat!(
                "SELECT id, title, estimate_minutes, actual_minutes,
                        embedding::vector(",
                $d,
                ") <=> $2::vector(",
                $d,
                ") AS distance
                 FROM todos
                 WHERE tenant_id = $1 AND embedding_model = $3 AND vector_dims(embedding) = ",
                $d,
                " AND ($4::uuid IS NULL OR id <> $4)
                   AND embedding::vector(",
                $d,
                ") <=> $2::vector(",
                $d,
                ") < $5
                 ORDER BY embedding::vector(",
                $d,
                ") <=> $2::vector(",
                $d,
                ")
                 LIMIT $6"
            ),
        }
    };
}

pub struct DimensionSql {
    pub create_index: &'static str,
    pub similar: &'static str,
}

/// Dimensions with an HNSW index: those of common embedding models
/// (all-MiniLM 384, nomic/bge-base 768, bge-large 1024, OpenAI 1536).
pub fn for_dimension(d: usize) -> Option<DimensionSql> {
    Some(match d {
        384 => for_dimension!(384),
        512 => for_dimension!(512),
        768 => for_dimension!(768),
        1024 => for_dimension!(1024),
        1536 => for_dimension!(1536),
        _ => return None,
    })
}

/// Any dimension, exact (no index): the fallback for unlisted dimensions.
pub const SIMILAR_EXACT: &str = "SELECT id, title, estimate_minutes, actual_minutes, embedding <=> $2 AS distance
     FROM todos
     WHERE tenant_id = $1 AND embedding_model = $3 AND embedding IS NOT NULL
       AND vector_dims(embedding) = vector_dims($2)
       AND ($4::uuid IS NULL OR id <> $4)
       AND embedding <=> $2 < $5
     ORDER BY embedding <=> $2
     LIMIT $6";
