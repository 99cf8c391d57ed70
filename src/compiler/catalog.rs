//! Every construct of the language and its fields: the single source of
//! truth for names, types, ranges, defaults and their documentation.

use super::schema::Default::{Absent, Derived, Required, Value};
use super::schema::{
    above, at_least, field, integer_from, CallSchema, FieldSchema, NameKind, Type, FRACTION,
};

/// Solution formats, as named in files.
pub const FORMATS: &[&str] = &["code", "code_text", "prose"];
/// Model presets.
pub const PRESETS: &[&str] = &["tiny", "small", "medium"];
/// Metric names that take no `@k`.
pub const PLAIN_METRICS: &[&str] = &["format_share", "format_accuracy", "length", "entropy", "kl"];
/// Metric names written `name@k`. `forced_pass` is greedy, so its only
/// `k` is 1 (the checker says so).
pub const METRICS_AT_K: &[&str] = &["pass", "forced_pass", "maj"];
/// Metrics written `name@k` whose only `k` is 1.
pub const METRICS_AT_ONE: &[&str] = &["forced_pass"];

/// The fields of a KL schedule that moves between two coefficients.
const START_AND_END_COEFFICIENTS: &[FieldSchema] = &[
    field(
        "start",
        NON_NEGATIVE,
        Required,
        "Coefficient at the first step.",
    ),
    field(
        "end",
        NON_NEGATIVE,
        Required,
        "Coefficient at the last step.",
    ),
];

/// The settings of an `experiment` block.
pub const EXPERIMENT_SETTINGS: &[FieldSchema] = &[
    field(
        "seed",
        integer_from(0),
        Value("0"),
        "Seed of every random number in the experiment.",
    ),
    field(
        "replicates",
        Type::Integer {
            minimum: 1,
            maximum: 1000,
        },
        Value("1"),
        "How many times each training stage is run, each with its own seed derived from `seed`.",
    ),
    field(
        "description",
        Type::Text,
        Absent,
        "Free text shown in reports.",
    ),
];

const SPLITS: &[&str] = &["train", "test"];

/// The opt-in of a source's `path` to a place outside the project.
const OUTSIDE_PROJECT: FieldSchema = field(
    "outside_project",
    Type::Boolean,
    Absent,
    "`true` lets `path` resolve outside the project (the nearest folder above the `.echo` file holding `lockfiles/`, else its git repository's top, else its own folder); the lockfile then records the file by its absolute path. Left out, it is `false`.",
);

