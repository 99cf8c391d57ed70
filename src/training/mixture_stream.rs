//! [`MixtureStream`]: the pretraining token stream, sampled from the
//! sources with their repeat weights exactly and packed into sequences.
//!
//! **Epochs.** One epoch of the mixture holds, for each source with weight
//! `w` and `n` training documents, `floor(w)` copies of every document plus
//! `round((w - floor(w)) n)` further documents: the first ones of a seeded
//! permutation of the source drawn anew each epoch, so that over epochs
//! every document gets its share. The epoch's documents are then shuffled
//! (Fisher-Yates) with a stream derived from the seed and the epoch number,
//! and epochs follow each other, each with a new shuffle, until the token
//! budget is met.
//!
//! **Packing.** The documents of the epochs are concatenated into one
//! token stream (each already ends with EOS, so documents are separated by
//! it; attention is not masked at document boundaries). Sequence `i` is the
//! `length + 1` tokens starting at token `i * length`: consecutive
//! sequences overlap by one token, so every token after the first is a
//! next-token target exactly once. A batch is `batch` consecutive sequences.
//!
//! **Resuming.** Every random number is a pure function of the seed and the
//! epoch (counter-free derivation), so the stream's position is just the
//! number of tokens consumed; a resumed run replays the cheap index
//! arithmetic up to it.

use std::collections::VecDeque;

use super::pretrain_data::fractional_count;
use super::PretrainData;
use crate::random::Stream;

/// A document: its source and its index in the source's training list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DocumentRef {
    /// Index of the source.
    pub source: usize,
    /// Index of the document in the source's `train` list.
    pub document: usize,
}

/// The endless, packed token stream of a mixture.
#[derive(Debug)]
pub struct MixtureStream<'a> {
    data: &'a PretrainData,
    stream: Stream,
    epoch: u64,
    order: Vec<DocumentRef>,
    next_document: usize,
    pending: VecDeque<u32>,
    tokens_consumed: u64,
}

/// Shuffles `items` in place with `stream` (Fisher-Yates, from the back).
fn shuffle<T>(items: &mut [T], stream: &mut Stream) {
    for index in (1..items.len()).rev() {
        let other = stream.below(index as u64 + 1) as usize;
        items.swap(index, other);
    }
}

impl<'a> MixtureStream<'a> {
    /// The stream of `data` sampled with `stream` (validate `data` first:
    /// an empty mixture would never yield a token).
    pub fn new(data: &'a PretrainData, stream: Stream) -> Self {
        MixtureStream {
            data,
            stream,
            epoch: 0,
            order: Vec::new(),
            next_document: 0,
            pending: VecDeque::new(),
            tokens_consumed: 0,
        }
    }

    /// The documents of `epoch`, in their shuffled order.
    pub fn epoch_order(data: &PretrainData, stream: &Stream, epoch: u64) -> Vec<DocumentRef> {
        let mut order = Vec::new();
        for (source_index, source) in data.sources.iter().enumerate() {
            let count = source.train.len();
            let copies = source.weight.floor() as usize;
            for _ in 0..copies {
                order.extend((0..count).map(|document| DocumentRef {
                    source: source_index,
                    document,
                }));
            }
            let extra = fractional_count(source.weight, count);
            if extra > 0 {
                let mut permutation: Vec<usize> = (0..count).collect();
                shuffle(
                    &mut permutation,
                    &mut stream.derive(&[epoch, 1, source_index as u64]),
                );
                order.extend(permutation[..extra].iter().map(|&document| DocumentRef {
                    source: source_index,
                    document,
                }));
            }
        }
        shuffle(&mut order, &mut stream.derive(&[epoch, 0]));
        order
    }

    /// Tokens handed out as targets so far (the data position).
    pub fn tokens_consumed(&self) -> u64 {
        self.tokens_consumed
    }

    /// The epoch currently being read (from 0).
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    fn refill(&mut self, wanted: usize) {
        while self.pending.len() < wanted {
            if self.next_document >= self.order.len() {
                if !self.order.is_empty() {
                    self.epoch += 1;
                }
                self.order = Self::epoch_order(self.data, &self.stream, self.epoch);
                self.next_document = 0;
                if self
                    .order
                    .iter()
                    .all(|reference| self.document(*reference).is_empty())
                {
                    // An empty mixture: nothing to add (validation prevents this).
                    return;
                }
            }
            let reference = self.order[self.next_document];
            self.next_document += 1;
            self.pending
                .extend(self.document(reference).iter().copied());
        }
    }

