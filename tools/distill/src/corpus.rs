//! The training text: WordNet 3.0's glosses and example sentences (Debian
//! package wordnet-base; WordNet licence, permissive) and the SCOWL word
//! list (Debian package wamerican; SCOWL licence, permissive). Both are
//! unpacked from pinned package versions by `tools/distill/inputs.sh`; see
//! the model card (models/minilm-l6-static/README.md) for their terms.
//! Nothing from an evaluation set is ever read here.

use std::path::Path;

use anyhow::{Context, Result};

/// Every gloss and every quoted example in WordNet's four data files, in
/// file order (deterministic), trimmed, without duplicates.
pub fn wordnet_sentences(dir: &Path) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for part in ["noun", "verb", "adj", "adv"] {
        let path = dir.join(format!("data.{part}"));
        let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        // The licence header's lines start with two spaces.
        for line in text.lines().filter(|l| !l.starts_with("  ")) {
            let Some((_, gloss)) = line.split_once(" | ") else {
                continue;
            };
            for piece in gloss.split("; ") {
                let sentence = piece.trim().trim_matches('"').trim();
                if sentence.split_whitespace().count() >= 2 && seen.insert(sentence.to_owned()) {
                    out.push(sentence.to_owned());
                }
            }
        }
    }
    Ok(out)
}

/// The word list's plain lower-case words (no capitals, apostrophes or
/// digits), at least three letters long.
pub fn plain_words(path: &Path) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|w| w.len() >= 3 && w.bytes().all(|b| b.is_ascii_lowercase()))
        .map(str::to_owned)
        .collect())
}