/// Source calls.
pub const SOURCES: &[CallSchema] = &[
    CallSchema {
        name: "synthetic",
        positional: false,
        doc: "Grade-school math problems from echolab's own generator, deterministic from the seed.",
        fields: &[
            field("format", Type::Choice(FORMATS), Absent, "Solution format; without it the source gives questions only (for RL prompts and evaluation)."),
            field("difficulty", Type::IntegerRange { minimum: 1, maximum: 12 }, Value("1..3"), "Number of reasoning steps per problem."),
            field("numbers", Type::IntegerRange { minimum: 1, maximum: 1_000_000 }, Value("2..50"), "Range of the numbers in the questions."),
            field("problems", Type::Integer { minimum: 1, maximum: 100_000_000 }, Value("10k"), "How many problems."),
            field("noise", FRACTION, Value("0"), "Fraction of solutions that carry a realistic mistake."),
            field("test_fraction", Type::Number { minimum: 0.0, minimum_inclusive: false, maximum: 1.0, maximum_inclusive: false }, Value("10%"), "Fraction of all problems (by hash of the question) reserved for the test split."),
            field("split", Type::Choice(SPLITS), Value("train"), "Which side of the train/test split this source draws from."),
            field("seed", integer_from(0), Derived("the experiment's `seed`"), "Seed of the generator."),
            field("docstring", Type::Boolean, Value("false"), "In the `code` format, restate the question in a docstring as TinyGSM does; it about doubles the length of code documents, so it is off by default at laptop scale."),
        ],
    },
    CallSchema {
        name: "gsm8k",
        positional: false,
        doc: "GSM8K (MIT licence), shipped with echolab; each problem rendered in the chosen format from its calculator annotations.",
        fields: &[
            field("split", Type::Choice(SPLITS), Value("train"), "GSM8K's own split: 7,473 train or 1,319 test problems."),
            field("format", Type::Choice(FORMATS), Absent, "Solution format; without it the source gives questions only."),
            field("problems", integer_from(1), Absent, "Use only the first this many problems."),
            field("path", Type::Folder, Absent, "A folder holding `train.jsonl` and `test.jsonl` to use instead of the shipped copy, relative to the `.echo` file and inside the project."),
            OUTSIDE_PROJECT,
        ],
    },
    CallSchema {
        name: "jsonl",
        positional: false,
        doc: "A JSON Lines file, one problem per line, with a mapping from its keys to echolab's fields.",
        fields: &[
            field("path", Type::File, Required, "The file, relative to the `.echo` file and inside the project: a regular file of at most 1 GiB."),
            OUTSIDE_PROJECT,
            field("question", Type::Text, Value("\"question\""), "Key of the question."),
            field("answer", Type::Text, Value("\"answer\""), "Key of the reference answer (a number, or text ending in `#### N`)."),
            field("solution", Type::Text, Absent, "Key of a worked solution, for pretraining."),
            field("format", Type::Choice(FORMATS), Absent, "Format of the solutions under `solution`."),
            field("problems", integer_from(1), Absent, "Use only the first this many problems."),
        ],
    },
];

/// Model calls.
pub const MODELS: &[CallSchema] = &[CallSchema {
    name: "gpt",
    positional: false,
    doc: "A decoder-only transformer, pre-norm, trained from scratch.",
    fields: &[
        field("preset", Type::Choice(PRESETS), Value("small"), "Named size whose values fill the fields not written: `tiny` (2 layers, width 80, 2 heads), `small` (4, 128, 4), `medium` (6, 256, 8), all with context 192."),
        field("layers", Type::Integer { minimum: 1, maximum: 64 }, Derived("the preset"), "Transformer blocks."),
        field("width", Type::Integer { minimum: 8, maximum: 8192 }, Derived("the preset"), "Model dimension."),
        field("heads", Type::Integer { minimum: 1, maximum: 128 }, Derived("the preset"), "Attention heads; must divide `width`."),
        field("context", Type::Integer { minimum: 8, maximum: 8192 }, Derived("the preset"), "Longest sequence in tokens."),
        field("mlp_ratio", Type::Integer { minimum: 1, maximum: 16 }, Value("4"), "Hidden width of the MLP as a multiple of `width`."),
        field("activation", Type::Choice(&["gelu", "swiglu", "relu"]), Value("gelu"), "MLP activation."),
        field("norm", Type::Choice(&["layer_norm", "rms_norm"]), Value("layer_norm"), "Normalisation before attention and MLP."),
        field("positions", Type::Choice(&["learned", "rope"]), Value("learned"), "Position encoding."),
        field("tied_embeddings", Type::Boolean, Value("true"), "Whether the output layer shares the token embedding's weights."),
        field("tokenizer", Type::Choice(&["word", "character"]), Value("word"), "Tokenizer level; digits are always one token each."),
    ],
}];

/// Optimizer calls.
pub const OPTIMIZERS: &[CallSchema] = &[CallSchema {
    name: "adamw",
    positional: false,
    doc: "AdamW with decoupled weight decay.",
    fields: &[
        field(
            "lr",
            Type::Number {
                minimum: 0.0,
                minimum_inclusive: false,
                maximum: 10.0,
                maximum_inclusive: true,
            },
            Value("1e-3"),
            "Peak learning rate.",
        ),
        field(
            "betas",
            Type::Pair(&FRACTION, &FRACTION),
            Value("(0.9, 0.95)"),
            "Decay rates of the first and second moments.",
        ),
        field(
            "weight_decay",
            at_least(0.0),
            Value("0.1"),
            "Decoupled weight decay.",
        ),
        field(
            "eps",
            above(0.0),
            Value("1e-8"),
            "Added to the denominator.",
        ),
    ],
}];

