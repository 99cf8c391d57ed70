//! GSM8K: the real grade-school math set, turned into [`Problem`]s from its
//! calculator annotations so that every problem can be written in all three
//! formats.
//!
//! A GSM8K answer is prose with annotations such as `<<48/2=24>>` and a
//! last line `#### 72`. Each annotation becomes one step (`step_1 = 48 / 2`);
//! a literal equal to an earlier step's result becomes a reference to that
//! step, so the code reads as a chain. The answer is the last step whose
//! value is the `#### N` answer. When no annotation reaches it, the last
//! plain `expression = N` written in the text (outside annotations) is used.
//! The prose format is GSM8K's own text with the annotations removed.
//! A problem that cannot be converted is kept out of the documents and
//! reported with an [`Unconvertible`] reason; it is never dropped silently.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::jsonl::parse_answer;
use super::{
    render, DataError, Document, Expression, Format, Number, Operation, Problem, RenderOptions,
    Split, Step,
};
use crate::input_file::{self, DATA_FILE_LIMIT};

/// The source name GSM8K documents carry.
pub const SOURCE: &str = "gsm8k";

/// Why a GSM8K problem could not be turned into steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unconvertible {
    /// The solution has no `<<...>>` annotation and no written equation
    /// giving the answer.
    NoCalculations,
    /// An annotation is not `expression=number` over `+ - * / //`,
    /// parentheses and numbers (GSM8K has a few with a missing operand).
    MalformedAnnotation,
    /// An annotation's written result differs from its expression's value.
    AnnotationMismatch,
    /// No annotation nor written equation computes the `#### N` answer.
    AnswerNotComputed,
}

impl Unconvertible {
    /// Every reason, in report order.
    pub const ALL: [Unconvertible; 4] = [
        Unconvertible::NoCalculations,
        Unconvertible::MalformedAnnotation,
        Unconvertible::AnnotationMismatch,
        Unconvertible::AnswerNotComputed,
    ];

    /// The reason's snake_case name.
    pub fn name(self) -> &'static str {
        match self {
            Unconvertible::NoCalculations => "no_calculations",
            Unconvertible::MalformedAnnotation => "malformed_annotation",
            Unconvertible::AnnotationMismatch => "annotation_mismatch",
            Unconvertible::AnswerNotComputed => "answer_not_computed",
        }
    }
}

/// One problem that could not be converted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    /// The 1-based line of the JSONL file.
    pub line: usize,
    /// Why.
    pub reason: Unconvertible,
}

/// The result of converting one GSM8K file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conversion {
    /// The converted problems as documents, in file order.
    pub documents: Vec<Document>,
    /// The problems that could not be converted, in file order.
    pub failures: Vec<Failure>,
}

impl Conversion {
    /// Problems read: converted plus unconvertible.
    pub fn total(&self) -> usize {
        self.documents.len() + self.failures.len()
    }

    /// How many failures there are of each reason (every reason present,
    /// zero included).
    pub fn counts(&self) -> BTreeMap<Unconvertible, usize> {
        let mut counts: BTreeMap<Unconvertible, usize> = Unconvertible::ALL
            .iter()
            .map(|reason| (*reason, 0))
            .collect();
        for failure in &self.failures {
            *counts.entry(failure.reason).or_default() += 1;
        }
        counts
    }
}

/// Reads `dir/{split}.jsonl` and renders every problem in `format` (or as
/// a question only when `format` is `None`, in which case only the answer
/// must parse and nothing is unconvertible). The file must be a regular
/// file of at most [`DATA_FILE_LIMIT`] bytes.
pub fn load(dir: &Path, split: Split, format: Option<Format>) -> Result<Conversion, DataError> {
    let path = dir.join(format!("{}.jsonl", split.name()));
    let text =
        input_file::read_to_string(&path, DATA_FILE_LIMIT).map_err(|source| DataError::Io {
            path: path.clone(),
            source,
        })?;
    load_text(&text, &path, split, format)
}

/// GSM8K as shipped with echolab (`data/gsm8k/`, MIT licence), built into
/// the binary so that an experiment needs no download and no data folder.
pub fn built_in(split: Split) -> &'static str {
    match split {
        Split::Train => include_str!("../../data/gsm8k/train.jsonl"),
        Split::Test => include_str!("../../data/gsm8k/test.jsonl"),
    }
}

