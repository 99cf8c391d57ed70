//! The GPT: gradients reach every weight, the parameter count is exact, the
//! key-value cache reproduces the full forward pass, and initialisation is
//! seeded per tensor name.

use candle_core::{Device, Tensor};
use echolab::model::{Activation, Gpt, ModelConfig, ModelError, NormKind, Positions, PRESET_NAMES};
use echolab::random::Stream;

const VOCABULARY: usize = 13;

fn small_config(
    activation: Activation,
    norm: NormKind,
    positions: Positions,
    tied: bool,
) -> ModelConfig {
    ModelConfig {
        layers: 2,
        width: 16,
        heads: 2,
        context: 12,
        mlp_ratio: 2,
        activation,
        norm,
        positions,
        tied_embeddings: tied,
        bias: true,
    }
}

fn every_combination() -> Vec<ModelConfig> {
    let mut configs = Vec::new();
    for activation in [Activation::Gelu, Activation::Swiglu, Activation::Relu] {
        for norm in [NormKind::LayerNorm, NormKind::RmsNorm] {
            for positions in [Positions::Learned, Positions::Rope] {
                for tied in [true, false] {
                    configs.push(small_config(activation, norm, positions, tied));
                }
            }
        }
    }
    configs
}

fn random_tokens(seed: u64, batch: usize, time: usize) -> Tensor {
    let mut stream = Stream::new(seed);
    let tokens: Vec<u32> = (0..batch * time)
        .map(|_| stream.below(VOCABULARY as u64) as u32)
        .collect();
    Tensor::from_vec(tokens, (batch, time), &Device::Cpu).unwrap()
}

#[test]
fn every_trainable_weight_receives_a_nonzero_gradient_in_every_combination() {
    for config in every_combination() {
        let (model, parameters) =
            Gpt::initialize(&config, VOCABULARY, &Stream::new(1), &Device::Cpu).unwrap();
        // A full-context sequence so that every position embedding is used.
        let sequences = random_tokens(2, 3, config.context + 1);
        let loss = model.next_token_loss(&sequences).unwrap();
        let gradients = loss.backward().unwrap();
        for (name, variable) in parameters.named().unwrap() {
            let gradient = gradients
                .get(variable.as_tensor())
                .unwrap_or_else(|| panic!("no gradient for `{name}` in {config:?}"));
            let magnitude = gradient
                .abs()
                .unwrap()
                .sum_all()
                .unwrap()
                .to_scalar::<f32>()
                .unwrap();
            assert!(
                magnitude > 0.0 && magnitude.is_finite(),
                "zero gradient for `{name}` in {config:?}"
            );
        }
    }
}

#[test]
fn parameter_count_matches_the_real_tensors() {
    let mut configs = every_combination();
    for config in configs.iter_mut() {
        config.bias = !config.tied_embeddings;
    }
    for name in PRESET_NAMES {
        configs.push(ModelConfig::preset(name).unwrap());
    }
    for config in configs {
        let (_, parameters) = Gpt::initialize(&config, 166, &Stream::new(0), &Device::Cpu).unwrap();
        assert_eq!(
            parameters.scalar_count().unwrap(),
            config.parameter_count(166),
            "{config:?}"
        );
    }
}

#[test]
fn key_value_cache_steps_give_the_logits_of_the_full_forward_pass() {
    for positions in [Positions::Learned, Positions::Rope] {
        let config = small_config(Activation::Swiglu, NormKind::RmsNorm, positions, false);
        let (model, _) =
            Gpt::initialize(&config, VOCABULARY, &Stream::new(3), &Device::Cpu).unwrap();
        let tokens = random_tokens(4, 2, config.context);
        let full = model.forward(&tokens).unwrap();
        let mut cache = model.new_cache(2).unwrap();
        let prompt = 5;
        let mut pieces = vec![model
            .forward_step(&tokens.narrow(1, 0, prompt).unwrap(), &mut cache)
            .unwrap()];
        for position in prompt..config.context {
            pieces.push(
                model
                    .forward_step(&tokens.narrow(1, position, 1).unwrap(), &mut cache)
                    .unwrap(),
            );
        }
        let stepped = Tensor::cat(&pieces, 1).unwrap();
        let difference = (full - stepped)
            .unwrap()
            .abs()
            .unwrap()
            .max_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert!(
            difference < 1e-5,
            "{positions:?}: cached logits differ by {difference}"
        );
        // The cache is full now: one more token exceeds the context.
        let overflow = model.forward_step(&tokens.narrow(1, 0, 1).unwrap(), &mut cache);
        assert!(matches!(
            overflow,
            Err(ModelError::ContextExceeded {
                length: 13,
                context: 12
            })
        ));
    }
}