    fn document(&self, reference: DocumentRef) -> &'a [u32] {
        let data: &'a PretrainData = self.data;
        &data.sources[reference.source].train[reference.document]
    }

    /// The next `batch` sequences of `length + 1` tokens, row after row.
    pub fn next_batch(&mut self, batch: usize, length: usize) -> Vec<u32> {
        let mut tokens = Vec::with_capacity(batch * (length + 1));
        for _ in 0..batch {
            self.refill(length + 1);
            tokens.extend(self.pending.iter().take(length + 1).copied());
            self.pending.drain(..length.min(self.pending.len()));
            self.tokens_consumed += length as u64;
        }
        tokens
    }

    /// Skips forward until `tokens_consumed` target tokens have been
    /// handed out (used to resume).
    pub fn skip_to(&mut self, tokens_consumed: u64, length: usize) {
        while self.tokens_consumed < tokens_consumed {
            self.refill(length + 1);
            self.pending.drain(..length.min(self.pending.len()));
            self.tokens_consumed += length as u64;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::training::SourceDocuments;
    use std::collections::HashMap;

    fn data(weights: &[f64], documents: usize) -> PretrainData {
        PretrainData {
            sources: weights
                .iter()
                .enumerate()
                .map(|(index, &weight)| SourceDocuments {
                    name: format!("source{index}"),
                    weight,
                    train: (0..documents)
                        .map(|d| vec![index as u32, d as u32 % 7, 9])
                        .collect(),
                    held_out: Vec::new(),
                })
                .collect(),
            vocabulary_size: 10,
            eos_id: 9,
        }
    }

    #[test]
    fn an_epoch_holds_each_source_exactly_as_its_weight_says() {
        let data = data(&[1.0, 3.0, 0.5, 2.25, 0.0], 40);
        let stream = Stream::new(1);
        for epoch in 0..3 {
            let order = MixtureStream::epoch_order(&data, &stream, epoch);
            let mut per_document: HashMap<DocumentRef, usize> = HashMap::new();
            for reference in &order {
                *per_document.entry(*reference).or_default() += 1;
            }
            for (source, expected_total, whole) in
                [(0, 40, 1), (1, 120, 3), (2, 20, 0), (3, 90, 2), (4, 0, 0)]
            {
                let counts: Vec<usize> = (0..40)
                    .map(|document| {
                        per_document
                            .get(&DocumentRef { source, document })
                            .copied()
                            .unwrap_or(0)
                    })
                    .collect();
                assert_eq!(
                    counts.iter().sum::<usize>(),
                    expected_total,
                    "source {source}"
                );
                // Each document appears floor(w) or floor(w) + 1 times.
                assert!(
                    counts
                        .iter()
                        .all(|&count| count == whole || count == whole + 1),
                    "{counts:?}"
                );
            }
        }
        // The fractional subset and the shuffle change from epoch to epoch.
        assert_ne!(
            MixtureStream::epoch_order(&data, &stream, 0),
            MixtureStream::epoch_order(&data, &stream, 1)
        );
    }

    #[test]
    fn packed_sequences_overlap_by_one_token_and_skipping_resumes_exactly() {
        let data = data(&[1.5, 2.0], 5);
        let stream = Stream::new(2);
        let mut reader = MixtureStream::new(&data, stream.clone());
        let length = 4;
        let first = reader.next_batch(3, length);
        let second = reader.next_batch(3, length);
        assert_eq!(reader.tokens_consumed(), 24);
        // The concatenated epochs, read directly.
        let mut concatenated: Vec<u32> = Vec::new();
        for epoch in 0..3 {
            for reference in MixtureStream::epoch_order(&data, &stream, epoch) {
                concatenated.extend(&data.sources[reference.source].train[reference.document]);
            }
        }
        for (row, sequence) in first
            .chunks(length + 1)
            .chain(second.chunks(length + 1))
            .enumerate()
        {
            assert_eq!(
                sequence,
                &concatenated[row * length..row * length + length + 1]
            );
        }
        let mut resumed = MixtureStream::new(&data, stream);
        resumed.skip_to(12, length);
        assert_eq!(resumed.next_batch(3, length), second);
    }
}