/// Like [`load`], from the text of a `{split}.jsonl` file; `path` names it
/// in errors.
pub fn load_text(
    text: &str,
    path: &Path,
    split: Split,
    format: Option<Format>,
) -> Result<Conversion, DataError> {
    let path = path.to_path_buf();
    let mut conversion = Conversion {
        documents: Vec::new(),
        failures: Vec::new(),
    };
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let error = |message: String| DataError::Line {
            path: path.clone(),
            line: index + 1,
            message,
        };
        let value: Value = serde_json::from_str(line)
            .map_err(|problem| error(format!("invalid json: {problem}")))?;
        let field = |key: &str| match value.get(key) {
            Some(Value::String(text)) => Ok(text.clone()),
            _ => Err(error(format!("missing string field `{key}`"))),
        };
        let question = field("question")?;
        let answer = field("answer")?;
        let reference = parse_answer(&answer)
            .map_err(|_| error("the `answer` has no `#### N` number".to_string()))?;
        let solution = match format {
            None => None,
            Some(format) => match convert(&question, &answer, reference) {
                Ok(problem) => render(&problem, format, RenderOptions::default()),
                Err(reason) => {
                    conversion.failures.push(Failure {
                        line: index + 1,
                        reason,
                    });
                    continue;
                }
            },
        };
        conversion.documents.push(Document {
            source: SOURCE.to_string(),
            format,
            question,
            solution,
            answer: reference.to_string(),
            noisy: false,
            split,
        });
    }
    Ok(conversion)
}

/// Turns one GSM8K problem into steps; `reference` is its `#### N` answer.
pub fn convert(question: &str, answer: &str, reference: Number) -> Result<Problem, Unconvertible> {
    let body = answer.rsplit_once("####").map_or(answer, |(body, _)| body);
    let mut steps: Vec<Step> = Vec::new();
    let mut values: Vec<Number> = Vec::new();
    let mut rest = body;
    let mut prose = String::new();
    while let Some(open) = rest.find("<<") {
        prose.push_str(&rest[..open]);
        let after = &rest[open + 2..];
        let close = after.find(">>").ok_or(Unconvertible::MalformedAnnotation)?;
        let annotation = &after[..close];
        rest = &after[close + 2..];
        let (left, right) = annotation
            .rsplit_once('=')
            .ok_or(Unconvertible::MalformedAnnotation)?;
        let expression = parse_expression(left).ok_or(Unconvertible::MalformedAnnotation)?;
        let written = Number::parse(right).map_err(|_| Unconvertible::MalformedAnnotation)?;
        let value = expression
            .evaluate(&[], &values)
            .ok_or(Unconvertible::AnnotationMismatch)?;
        if value != written {
            return Err(Unconvertible::AnnotationMismatch);
        }
        push_step(&mut steps, &mut values, expression, value);
    }
    prose.push_str(rest);
    let mut answer_step = values.iter().rposition(|value| *value == reference);
    if answer_step.is_none() {
        if let Some(expression) = written_equation(&prose, reference) {
            push_step(&mut steps, &mut values, expression, reference);
            answer_step = Some(steps.len() - 1);
        }
    }
    let Some(answer_step) = answer_step else {
        return Err(if steps.is_empty() {
            Unconvertible::NoCalculations
        } else {
            Unconvertible::AnswerNotComputed
        });
    };
    Ok(Problem {
        question: question.to_string(),
        givens: Vec::new(),
        steps,
        answer_step,
        reference,
        whole_numbers: false,
        prose: Some(prose.trim().to_string()),
    })
}

/// Adds a step, turning literals equal to an earlier step's value into
/// references to the latest such step.
fn push_step(
    steps: &mut Vec<Step>,
    values: &mut Vec<Number>,
    expression: Expression,
    value: Number,
) {
    let expression = link(expression, values);
    steps.push(Step {
        name: format!("step_{}", steps.len() + 1),
        expression,
        sentence: "{arithmetic}.".to_string(),
        slip: None,
    });
    values.push(value);
}

