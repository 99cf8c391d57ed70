//! Building a [`Plan`] from a checked experiment.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::json;

use super::key::stage_key;
use super::{digest_bytes, digest_file, InputDigest, Plan, Stage, StageKey, StageKind};
use crate::compiler::{CheckedExperiment, Experiment, NameKind, Value};
use crate::data::gsm8k;
use crate::data::Split;
use crate::random::Stream;

/// Why a plan could not be built.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// A file a stage reads could not be read.
    #[error("cannot read `{path}`, read by `{stage}`: {source}")]
    Input {
        /// The file.
        path: PathBuf,
        /// The stage that reads it.
        stage: String,
        /// Why.
        source: std::io::Error,
    },
    /// A file a stage reads resolves outside the project, and its source
    /// does not opt in with `outside_project = true`.
    #[error("`{path}`, read by `{stage}`, is outside the project `{root}`")]
    Outside {
        /// The file.
        path: PathBuf,
        /// The stage that reads it.
        stage: String,
        /// The project's top folder.
        root: PathBuf,
    },
    /// The checked experiment refers to something it does not define (a
    /// bug in the checker, reported rather than panicking).
    #[error("`{name}` is not defined in experiment `{experiment}`")]
    Undefined {
        /// The missing name.
        name: String,
        /// The experiment.
        experiment: String,
    },
}

/// The seed of replicate `replicate` of an experiment seeded with `seed`:
/// 53 bits, so that every JSON reader keeps it exact.
pub fn replicate_seed(seed: i64, replicate: i64) -> u64 {
    Stream::new(seed as u64)
        .derive(&[replicate as u64])
        .next_u64()
        >> 11
}

/// The RL steps an `at` value asks for, for a stage of `total` steps.
pub fn evaluation_steps(at: &Value, total: i64) -> Vec<i64> {
    let total = total.max(1);
    let mut steps: BTreeSet<i64> = BTreeSet::new();
    match at.call_name() {
        Some("log_steps") => {
            let count = at
                .get("count")
                .and_then(Value::as_integer)
                .unwrap_or(8)
                .max(1);
            steps.insert(0);
            steps.insert(total);
            for index in 0..count {
                let fraction = if count == 1 {
                    1.0
                } else {
                    index as f64 / (count - 1) as f64
                };
                steps.insert(((total as f64).powf(fraction)).round() as i64);
            }
        }
        Some("every") => {
            let interval = at
                .get("interval")
                .and_then(Value::as_integer)
                .unwrap_or(1)
                .max(1);
            steps.extend((0..=total).step_by(interval as usize));
            steps.insert(total);
        }
        _ => {
            steps.insert(total);
        }
    }
    steps.into_iter().collect()
}

/// A stage being built, with what is needed to name it at the end.
struct Draft {
    stage: Stage,
    base_name: String,
    replicate: Option<i64>,
    points: BTreeSet<usize>,
    /// The definitions whose values reach this stage: only sweeps over
    /// these appear in its name.
    depends: BTreeSet<String>,
}

struct Builder<'a> {
    directory: &'a Path,
    /// The project's top folder, canonical: files outside it are read only
    /// by sources that opt in.
    root: PathBuf,
    drafts: Vec<Draft>,
    index: BTreeMap<StageKey, usize>,
    digests: BTreeMap<PathBuf, InputDigest>,
    replicates: i64,
}

