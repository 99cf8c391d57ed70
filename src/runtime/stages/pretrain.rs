//! Pretraining stages: the stage's parameters and upstream shards turned
//! into [`training::pretrain`](crate::training::pretrain)'s inputs.

use serde::Deserialize;

use super::stage_observer::StageObserver;
use super::{StageContext, StageError};
use crate::model::ModelConfig;
use crate::training::{
    pretrain, unigram_held_out_losses, AdamWConfig, DecayKind, HeldOutLoss, LearningRateSchedule,
    PretrainConfig, PretrainData, SourceDocuments, Warmup,
};

/// How many documents of each source are held out for the per-source loss:
/// the last ones of its shard, at most this many and at most 2%.
const HELD_OUT_DOCUMENTS: usize = 64;

#[derive(Deserialize)]
struct MixtureTerm {
    role: String,
    weight: f64,
}

#[derive(Deserialize)]
struct Parameters {
    model: serde_json::Value,
    training: serde_json::Value,
    mixture: Vec<MixtureTerm>,
    seed: u64,
}

fn number(value: &serde_json::Value, name: &str) -> Result<f64, StageError> {
    value
        .get(name)
        .and_then(serde_json::Value::as_f64)
        .ok_or_else(|| StageError::Parameters {
            message: format!("missing number `{name}`"),
        })
}

fn whole(value: &serde_json::Value, name: &str) -> Result<u64, StageError> {
    value
        .get(name)
        .and_then(serde_json::Value::as_u64)
        .ok_or_else(|| StageError::Parameters {
            message: format!("missing whole number `{name}`"),
        })
}

/// The model configuration of a checked `gpt(...)` value.
pub(crate) fn model_config(model: &serde_json::Value) -> Result<ModelConfig, StageError> {
    let preset = model
        .get("preset")
        .and_then(serde_json::Value::as_str)
        .unwrap_or("small");
    let mut config = ModelConfig::preset(preset).ok_or_else(|| StageError::Parameters {
        message: format!("unknown preset `{preset}`"),
    })?;
    let choice = |name: &str| model.get(name).cloned().unwrap_or(serde_json::Value::Null);
    let invalid = |error: serde_json::Error| StageError::Parameters {
        message: error.to_string(),
    };
    config.layers = whole(model, "layers")? as usize;
    config.width = whole(model, "width")? as usize;
    config.heads = whole(model, "heads")? as usize;
    config.context = whole(model, "context")? as usize;
    config.mlp_ratio = whole(model, "mlp_ratio")? as usize;
    config.activation = serde_json::from_value(choice("activation")).map_err(invalid)?;
    config.norm = serde_json::from_value(choice("norm")).map_err(invalid)?;
    config.positions = serde_json::from_value(choice("positions")).map_err(invalid)?;
    config.tied_embeddings = model
        .get("tied_embeddings")
        .and_then(serde_json::Value::as_bool)
        .unwrap_or(true);
    Ok(config)
}

/// A checked optimizer value as AdamW's settings.
pub(crate) fn optimizer(value: &serde_json::Value) -> Result<AdamWConfig, StageError> {
    let betas = value
        .get("betas")
        .and_then(serde_json::Value::as_array)
        .cloned()
        .unwrap_or_default();
    let beta = |index: usize| {
        betas
            .get(index)
            .and_then(serde_json::Value::as_f64)
            .ok_or_else(|| StageError::Parameters {
                message: "missing `betas`".to_string(),
            })
    };
    Ok(AdamWConfig {
        learning_rate: number(value, "lr")?,
        beta1: beta(0)?,
        beta2: beta(1)?,
        epsilon: number(value, "eps")?,
        weight_decay: number(value, "weight_decay")?,
    })
}