#[test]
fn initialisation_is_seeded_per_tensor_name_with_the_documented_statistics() {
    let config = ModelConfig::preset("tiny").unwrap();
    let (_, first) = Gpt::initialize(&config, 166, &Stream::new(9), &Device::Cpu).unwrap();
    let (_, again) = Gpt::initialize(&config, 166, &Stream::new(9), &Device::Cpu).unwrap();
    let (_, other_seed) = Gpt::initialize(&config, 166, &Stream::new(10), &Device::Cpu).unwrap();
    assert_eq!(first.digest().unwrap(), again.digest().unwrap());
    assert_ne!(first.digest().unwrap(), other_seed.digest().unwrap());

    // A deeper model shares the values of every tensor whose name and
    // initial distribution are the same.
    let mut deeper = config.clone();
    deeper.layers = 3;
    let (_, deeper) = Gpt::initialize(&deeper, 166, &Stream::new(9), &Device::Cpu).unwrap();
    let value = |parameters: &echolab::model::Parameters, wanted: &str| {
        let named = parameters.named().unwrap();
        let (_, variable) = named.into_iter().find(|(name, _)| name == wanted).unwrap();
        variable
            .as_tensor()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap()
    };
    for name in ["token_embedding.weight", "blocks.1.attention.qkv.weight"] {
        assert_eq!(value(&first, name), value(&deeper, name), "{name}");
    }

    let standard_deviation = |values: &[f32]| {
        let mean = values.iter().map(|&v| f64::from(v)).sum::<f64>() / values.len() as f64;
        (values
            .iter()
            .map(|&v| (f64::from(v) - mean).powi(2))
            .sum::<f64>()
            / values.len() as f64)
            .sqrt()
    };
    let qkv = standard_deviation(&value(&first, "blocks.0.attention.qkv.weight"));
    assert!((qkv - 0.02).abs() < 0.001, "qkv std {qkv}");
    let down = standard_deviation(&value(&first, "blocks.0.feed_forward.down.weight"));
    let expected = 0.02 / (2.0f64 * 2.0).sqrt();
    assert!(
        (down - expected).abs() < 0.0005,
        "down std {down}, expected {expected}"
    );
    assert!(value(&first, "blocks.0.attention.qkv.bias")
        .iter()
        .all(|&v| v == 0.0));
    assert!(value(&first, "final_norm.weight").iter().all(|&v| v == 1.0));
}

#[test]
fn weights_round_trip_through_safetensors_and_missing_weights_are_named() {
    let config = small_config(
        Activation::Gelu,
        NormKind::LayerNorm,
        Positions::Learned,
        true,
    );
    let (model, parameters) =
        Gpt::initialize(&config, VOCABULARY, &Stream::new(5), &Device::Cpu).unwrap();
    let bytes = parameters.to_safetensors().unwrap();
    let (loaded, loaded_parameters) =
        Gpt::from_safetensors(&config, VOCABULARY, &bytes, &Device::Cpu).unwrap();
    assert_eq!(loaded_parameters.to_safetensors().unwrap(), bytes);
    let tokens = random_tokens(6, 2, 8);
    let original = model
        .forward(&tokens)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
    let reloaded = loaded
        .forward(&tokens)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
    assert_eq!(original, reloaded);

    let mut untied = config.clone();
    untied.tied_embeddings = false;
    match Gpt::from_safetensors(&untied, VOCABULARY, &bytes, &Device::Cpu) {
        Err(ModelError::MissingWeight { name }) => assert_eq!(name, "output.weight"),
        other => panic!("expected a missing `output.weight`, got {other:?}"),
    }
    match Gpt::from_safetensors(&config, VOCABULARY + 1, &bytes, &Device::Cpu) {
        Err(ModelError::WeightShape { name, .. }) => assert_eq!(name, "token_embedding.weight"),
        other => panic!("expected a shape error, got {other:?}"),
    }
}

#[test]
fn a_frozen_model_computes_the_same_bits_and_records_no_graph() {
    for positions in [Positions::Learned, Positions::Rope] {
        let config = small_config(Activation::Gelu, NormKind::LayerNorm, positions, true);
        let (model, parameters) =
            Gpt::initialize(&config, VOCABULARY, &Stream::new(6), &Device::Cpu).unwrap();
        let bytes = parameters.to_safetensors().unwrap();
        let frozen =
            Gpt::frozen_from_safetensors(&config, VOCABULARY, &bytes, &Device::Cpu).unwrap();
        let tokens = random_tokens(7, 3, 10);
        let trained = model.token_log_probabilities(&tokens).unwrap();
        let constant = frozen.token_log_probabilities(&tokens).unwrap();
        assert!(
            trained.track_op(),
            "{positions:?}: the trainable model records its graph"
        );
        assert!(
            !constant.track_op(),
            "{positions:?}: the frozen model records none"
        );
        let bits = |tensor: &Tensor| -> Vec<u32> {
            let values = tensor.flatten_all().unwrap().to_vec1::<f32>().unwrap();
            values.into_iter().map(f32::to_bits).collect()
        };
        assert_eq!(bits(&trained), bits(&constant), "{positions:?}");
        // The same typed errors as a trainable model's.
        match Gpt::frozen_from_safetensors(&config, VOCABULARY + 1, &bytes, &Device::Cpu) {
            Err(ModelError::WeightShape { name, .. }) => {
                assert_eq!(name, "token_embedding.weight")
            }
            other => panic!("expected a shape error, got {other:?}"),
        }
    }
}

#[test]
fn log_probabilities_are_normalised_and_hidden_states_have_the_model_width() {
    let config = small_config(Activation::Relu, NormKind::LayerNorm, Positions::Rope, true);
    let (model, _) = Gpt::initialize(&config, VOCABULARY, &Stream::new(7), &Device::Cpu).unwrap();
    let tokens = random_tokens(8, 2, 6);
    assert_eq!(model.hidden_states(&tokens).unwrap().dims(), &[2, 6, 16]);
    let log_probabilities = model.token_log_probabilities(&tokens).unwrap();
    assert_eq!(log_probabilities.dims(), &[2, 5]);
    // Summing exp(log p) over every possible next token gives one.
    let logits = model.forward(&tokens).unwrap();
    let total = candle_nn::ops::softmax(&logits, candle_core::D::Minus1)
        .unwrap()
        .sum(candle_core::D::Minus1)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
    assert!(total.iter().all(|&sum| (sum - 1.0).abs() < 1e-5));
    let loss = model
        .next_token_loss(&tokens)
        .unwrap()
        .to_scalar::<f32>()
        .unwrap();
    let mean = log_probabilities
        .mean_all()
        .unwrap()
        .to_scalar::<f32>()
        .unwrap();
    assert!((loss + mean).abs() < 1e-6);
    assert!(loss > 0.0);
}
