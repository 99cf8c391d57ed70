//! The sampler on a small seeded model: a sample depends only on its
//! prompt's stream and its index (not on the other prompts of the batch
//! or on how many samples are drawn), greedy decoding is the argmax, the
//! reported log-probabilities are the model's, completions stop at EOS or
//! the token limit without the prompt, and requests with different
//! settings and masks asked in one call get the same bits as asked apart.

use candle_core::{Device, Tensor};
use echolab::model::{Gpt, ModelConfig};
use echolab::random::Stream;
use echolab::training::rl::{
    sample_completions, sample_completions_with_first_token_mask, sample_requests, Completion,
    PromptRequest, SamplingRequest, SamplingSettings,
};

const VOCABULARY: usize = 40;
const EOS: u32 = 1;

fn model() -> Gpt {
    let mut config = ModelConfig::preset("tiny").unwrap();
    config.context = 32;
    Gpt::initialize(&config, VOCABULARY, &Stream::new(3), &Device::Cpu)
        .unwrap()
        .0
}

fn request(tokens: &[u32], key: u64, samples: usize) -> PromptRequest {
    PromptRequest {
        tokens: tokens.to_vec(),
        stream: Stream::new(5).derive(&[key]),
        samples,
    }
}

fn decode(ids: &[u32]) -> String {
    ids.iter().map(|id| format!("<{id}>")).collect()
}

fn sample(
    model: &Gpt,
    requests: &[PromptRequest],
    settings: &SamplingSettings,
) -> Vec<Vec<Completion>> {
    sample_completions(model, requests, settings, EOS, &decode).unwrap()
}

const SETTINGS: SamplingSettings = SamplingSettings {
    temperature: 1.0,
    top_p: 0.9,
    max_new_tokens: 10,
};

#[test]
fn a_sample_does_not_depend_on_the_batch_it_is_drawn_in() {
    let model = model();
    let prompt = [5, 6, 7, 8];
    let alone = sample(&model, &[request(&prompt, 0, 2)], &SETTINGS);
    // The same prompt and key, with more samples, behind another prompt of
    // the same length (same cache) and one of another length.
    let crowded = sample(
        &model,
        &[
            request(&[9, 9, 9, 9], 1, 3),
            request(&prompt, 0, 5),
            request(&[4, 4], 2, 2),
        ],
        &SETTINGS,
    );
    assert_eq!(crowded.len(), 3);
    assert_eq!(crowded[1].len(), 5);
    assert_eq!(alone[0][..], crowded[1][..2]);
    // Different keys give different samples.
    let other_key = sample(&model, &[request(&prompt, 7, 2)], &SETTINGS);
    assert_ne!(alone[0], other_key[0]);
}

#[test]
fn requests_with_their_own_settings_asked_together_get_the_bits_they_get_apart() {
    let model = model();
    // Three kinds of answers to prompts of lengths 3 and 4, as an
    // evaluation asks them: sampled, greedy with a short limit, and greedy
    // with a first-token mask. Prompts of one length share caches.
    let sampled = [request(&[5, 6, 7], 0, 6), request(&[8, 9, 10, 11], 1, 3)];
    let greedy = [request(&[5, 6, 7], 2, 1), request(&[12, 13, 14], 3, 1)];
    let masked = [request(&[8, 9, 10, 11], 4, 1)];
    let short = SamplingSettings {
        temperature: 0.0,
        top_p: 1.0,
        max_new_tokens: 4,
    };
    let masked_settings = SamplingSettings {
        max_new_tokens: 7,
        ..short
    };
    // The masked prompt's most likely first tokens, to make the mask bite.
    let unmasked_first = sample(&model, &masked, &masked_settings)[0][0].tokens[0];
    let mask = [unmasked_first, EOS];

    let mut apart = sample(&model, &sampled, &SETTINGS);
    apart.extend(sample(&model, &greedy, &short));
    apart.extend(
        sample_completions_with_first_token_mask(
            &model,
            &masked,
            &masked_settings,
            EOS,
            &decode,
            &mask,
        )
        .unwrap(),
    );
    let together_requests: Vec<SamplingRequest<'_>> = sampled
        .iter()
        .map(|prompt| (prompt, SETTINGS, &[][..]))
        .chain(greedy.iter().map(|prompt| (prompt, short, &[][..])))
        .chain(
            masked
                .iter()
                .map(|prompt| (prompt, masked_settings, &mask[..])),
        )
        .map(
            |(prompt, settings, forbidden_first_tokens)| SamplingRequest {
                prompt,
                settings,
                forbidden_first_tokens,
            },
        )
        .collect();
    let together = sample_requests(&model, &together_requests, EOS, &decode).unwrap();
    assert_eq!(together, apart);
    // Each request kept its own settings.
    assert!(together[2..4]
        .iter()
        .all(|answers| answers[0].tokens.len() <= 4));
    assert_ne!(together[4][0].tokens.first(), Some(&unmasked_first));
    assert!(together[4][0].tokens.len() <= 7);
}

