//! [`Resources`]: what a stage's batch job asks Slurm for.
//!
//! Each kind of stage has a default (training asks for more than making
//! data); a stage's `resources = slurm(cpus = N, memory = MIB, minutes = M)`
//! in the experiment file overrides it for that stage, and
//! `--resources KIND:cpus=N,memory=SIZE,time=LIMIT` on the command line
//! overrides both for every stage of one kind, each figure on its own. The
//! figures only size the job: they never reach a stage's key or its outputs
//! (the kernels give the same bytes with any number of threads).

use std::collections::BTreeMap;
use std::fmt;

use super::SlurmError;
use crate::plan::{Stage, StageKind};

/// The CPUs, memory and time one batch job asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resources {
    /// CPUs for the job's one task (`--cpus-per-task`); the stage uses as
    /// many threads.
    pub cpus: u32,
    /// Memory for the job, in MiB (`--mem`).
    pub memory_mebibytes: u64,
    /// The job's time limit, in minutes (`--time`).
    pub time_minutes: u64,
}

impl Resources {
    /// The default for a kind of stage.
    pub fn default_for(kind: StageKind) -> Resources {
        match kind {
            StageKind::Data | StageKind::Tokenizer | StageKind::Report => Resources {
                cpus: 1,
                memory_mebibytes: 1024,
                time_minutes: 30,
            },
            StageKind::Eval => Resources {
                cpus: 1,
                memory_mebibytes: 2048,
                time_minutes: 4 * 60,
            },
            StageKind::Pretrain | StageKind::Rl => Resources {
                cpus: 2,
                memory_mebibytes: 4096,
                time_minutes: 24 * 60,
            },
        }
    }

    /// The time limit as Slurm writes it, `D-HH:MM:SS` or `HH:MM:SS`.
    pub fn time_limit(&self) -> String {
        let days = self.time_minutes / (24 * 60);
        let hours = self.time_minutes / 60 % 24;
        let minutes = self.time_minutes % 60;
        if days > 0 {
            format!("{days}-{hours:02}:{minutes:02}:00")
        } else {
            format!("{hours:02}:{minutes:02}:00")
        }
    }
}

impl fmt::Display for Resources {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            formatter,
            "{} CPU, {} MiB, {}",
            self.cpus,
            self.memory_mebibytes,
            self.time_limit()
        )
    }
}

/// Some of the three figures; the others are left as they are.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ResourceOverride {
    /// CPUs.
    pub cpus: Option<u32>,
    /// Memory in MiB.
    pub memory_mebibytes: Option<u64>,
    /// Time limit in minutes.
    pub time_minutes: Option<u64>,
}

impl ResourceOverride {
    /// `resources` with the figures this one gives replaced.
    pub fn apply_to(&self, resources: Resources) -> Resources {
        Resources {
            cpus: self.cpus.unwrap_or(resources.cpus),
            memory_mebibytes: self.memory_mebibytes.unwrap_or(resources.memory_mebibytes),
            time_minutes: self.time_minutes.unwrap_or(resources.time_minutes),
        }
    }

    /// The `resources` setting of a stage (`slurm(cpus, memory, minutes)`
    /// in its block), if it has one.
    pub fn of_stage(stage: &Stage) -> ResourceOverride {
        let resources = &stage.settings["resources"];
        let figure = |name: &str| resources[name].as_u64().filter(|value| *value > 0);
        ResourceOverride {
            cpus: figure("cpus").and_then(|cpus| u32::try_from(cpus).ok()),
            memory_mebibytes: figure("memory"),
            time_minutes: figure("minutes"),
        }
    }
}

/// The resources of every stage: the defaults of its kind, then its own
/// `resources`, then the command line's overrides for its kind.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResourceTable {
    overrides: BTreeMap<StageKind, ResourceOverride>,
}