const WARMUP: FieldSchema = field(
    "warmup",
    Type::Steps,
    Value("0"),
    "Warmup from zero: whole steps, or a percentage of all steps.",
);
const FINAL: FieldSchema = field(
    "final",
    FRACTION,
    Value("10%"),
    "Learning rate at the end, as a fraction of the peak.",
);

/// Learning-rate schedules.
pub const LEARNING_RATE_SCHEDULES: &[CallSchema] = &[
    CallSchema {
        name: "constant",
        positional: false,
        doc: "The peak rate after warmup.",
        fields: &[WARMUP],
    },
    CallSchema {
        name: "linear",
        positional: false,
        doc: "Linear decay from the peak to `final` after warmup.",
        fields: &[WARMUP, FINAL],
    },
    CallSchema {
        name: "cosine",
        positional: false,
        doc: "Cosine decay from the peak to `final` after warmup.",
        fields: &[WARMUP, FINAL],
    },
];

const NON_NEGATIVE: Type = at_least(0.0);

/// KL coefficient schedules.
pub const KL_SCHEDULES: &[CallSchema] = &[
    CallSchema {
        name: "constant",
        positional: true,
        doc: "The same coefficient at every step.",
        fields: &[field(
            "coefficient",
            NON_NEGATIVE,
            Required,
            "The KL coefficient.",
        )],
    },
    CallSchema {
        name: "linear",
        positional: true,
        doc: "From `start` at the first step to `end` at the last, linearly.",
        fields: START_AND_END_COEFFICIENTS,
    },
    CallSchema {
        name: "cosine",
        positional: true,
        doc: "From `start` to `end` along half a cosine.",
        fields: START_AND_END_COEFFICIENTS,
    },
    CallSchema {
        name: "adaptive",
        positional: true,
        doc: "A controller that steers the measured KL towards `target` (Ziegler et al., 2019).",
        fields: &[
            field(
                "target",
                above(0.0),
                Required,
                "KL to steer towards, in nats per token.",
            ),
            field(
                "horizon",
                integer_from(1),
                Required,
                "Steps over which the controller corrects an error.",
            ),
            field(
                "initial",
                NON_NEGATIVE,
                Value("0.01"),
                "Coefficient at the first step.",
            ),
        ],
    },
];

const CLIP: FieldSchema = field(
    "clip",
    above(0.0),
    Value("0.2"),
    "Clipping range of the probability ratio.",
);
const UPDATE_EPOCHS: FieldSchema = field(
    "epochs",
    Type::Integer {
        minimum: 1,
        maximum: 100,
    },
    Value("1"),
    "Optimisation passes over each batch of samples.",
);

/// RL algorithms.
pub const ALGORITHMS: &[CallSchema] = &[
    CallSchema {
        name: "ppo",
        positional: false,
        doc: "PPO with a value head initialised from the policy, GAE, clipped ratio and clipped values; KL as a per-token k1 penalty in the reward by default.",
        fields: &[
            CLIP,
            field("value_clip", above(0.0), Value("0.2"), "Clipping range of the value update."),
            field("gae_lambda", FRACTION, Value("0.95"), "GAE lambda."),
            field("gamma", FRACTION, Value("1.0"), "Discount."),
            field("value_coefficient", at_least(0.0), Value("0.5"), "Weight of the value loss."),
            UPDATE_EPOCHS,
        ],
    },
    CallSchema {
        name: "grpo",
        positional: false,
        doc: "GRPO: advantages normalised within each prompt's group, clipped ratio; KL as a k3 term in the loss by default.",
        fields: &[CLIP, UPDATE_EPOCHS],
    },
    CallSchema {
        name: "reinforce",
        positional: false,
        doc: "REINFORCE with the group mean as baseline; KL as a k1 penalty in the reward by default.",
        fields: &[],
    },
    CallSchema {
        name: "expert_iteration",
        positional: false,
        doc: "Sample `samples_per_prompt` answers per question, keep the correct ones once each, fine-tune on them; repeat.",
        fields: &[
            field("rounds", Type::Integer { minimum: 1, maximum: 100 }, Value("3"), "Rounds of sampling and fine-tuning."),
            field("restart", Type::Boolean, Value("true"), "Whether each round fine-tunes the base model again (`true`) or continues from the last round."),
            field("sft_epochs", Type::Integer { minimum: 1, maximum: 100 }, Value("2"), "Fine-tuning epochs per round."),
            field("sft_lr", above(0.0), Value("1e-4"), "Fine-tuning learning rate."),
        ],
    },
];