#[test]
fn log_probabilities_are_the_models_and_completions_exclude_the_prompt() {
    let model = model();
    let prompt = [5u32, 6, 7];
    let completions = sample(&model, &[request(&prompt, 0, 4)], &SETTINGS);
    for completion in &completions[0] {
        assert!(!completion.tokens.is_empty() && completion.tokens.len() <= 10);
        assert_eq!(completion.finished, completion.tokens.last() == Some(&EOS));
        assert_eq!(
            completion.tokens[..completion.tokens.len() - usize::from(completion.finished)]
                .iter()
                .filter(|&&id| id == EOS)
                .count(),
            0,
            "EOS ends a completion"
        );
        let shown: Vec<u32> = completion.tokens
            [..completion.tokens.len() - usize::from(completion.finished)]
            .to_vec();
        assert_eq!(completion.text, decode(&shown));
        let mut sequence = prompt.to_vec();
        sequence.extend(&completion.tokens);
        let length = sequence.len();
        let tokens = Tensor::from_vec(sequence, (1, length), &Device::Cpu).unwrap();
        let full: Vec<f32> = model
            .token_log_probabilities(&tokens)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        let expected = &full[prompt.len() - 1..];
        assert_eq!(expected.len(), completion.log_probabilities.len());
        for (found, expected) in completion.log_probabilities.iter().zip(expected) {
            assert!(
                (found - f64::from(*expected)).abs() < 1e-4,
                "{found} vs {expected}"
            );
        }
        assert!(completion.entropies.iter().all(|entropy| *entropy > 0.0));
    }
}

#[test]
fn greedy_decoding_follows_the_argmax_and_ignores_the_random_numbers() {
    let model = model();
    let greedy = SamplingSettings {
        temperature: 0.0,
        top_p: 1.0,
        max_new_tokens: 6,
    };
    let prompt = [5u32, 6, 7];
    let completions = sample(
        &model,
        &[request(&prompt, 0, 3), request(&prompt, 9, 1)],
        &greedy,
    );
    assert_eq!(completions[0][0], completions[0][1]);
    assert_eq!(completions[0][0], completions[1][0]);
    let mut sequence = prompt.to_vec();
    for &token in &completions[0][0].tokens {
        let length = sequence.len();
        let logits: Vec<f32> = model
            .forward(&Tensor::from_vec(sequence.clone(), (1, length), &Device::Cpu).unwrap())
            .unwrap()
            .narrow(1, length - 1, 1)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        let best = (0..logits.len()).fold(0, |best, index| {
            if logits[index] > logits[best] {
                index
            } else {
                best
            }
        });
        assert_eq!(token, best as u32);
        sequence.push(token);
    }
}

const CHILD: &str = "ECHOLAB_SAMPLING_CHILD";