impl Builder<'_> {
    /// Adds a stage (or notes that this point produces it too).
    #[expect(
        clippy::too_many_arguments,
        reason = "a stage is many things; each is named at the call"
    )]
    fn add(
        &mut self,
        kind: StageKind,
        base_name: String,
        replicate: Option<i64>,
        parameters: serde_json::Value,
        upstream: BTreeMap<String, StageKey>,
        inputs: BTreeMap<String, InputDigest>,
        point: usize,
        depends: BTreeSet<String>,
    ) -> StageKey {
        let key = stage_key(kind, &parameters, &upstream, &inputs);
        match self.index.get(&key) {
            Some(&position) => {
                self.drafts[position].points.insert(point);
            }
            None => {
                self.index.insert(key.clone(), self.drafts.len());
                self.drafts.push(Draft {
                    stage: Stage {
                        name: String::new(),
                        kind,
                        key: key.clone(),
                        parameters,
                        settings: serde_json::Value::Object(serde_json::Map::new()),
                        upstream,
                        inputs,
                    },
                    base_name,
                    replicate,
                    points: BTreeSet::from([point]),
                    depends,
                });
            }
        }
        key
    }

    /// Records how to run a stage (settings outside its key).
    fn settle(&mut self, key: &StageKey, settings: &serde_json::Value) {
        if let Some(&position) = self.index.get(key) {
            self.drafts[position].stage.settings = settings.clone();
        }
    }

    /// The digest of the file a source reads (`path`, relative to the
    /// experiment's folder), refusing one outside the project unless the
    /// source opts in.
    fn digest(
        &mut self,
        path: &str,
        source: &Value,
        stage: &str,
    ) -> Result<InputDigest, PlanError> {
        let path = self.directory.join(path);
        let input_error = |source| PlanError::Input {
            path: path.clone(),
            stage: stage.to_string(),
            source,
        };
        let resolved = path.canonicalize().map_err(input_error)?;
        let opted_in = source.get("outside_project") == Some(&Value::Boolean(true));
        if !opted_in && !resolved.starts_with(&self.root) {
            return Err(PlanError::Outside {
                path,
                stage: stage.to_string(),
                root: self.root.clone(),
            });
        }
        if let Some(digest) = self.digests.get(&resolved) {
            return Ok(digest.clone());
        }
        let digest = digest_file(&resolved).map_err(input_error)?;
        self.digests.insert(resolved, digest.clone());
        Ok(digest)
    }

    /// The data stage of a source value.
    fn data(
        &mut self,
        source: &Value,
        name: &str,
        owner: &str,
        point: usize,
    ) -> Result<StageKey, PlanError> {
        let mut inputs = BTreeMap::new();
        match source.call_name() {
            Some("jsonl") => {
                if let Some(path) = source.get("path").and_then(Value::as_str) {
                    let digest = self.digest(path, source, name)?;
                    inputs.insert(path.to_string(), digest);
                }
            }
            Some("gsm8k") => {
                let split = match source.get("split").and_then(Value::as_str) {
                    Some("test") => Split::Test,
                    _ => Split::Train,
                };
                match source.get("path").and_then(Value::as_str) {
                    Some(folder) => {
                        let relative = format!("{folder}/{}.jsonl", split.name());
                        let digest = self.digest(&relative, source, name)?;
                        inputs.insert(relative, digest);
                    }
                    None => {
                        inputs.insert(
                            format!("<built-in>/gsm8k/{}.jsonl", split.name()),
                            digest_bytes(gsm8k::built_in(split).as_bytes()),
                        );
                    }
                }
            }
            _ => {}
        }
        let parameters = json!({ "source": source });
        Ok(self.add(
            StageKind::Data,
            name.to_string(),
            None,
            parameters,
            BTreeMap::new(),
            inputs,
            point,
            BTreeSet::from([owner.to_string()]),
        ))
    }
}

/// A value without some of its fields, as JSON.
fn without(value: &Value, fields: &[&str]) -> serde_json::Value {
    let mut json = serde_json::to_value(value).unwrap_or_default();
    if let Some(object) = json.as_object_mut() {
        for field in fields {
            object.remove(*field);
        }
    }
    json
}

/// `settings` with the block's `resources`, when it has them: how a
/// cluster job runs the stage, outside its key.
fn with_resources(mut settings: serde_json::Value, block: &Value) -> serde_json::Value {
    if let (Some(resources), Some(object)) = (block.get("resources"), settings.as_object_mut()) {
        object.insert(
            "resources".to_string(),
            serde_json::to_value(resources).unwrap_or_default(),
        );
    }
    settings
}