impl ResourceTable {
    /// What a stage of `kind` without its own `resources` asks for.
    pub fn for_kind(&self, kind: StageKind) -> Resources {
        self.overrides
            .get(&kind)
            .copied()
            .unwrap_or_default()
            .apply_to(Resources::default_for(kind))
    }

    /// What `stage` asks for.
    pub fn for_stage(&self, stage: &Stage) -> Resources {
        let own = ResourceOverride::of_stage(stage).apply_to(Resources::default_for(stage.kind));
        self.overrides
            .get(&stage.kind)
            .copied()
            .unwrap_or_default()
            .apply_to(own)
    }

    /// Applies one override, `KIND:cpus=N,memory=SIZE,time=LIMIT` (any of
    /// the three; SIZE in MiB or with a `K`, `M`, `G` or `T` suffix; LIMIT
    /// in minutes or as `[D-]HH:MM[:SS]`).
    pub fn apply(&mut self, text: &str) -> Result<(), SlurmError> {
        let invalid = |message: String| SlurmError::InvalidResources {
            text: text.to_string(),
            message,
        };
        let (kind_name, settings) = text
            .split_once(':')
            .ok_or_else(|| invalid("expected `KIND:NAME=VALUE,...`".to_string()))?;
        let kind = ALL_KINDS
            .into_iter()
            .find(|kind| kind.name() == kind_name.trim())
            .ok_or_else(|| {
                let names: Vec<&str> = ALL_KINDS.iter().map(|kind| kind.name()).collect();
                invalid(format!(
                    "no kind of stage `{kind_name}`; the kinds are {}",
                    names.join(", ")
                ))
            })?;
        let mut resources = self.overrides.get(&kind).copied().unwrap_or_default();
        for setting in settings
            .split(',')
            .filter(|setting| !setting.trim().is_empty())
        {
            let (name, value) = setting
                .split_once('=')
                .ok_or_else(|| invalid(format!("`{setting}` is not `NAME=VALUE`")))?;
            let value = value.trim();
            match name.trim() {
                "cpus" => {
                    resources.cpus =
                        Some(value.parse().ok().filter(|cpus| *cpus > 0).ok_or_else(|| {
                            invalid(format!("`{value}` is not a number of CPUs"))
                        })?);
                }
                "memory" => {
                    resources.memory_mebibytes = Some(
                        parse_memory(value)
                            .ok_or_else(|| invalid(format!("`{value}` is not a memory size")))?,
                    );
                }
                "time" => {
                    resources.time_minutes = Some(
                        parse_time(value)
                            .ok_or_else(|| invalid(format!("`{value}` is not a time limit")))?,
                    );
                }
                other => {
                    return Err(invalid(format!(
                        "no resource `{other}`; the resources are cpus, memory, time"
                    )))
                }
            }
        }
        self.overrides.insert(kind, resources);
        Ok(())
    }
}

const ALL_KINDS: [StageKind; 6] = [
    StageKind::Data,
    StageKind::Tokenizer,
    StageKind::Pretrain,
    StageKind::Rl,
    StageKind::Eval,
    StageKind::Report,
];

/// A memory size in MiB: a number of MiB, or with a `K`, `M`, `G`, `T` suffix.
fn parse_memory(text: &str) -> Option<u64> {
    let upper = text.to_ascii_uppercase();
    let trimmed = upper.trim_end_matches('B');
    let (number, factor_kib) = match trimmed.chars().last()? {
        'K' => (&trimmed[..trimmed.len() - 1], 1u64),
        'M' => (&trimmed[..trimmed.len() - 1], 1024),
        'G' => (&trimmed[..trimmed.len() - 1], 1024 * 1024),
        'T' => (&trimmed[..trimmed.len() - 1], 1024 * 1024 * 1024),
        _ => (trimmed, 1024),
    };
    let kibibytes = number.trim().parse::<u64>().ok()?.checked_mul(factor_kib)?;
    let mebibytes = kibibytes.div_ceil(1024);
    (mebibytes > 0).then_some(mebibytes)
}

