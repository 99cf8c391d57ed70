//! Stage keys change exactly when something that can change a stage's
//! output changes, and never for the way a file is written.
//!
//! `tests/plan/keys.echo` is edited one field at a time; each edit names the
//! stages whose own parameters or inputs it must change. The test checks
//! that exactly those change directly, that exactly they and everything
//! downstream of them get new keys, and that no other key moves.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use echolab::compiler::compile_text;
use echolab::plan::{build, Plan};

const BASE_PATH: &str = "tests/plan/keys.echo";

fn plan_of(text: &str) -> Plan {
    let path = Path::new(BASE_PATH);
    let compilation = compile_text(BASE_PATH, path, text.to_string());
    let checked = compilation
        .experiment
        .unwrap_or_else(|| panic!("does not check: {:?}\n{text}", compilation.diagnostics));
    build(&checked, path.parent().unwrap()).unwrap()
}

fn keys(plan: &Plan) -> BTreeMap<String, String> {
    plan.stages
        .iter()
        .map(|stage| (stage.name.clone(), stage.key.0.clone()))
        .collect()
}

/// Stages whose own parameters or inputs differ.
fn directly_changed(before: &Plan, after: &Plan) -> BTreeSet<String> {
    after
        .stages
        .iter()
        .filter(|stage| match before.named(&stage.name) {
            Some(old) => {
                old.parameters != stage.parameters
                    || old.inputs != stage.inputs
                    || upstream_names(before, old) != upstream_names(after, stage)
            }
            None => true,
        })
        .map(|stage| stage.name.clone())
        .collect()
}

/// Which stage (by name) fills each upstream role.
fn upstream_names(plan: &Plan, stage: &echolab::plan::Stage) -> BTreeMap<String, String> {
    stage
        .upstream
        .iter()
        .map(|(role, key)| {
            (
                role.clone(),
                plan.stage(key)
                    .map_or_else(String::new, |upstream| upstream.name.clone()),
            )
        })
        .collect()
}

/// `names` and every stage downstream of them.
fn downstream_closure(plan: &Plan, names: &BTreeSet<String>) -> BTreeSet<String> {
    let mut closure = names.clone();
    loop {
        let keys: BTreeSet<&String> = plan
            .stages
            .iter()
            .filter(|s| closure.contains(&s.name))
            .map(|s| &s.key.0)
            .collect();
        let more: Vec<String> = plan
            .stages
            .iter()
            .filter(|stage| {
                !closure.contains(&stage.name)
                    && stage.upstream.values().any(|key| keys.contains(&key.0))
            })
            .map(|stage| stage.name.clone())
            .collect();
        if more.is_empty() {
            return closure;
        }
        closure.extend(more);
    }
}

