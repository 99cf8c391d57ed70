//! [`Tokenizer`]: a deterministic tokenizer trained on a stage's own
//! documents, saved as a JSON artifact.
//!
//! Two levels:
//! - [`Level::Word`] (the default): a token is a run of letters, one
//!   digit, or one other character (`_` included), each with the single space before it
//!   attached (` apples`, ` 4`, ` =`); longer runs of spaces (code
//!   indentation) and newlines are tokens of their own. Every digit is its
//!   own token so that numbers are spelled digit by digit, as a model needs
//!   to copy and compute them.
//! - [`Level::Character`]: one token per character.
//!
//! The vocabulary is every piece seen in training plus every single
//! character seen, sorted, after two special tokens (`<pad>` = 0,
//! `<eos>` = 1) and 256 byte tokens. A piece never seen falls back to its
//! characters and a character never seen to its UTF-8 bytes, so `encode`
//! never fails and `decode(encode(text)) == text` for every string.
//! Word level is the default because it makes documents about 3 to 4 times
//! shorter than characters for a vocabulary of a few hundred (see
//! `docs/data.md` for the measured figures).

use std::collections::{BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use super::DataError;

/// The padding token's id.
pub const PAD_ID: u32 = 0;
/// The end-of-sequence token's id.
pub const EOS_ID: u32 = 1;
const BYTE_OFFSET: u32 = 2;
const FIRST_PIECE: u32 = BYTE_OFFSET + 256;
/// The version of the JSON artifact; bump when its meaning changes.
const VERSION: u32 = 1;

/// How text is cut into pieces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// Words with their leading space, single digits, single symbols.
    Word,
    /// Single characters.
    Character,
}

impl Level {
    /// `word` or `character`.
    pub fn name(self) -> &'static str {
        match self {
            Level::Word => "word",
            Level::Character => "character",
        }
    }
}

/// The JSON artifact: a version, the level and the learned pieces in id order.
#[derive(Debug, Serialize, Deserialize)]
struct Artifact {
    version: u32,
    level: Level,
    pieces: Vec<String>,
}

/// A trained tokenizer.
#[derive(Debug, Clone, PartialEq)]
pub struct Tokenizer {
    level: Level,
    pieces: Vec<String>,
    lookup: HashMap<String, u32>,
}

/// Letters only: `_` stands alone, so code names such as `liam_marbles`
/// reuse the tokens of their words instead of each becoming a token (which
/// made the vocabulary about ten times larger).
fn is_word_character(character: char) -> bool {
    character.is_alphabetic()
}

/// Calls `emit` with each piece of `text` at `level`, as slices of `text`.
fn split_pieces<'t>(text: &'t str, level: Level, mut emit: impl FnMut(&'t str)) {
    if level == Level::Character {
        for (start, character) in text.char_indices() {
            emit(&text[start..start + character.len_utf8()]);
        }
        return;
    }
    let bytes = text.as_bytes();
    let mut position = 0;
    while position < text.len() {
        let start = position;
        if bytes[position] == b' ' {
            let mut end = position;
            while end < bytes.len() && bytes[end] == b' ' {
                end += 1;
            }
            let followed_by_text =
                end < bytes.len() && !text[end..].starts_with(char::is_whitespace);
            if !followed_by_text {
                emit(&text[start..end]);
                position = end;
                continue;
            }
            if end - start > 1 {
                emit(&text[start..end - 1]);
            }
            position = end - 1;
        }
        let body_start = if bytes[position] == b' ' {
            position + 1
        } else {
            position
        };
        let Some(first) = text[body_start..].chars().next() else {
            emit(&text[start..]);
            return;
        };
        let mut end = body_start + first.len_utf8();
        if is_word_character(first) {
            for character in text[end..].chars() {
                if !is_word_character(character) {
                    break;
                }
                end += character.len_utf8();
            }
        }
        emit(&text[position..end]);
        position = end;
    }
}

impl Tokenizer {
    /// Learns the vocabulary of `texts` at `level`.
    pub fn train<S: AsRef<str>>(level: Level, texts: &[S]) -> Tokenizer {
        let mut seen: BTreeSet<&str> = BTreeSet::new();
        for text in texts {
            let text = text.as_ref();
            split_pieces(text, level, |piece| {
                seen.insert(piece);
            });
            for (start, character) in text.char_indices() {
                seen.insert(&text[start..start + character.len_utf8()]);
            }
        }
        Tokenizer::from_pieces(level, seen.into_iter().map(str::to_string).collect())
    }