/// A time limit in minutes: minutes, or `[D-]HH:MM[:SS]` (seconds round up).
fn parse_time(text: &str) -> Option<u64> {
    let (days, clock) = match text.split_once('-') {
        Some((days, clock)) => (days.parse::<u64>().ok()?, clock),
        None => (0, text),
    };
    let parts: Vec<u64> = clock
        .split(':')
        .map(|part| part.parse::<u64>().ok())
        .collect::<Option<_>>()?;
    let minutes = match parts.as_slice() {
        [minutes] if days == 0 => *minutes,
        [hours, minutes] => hours * 60 + minutes,
        [hours, minutes, seconds] => hours * 60 + minutes + u64::from(*seconds > 0),
        _ => return None,
    };
    let total = days.checked_mul(24 * 60)?.checked_add(minutes)?;
    (total > 0).then_some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_change_only_what_they_name() {
        let mut table = ResourceTable::default();
        table.apply("pretrain:cpus=8,memory=16G").unwrap();
        table.apply("eval:time=1-02:30").unwrap();
        let pretrain = table.for_kind(StageKind::Pretrain);
        assert_eq!(pretrain.cpus, 8);
        assert_eq!(pretrain.memory_mebibytes, 16 * 1024);
        assert_eq!(
            pretrain.time_minutes,
            Resources::default_for(StageKind::Pretrain).time_minutes
        );
        assert_eq!(table.for_kind(StageKind::Eval).time_minutes, 24 * 60 + 150);
        assert_eq!(table.for_kind(StageKind::Eval).time_limit(), "1-02:30:00");
        assert_eq!(
            table.for_kind(StageKind::Data),
            Resources::default_for(StageKind::Data)
        );
    }

    #[test]
    fn a_stage_setting_sits_between_the_default_and_the_command_line() {
        let stage = Stage {
            name: "base".to_string(),
            kind: StageKind::Pretrain,
            key: crate::plan::StageKey("00".to_string()),
            parameters: serde_json::Value::Null,
            settings: serde_json::json!({
                "checkpoint_every": 200,
                "resources": { "kind": "slurm", "cpus": 6, "minutes": 90 },
            }),
            upstream: BTreeMap::new(),
            inputs: BTreeMap::new(),
        };
        let mut table = ResourceTable::default();
        let default = Resources::default_for(StageKind::Pretrain);
        assert_eq!(
            table.for_stage(&stage),
            Resources {
                cpus: 6,
                memory_mebibytes: default.memory_mebibytes,
                time_minutes: 90,
            }
        );
        table.apply("pretrain:cpus=3").unwrap();
        assert_eq!(table.for_stage(&stage).cpus, 3);
        assert_eq!(table.for_stage(&stage).time_minutes, 90);
    }

    #[test]
    fn sizes_and_limits_parse() {
        assert_eq!(parse_memory("512"), Some(512));
        assert_eq!(parse_memory("2g"), Some(2048));
        assert_eq!(parse_memory("1536K"), Some(2));
        assert_eq!(parse_memory("0"), None);
        assert_eq!(parse_time("90"), Some(90));
        assert_eq!(parse_time("01:00:01"), Some(61));
        assert_eq!(parse_time("2-00:00"), Some(2880));
        assert_eq!(parse_time("x"), None);
    }

    #[test]
    fn bad_overrides_are_refused_with_the_reason() {
        let mut table = ResourceTable::default();
        let error = table.apply("pretrian:cpus=2").unwrap_err().to_string();
        assert!(error.contains("no kind of stage `pretrian`"), "{error}");
        let error = table.apply("rl:gpus=1").unwrap_err().to_string();
        assert!(error.contains("no resource `gpus`"), "{error}");
        let error = table.apply("rl:cpus=0").unwrap_err().to_string();
        assert!(error.contains("not a number of CPUs"), "{error}");
    }
}