fn defined<'a>(experiment: &'a Experiment, name: &str) -> Result<&'a Value, PlanError> {
    experiment.value(name).ok_or_else(|| PlanError::Undefined {
        name: name.to_string(),
        experiment: experiment.name.clone(),
    })
}

/// The checkpoint of a trained stage: its key and its tokenizer's key.
#[derive(Clone)]
struct Checkpoint {
    key: StageKey,
    tokenizer: StageKey,
    kind: NameKind,
    steps: i64,
    depends: BTreeSet<String>,
}

/// Builds the plan of a checked experiment whose main file is in `directory`.
pub fn build(checked: &CheckedExperiment, directory: &Path) -> Result<Plan, PlanError> {
    let mut builder = Builder {
        directory,
        root: crate::runtime::project_root(directory),
        drafts: Vec::new(),
        index: BTreeMap::new(),
        digests: BTreeMap::new(),
        replicates: checked.base.replicates.max(1),
    };
    // Evaluations per sweep point, for the report.
    let mut evaluations: BTreeMap<String, Vec<(usize, String, i64, StageKey)>> = BTreeMap::new();
    for (point, sweep_point) in checked.points.iter().enumerate() {
        let experiment = &sweep_point.experiment;
        let mut checkpoints: BTreeMap<(String, i64), Checkpoint> = BTreeMap::new();
        let rl_steps_wanted = snapshot_requests(experiment);
        for (name, pretrain) in experiment.of_kind(NameKind::Pretrain) {
            let terms = match pretrain.get("data") {
                Some(Value::Mixture(terms)) => terms.clone(),
                Some(Value::Reference(mixture)) => match defined(experiment, mixture)? {
                    Value::Mixture(terms) => terms.clone(),
                    _ => Vec::new(),
                },
                _ => Vec::new(),
            };
            let mut data_upstream = BTreeMap::new();
            let mut mixture = Vec::new();
            for (index, term) in terms.iter().enumerate() {
                let source = defined(experiment, &term.source)?;
                let key = builder.data(source, &term.source, &term.source, point)?;
                let role = format!("data.{index}");
                mixture.push(json!({ "role": role, "weight": term.weight }));
                data_upstream.insert(role, key);
            }
            let model_name = pretrain
                .get("model")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let model = defined(experiment, model_name)?;
            let level = model
                .get("tokenizer")
                .and_then(Value::as_str)
                .unwrap_or("word");
            let mut depends: BTreeSet<String> =
                terms.iter().map(|term| term.source.clone()).collect();
            depends.insert(model_name.to_string());
            if let Some(Value::Reference(mixture)) = pretrain.get("data") {
                depends.insert(mixture.clone());
            }
            let tokenizer = builder.add(
                StageKind::Tokenizer,
                format!("{name}.tokenizer"),
                None,
                json!({ "level": level, "data": data_upstream.keys().collect::<Vec<_>>() }),
                data_upstream.clone(),
                BTreeMap::new(),
                point,
                depends.clone(),
            );
            depends.insert(name.clone());
            let training = without(
                pretrain,
                &["model", "data", "checkpoint_every", "resources"],
            );
            let settings = with_resources(
                json!({ "checkpoint_every": pretrain.get("checkpoint_every") }),
                pretrain,
            );
            for replicate in 0..builder.replicates {
                let mut upstream = data_upstream.clone();
                upstream.insert("tokenizer".to_string(), tokenizer.clone());
                let parameters = json!({
                    "model": model,
                    "training": training,
                    "mixture": mixture,
                    "seed": replicate_seed(experiment.seed, replicate),
                });
                let key = builder.add(
                    StageKind::Pretrain,
                    name.clone(),
                    Some(replicate),
                    parameters,
                    upstream,
                    BTreeMap::new(),
                    point,
                    depends.clone(),
                );
                builder.settle(&key, &settings);
                checkpoints.insert(
                    (name.clone(), replicate),
                    Checkpoint {
                        key,
                        tokenizer: tokenizer.clone(),
                        kind: NameKind::Pretrain,
                        steps: 0,
                        depends: depends.clone(),
                    },
                );
            }
        }
        // RL stages in dependency order: each after the stage it starts from.
        let mut pending: Vec<(&String, &Value)> = experiment.of_kind(NameKind::Rl).collect();
        while !pending.is_empty() {
            let before = pending.len();
            let mut waiting = Vec::new();
            for (name, rl) in pending {
                let from = rl
                    .get("from")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                if !checkpoints.contains_key(&(from.clone(), 0)) {
                    waiting.push((name, rl));
                    continue;
                }
                let prompts = match rl.get("prompts") {
                    Some(Value::Reference(source)) => {
                        (source.clone(), defined(experiment, source)?.clone())
                    }
                    Some(inline) => (format!("{name}.prompts"), inline.clone()),
                    None => continue,
                };
                let owner = match rl.get("prompts") {
                    Some(Value::Reference(source)) => source.clone(),
                    _ => name.clone(),
                };
                let prompts_key = builder.data(&prompts.1, &prompts.0, &owner, point)?;
                let steps = rl.get("steps").and_then(Value::as_integer).unwrap_or(1);
                let snapshots: Vec<i64> = match rl_steps_wanted.get(name.as_str()) {
                    Some(ats) => ats
                        .iter()
                        .flat_map(|at| evaluation_steps(at, steps))
                        .collect::<BTreeSet<_>>()
                        .into_iter()
                        .collect(),
                    None => vec![steps],
                };
                let training = without(rl, &["from", "prompts", "checkpoint_every", "resources"]);
                let settings = with_resources(
                    json!({ "checkpoint_every": rl.get("checkpoint_every") }),
                    rl,
                );
                for replicate in 0..builder.replicates {
                    let Some(start) = checkpoints.get(&(from.clone(), replicate)).cloned() else {
                        continue;
                    };
                    let upstream = BTreeMap::from([
                        ("from".to_string(), start.key.clone()),
                        ("prompts".to_string(), prompts_key.clone()),
                        ("tokenizer".to_string(), start.tokenizer.clone()),
                    ]);
                    let parameters = json!({
                        "training": training,
                        "snapshots": snapshots,
                        "seed": replicate_seed(experiment.seed, replicate),
                    });
                    let mut depends = start.depends.clone();
                    depends.insert(name.clone());
                    depends.insert(owner.clone());
                    let key = builder.add(
                        StageKind::Rl,
                        name.clone(),
                        Some(replicate),
                        parameters,
                        upstream,
                        BTreeMap::new(),
                        point,
                        depends.clone(),
                    );
                    builder.settle(&key, &settings);
                    checkpoints.insert(
                        (name.clone(), replicate),
                        Checkpoint {
                            key,
                            tokenizer: start.tokenizer,
                            kind: NameKind::Rl,
                            steps,
                            depends,
                        },
                    );
                }
            }
            if waiting.len() == before {
                break; // a cycle: the checker reports it, so this is unreachable
            }
            pending = waiting;
        }
        for (name, evaluation) in experiment.of_kind(NameKind::Eval) {
            let mut set_upstream = BTreeMap::new();
            let mut set_depends = BTreeSet::from([name.clone()]);
            if let Some(Value::List(sets)) = evaluation.get("sets") {
                for (index, set) in sets.iter().enumerate() {
                    let (set_name, owner, value) = match set {
                        Value::Reference(source) => (
                            source.clone(),
                            source.clone(),
                            defined(experiment, source)?.clone(),
                        ),
                        inline => (format!("{name}.sets.{index}"), name.clone(), inline.clone()),
                    };
                    set_depends.insert(owner.clone());
                    set_upstream.insert(
                        format!("set.{index}"),
                        builder.data(&value, &set_name, &owner, point)?,
                    );
                }
            }
            let settings = without(evaluation, &["models", "sets", "resources"]);
            let run_settings = with_resources(json!({}), evaluation);
            let at = evaluation
                .get("at")
                .cloned()
                .unwrap_or(Value::Boolean(false));
            let models: Vec<String> = match evaluation.get("models") {
                Some(Value::List(models)) => models
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect(),
                _ => Vec::new(),
            };
            for model in models {
                for replicate in 0..builder.replicates {
                    let Some(checkpoint) = checkpoints.get(&(model.clone(), replicate)).cloned()
                    else {
                        continue;
                    };
                    let steps = match checkpoint.kind {
                        NameKind::Rl => evaluation_steps(&at, checkpoint.steps),
                        _ => Vec::new(),
                    };
                    let mut upstream = set_upstream.clone();
                    upstream.insert("model".to_string(), checkpoint.key.clone());
                    upstream.insert("tokenizer".to_string(), checkpoint.tokenizer.clone());
                    let parameters = json!({
                        "evaluation": settings,
                        "model_kind": if checkpoint.kind == NameKind::Rl { "rl" } else { "pretrain" },
                        "steps": steps,
                        "seed": replicate_seed(experiment.seed, replicate),
                    });
                    let depends = checkpoint.depends.union(&set_depends).cloned().collect();
                    let key = builder.add(
                        StageKind::Eval,
                        format!("{name}:{model}"),
                        Some(replicate),
                        parameters,
                        upstream,
                        BTreeMap::new(),
                        point,
                        depends,
                    );
                    builder.settle(&key, &run_settings);
                    evaluations.entry(name.clone()).or_default().push((
                        point,
                        model.clone(),
                        replicate,
                        key,
                    ));
                }
            }
        }
    }
    // Reports read every evaluation of every point, and the training
    // metrics of every RL stage those evaluate.
    let all_points: BTreeSet<usize> = (0..checked.points.len()).collect();
    // The sweep values a stage depends on, as in its name.
    let point_label = |builder: &Builder, key: &StageKey| -> String {
        builder
            .index
            .get(key)
            .map_or_else(String::new, |&position| {
                let draft = &builder.drafts[position];
                if draft.points.len() < checked.points.len() {
                    label(checked, &draft.points, &draft.depends)
                } else {
                    String::new()
                }
            })
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string()
    };
    for (name, report) in checked.base.of_kind(NameKind::Report) {
        let mut upstream = BTreeMap::new();
        let mut series = Vec::new();
        let mut training = Vec::new();
        let mut seen: BTreeSet<StageKey> = BTreeSet::new();
        if let Some(Value::List(evals)) = report.get("evals") {
            for evaluation in evals.iter().filter_map(Value::as_str) {
                for (point, model, replicate, key) in
                    evaluations.get(evaluation).into_iter().flatten()
                {
                    if !seen.insert(key.clone()) {
                        continue;
                    }
                    let role = format!("eval.{}", series.len());
                    let _ = point;
                    series.push(json!({ "role": role, "eval": evaluation, "model": model, "point": point_label(&builder, key), "replicate": replicate }));
                    upstream.insert(role, key.clone());
                    // The RL stage it measures, once.
                    let rl_key = builder
                        .index
                        .get(key)
                        .and_then(|&position| builder.drafts[position].stage.upstream.get("model"))
                        .filter(|model_key| {
                            builder.index.get(*model_key).is_some_and(|&position| {
                                builder.drafts[position].stage.kind == StageKind::Rl
                            })
                        })
                        .cloned();
                    if let Some(rl_key) = rl_key {
                        if seen.insert(rl_key.clone()) {
                            let role = format!("rl.{}", training.len());
                            training.push(json!({ "role": role, "model": model, "point": point_label(&builder, &rl_key), "replicate": replicate }));
                            upstream.insert(role, rl_key);
                        }
                    }
                }
            }
        }
        // The page shows the experiment's name and description: in the key,
        // so the cached page is a pure function of it. No description is no
        // field (a lockfile, in TOML, has no null to read back).
        let mut parameters = json!({
            "experiment": checked.base.name,
            "report": without(report, &["evals", "resources"]),
            "series": series,
            "training": training,
        });
        if let (Some(description), Some(fields)) =
            (&checked.base.description, parameters.as_object_mut())
        {
            fields.insert("description".to_string(), json!(description));
        }
        let key = builder.add(
            StageKind::Report,
            name.clone(),
            None,
            parameters,
            upstream,
            BTreeMap::new(),
            0,
            BTreeSet::new(),
        );
        builder.settle(&key, &with_resources(json!({}), report));
        if let Some(&position) = builder.index.get(&key) {
            builder.drafts[position].points = all_points.clone();
        }
    }
    Ok(finish(builder, checked))
}