/// When evaluations run.
pub const EVALUATION_TIMES: &[CallSchema] = &[
    CallSchema {
        name: "log_steps",
        positional: true,
        doc: "Step 0, the last step, and `count` steps spaced evenly on a log scale in between.",
        fields: &[field(
            "count",
            Type::Integer {
                minimum: 1,
                maximum: 1000,
            },
            Required,
            "How many checkpoints.",
        )],
    },
    CallSchema {
        name: "every",
        positional: true,
        doc: "Step 0 and every `interval` steps, and the last step.",
        fields: &[field(
            "interval",
            integer_from(1),
            Required,
            "Steps between evaluations.",
        )],
    },
    CallSchema {
        name: "final",
        positional: false,
        doc: "The last step only.",
        fields: &[],
    },
];

const CHECKPOINTS: &[NameKind] = &[NameKind::Pretrain, NameKind::Rl];

/// Fields of a `pretrain` block.
pub const PRETRAIN: &[FieldSchema] = &[
    field(
        "model",
        Type::Reference(&[NameKind::Model]),
        Required,
        "The model to train.",
    ),
    field("data", Type::Mixture, Required, "The mixture to train on."),
    field(
        "tokens",
        Type::Integer {
            minimum: 1,
            maximum: 1_000_000_000_000,
        },
        Required,
        "Training budget in tokens.",
    ),
    field(
        "batch",
        Type::Integer {
            minimum: 1,
            maximum: 65_536,
        },
        Value("32"),
        "Sequences per step.",
    ),
    field(
        "sequence_length",
        Type::Integer {
            minimum: 8,
            maximum: 8192,
        },
        Derived("the model's `context`"),
        "Tokens per packed training sequence; at most the model's context.",
    ),
    field(
        "optimizer",
        Type::Call(OPTIMIZERS),
        Value("adamw()"),
        "The optimizer.",
    ),
    field(
        "schedule",
        Type::Call(LEARNING_RATE_SCHEDULES),
        Value("cosine(warmup = 2%, final = 10%)"),
        "Learning-rate schedule.",
    ),
    field(
        "gradient_clip",
        above(0.0),
        Value("1.0"),
        "Largest global gradient norm.",
    ),
    field(
        "checkpoint_every",
        integer_from(1),
        Value("200"),
        "Steps between checkpoints (a killed run resumes from the last).",
    ),
    field(
        "eval_every",
        integer_from(1),
        Value("100"),
        "Steps between held-out loss measurements.",
    ),
    field(
        "resources",
        Type::Call(RESOURCES),
        Absent,
        "What the stage's batch job asks for under `--executor slurm`; never in the key.",
    ),
];

