//! Report stages: every evaluation's metrics gathered into one table.

use serde::Deserialize;

use super::{StageContext, StageError};

#[derive(Deserialize)]
struct Series {
    role: String,
    eval: String,
    model: String,
    point: String,
    replicate: i64,
}

#[derive(Deserialize)]
struct Parameters {
    series: Vec<Series>,
}

/// Gathers every evaluation's `metrics.jsonl` into `metrics.csv`, one row
/// per measured value, labelled with its evaluation, model, sweep point and
/// replicate.
pub(super) fn run(context: &mut StageContext<'_>) -> Result<(), StageError> {
    let parameters: Parameters = context.parameters()?;
    let mut csv = String::from("eval,model,point,replicate,step,set,metric,format,value\n");
    for series in &parameters.series {
        let entry = context.upstream(&series.role)?;
        let path = entry.artifact("metrics.jsonl");
        let text = std::fs::read_to_string(&path).map_err(|source| StageError::Io {
            action: "read",
            path: path.clone(),
            source,
        })?;
        for line in text.lines().filter(|line| !line.trim().is_empty()) {
            let row: serde_json::Value = serde_json::from_str(line)
                .map_err(|error| StageError::Other(format!("`{}`: {error}", path.display())))?;
            let field = |name: &str| {
                row.get(name).map_or_else(String::new, |value| {
                    value
                        .as_str()
                        .map_or_else(|| value.to_string(), str::to_string)
                })
            };
            csv.push_str(&format!(
                "{},{},\"{}\",{},{},{},{},{},{}\n",
                series.eval,
                series.model,
                series.point.replace('"', "\"\""),
                series.replicate,
                field("step"),
                field("set"),
                field("metric"),
                field("format"),
                field("value"),
            ));
        }
    }
    context.write("metrics.csv", csv.as_bytes())
}