/// For each RL stage, the `at` values of the evaluations that read it.
fn snapshot_requests(experiment: &Experiment) -> BTreeMap<&str, Vec<Value>> {
    let mut requests: BTreeMap<&str, Vec<Value>> = BTreeMap::new();
    for (_, evaluation) in experiment.of_kind(NameKind::Eval) {
        let at = evaluation
            .get("at")
            .cloned()
            .unwrap_or(Value::Boolean(false));
        if let Some(Value::List(models)) = evaluation.get("models") {
            for model in models.iter().filter_map(Value::as_str) {
                if experiment
                    .definitions
                    .get(model)
                    .is_some_and(|definition| definition.kind == NameKind::Rl)
                {
                    requests.entry(model).or_default().push(at.clone());
                }
            }
        }
    }
    requests
}

/// Names every stage and orders the plan upstream first.
fn finish(builder: Builder<'_>, checked: &CheckedExperiment) -> Plan {
    let point_count = checked.points.len();
    let mut names: BTreeMap<String, usize> = BTreeMap::new();
    let mut stages: Vec<Stage> = Vec::new();
    for draft in builder.drafts {
        let mut name = draft.base_name.clone();
        if draft.points.len() < point_count {
            name.push_str(&label(checked, &draft.points, &draft.depends));
        }
        if let (Some(replicate), true) = (draft.replicate, builder.replicates > 1) {
            name.push_str(&format!("#{replicate}"));
        }
        *names.entry(name.clone()).or_default() += 1;
        let mut stage = draft.stage;
        stage.name = name;
        stages.push(stage);
    }
    // Two stages that would share a name are told apart by their keys.
    for stage in &mut stages {
        if names.get(&stage.name).copied().unwrap_or(0) > 1 {
            stage.name = format!("{}~{}", stage.name, stage.key.short());
        }
    }
    // Stages were added upstream first; keep that order.
    Plan {
        experiment: checked.base.name.clone(),
        stages,
    }
}