fn link(expression: Expression, values: &[Number]) -> Expression {
    match expression {
        Expression::Literal(value) => match values.iter().rposition(|earlier| *earlier == value) {
            Some(index) => Expression::Step(index),
            None => Expression::Literal(value),
        },
        Expression::Binary {
            operation,
            left,
            right,
        } => Expression::binary(operation, link(*left, values), link(*right, values)),
        other => other,
    }
}

/// The last `expression = reference` written in plain text, with `x` and
/// `×` read as multiplication, `−` and `–` as minus, and `$` and commas
/// ignored.
fn written_equation(text: &str, reference: Number) -> Option<Expression> {
    let allowed =
        |character: char| character.is_ascii_digit() || " .,+-*/x×−–()$".contains(character);
    let mut found = None;
    for (position, _) in text.match_indices('=') {
        let before = &text[..position];
        let start = before
            .char_indices()
            .rev()
            .take_while(|(_, character)| allowed(*character))
            .last()
            .map_or(position, |(index, _)| index);
        let left: String = before[start..]
            .chars()
            .filter(|character| !matches!(character, '$' | ','))
            .map(|character| match character {
                'x' | '×' => '*',
                '−' | '–' => '-',
                other => other,
            })
            .collect();
        let after = text[position + 1..].trim_start().trim_start_matches('$');
        let number: String = after
            .chars()
            .take_while(|character| character.is_ascii_digit() || matches!(character, '.' | ','))
            .collect();
        let Ok(written) = Number::parse(number.trim_end_matches('.')) else {
            continue;
        };
        let Some(expression) = parse_expression(&left) else {
            continue;
        };
        if matches!(expression, Expression::Binary { .. })
            && written == reference
            && expression.evaluate(&[], &[]) == Some(reference)
        {
            found = Some(expression);
        }
    }
    found
}

/// Parses `+ - * / //`, parentheses, unary signs and numbers (`1,200`, `.5`).
pub fn parse_expression(text: &str) -> Option<Expression> {
    let characters: Vec<char> = text
        .chars()
        .filter(|character| !character.is_whitespace())
        .collect();
    let mut parser = Parser {
        characters,
        position: 0,
    };
    let expression = parser.sum()?;
    (parser.position == parser.characters.len()).then_some(expression)
}

struct Parser {
    characters: Vec<char>,
    position: usize,
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.characters.get(self.position).copied()
    }

    fn sum(&mut self) -> Option<Expression> {
        let mut left = self.product()?;
        while let Some(symbol @ ('+' | '-')) = self.peek() {
            self.position += 1;
            let right = self.product()?;
            let operation = if symbol == '+' {
                Operation::Add
            } else {
                Operation::Subtract
            };
            left = Expression::binary(operation, left, right);
        }
        Some(left)
    }

    fn product(&mut self) -> Option<Expression> {
        let mut left = self.factor()?;
        while let Some(symbol @ ('*' | '/')) = self.peek() {
            self.position += 1;
            let floor = symbol == '/' && self.peek() == Some('/');
            if floor {
                self.position += 1;
            }
            let right = self.factor()?;
            let operation = match (symbol, floor) {
                ('*', _) => Operation::Multiply,
                (_, true) => Operation::FloorDivide,
                _ => Operation::Divide,
            };
            left = Expression::binary(operation, left, right);
        }
        Some(left)
    }

    fn factor(&mut self) -> Option<Expression> {
        match self.peek()? {
            '-' => {
                self.position += 1;
                match self.factor()? {
                    Expression::Literal(value) => Some(Expression::Literal(
                        Number::whole(0).checked_subtract(value)?,
                    )),
                    inner => Some(Expression::binary(
                        Operation::Subtract,
                        Expression::Literal(Number::whole(0)),
                        inner,
                    )),
                }
            }
            '+' => {
                self.position += 1;
                self.factor()
            }
            '(' => {
                self.position += 1;
                let inner = self.sum()?;
                (self.peek()? == ')').then_some(())?;
                self.position += 1;
                Some(inner)
            }
            _ => {
                let start = self.position;
                while matches!(self.peek(), Some(character) if character.is_ascii_digit() || character == '.' || character == ',')
                {
                    self.position += 1;
                }
                let text: String = self.characters[start..self.position].iter().collect();
                Number::parse(&text).ok().map(Expression::Literal)
            }
        }
    }
}