/// A checked learning-rate schedule value.
pub(crate) fn schedule(value: &serde_json::Value) -> Result<LearningRateSchedule, StageError> {
    let decay = match value.get("kind").and_then(serde_json::Value::as_str) {
        Some("linear") => DecayKind::Linear,
        Some("cosine") => DecayKind::Cosine,
        _ => DecayKind::Constant,
    };
    let warmup = match value.get("warmup") {
        Some(serde_json::Value::Object(fraction)) => Warmup::Fraction(
            fraction
                .get("fraction")
                .and_then(serde_json::Value::as_f64)
                .unwrap_or(0.0),
        ),
        Some(steps) => Warmup::Steps(steps.as_u64().unwrap_or(0)),
        None => Warmup::Steps(0),
    };
    let final_fraction = match decay {
        DecayKind::Constant => 1.0,
        _ => value
            .get("final")
            .and_then(serde_json::Value::as_f64)
            .unwrap_or(0.1),
    };
    Ok(LearningRateSchedule {
        decay,
        warmup,
        final_fraction,
    })
}

/// The training configuration and data of the context's pretraining stage,
/// from its parameters and its upstream shards.
fn inputs(context: &StageContext<'_>) -> Result<(PretrainConfig, PretrainData), StageError> {
    let parameters: Parameters = context.parameters()?;
    let tokenizer = context.tokenizer()?;
    let training = &parameters.training;
    let model = model_config(&parameters.model)?;
    let checkpoint_every = context
        .stage
        .settings
        .get("checkpoint_every")
        .and_then(serde_json::Value::as_u64)
        .unwrap_or(200);
    let config = PretrainConfig {
        sequence_length: whole(training, "sequence_length")? as usize,
        model,
        seed: parameters.seed,
        token_budget: whole(training, "tokens")?,
        batch_size: whole(training, "batch")? as usize,
        optimizer: optimizer(
            training
                .get("optimizer")
                .unwrap_or(&serde_json::Value::Null),
        )?,
        schedule: schedule(training.get("schedule").unwrap_or(&serde_json::Value::Null))?,
        gradient_clip: Some(number(training, "gradient_clip")?),
        checkpoint_interval: checkpoint_every,
        evaluation_interval: whole(training, "eval_every")?,
        held_out_sequences: 16,
    };
    let mut sources = Vec::new();
    for term in &parameters.mixture {
        let documents = context.documents(&term.role)?;
        let held_out_count = (documents.len() / 50).min(HELD_OUT_DOCUMENTS);
        let split = documents.len() - held_out_count;
        let encode = |documents: &[crate::data::Document]| {
            documents
                .iter()
                .map(|document| tokenizer.encode_document(&document.text()))
                .collect::<Vec<_>>()
        };
        sources.push(SourceDocuments {
            name: context.upstream_name(&term.role),
            weight: term.weight,
            train: encode(&documents[..split]),
            held_out: encode(&documents[split..]),
        });
    }
    let data = PretrainData {
        sources,
        vocabulary_size: tokenizer.vocab_size(),
        eos_id: tokenizer.eos_id(),
    };
    Ok((config, data))
}

/// The unigram baseline of the context's pretraining stage: the held-out
/// loss per source of a model that knows only token frequencies.
pub(super) fn unigram_baseline(context: &StageContext<'_>) -> Result<Vec<HeldOutLoss>, StageError> {
    let (config, data) = inputs(context)?;
    Ok(unigram_held_out_losses(&config, &data))
}

/// Trains, resuming from the work folder's checkpoint if there is one, and
/// copies `model.safetensors`, `config.json` and `metrics.jsonl` out.
pub(super) fn run(context: &mut StageContext<'_>) -> Result<(), StageError> {
    let (config, data) = inputs(context)?;
    let work = context.work.clone();
    let outcome = {
        let mut observer = StageObserver {
            context: &mut *context,
            log_every: 50,
        };
        pretrain(&config, &data, &work, &mut observer)?
    };
    context.log(&format!(
        "trained {} steps, {} tokens, final loss {:.4}",
        outcome.steps, outcome.tokens, outcome.final_loss
    ));
    context.copy_in(&outcome.weights_path, "model.safetensors")?;
    context.copy_in(&outcome.config_path, "config.json")?;
    context.copy_in(&work.join("metrics.jsonl"), "metrics.jsonl")?;
    Ok(())
}
