//! [`EvalRow`]: one line of an evaluation's `metrics.jsonl`, written and
//! read back (from the parts a killed evaluation kept) to the same value.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize};

use super::Classified;

/// The formats in the order rows are written.
pub(super) const FORMATS: [Classified; 4] = [
    Classified::Code,
    Classified::CodeText,
    Classified::Prose,
    Classified::Unknown,
];

/// One line of `metrics.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EvalRow {
    /// The checkpoint's step.
    pub step: u64,
    /// The set's name.
    pub set: String,
    /// The metric's name (`pass@1`, `maj@64`, `format_share`, ...).
    pub metric: String,
    /// The format, for `format_share`, `format_accuracy` and
    /// `forced_pass@1`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format: Option<&'static str>,
    /// The value; `null` when undefined (the accuracy of a format no
    /// answer was written in).
    pub value: Option<f64>,
}

/// An [`EvalRow`] as read back from JSON, its format any string.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StoredRow {
    step: u64,
    set: String,
    metric: String,
    #[serde(default)]
    format: Option<String>,
    value: Option<f64>,
}

impl<'de> Deserialize<'de> for EvalRow {
    /// The row, its format one of the names of `FORMATS`.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let stored = StoredRow::deserialize(deserializer)?;
        let format = match stored.format {
            None => None,
            Some(text) => Some(
                FORMATS
                    .iter()
                    .map(|format| format.name())
                    .find(|name| *name == text)
                    .ok_or_else(|| D::Error::custom(format!("unknown format `{text}`")))?,
            ),
        };
        Ok(EvalRow {
            step: stored.step,
            set: stored.set,
            metric: stored.metric,
            format,
            value: stored.value,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_reads_back_to_the_same_value_and_an_unknown_format_is_refused() {
        let rows = [
            EvalRow {
                step: 10,
                set: "held_out".into(),
                metric: "format_share".into(),
                format: Some("code_text"),
                value: Some(0.011331146218285305),
            },
            EvalRow {
                step: 0,
                set: "held_out".into(),
                metric: "pass@1".into(),
                format: None,
                value: None,
            },
        ];
        for row in &rows {
            let text = serde_json::to_string(row).unwrap();
            let read: EvalRow = serde_json::from_str(&text).unwrap();
            assert_eq!(&read, row);
            assert_eq!(serde_json::to_string(&read).unwrap(), text);
        }
        let error = serde_json::from_str::<EvalRow>(
            r#"{"step":0,"set":"s","metric":"format_share","format":"latex","value":1.0}"#,
        )
        .unwrap_err();
        assert!(
            error.to_string().contains("unknown format `latex`"),
            "{error}"
        );
    }
}
