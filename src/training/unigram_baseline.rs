//! [`unigram_held_out_losses`]: what the held-out loss would be for a model
//! that knew only how often each token occurs, the baseline a pretrained
//! model's per-source loss is read against.

use super::pretrain::HeldOutSet;
use super::{HeldOutLoss, PretrainConfig, PretrainData};

/// The loss, in nats per token, of the unigram model of the training
/// mixture on each source's held-out tokens: the same targets (and the same
/// masking of padding) as the pretraining stage's held-out loss.
///
/// Token probabilities are the frequencies of every target token in the
/// training documents, each source counted `weight` times as the mixture
/// repeats it, with add-one smoothing so that an unseen token costs a
/// finite amount.
pub fn unigram_held_out_losses(config: &PretrainConfig, data: &PretrainData) -> Vec<HeldOutLoss> {
    let mut counts = vec![1.0f64; data.vocabulary_size];
    for source in &data.sources {
        for document in &source.train {
            for &token in document {
                if let Some(count) = counts.get_mut(token as usize) {
                    *count += source.weight;
                }
            }
        }
    }
    let total: f64 = counts.iter().sum();
    let cost: Vec<f64> = counts.iter().map(|count| -(count / total).ln()).collect();
    data.sources
        .iter()
        .map(|source| {
            let set = HeldOutSet::new(
                &source.name,
                &source.held_out,
                config.sequence_length,
                config.held_out_sequences,
                data.eos_id,
            );
            let mut sum = 0.0;
            let mut targets = 0.0;
            for (sequence, mask) in set.tokens.iter().zip(&set.mask) {
                for (&target, &weight) in sequence[1..].iter().zip(mask) {
                    if weight > 0.0 {
                        sum += cost.get(target as usize).copied().unwrap_or(f64::INFINITY);
                        targets += 1.0;
                    }
                }
            }
            HeldOutLoss {
                source: set.source,
                loss: (targets > 0.0).then(|| sum / targets),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ModelConfig;
    use crate::training::{AdamWConfig, DecayKind, LearningRateSchedule, SourceDocuments, Warmup};

    fn config(sequence_length: usize) -> PretrainConfig {
        PretrainConfig {
            sequence_length,
            model: ModelConfig::preset("tiny").unwrap(),
            seed: 1,
            token_budget: 100,
            batch_size: 1,
            optimizer: AdamWConfig {
                learning_rate: 1e-3,
                beta1: 0.9,
                beta2: 0.95,
                epsilon: 1e-8,
                weight_decay: 0.0,
            },
            schedule: LearningRateSchedule {
                decay: DecayKind::Constant,
                warmup: Warmup::Steps(0),
                final_fraction: 1.0,
            },
            gradient_clip: None,
            checkpoint_interval: 10,
            evaluation_interval: 10,
            held_out_sequences: 16,
        }
    }

    /// Two tokens seen 3 and 1 times (plus one each from smoothing, over a
    /// vocabulary of 3): probabilities 4/7, 2/7, 1/7. A held-out document
    /// `0 1 0` has targets `1 0`: the mean of -ln(2/7) and -ln(4/7).
    #[test]
    fn the_loss_is_the_mean_cost_of_the_held_out_targets_under_smoothed_frequencies() {
        let data = PretrainData {
            sources: vec![SourceDocuments {
                name: "only".into(),
                weight: 1.0,
                train: vec![vec![0, 0, 0, 1]],
                held_out: vec![vec![0, 1, 0]],
            }],
            vocabulary_size: 3,
            eos_id: 2,
        };
        let losses = unigram_held_out_losses(&config(8), &data);
        let expected = (-(2.0f64 / 7.0).ln() - (4.0f64 / 7.0).ln()) / 2.0;
        assert_eq!(losses.len(), 1);
        assert!((losses[0].loss.unwrap() - expected).abs() < 1e-12);
    }

    /// A source repeated twice by the mixture counts twice.
    #[test]
    fn mixture_weights_scale_the_counts() {
        let source = |name: &str, weight: f64, token: u32| SourceDocuments {
            name: name.into(),
            weight,
            train: vec![vec![token]],
            held_out: vec![vec![token, token]],
        };
        let data = PretrainData {
            sources: vec![source("a", 2.0, 0), source("b", 1.0, 1)],
            vocabulary_size: 2,
            eos_id: 1,
        };
        let losses = unigram_held_out_losses(&config(8), &data);
        // Counts 1 + 2 and 1 + 1: probabilities 3/5 and 2/5.
        assert!((losses[0].loss.unwrap() + (3.0f64 / 5.0).ln()).abs() < 1e-12);
        assert!((losses[1].loss.unwrap() + (2.0f64 / 5.0).ln()).abs() < 1e-12);
    }
}