/// `(old text, new text, stages that must change directly)`.
const EDITS: &[(&str, &str, &[&str])] = &[
    // experiment
    (
        "seed = 11",
        "seed = 12",
        &["code", "prose", "base", "tuned", "main:base", "main:tuned"],
    ),
    // synthetic source: every argument
    (
        "format = code, problems = 2k",
        "format = code_text, problems = 2k",
        &["code"],
    ),
    (
        "format = code, problems = 2k",
        "format = code, problems = 3k",
        &["code"],
    ),
    (
        "format = code, problems = 2k",
        "format = code, problems = 2k, difficulty = 1..4",
        &["code"],
    ),
    (
        "format = code, problems = 2k",
        "format = code, problems = 2k, numbers = 2..60",
        &["code"],
    ),
    ("noise = 5%", "noise = 10%", &["prose"]),
    (
        "format = code, problems = 2k",
        "format = code, problems = 2k, test_fraction = 20%",
        &["code"],
    ),
    (
        "format = code, problems = 2k",
        "format = code, problems = 2k, split = test",
        &["code"],
    ),
    (
        "format = code, problems = 2k",
        "format = code, problems = 2k, seed = 99",
        &["code"],
    ),
    (
        "format = code, problems = 2k",
        "format = code, problems = 2k, docstring = true",
        &["code"],
    ),
    // jsonl source
    ("\"data/problems.jsonl\"", "\"data/other.jsonl\"", &["file"]),
    ("question = \"q\"", "question = \"s\"", &["file"]),
    ("answer = \"a\"", "answer = \"s\"", &["file"]),
    ("solution = \"s\"", "solution = \"q\"", &["file"]),
    (
        "solution = \"s\", format = prose",
        "solution = \"s\", format = code",
        &["file"],
    ),
    (
        "format = prose)\n",
        "format = prose, problems = 1)\n",
        &["file"],
    ),
    (
        "format = prose)\n",
        "format = prose, outside_project = true)\n",
        &["file"],
    ),
    // gsm8k source
    (
        "split = test, problems = 100",
        "split = train, problems = 100",
        &["questions"],
    ),
    (
        "split = test, problems = 100",
        "split = test, problems = 50",
        &["questions"],
    ),
    (
        "split = test, problems = 100",
        "split = test, problems = 100, format = prose",
        &["questions"],
    ),
    // mixture
    (
        "code + 2 * prose + file",
        "code + 3 * prose + file",
        &["base"],
    ),
    (
        "code + 2 * prose + file",
        "code + 2 * prose + 0.5 * file",
        &["base"],
    ),
    // model: every field
    ("gpt(preset = tiny)", "gpt(preset = small)", &["base"]),
    (
        "gpt(preset = tiny)",
        "gpt(preset = tiny, layers = 3)",
        &["base"],
    ),
    (
        "gpt(preset = tiny)",
        "gpt(preset = tiny, width = 96)",
        &["base"],
    ),
    (
        "gpt(preset = tiny)",
        "gpt(preset = tiny, heads = 4)",
        &["base"],
    ),
    (
        "gpt(preset = tiny)",
        "gpt(preset = tiny, context = 256)",
        &["base"],
    ),
    (
        "gpt(preset = tiny)",
        "gpt(preset = tiny, mlp_ratio = 2)",
        &["base"],
    ),
    (
        "gpt(preset = tiny)",
        "gpt(preset = tiny, activation = swiglu)",
        &["base"],
    ),
    (
        "gpt(preset = tiny)",
        "gpt(preset = tiny, norm = rms_norm)",
        &["base"],
    ),
    (
        "gpt(preset = tiny)",
        "gpt(preset = tiny, positions = rope)",
        &["base"],
    ),
    (
        "gpt(preset = tiny)",
        "gpt(preset = tiny, tied_embeddings = false)",
        &["base"],
    ),
    (
        "gpt(preset = tiny)",
        "gpt(preset = tiny, tokenizer = character)",
        &["base.tokenizer", "base"],
    ),
    // pretraining: every field
    ("tokens = 200k", "tokens = 300k", &["base"]),
    ("tokens = 200k", "tokens = 200k\n    batch = 16", &["base"]),
    (
        "tokens = 200k",
        "tokens = 200k\n    sequence_length = 128",
        &["base"],
    ),
    (
        "tokens = 200k",
        "tokens = 200k\n    optimizer = adamw(lr = 2e-3)",
        &["base"],
    ),
    (
        "tokens = 200k",
        "tokens = 200k\n    optimizer = adamw(betas = (0.9, 0.99))",
        &["base"],
    ),
    (
        "tokens = 200k",
        "tokens = 200k\n    optimizer = adamw(weight_decay = 0)",
        &["base"],
    ),
    (
        "tokens = 200k",
        "tokens = 200k\n    optimizer = adamw(eps = 1e-6)",
        &["base"],
    ),
    (
        "tokens = 200k",
        "tokens = 200k\n    schedule = linear()",
        &["base"],
    ),
    (
        "tokens = 200k",
        "tokens = 200k\n    schedule = cosine(warmup = 5%)",
        &["base"],
    ),
    (
        "tokens = 200k",
        "tokens = 200k\n    schedule = cosine(final = 0)",
        &["base"],
    ),
    (
        "tokens = 200k",
        "tokens = 200k\n    gradient_clip = 0.5",
        &["base"],
    ),
    (
        "tokens = 200k",
        "tokens = 200k\n    eval_every = 10",
        &["base"],
    ),
    // checkpointing cannot change any output
    (
        "tokens = 200k",
        "tokens = 200k\n    checkpoint_every = 7",
        &[],
    ),
    // nor can what a cluster job asks for
    (
        "tokens = 200k",
        "tokens = 200k\n    resources = slurm(cpus = 8, memory = 16k, minutes = 600)",
        &[],
    ),
    // RL: every field
    ("steps = 20", "steps = 30", &["tuned", "main:tuned"]),
    (
        "steps = 20",
        "steps = 20\n    algorithm = grpo()",
        &["tuned"],
    ),
    (
        "steps = 20",
        "steps = 20\n    algorithm = ppo(clip = 0.1)",
        &["tuned"],
    ),
    (
        "steps = 20",
        "steps = 20\n    algorithm = ppo(value_clip = 0.1)",
        &["tuned"],
    ),
    (
        "steps = 20",
        "steps = 20\n    algorithm = ppo(gae_lambda = 0.9)",
        &["tuned"],
    ),
    (
        "steps = 20",
        "steps = 20\n    algorithm = ppo(gamma = 0.99)",
        &["tuned"],
    ),
    (
        "steps = 20",
        "steps = 20\n    algorithm = ppo(value_coefficient = 1)",
        &["tuned"],
    ),
    (
        "steps = 20",
        "steps = 20\n    algorithm = ppo(epochs = 2)",
        &["tuned"],
    ),
    (
        "steps = 20",
        "steps = 20\n    algorithm = expert_iteration(rounds = 2)",
        &["tuned"],
    ),
    (
        "steps = 20",
        "steps = 20\n    algorithm = expert_iteration(restart = false)",
        &["tuned"],
    ),
    (
        "steps = 20",
        "steps = 20\n    algorithm = expert_iteration(sft_epochs = 3)",
        &["tuned"],
    ),
    (
        "steps = 20",
        "steps = 20\n    algorithm = expert_iteration(sft_lr = 1e-3)",
        &["tuned"],
    ),
    (
        "steps = 20",
        "steps = 20\n    samples_per_prompt = 4",
        &["tuned"],
    ),
    (
        "steps = 20",
        "steps = 20\n    prompts_per_step = 8",
        &["tuned"],
    ),
    (
        "steps = 20",
        "steps = 20\n    temperature = 0.7",
        &["tuned"],
    ),
    ("steps = 20", "steps = 20\n    top_p = 0.9", &["tuned"]),
    (
        "steps = 20",
        "steps = 20\n    max_new_tokens = 64",
        &["tuned"],
    ),
    (
        "steps = 20",
        "steps = 20\n    optimizer = adamw(lr = 1e-5)",
        &["tuned"],
    ),
    (
        "steps = 20",
        "steps = 20\n    schedule = cosine()",
        &["tuned"],
    ),
    (
        "steps = 20",
        "steps = 20\n    gradient_clip = 2",
        &["tuned"],
    ),
    (
        "steps = 20",
        "steps = 20\n    kl = constant(0.01)",
        &["tuned"],
    ),
    (
        "steps = 20",
        "steps = 20\n    kl = adaptive(0.1, 10)",
        &["tuned"],
    ),
    (
        "steps = 20",
        "steps = 20\n    kl_estimator = k3",
        &["tuned"],
    ),
    (
        "steps = 20",
        "steps = 20\n    kl_placement = loss",
        &["tuned"],
    ),
    ("steps = 20", "steps = 20\n    checkpoint_every = 5", &[]),
    (
        "steps = 20",
        "steps = 20\n    resources = slurm(cpus = 4)",
        &[],
    ),
    ("prompts = questions", "prompts = code", &["tuned"]),
    // evaluation: every field
    (
        "sets = [questions]",
        "sets = [questions]\n    metrics = [pass@1]",
        &["main:base", "main:tuned"],
    ),
    (
        "sets = [questions]",
        "sets = [questions]\n    metrics = [pass@1, forced_pass@1]",
        &["main:base", "main:tuned"],
    ),
    (
        "sets = [questions]",
        "sets = [questions]\n    samples = 32",
        &["main:base", "main:tuned"],
    ),
    (
        "sets = [questions]",
        "sets = [questions]\n    temperature = 0.5",
        &["main:base", "main:tuned"],
    ),
    (
        "sets = [questions]",
        "sets = [questions]\n    top_p = 0.5",
        &["main:base", "main:tuned"],
    ),
    (
        "sets = [questions]",
        "sets = [questions]\n    max_new_tokens = 50",
        &["main:base", "main:tuned"],
    ),
    (
        "sets = [questions]",
        "sets = [questions]\n    problems = 50",
        &["main:base", "main:tuned"],
    ),
    // when to evaluate decides which RL snapshots are kept
    (
        "sets = [questions]",
        "sets = [questions]\n    at = every(5)",
        &["tuned", "main:base", "main:tuned"],
    ),
    (
        "sets = [questions]",
        "sets = [code]",
        &["main:base", "main:tuned"],
    ),
    (
        "sets = [questions]",
        "sets = [questions]\n    resources = slurm(minutes = 30)",
        &[],
    ),
    // report
    (
        "evals = [main]",
        "evals = [main]\n    charts = [format_share]",
        &["summary"],
    ),
    (
        "evals = [main]",
        "evals = [main]\n    outputs = [csv]",
        &["summary"],
    ),
    (
        "evals = [main]",
        "evals = [main]\n    resources = slurm(memory = 512)",
        &[],
    ),
];

