//! [`grade`]: a completion's format, its answer, and whether it is right.
//!
//! A completion is graded the way its format is graded in the paper:
//! - `code`: the function block (from the first `def name(` line through
//!   the indented, blank and comment lines and further `def`s that follow)
//!   is run in the [`interpreter`](super::interpreter), then
//!   `simple_math_problem()` is called if defined, else the first function;
//!   its return value is the answer. Text before or after the block is
//!   ignored.
//! - `code_text`: the first `<llm-code>` block is run; the value of its last
//!   line (an expression) is the answer; if the last line is not an
//!   expression, the last printed line is read instead. The model's own
//!   `<llm-code-output>` and `\boxed{}` are ignored.
//! - `prose` and unknown: the final answer is [`extract`]ed from the text.
//!
//! The completion is only the model's text after the prompt; the prompt is
//! never searched. A completion cut off before its end (no EOS) is graded
//! the same way and typically fails: an unclosed code block, a syntax
//! error, a function that falls off its end, or prose without a final
//! answer.

use super::answer::{extract, Answer};
use super::classifier::{classify, function_definition_line, Classified};
use super::interpreter::{self, InterpreterError, Limits, Value};

/// The name TinyGSM gives every solution function.
pub const TINY_GSM_FUNCTION: &str = "simple_math_problem";

/// The result of grading one completion.
#[derive(Debug, Clone, PartialEq)]
pub struct Grade {
    /// The completion's format.
    pub format: Classified,
    /// The answer it gave, if any.
    pub answer: Option<Answer>,
    /// Whether the answer equals the reference.
    pub correct: bool,
    /// Why there is no answer, when there is none.
    pub failure: Option<Failure>,
}

/// Why a completion has no answer.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Failure {
    /// Text with no final answer (`\boxed{}`, `####`, "the answer is"), or a
    /// final answer that is not a number.
    #[error("no final answer in the text")]
    NoAnswer,
    /// `<llm-code>` without a closing `</llm-code>` (usually a cut-off).
    #[error("`<llm-code>` block is not closed")]
    UnclosedCodeBlock,
    /// Running the code failed.
    #[error("running the code failed: {0}")]
    Interpreter(#[from] InterpreterError),
    /// The code produced no value (the function returned `None`, or the
    /// block's last line is not an expression and nothing was printed).
    #[error("the code produced no value")]
    NoValue,
    /// The code's value is not a number.
    #[error("the code's value `{value}` is not a number")]
    NotANumber {
        /// The value's Python `repr`, shortened to 80 characters.
        value: String,
    },
}

/// Grades `completion` against `reference` with the default [`Limits`].
pub fn grade(completion: &str, reference: &Answer) -> Grade {
    grade_with_limits(completion, reference, &Limits::default())
}

/// Grades `completion` against `reference`, running code within `limits`.
pub fn grade_with_limits(completion: &str, reference: &Answer, limits: &Limits) -> Grade {
    let (format, result) = answer_of(completion, limits);
    match result {
        Ok(answer) => Grade {
            format,
            answer: Some(answer),
            correct: answer == *reference,
            failure: None,
        },
        Err(failure) => Grade {
            format,
            answer: None,
            correct: false,
            failure: Some(failure),
        },
    }
}

/// The format of `completion` and the answer it gives (or why none), as
/// [`grade`] finds them; what majority voting needs.
pub fn answer_of(completion: &str, limits: &Limits) -> (Classified, Result<Answer, Failure>) {
    let format = classify(completion);
    let result = match format {
        Classified::Code => code_answer(completion, limits),
        Classified::CodeText => code_text_answer(completion, limits),
        Classified::Prose | Classified::Unknown => extract(completion).ok_or(Failure::NoAnswer),
    };
    (format, result)
}

fn code_answer(completion: &str, limits: &Limits) -> Result<Answer, Failure> {
    let source = function_block(completion).ok_or(Failure::NoAnswer)?;
    let name = source
        .contains(&format!("def {TINY_GSM_FUNCTION}"))
        .then_some(TINY_GSM_FUNCTION);
    let outcome = interpreter::run_function(source, limits, name)?;
    match outcome.value {
        None | Some(Value::None) => Err(Failure::NoValue),
        Some(value) => answer_from_value(&value),
    }
}

fn code_text_answer(completion: &str, limits: &Limits) -> Result<Answer, Failure> {
    const OPEN: &str = "<llm-code>";
    const CLOSE: &str = "</llm-code>";
    let start = completion.find(OPEN).ok_or(Failure::NoAnswer)? + OPEN.len();
    let length = completion[start..]
        .find(CLOSE)
        .ok_or(Failure::UnclosedCodeBlock)?;
    let outcome = interpreter::run(&completion[start..start + length], limits)?;
    match outcome.value {
        Some(Value::None) | None => {
            let last_line = outcome
                .printed
                .lines()
                .rev()
                .find(|line| !line.trim().is_empty());
            match last_line {
                Some(line) => Answer::parse(line).map_err(|_| Failure::NotANumber {
                    value: line.chars().take(80).collect(),
                }),
                None => Err(Failure::NoValue),
            }
        }
        Some(value) => answer_from_value(&value),
    }
}

fn answer_from_value(value: &Value) -> Result<Answer, Failure> {
    Answer::from_value(value).ok_or_else(|| Failure::NotANumber {
        value: value.to_python_repr().chars().take(80).collect(),
    })
}

/// The function definitions starting at the first `def name(` line: that
/// line and the following lines that are blank, indented, comments or
/// further `def`s.
pub fn function_block(completion: &str) -> Option<&str> {
    let start = function_definition_line(completion)?;
    let rest = &completion[start..];
    let mut end = 0;
    for (index, line) in rest.split_inclusive('\n').enumerate() {
        let continues = index == 0
            || line.trim().is_empty()
            || line.starts_with([' ', '\t', '#'])
            || line.starts_with("def ");
        if !continues {
            break;
        }
        end += line.len();
    }
    Some(&rest[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(text: &str) -> Answer {
        Answer::parse(text).unwrap()
    }

    #[test]
    fn function_block_stops_at_the_first_unindented_line() {
        let completion = "Here:\ndef f():\n    x = 1\n\n    return x\nprint(f())\nmore text";
        assert_eq!(
            function_block(completion),
            Some("def f():\n    x = 1\n\n    return x\n")
        );
    }

    #[test]
    fn code_text_falls_back_to_the_last_printed_line() {
        let completion = "<llm-code>\nx = 6 * 7\nprint(x)\n</llm-code>";
        let graded = grade(completion, &reference("42"));
        assert!(graded.correct, "{graded:?}");
        let silent = grade("<llm-code>\nx = 6 * 7\n</llm-code>", &reference("42"));
        assert_eq!(silent.failure, Some(Failure::NoValue));
    }

    #[test]
    fn failures_are_reported() {
        let unclosed = grade("<llm-code>\nx = 1\n", &reference("1"));
        assert_eq!(unclosed.failure, Some(Failure::UnclosedCodeBlock));
        let broken = grade("def f():\n    return 1 +\n", &reference("1"));
        assert!(matches!(
            broken.failure,
            Some(Failure::Interpreter(InterpreterError::Syntax { .. }))
        ));
        let no_return = grade("def f():\n    x = 1\n", &reference("1"));
        assert_eq!(no_return.failure, Some(Failure::NoValue));
        let list = grade("def f():\n    return [1]\n", &reference("1"));
        assert!(matches!(list.failure, Some(Failure::NotANumber { .. })));
    }
}
