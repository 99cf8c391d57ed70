//! [`PromptOrder`]: which question each step asks, in a seeded shuffled
//! order that cycles through the prompt set.
//!
//! Epoch `e` of the order is a Fisher-Yates shuffle drawn from the run's
//! stream derived with `e`; position `g` (counted over the whole run) is
//! prompt `shuffle_{g / n}[g % n]`. A pure function of the seed and the
//! position, so a resumed run needs no saved state.

use crate::random::Stream;

/// The shuffled, cycling order of `count` prompts.
#[derive(Debug, Clone)]
pub struct PromptOrder {
    stream: Stream,
    count: usize,
    cached_epoch: Option<(u64, Vec<usize>)>,
}

impl PromptOrder {
    /// The order of `count` prompts drawn from `stream`.
    pub fn new(stream: Stream, count: usize) -> Self {
        PromptOrder {
            stream,
            count,
            cached_epoch: None,
        }
    }

    /// The permutation of epoch `epoch`.
    pub fn epoch(&self, epoch: u64) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.count).collect();
        let mut stream = self.stream.derive(&[epoch]);
        for index in (1..order.len()).rev() {
            let other = stream.below(index as u64 + 1) as usize;
            order.swap(index, other);
        }
        order
    }

    /// The prompt at run-wide `position`.
    pub fn prompt_at(&mut self, position: u64) -> usize {
        if self.count == 0 {
            return 0;
        }
        let count = self.count as u64;
        let epoch = position / count;
        let needs_new = self
            .cached_epoch
            .as_ref()
            .is_none_or(|(cached, _)| *cached != epoch);
        if needs_new {
            self.cached_epoch = Some((epoch, self.epoch(epoch)));
        }
        self.cached_epoch
            .as_ref()
            .map_or(0, |(_, order)| order[(position % count) as usize])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_epoch_is_a_permutation_and_epochs_differ() {
        let mut order = PromptOrder::new(Stream::new(5), 10);
        let first: Vec<usize> = (0..10).map(|position| order.prompt_at(position)).collect();
        let second: Vec<usize> = (10..20).map(|position| order.prompt_at(position)).collect();
        let mut sorted = first.clone();
        sorted.sort();
        assert_eq!(sorted, (0..10).collect::<Vec<_>>());
        let mut sorted = second.clone();
        sorted.sort();
        assert_eq!(sorted, (0..10).collect::<Vec<_>>());
        assert_ne!(first, second);
        // Random access agrees with walking.
        let mut fresh = PromptOrder::new(Stream::new(5), 10);
        assert_eq!(fresh.prompt_at(13), second[3]);
    }
}