    fn from_pieces(level: Level, pieces: Vec<String>) -> Tokenizer {
        let lookup = pieces
            .iter()
            .enumerate()
            .map(|(index, piece)| (piece.clone(), FIRST_PIECE + index as u32))
            .collect();
        Tokenizer {
            level,
            pieces,
            lookup,
        }
    }

    /// The level it cuts text at.
    pub fn level(&self) -> Level {
        self.level
    }

    /// The number of token ids (specials, bytes and pieces).
    pub fn vocab_size(&self) -> usize {
        FIRST_PIECE as usize + self.pieces.len()
    }

    /// The end-of-sequence token's id.
    pub fn eos_id(&self) -> u32 {
        EOS_ID
    }

    /// The padding token's id.
    pub fn pad_id(&self) -> u32 {
        PAD_ID
    }

    /// The ids of `text` (without an end-of-sequence token).
    pub fn encode(&self, text: &str) -> Vec<u32> {
        let mut ids = Vec::with_capacity(text.len() / 3 + 1);
        self.encode_into(text, &mut ids);
        ids
    }

    /// The ids of `text` followed by the end-of-sequence token, as a
    /// document is fed to a model.
    pub fn encode_document(&self, text: &str) -> Vec<u32> {
        let mut ids = self.encode(text);
        ids.push(EOS_ID);
        ids
    }

    /// Appends the ids of `text` to `ids`.
    pub fn encode_into(&self, text: &str, ids: &mut Vec<u32>) {
        split_pieces(text, self.level, |piece| {
            if let Some(&id) = self.lookup.get(piece) {
                ids.push(id);
                return;
            }
            for (start, character) in piece.char_indices() {
                let single = &piece[start..start + character.len_utf8()];
                match self.lookup.get(single) {
                    Some(&id) => ids.push(id),
                    None => ids.extend(single.bytes().map(|byte| BYTE_OFFSET + u32::from(byte))),
                }
            }
        });
    }

    /// The text of `ids`; special tokens and unknown ids write nothing, and
    /// byte tokens that do not form UTF-8 become U+FFFD.
    pub fn decode(&self, ids: &[u32]) -> String {
        let mut bytes = Vec::with_capacity(ids.len() * 4);
        for &id in ids {
            if (BYTE_OFFSET..FIRST_PIECE).contains(&id) {
                bytes.push((id - BYTE_OFFSET) as u8);
            } else if let Some(piece) = self.pieces.get((id.wrapping_sub(FIRST_PIECE)) as usize) {
                if id >= FIRST_PIECE {
                    bytes.extend_from_slice(piece.as_bytes());
                }
            }
        }
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// The text of one token id (empty for specials and unknown ids).
    pub fn token_text(&self, id: u32) -> String {
        self.decode(&[id])
    }

    /// The artifact as JSON.
    pub fn to_json(&self) -> String {
        let artifact = Artifact {
            version: VERSION,
            level: self.level,
            pieces: self.pieces.clone(),
        };
        serde_json::to_string_pretty(&artifact).unwrap_or_default()
    }

    /// A tokenizer read back from [`Tokenizer::to_json`].
    pub fn from_json(json: &str) -> Result<Tokenizer, DataError> {
        let artifact: Artifact =
            serde_json::from_str(json).map_err(|error| DataError::Tokenizer(error.to_string()))?;
        if artifact.version != VERSION {
            return Err(DataError::Tokenizer(format!(
                "version {} is not the supported version {VERSION}",
                artifact.version
            )));
        }
        let mut unique = BTreeSet::new();
        for piece in &artifact.pieces {
            if piece.is_empty() || !unique.insert(piece.as_str()) {
                return Err(DataError::Tokenizer(format!(
                    "piece `{piece}` is empty or repeated"
                )));
            }
        }
        Ok(Tokenizer::from_pieces(artifact.level, artifact.pieces))
    }
}

#[cfg(test)]
mod tests {
    use super::{split_pieces, Level};

    fn pieces(text: &str) -> Vec<&str> {
        let mut all = Vec::new();
        split_pieces(text, Level::Word, |piece| all.push(piece));
        all
    }

    #[test]
    fn words_keep_their_leading_space_and_digits_stand_alone() {
        assert_eq!(
            pieces("Liam has 12 toy_cars.\n    x = 3  \n"),
            vec![
                "Liam", " has", " 1", "2", " toy", "_", "cars", ".", "\n", "   ", " x", " =", " 3",
                "  ", "\n"
            ]
        );
        assert_eq!(pieces(" é!"), vec![" é", "!"]);
    }
}