#[test]
fn every_parameter_changes_exactly_the_stages_it_should() {
    let base_text = std::fs::read_to_string(BASE_PATH).unwrap();
    let before = plan_of(&base_text);
    let before_keys = keys(&before);
    let mut failures = Vec::new();
    for (old, new, expected) in EDITS {
        assert!(base_text.contains(old), "`{old}` is not in {BASE_PATH}");
        let after = plan_of(&base_text.replacen(old, new, 1));
        let direct = directly_changed(&before, &after);
        let expected: BTreeSet<String> = expected.iter().map(|name| name.to_string()).collect();
        if direct != expected {
            failures.push(format!(
                "`{new}`: directly changed {direct:?}, expected {expected:?}"
            ));
            continue;
        }
        let should_change = downstream_closure(&after, &direct);
        let did_change: BTreeSet<String> = keys(&after)
            .into_iter()
            .filter(|(name, key)| before_keys.get(name) != Some(key))
            .map(|(name, _)| name)
            .collect();
        if did_change != should_change {
            failures.push(format!(
                "`{new}`: keys changed for {did_change:?}, expected {should_change:?}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_field_of_the_language_is_covered_by_an_edit() {
    // Fields that the edits above do not touch are listed here with why.
    const NOT_IN_KEYS: &[&str] = &[
        "description", // free text for reports
        "replicates",  // adds stages rather than changing keys
        "path",        // of gsm8k: covered by the jsonl path edit (same digest logic)
        "from",        // changes the upstream stage, covered in `upstream_roles_follow_the_graph`
        "epochs",      // turned into `steps`, covered by the `steps` edit
        "models",      // which stages are evaluated: adds or removes stages
        "evals",       // which evaluations a report reads: changes its upstream
        "at",          // covered through `every(5)`
        "rounds",      // covered through expert_iteration(rounds = 2)
    ];
    let edits: String = EDITS
        .iter()
        .map(|(_, new, _)| *new)
        .collect::<Vec<_>>()
        .join(" ");
    let base_text = std::fs::read_to_string(BASE_PATH).unwrap();
    use echolab::compiler::catalog;
    let mut names: Vec<&str> = Vec::new();
    for calls in [
        catalog::SOURCES,
        catalog::MODELS,
        catalog::OPTIMIZERS,
        catalog::LEARNING_RATE_SCHEDULES,
        catalog::ALGORITHMS,
    ] {
        for call in calls {
            if call.name == "reinforce" {
                continue;
            }
            names.extend(call.fields.iter().map(|field| field.name));
        }
    }
    for fields in catalog::BLOCKS {
        names.extend(fields.iter().map(|field| field.name));
    }
    let missing: Vec<&&str> = names
        .iter()
        .filter(|name| {
            !NOT_IN_KEYS.contains(name)
                && !edits.contains(&format!("{name} ="))
                && !base_text.contains(&format!("{name} ="))
        })
        .collect();
    assert!(missing.is_empty(), "no key test edits {missing:?}");
}

#[test]
fn upstream_roles_follow_the_graph() {
    let base_text = std::fs::read_to_string(BASE_PATH).unwrap();
    let plan = plan_of(&base_text);
    let base = plan.named("base").unwrap();
    let tuned = plan.named("tuned").unwrap();
    assert_eq!(tuned.upstream["from"], base.key);
    assert_eq!(tuned.upstream["tokenizer"], base.upstream["tokenizer"]);
    assert_eq!(
        tuned.upstream["prompts"],
        plan.named("questions").unwrap().key
    );
    let evaluation = plan.named("main:tuned").unwrap();
    assert_eq!(evaluation.upstream["model"], tuned.key);
    // Starting RL from another stage changes it and what reads it, only.
    let text = base_text.replacen(
        "  eval main",
        "  rl polish {\n    from = base\n    prompts = questions\n    steps = 5\n  }\n  eval main",
        1,
    );
    let before = keys(&plan_of(&text));
    let after = keys(&plan_of(&text.replacen(
        "from = base\n    prompts = questions\n    steps = 5",
        "from = tuned\n    prompts = questions\n    steps = 5",
        1,
    )));
    let changed: BTreeSet<&String> = after
        .keys()
        .filter(|name| before.get(*name) != after.get(*name))
        .collect();
    assert_eq!(changed, BTreeSet::from([&"polish".to_string()]));
}

#[test]
fn comments_layout_order_and_written_defaults_change_no_key() {
    let base_text = std::fs::read_to_string(BASE_PATH).unwrap();
    let reference = keys(&plan_of(&base_text));
    // Comments and layout.
    let relaid = base_text
        .replace("  mixture mix", "  # the mixture\n\n  mixture   mix")
        .replace("tokens = 200k", "tokens = 200_000  # two hundred thousand")
        .replace("problems = 2k", "problems = 2000");
    assert_eq!(
        keys(&plan_of(&relaid)),
        reference,
        "comments or number spelling changed a key"
    );
    // Declaration order: statements of the experiment reversed.
    let lines: Vec<&str> = base_text.lines().collect();
    let header = lines
        .iter()
        .position(|line| line.starts_with("experiment"))
        .unwrap();
    let mut statements: Vec<String> = Vec::new();
    let mut current = String::new();
    let mut depth = 0;
    for line in &lines[header + 1..lines.len() - 1] {
        current.push_str(line);
        current.push('\n');
        depth += line.matches('{').count() as i64 - line.matches('}').count() as i64;
        if depth == 0 {
            statements.push(std::mem::take(&mut current));
        }
    }
    statements.reverse();
    let reordered = format!(
        "{}\n{}}}\n",
        lines[..=header].join("\n"),
        statements.concat()
    );
    assert_eq!(
        keys(&plan_of(&reordered)),
        reference,
        "declaration order changed a key:\n{reordered}"
    );
    // Defaults written out.
    let explicit = base_text
        .replace("gpt(preset = tiny)", "gpt(preset = tiny, layers = 2, width = 80, heads = 2, context = 192, mlp_ratio = 4, activation = gelu, norm = layer_norm, positions = learned, tied_embeddings = true, tokenizer = word)")
        .replace("tokens = 200k", "tokens = 200k\n    batch = 32\n    optimizer = adamw(lr = 1e-3, betas = (0.9, 0.95), weight_decay = 0.1, eps = 1e-8)\n    schedule = cosine(warmup = 2%, final = 10%)\n    gradient_clip = 1.0")
        .replace("steps = 20", "steps = 20\n    algorithm = ppo(clip = 0.2, value_clip = 0.2, gae_lambda = 0.95, gamma = 1, value_coefficient = 0.5, epochs = 1)\n    kl = constant(0)\n    kl_estimator = k1\n    kl_placement = reward\n    temperature = 1.0\n    top_p = 1.0")
        .replace("format = code, problems = 2k", "format = code, problems = 2k, difficulty = 1..3, numbers = 2..50, noise = 0, test_fraction = 10%, split = train, seed = 11")
        .replace("format = prose)\n", "format = prose, outside_project = false)\n");
    assert_eq!(
        keys(&plan_of(&explicit)),
        reference,
        "writing defaults out changed a key"
    );
    // Renaming a definition changes names, not keys.
    let renamed = base_text.replace("net", "network");
    let renamed_keys: BTreeSet<String> = keys(&plan_of(&renamed)).into_values().collect();
    let reference_keys: BTreeSet<String> = reference.values().cloned().collect();
    assert_eq!(
        renamed_keys, reference_keys,
        "renaming a model changed a key"
    );
}

#[test]
fn a_shared_stage_appears_once_in_a_sweep() {
    let base_text = std::fs::read_to_string(BASE_PATH).unwrap();
    let swept = base_text.replacen(
        "  report summary",
        "  sweep tuned.kl = [constant(0), constant(1e-3), constant(1e-2)]\n  report summary",
        1,
    );
    let plan = plan_of(&swept);
    let pretraining: Vec<&str> = plan
        .stages
        .iter()
        .filter(|s| s.kind == echolab::plan::StageKind::Pretrain)
        .map(|s| s.name.as_str())
        .collect();
    assert_eq!(pretraining, vec!["base"]);
    let rl: Vec<&str> = plan
        .stages
        .iter()
        .filter(|s| s.kind == echolab::plan::StageKind::Rl)
        .map(|s| s.name.as_str())
        .collect();
    assert_eq!(
        rl,
        vec![
            "tuned[kl=constant(0)]",
            "tuned[kl=constant(0.001)]",
            "tuned[kl=constant(0.01)]"
        ]
    );
    // Upstream stages come before the stages that read them.
    for (index, stage) in plan.stages.iter().enumerate() {
        for key in stage.upstream.values() {
            let position = plan
                .stages
                .iter()
                .position(|other| &other.key == key)
                .unwrap();
            assert!(position < index, "{} comes before its upstream", stage.name);
        }
    }
}

#[test]
fn replicates_multiply_training_stages_but_not_data() {
    let base_text = std::fs::read_to_string(BASE_PATH).unwrap();
    let plan = plan_of(&base_text.replacen("seed = 11", "seed = 11\n  replicates = 3", 1));
    let names: BTreeSet<&str> = plan.stages.iter().map(|s| s.name.as_str()).collect();
    for expected in [
        "base#0",
        "base#1",
        "base#2",
        "tuned#2",
        "main:tuned#1",
        "code",
        "base.tokenizer",
    ] {
        assert!(names.contains(expected), "no stage {expected} in {names:?}");
    }
    let seeds: BTreeSet<String> = ["base#0", "base#1", "base#2"]
        .iter()
        .map(|n| plan.named(n).unwrap().parameters["seed"].to_string())
        .collect();
    assert_eq!(seeds.len(), 3, "replicates share a seed");
}

/// The keys of the default experiment, pinned: a change to how keys are
/// computed must be deliberate (bump `KEY_FORMAT` or a semantics version,
/// then accept the new snapshot with `cargo insta review`).
#[test]
fn golden_keys_of_the_default_experiment() {
    let path = Path::new("experiments/echo_chamber.echo");
    let compilation = echolab::compiler::compile_file(path).unwrap();
    let plan = build(&compilation.experiment.unwrap(), path.parent().unwrap()).unwrap();
    let listing: String = plan
        .stages
        .iter()
        .map(|stage| format!("{} {} {}\n", stage.key, stage.kind, stage.name))
        .collect();
    insta::assert_snapshot!(listing);
}

#[test]
fn the_candle_version_in_every_key_is_the_one_in_cargo_lock() {
    let lock = std::fs::read_to_string("Cargo.lock").unwrap();
    let expected = format!(
        "name = \"candle-core\"\nversion = \"{}\"",
        echolab::plan::key::CANDLE_VERSION
    );
    assert!(
        lock.contains(&expected),
        "Cargo.lock's candle-core is not {}",
        echolab::plan::key::CANDLE_VERSION
    );
}
