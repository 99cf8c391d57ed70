//! [`Statistics`]: what a data stage produced, per source.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Document, Tokenizer};

/// Figures about one source's documents.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SourceStatistics {
    /// Documents produced.
    pub documents: usize,
    /// Documents per format name (`question` for documents without a solution).
    pub per_format: BTreeMap<String, usize>,
    /// Mean length in tokens, end-of-sequence token included.
    pub mean_tokens: f64,
    /// Longest document in tokens, end-of-sequence token included.
    pub max_tokens: usize,
    /// Documents that carry a deliberate mistake.
    pub noisy: usize,
    /// Problems of the source that could not be converted (and so are not
    /// among the documents).
    pub unconvertible: usize,
}

/// Figures for every source of a data stage, by source name.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Statistics {
    /// One entry per source name.
    pub sources: BTreeMap<String, SourceStatistics>,
}

impl Statistics {
    /// Measures `documents` with `tokenizer`.
    pub fn measure(documents: &[Document], tokenizer: &Tokenizer) -> Statistics {
        let mut sources: BTreeMap<String, SourceStatistics> = BTreeMap::new();
        let mut token_totals: BTreeMap<String, usize> = BTreeMap::new();
        let mut ids = Vec::new();
        for document in documents {
            let entry = sources.entry(document.source.clone()).or_default();
            entry.documents += 1;
            let format = document.format.map_or("question", |format| format.name());
            *entry.per_format.entry(format.to_string()).or_default() += 1;
            entry.noisy += usize::from(document.noisy);
            ids.clear();
            tokenizer.encode_into(&document.text(), &mut ids);
            let length = ids.len() + 1;
            entry.max_tokens = entry.max_tokens.max(length);
            *token_totals.entry(document.source.clone()).or_default() += length;
        }
        for (name, entry) in &mut sources {
            let total = token_totals.get(name).copied().unwrap_or(0);
            entry.mean_tokens = total as f64 / entry.documents.max(1) as f64;
        }
        Statistics { sources }
    }

    /// Records `count` unconvertible problems for `source`.
    pub fn add_unconvertible(&mut self, source: &str, count: usize) {
        self.sources
            .entry(source.to_string())
            .or_default()
            .unconvertible += count;
    }
}