/// Fields of an `rl` block.
pub const RL: &[FieldSchema] = &[
    field(
        "from",
        Type::Reference(CHECKPOINTS),
        Required,
        "The checkpoint to start from; also the frozen KL reference.",
    ),
    field(
        "algorithm",
        Type::Call(ALGORITHMS),
        Value("ppo()"),
        "The RL algorithm.",
    ),
    field(
        "prompts",
        Type::Source,
        Required,
        "Where the questions come from.",
    ),
    field(
        "samples_per_prompt",
        Type::Integer {
            minimum: 1,
            maximum: 4096,
        },
        Value("8"),
        "Answers sampled per question.",
    ),
    field(
        "prompts_per_step",
        Type::Integer {
            minimum: 1,
            maximum: 65_536,
        },
        Value("16"),
        "Questions per step.",
    ),
    field(
        "temperature",
        above(0.0),
        Value("1.0"),
        "Sampling temperature.",
    ),
    field(
        "top_p",
        Type::Number {
            minimum: 0.0,
            minimum_inclusive: false,
            maximum: 1.0,
            maximum_inclusive: true,
        },
        Value("1.0"),
        "Nucleus sampling mass.",
    ),
    field(
        "max_new_tokens",
        Type::Integer {
            minimum: 1,
            maximum: 8192,
        },
        Value("128"),
        "Longest answer in tokens.",
    ),
    field(
        "steps",
        integer_from(1),
        Derived("`epochs`, else 100"),
        "RL steps.",
    ),
    field(
        "epochs",
        above(0.0),
        Absent,
        "Passes over the prompts; sets `steps` to `ceil(epochs * problems / prompts_per_step)`.",
    ),
    field(
        "optimizer",
        Type::Call(OPTIMIZERS),
        Value("adamw(lr = 3e-4, weight_decay = 0)"),
        "The optimizer.",
    ),
    field(
        "schedule",
        Type::Call(LEARNING_RATE_SCHEDULES),
        Value("constant()"),
        "Learning-rate schedule.",
    ),
    field(
        "gradient_clip",
        above(0.0),
        Value("1.0"),
        "Largest global gradient norm.",
    ),
    field(
        "kl",
        Type::Call(KL_SCHEDULES),
        Value("constant(0)"),
        "KL coefficient towards the reference, per step.",
    ),
    field(
        "kl_estimator",
        Type::Choice(&["k1", "k2", "k3"]),
        Derived("the algorithm: `k3` for `grpo`, else `k1`"),
        "Estimator of the KL.",
    ),
    field(
        "kl_placement",
        Type::Choice(&["reward", "loss"]),
        Derived("the algorithm: `loss` for `grpo`, else `reward`"),
        "Whether the KL penalises the reward or is added to the loss.",
    ),
    field(
        "checkpoint_every",
        integer_from(1),
        Value("20"),
        "Steps between checkpoints.",
    ),
    field(
        "resources",
        Type::Call(RESOURCES),
        Absent,
        "What the stage's batch job asks for under `--executor slurm`; never in the key.",
    ),
];

/// Fields of an `eval` block.
pub const EVAL: &[FieldSchema] = &[
    field("models", Type::List(&Type::Reference(CHECKPOINTS)), Required, "The stages whose checkpoints are evaluated."),
    field("sets", Type::List(&Type::Source), Required, "The evaluation sets."),
    field("metrics", Type::List(&Type::Metric), Value("[pass@1, format_share, format_accuracy]"), "What to measure: `pass@k`, `forced_pass@1` (per format, greedy answers forced into it: `code` and `code_text` prefilled with their opening, `prose` barred from starting another's), `maj@k`, `format_share`, `format_accuracy`, `length`, `entropy`, `kl`."),
    field("at", Type::Call(EVALUATION_TIMES), Value("log_steps(8)"), "Which RL steps to evaluate (pretraining stages: the final checkpoint)."),
    field("samples", Type::Integer { minimum: 1, maximum: 4096 }, Value("16"), "Answers sampled per question for `pass@k`, `maj@k` and shares."),
    field("temperature", above(0.0), Value("1.0"), "Sampling temperature (`pass@1` is greedy)."),
    field("top_p", Type::Number { minimum: 0.0, minimum_inclusive: false, maximum: 1.0, maximum_inclusive: true }, Value("1.0"), "Nucleus sampling mass."),
    field("max_new_tokens", Type::Integer { minimum: 1, maximum: 8192 }, Value("128"), "Longest answer in tokens."),
    field("problems", integer_from(1), Value("200"), "Questions per set (the first ones)."),    field("resources", Type::Call(RESOURCES), Absent, "What each stage's batch job asks for under `--executor slurm`; never in the key."),
];

