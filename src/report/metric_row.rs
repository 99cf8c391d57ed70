//! [`MetricRow`]: one measured value with the labels that say where it comes
//! from, and `metrics.csv`, the report's table of every row, written and read.

use super::ReportError;

/// The header line of `metrics.csv`.
pub const CSV_HEADER: &str = "eval,model,point,replicate,step,set,metric,format,value";

/// One value an evaluation measured, labelled with its evaluation, model,
/// sweep point and replicate.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricRow {
    /// The `eval` block (`main`).
    pub eval: String,
    /// The evaluated stage (`base`, `tuned`).
    pub model: String,
    /// The sweep values of the evaluated stage (`kl=constant(0)`), empty when
    /// it is shared by every point.
    pub point: String,
    /// The replicate.
    pub replicate: i64,
    /// The RL step of the checkpoint (0 for a pretrained model).
    pub step: u64,
    /// The evaluation set.
    pub set: String,
    /// The metric (`pass@1`, `format_share`, ...).
    pub metric: String,
    /// The format of a per-format metric, empty otherwise.
    pub format: String,
    /// The value; `None` when undefined (accuracy within a format no answer used).
    pub value: Option<f64>,
}

impl MetricRow {
    /// The row of one `metrics.jsonl` line of an evaluation, labelled.
    /// `file` names the file in errors.
    pub fn from_json_line(
        line: &str,
        line_number: usize,
        file: &str,
        labels: (&str, &str, &str, i64),
    ) -> Result<MetricRow, ReportError> {
        let malformed = |message: String| ReportError::Malformed {
            file: file.to_string(),
            line: line_number,
            message,
        };
        let row: serde_json::Value =
            serde_json::from_str(line).map_err(|error| malformed(error.to_string()))?;
        let text = |name: &str| {
            row.get(name)
                .and_then(serde_json::Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        let step = row
            .get("step")
            .and_then(serde_json::Value::as_u64)
            .ok_or_else(|| malformed("no whole `step`".to_string()))?;
        let value = match row.get("value") {
            None | Some(serde_json::Value::Null) => None,
            Some(value) => Some(
                value
                    .as_f64()
                    .ok_or_else(|| malformed(format!("`value` {value} is not a number")))?,
            ),
        };
        let (eval, model, point, replicate) = labels;
        Ok(MetricRow {
            eval: eval.to_string(),
            model: model.to_string(),
            point: point.to_string(),
            replicate,
            step,
            set: text("set"),
            metric: text("metric"),
            format: text("format"),
            value,
        })
    }

    /// The row's line in `metrics.csv`, without the line break. Values are
    /// printed as `serde_json` prints them (shortest text that reads back to
    /// the same `f64`), an undefined value as `null`.
    pub fn csv_line(&self) -> String {
        let value = self.value.map_or_else(
            || "null".to_string(),
            |value| serde_json::Value::from(value).to_string(),
        );
        format!(
            "{},{},\"{}\",{},{},{},{},{},{}",
            self.eval,
            self.model,
            self.point.replace('"', "\"\""),
            self.replicate,
            self.step,
            self.set,
            self.metric,
            self.format,
            value,
        )
    }

    /// The label of the stage the row was measured on, without its replicate:
    /// `main:tuned[kl=constant(0)]`, as stage names are written.
    pub fn group_label(&self) -> String {
        if self.point.is_empty() {
            format!("{}:{}", self.eval, self.model)
        } else {
            format!("{}:{}[{}]", self.eval, self.model, self.point)
        }
    }
}

/// `metrics.csv`: the header and one line per row.
pub fn write_csv(rows: &[MetricRow]) -> String {
    let mut csv = String::with_capacity(64 * (rows.len() + 1));
    csv.push_str(CSV_HEADER);
    csv.push('\n');
    for row in rows {
        csv.push_str(&row.csv_line());
        csv.push('\n');
    }
    csv
}

/// Reads `metrics.csv` as [`write_csv`] writes it. `file` names it in errors.
pub fn read_csv(text: &str, file: &str) -> Result<Vec<MetricRow>, ReportError> {
    let mut rows = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line_number = index + 1;
        let malformed = |message: String| ReportError::Malformed {
            file: file.to_string(),
            line: line_number,
            message,
        };
        if index == 0 {
            if line != CSV_HEADER {
                return Err(malformed(format!("expected the header `{CSV_HEADER}`")));
            }
            continue;
        }
        if line.trim().is_empty() {
            continue;
        }
        let fields = split_csv_line(line);
        let [eval, model, point, replicate, step, set, metric, format, value] =
            <[String; 9]>::try_from(fields).map_err(|fields| {
                malformed(format!("expected 9 fields, found {}", fields.len()))
            })?;
        let replicate = replicate
            .parse::<i64>()
            .map_err(|_| malformed(format!("replicate `{replicate}` is not a whole number")))?;
        let step = step
            .parse::<u64>()
            .map_err(|_| malformed(format!("step `{step}` is not a whole number")))?;
        let value = match value.as_str() {
            "" | "null" => None,
            text => Some(
                text.parse::<f64>()
                    .map_err(|_| malformed(format!("value `{text}` is not a number")))?,
            ),
        };
        rows.push(MetricRow {
            eval,
            model,
            point,
            replicate,
            step,
            set,
            metric,
            format,
            value,
        });
    }
    Ok(rows)
}

/// The fields of one CSV line: commas separate, double quotes enclose a
/// field that may hold commas, `""` inside quotes is one quote.
fn split_csv_line(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut characters = line.chars().peekable();
    while let Some(character) = characters.next() {
        match (character, quoted) {
            ('"', true) if characters.peek() == Some(&'"') => {
                field.push('"');
                characters.next();
            }
            ('"', true) => quoted = false,
            ('"', false) if field.is_empty() => quoted = true,
            (',', false) => fields.push(std::mem::take(&mut field)),
            (other, _) => field.push(other),
        }
    }
    fields.push(field);
    fields
}

#[cfg(test)]
impl MetricRow {
    /// A row of evaluation `main` on the `held_out` set, for unit tests.
    pub(crate) fn held_out(
        model: &str,
        point: &str,
        replicate: i64,
        step: u64,
        (metric, format): (&str, &str),
        value: Option<f64>,
    ) -> MetricRow {
        MetricRow {
            eval: "main".into(),
            model: model.into(),
            point: point.into(),
            replicate,
            step,
            set: "held_out".into(),
            metric: metric.into(),
            format: format.into(),
            value,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(point: &str, value: Option<f64>) -> MetricRow {
        MetricRow {
            eval: "main".into(),
            model: "tuned".into(),
            point: point.into(),
            replicate: 1,
            step: 9,
            set: "held_out".into(),
            metric: "format_share".into(),
            format: "prose".into(),
            value,
        }
    }

    #[test]
    fn csv_reads_back_what_it_wrote_including_commas_quotes_and_nulls() {
        let rows = vec![
            row("kl=constant(0.01),top_p=0.95", Some(0.011331146218285305)),
            row("a \"quoted\" value", None),
            row("", Some(0.0)),
        ];
        let text = write_csv(&rows);
        assert!(text.contains(",0.011331146218285305\n"));
        assert!(text.contains(",null\n"));
        assert!(text.contains(",0.0\n"));
        assert_eq!(read_csv(&text, "metrics.csv").unwrap(), rows);
    }

    #[test]
    fn a_json_line_keeps_its_value_exactly_and_null_as_none() {
        let line = r#"{"step":40,"set":"held_out","metric":"format_accuracy","format":"prose","value":0.04366197183098591}"#;
        let parsed = MetricRow::from_json_line(line, 1, "m", ("main", "tuned", "", 0)).unwrap();
        assert_eq!(parsed.value, Some(0.04366197183098591));
        assert_eq!(parsed.step, 40);
        let null =
            r#"{"step":0,"set":"s","metric":"format_accuracy","format":"unknown","value":null}"#;
        let parsed = MetricRow::from_json_line(null, 2, "m", ("main", "base", "", 0)).unwrap();
        assert_eq!(parsed.value, None);
        let error =
            MetricRow::from_json_line("{\"set\":1}", 3, "m", ("e", "m", "", 0)).unwrap_err();
        assert_eq!(error.to_string(), "`m` line 3: no whole `step`");
    }
}