/// Prints the blake3 of every sampled token and log-probability.
#[test]
#[ignore = "entry point of the child processes of the thread-count test"]
fn child_sampling_run() {
    let model = model();
    let requests: Vec<PromptRequest> = (0..6)
        .map(|key| request(&[5, 6, 7 + key as u32 % 3], key, 4))
        .collect();
    let completions = sample(&model, &requests, &SETTINGS);
    let mut hasher = blake3::Hasher::new();
    for completion in completions.iter().flatten() {
        for (token, log_probability) in completion.tokens.iter().zip(&completion.log_probabilities)
        {
            hasher.update(&token.to_le_bytes());
            hasher.update(&log_probability.to_le_bytes());
        }
    }
    println!("{CHILD}={}", hasher.finalize().to_hex());
}

#[test]
fn samples_are_the_same_bits_with_one_or_two_threads() {
    let digest = |threads: &str| {
        let output = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "child_sampling_run",
                "--exact",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("RAYON_NUM_THREADS", threads)
            .output()
            .unwrap();
        assert!(output.status.success());
        String::from_utf8(output.stdout)
            .unwrap()
            .lines()
            .find_map(|line| {
                line.split_once(&format!("{CHILD}="))
                    .map(|(_, digest)| digest[..64.min(digest.len())].to_string())
            })
            .expect("the child prints its digest")
    };
    assert_eq!(digest("1"), digest("2"));
}

/// The logits of row 0 at each of a few decoding steps, decoded among
/// `rows` rows (row `r` reads the prompt shifted by `r`).
fn first_row_logits(model: &Gpt, rows: usize, prompt: &[u32], steps: usize) -> Vec<Vec<u32>> {
    let device = Device::Cpu;
    let tokens: Vec<u32> = (0..rows as u32)
        .flat_map(|row| prompt.iter().map(move |token| token + row))
        .collect();
    let mut cache = model.new_cache(rows).unwrap();
    let mut input = Tensor::from_vec(tokens, (rows, prompt.len()), &device).unwrap();
    let mut found = Vec::new();
    for step in 0..steps {
        let logits = model.forward_step(&input, &mut cache).unwrap();
        let time = logits.dim(1).unwrap();
        let last: Vec<Vec<f32>> = logits
            .narrow(1, time - 1, 1)
            .unwrap()
            .squeeze(1)
            .unwrap()
            .to_vec2()
            .unwrap();
        found.push(last[0].iter().map(|value| value.to_bits()).collect());
        let next: Vec<u32> = (0..rows as u32)
            .map(|row| 3 + (row + step as u32) % 7)
            .collect();
        input = Tensor::from_vec(next, (rows, 1), &device).unwrap();
    }
    found
}

#[test]
fn a_rows_logits_do_not_depend_on_how_many_rows_share_its_cache_from_the_fewest_on() {
    // The sampler pads a decoding call to `cache_rows` rows and no further: from
    // that many rows on, row 0's logits must be the same bits at every
    // cache size (16, the old fixed size, included); below it they differ
    // (another route of the matrix products), which is why it pads.
    for (preset, width) in [("tiny", 80), ("small", 128)] {
        let mut config = ModelConfig::preset(preset).unwrap();
        config.context = 24;
        assert_eq!(config.width, width);
        let model = Gpt::initialize(&config, 647, &Stream::new(4), &Device::Cpu)
            .unwrap()
            .0;
        let fewest = echolab::training::rl::cache_rows(&model, 1);
        let prompt = [5u32, 6, 7, 8, 9];
        let reference = first_row_logits(&model, 16, &prompt, 4);
        // To 40 rows, and around 128, where products on AVX-512 move from
        // gemm to the wide kernel (gemm's bits) and the sampler's caches end.
        for rows in (fewest..=40).chain([127, 128, 129]) {
            assert!(
                first_row_logits(&model, rows, &prompt, 4) == reference,
                "{preset}: row 0 decoded among {rows} rows differs from among 16"
            );
        }
        assert!(
            first_row_logits(&model, fewest - 1, &prompt, 4) != reference,
            "{preset}: {} rows already give the bits of 16; pad less",
            fewest - 1
        );
    }
}