/// `[kl=constant(0.01)]`: the sweep values every point producing a stage shares.
fn label(
    checked: &CheckedExperiment,
    points: &BTreeSet<usize>,
    depends: &BTreeSet<String>,
) -> String {
    let Some(&first) = points.iter().next() else {
        return String::new();
    };
    let assignments = &checked.points[first].assignments;
    let shared: Vec<&(String, Value)> = assignments
        .iter()
        .filter(|(path, _)| depends.contains(path.split('.').next().unwrap_or(path)))
        .filter(|(path, value)| {
            points.iter().all(|&point| {
                checked.points[point]
                    .assignments
                    .iter()
                    .any(|(other_path, other)| other_path == path && other == value)
            })
        })
        .collect();
    if shared.is_empty() {
        return String::new();
    }
    let short = |path: &str| path.rsplit('.').next().unwrap_or(path).to_string();
    let ambiguous = |path: &str| {
        assignments
            .iter()
            .filter(|(other, _)| short(other) == short(path))
            .count()
            > 1
    };
    let parts: Vec<String> = shared
        .iter()
        .map(|(path, value)| {
            let shown = if ambiguous(path) {
                path.clone()
            } else {
                short(path)
            };
            format!("{shown}={value}")
        })
        .collect();
    format!("[{}]", parts.join(","))
}
