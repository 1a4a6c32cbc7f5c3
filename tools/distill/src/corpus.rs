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

/// WordNet lemmas of one part of speech (`verb`, `noun`, `adj`) that are
/// single words and were seen in WordNet's sense-tagged corpus at least
/// `min_tagged` times: common words, in file order.
fn common_lemmas(dir: &Path, part: &str, min_tagged: usize) -> Result<Vec<String>> {
    let path = dir.join(format!("index.{part}"));
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.starts_with("  ")) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let lemma = fields[0];
        // lemma pos synset_cnt p_cnt [p_cnt pointer symbols] sense_cnt tagsense_cnt …
        let Some(pointers) = fields.get(3).and_then(|p| p.parse::<usize>().ok()) else {
            continue;
        };
        let tagged = fields
            .get(4 + pointers + 1)
            .and_then(|t| t.parse::<usize>().ok())
            .unwrap_or(0);
        if tagged >= min_tagged && lemma.bytes().all(|b| b.is_ascii_lowercase()) {
            out.push(lemma.to_owned());
        }
    }
    Ok(out)
}

/// `n` short imperative phrases shaped like task titles ("Check the
/// monthly report", "Send the letter to the office"), built from common
/// WordNet lemmas by a fixed pseudo-random sequence: the linear map then
/// also learns how the teacher composes a few words, not only the long
/// sentences of glosses. No evaluation text is involved.
pub fn task_like_phrases(dir: &Path, n: usize) -> Result<Vec<String>> {
    let verbs = common_lemmas(dir, "verb", 10)?;
    let nouns = common_lemmas(dir, "noun", 10)?;
    let adjectives = common_lemmas(dir, "adj", 10)?;
    const PREPOSITIONS: [&str; 9] = ["for", "on", "in", "with", "before", "after", "from", "to", "at"];
    let mut state: u64 = 0x7a5c_1e55;
    let mut next = |bound: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % bound as u64) as usize
    };
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let verb = &verbs[next(verbs.len())];
        let verb = format!("{}{}", verb[..1].to_uppercase(), &verb[1..]);
        let noun = &nouns[next(nouns.len())];
        let phrase = match next(5) {
            0 => format!("{verb} the {noun}"),
            1 => format!("{verb} the {} {noun}", adjectives[next(adjectives.len())]),
            2 => format!(
                "{verb} {noun} {} the {}",
                PREPOSITIONS[next(9)],
                nouns[next(nouns.len())]
            ),
            3 => format!(
                "{verb} the {noun} {} the {}",
                PREPOSITIONS[next(9)],
                nouns[next(nouns.len())]
            ),
            _ => format!(
                "{verb} the {} {noun} {} {}",
                adjectives[next(adjectives.len())],
                PREPOSITIONS[next(9)],
                nouns[next(nouns.len())]
            ),
        };
        out.push(phrase);
    }
    Ok(out)
}