/// Resource calls: what a stage's Slurm job asks for (`docs/cluster.md`).
/// A field left out keeps the default of the kind of stage; `--resources`
/// on the command line overrides both. Never in a key: resources decide
/// where a stage runs, not what it computes.
pub const RESOURCES: &[CallSchema] = &[CallSchema {
    name: "slurm",
    positional: false,
    doc: "The CPUs, memory and time limit of the stage's batch job under `--executor slurm`.",
    fields: &[
        field("cpus", Type::Integer { minimum: 1, maximum: 4096 }, Absent, "CPUs of the job (`--cpus-per-task`); the stage uses as many threads. Default: 2 for pretraining and RL, else 1."),
        field("memory", Type::Integer { minimum: 1, maximum: 1_000_000_000 }, Absent, "Memory of the job in MiB (`--mem`; `16k` is 16,000 MiB). Default: 4096 for pretraining and RL, 2048 for evaluation, else 1024."),
        field("minutes", Type::Integer { minimum: 1, maximum: 1_000_000 }, Absent, "Time limit of the job in minutes (`--time`). Default: a day for pretraining and RL, 4 hours for evaluation, else 30 minutes."),
    ],
}];

/// Charts a report can draw.
pub const CHARTS: &[&str] = &[
    "format_share",
    "accuracy",
    "format_accuracy",
    "winner",
    "training",
    "run_table",
];

/// Fields of a `report` block.
pub const REPORT: &[FieldSchema] = &[
    field(
        "evals",
        Type::List(&Type::Reference(&[NameKind::Eval])),
        Derived("every `eval` of the experiment"),
        "The evaluations to report.",
    ),
    field(
        "charts",
        Type::List(&Type::Choice(CHARTS)),
        Value("[format_share, accuracy, format_accuracy, winner, training, run_table]"),
        "Which charts and tables: `format_share` (share of each format over RL steps), `accuracy` (pass@k and maj@k over RL steps), `format_accuracy` (accuracy within each format over RL steps), `winner` (each format's share at step 0 and at the end, and its accuracy at step 0), `training` (each RL stage's own metrics over its steps: reward, truncation and length per format, entropy, KL per token, prompts with equal rewards, gradient norm), `run_table` (the evaluations read; `echolab report` adds every stage with durations). One panel per sweep point, side by side.",
    ),
    field(
        "outputs",
        Type::List(&Type::Choice(&["html", "svg", "png", "csv"])),
        Value("[html, svg, png, csv]"),
        "Which files to write: `report.html` (self-contained: charts inline), each chart as `NAME.svg` and `NAME.png`, and `metrics.csv` (every value).",
    ),
    field(
        "resources",
        Type::Call(RESOURCES),
        Absent,
        "What the stage's batch job asks for under `--executor slurm`; never in the key.",
    ),
];

/// The preset values `(layers, width, heads, context)` of a model preset:
/// the model module's presets, so the language and the model always agree.
pub fn preset(name: &str) -> Option<(i64, i64, i64, i64)> {
    let config = crate::model::ModelConfig::preset(name)?;
    Some((
        config.layers as i64,
        config.width as i64,
        config.heads as i64,
        config.context as i64,
    ))
}

/// Every family of calls the language has, for code that walks the whole
/// catalog (the reference, the coverage tests).
pub const CALL_FAMILIES: &[&[CallSchema]] = &[
    SOURCES,
    MODELS,
    OPTIMIZERS,
    LEARNING_RATE_SCHEDULES,
    KL_SCHEDULES,
    ALGORITHMS,
    EVALUATION_TIMES,
    RESOURCES,
];

/// The fields of every block: experiment settings and each stage kind.
pub const BLOCKS: &[&[FieldSchema]] = &[EXPERIMENT_SETTINGS, PRETRAIN, RL, EVAL, REPORT];
