//! Renderers: one [`Problem`] written in each of the three [`Format`]s,
//! following the shapes of the paper's three sources.
//!
//! - `code` (TinyGSM): `def simple_math_problem() -> int:`, an optional
//!   docstring restating the question, one variable per quantity,
//!   `result = ...`, `return result`.
//! - `code_text` (OpenMathInstruct-1): a sentence, an `<llm-code>` block whose
//!   last line is the answer's variable, its `<llm-code-output>`, and
//!   `Thus, the answer is \boxed{N}.`
//! - `prose` (OpenMathInstruct-2): one sentence per step with the arithmetic
//!   written out (`12 * 3 = 36`), then `Thus, the answer is \boxed{N}.`
//!
//! The code uses only assignments, `+ - * / //`, parentheses, number
//! literals and one function with a `return`, so the evaluation module's
//! small Python interpreter can run it. Formats are told apart by a simple
//! rule: code contains `def simple_math_problem`, code_text contains
//! `<llm-code>`, prose contains neither.
//!
//! [`solution_opening`] is the text every solution of a format starts with
//! (code and code_text have one, prose has none). The renderers write it
//! from the same constants, so the evaluation's format forcing, which
//! prefills an answer with it, cannot drift from the training data.

use super::{Expression, Format, Number, Operation, Problem};

/// Choices that change how a problem is written but not what it says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RenderOptions {
    /// Restate the question in a docstring in the `code` format, as TinyGSM
    /// does (longer documents; the paper's shape).
    pub docstring: bool,
}

impl Default for RenderOptions {
    fn default() -> Self {
        RenderOptions { docstring: true }
    }
}

/// The line every `code_text` solution starts with.
pub const CODE_TEXT_OPENING: &str = "Let's solve this problem using Python code.";

/// The first line of every `code` solution (with its newline): the
/// function's name and signature never vary, with or without a docstring.
pub const CODE_SOLUTION_OPENING: &str = "def simple_math_problem() -> int:\n";

/// The text every `code_text` solution starts with: [`CODE_TEXT_OPENING`],
/// a newline and the line that opens the code block.
pub const CODE_TEXT_SOLUTION_OPENING: &str =
    "Let's solve this problem using Python code.\n<llm-code>\n";

/// The text every solution in `format` starts with; empty for prose, whose
/// first sentence depends on the problem.
pub fn solution_opening(format: Format) -> &'static str {
    match format {
        Format::Code => CODE_SOLUTION_OPENING,
        Format::CodeText => CODE_TEXT_SOLUTION_OPENING,
        Format::Prose => "",
    }
}

/// The solution of `problem` in `format`; `None` if its arithmetic fails
/// (a division by zero), which the sources never produce.
pub fn render(problem: &Problem, format: Format, options: RenderOptions) -> Option<String> {
    let values = problem.step_values()?;
    let answer = *values.get(problem.answer_step)?;
    Some(match format {
        Format::Code => render_code(problem, options),
        Format::CodeText => render_code_text(problem, answer),
        Format::Prose => render_prose(problem, &values, answer),
    })
}

/// The closing sentence of `code_text` and `prose` solutions.
pub fn closing_sentence(answer: Number) -> String {
    format!("Thus, the answer is \\boxed{{{answer}}}.")
}

fn python_leaf(problem: &Problem) -> impl Fn(&Expression) -> String + '_ {
    move |expression: &Expression| match expression {
        Expression::Literal(value) => python_number(*value),
        Expression::Given(index) => problem
            .givens
            .get(*index)
            .map_or_else(|| "undefined".to_string(), |given| given.name.clone()),
        Expression::Step(index) => problem
            .steps
            .get(*index)
            .map_or_else(|| "undefined".to_string(), |step| step.name.clone()),
        Expression::Binary { .. } => String::new(),
    }
}

/// A Python literal for `value`: integers and decimals as written, and a
/// quotient for the rare value with no finite decimal.
fn python_number(value: Number) -> String {
    let text = value.to_string();
    if value < Number::whole(0) {
        format!("({text})")
    } else {
        text
    }
}

fn assignments(problem: &Problem, indent: &str) -> String {
    let mut out = String::new();
    for given in &problem.givens {
        out.push_str(&format!(
            "{indent}{} = {}\n",
            given.name,
            python_number(given.value)
        ));
    }
    let leaf = python_leaf(problem);
    for step in &problem.steps {
        let expression = step.expression.render(&leaf, Operation::python_symbol);
        out.push_str(&format!("{indent}{} = {expression}\n", step.name));
    }
    out
}

fn answer_name(problem: &Problem) -> String {
    problem
        .steps
        .get(problem.answer_step)
        .map_or_else(|| "undefined".to_string(), |step| step.name.clone())
}

fn render_code(problem: &Problem, options: RenderOptions) -> String {
    let mut out = String::from(CODE_SOLUTION_OPENING);
    let quotable = !problem.question.contains("\"\"\"") && !problem.question.contains('\\');
    if options.docstring && quotable {
        out.push_str(&format!(
            "    \"\"\"\n    {}\n    \"\"\"\n",
            problem.question.trim()
        ));
    }
    out.push_str(&assignments(problem, "    "));
    out.push_str(&format!(
        "    result = {}\n    return result",
        answer_name(problem)
    ));
    out
}

fn render_code_text(problem: &Problem, answer: Number) -> String {
    format!(
        "{CODE_TEXT_SOLUTION_OPENING}{}{}\n</llm-code>\n<llm-code-output>\n{answer}\n</llm-code-output>\n{}",
        assignments(problem, ""),
        answer_name(problem),
        closing_sentence(answer)
    )
}

fn render_prose(problem: &Problem, values: &[Number], answer: Number) -> String {
    let mut out = String::new();
    // GSM8K's own text is only correct for the correct answer.
    if let (Some(text), false) = (&problem.prose, problem.is_wrong()) {
        out.push_str(text.trim_end());
        out.push('\n');
    } else {
        let leaf = |expression: &Expression| match expression {
            Expression::Literal(value) => value.to_string(),
            Expression::Given(index) => problem
                .givens
                .get(*index)
                .map_or_else(String::new, |given| given.value.to_string()),
            Expression::Step(index) => values
                .get(*index)
                .map_or_else(String::new, |value| value.to_string()),
            Expression::Binary { .. } => String::new(),
        };
        for (step, value) in problem.steps.iter().zip(values) {
            let arithmetic = format!(
                "{} = {value}",
                step.expression.render(&leaf, Operation::prose_symbol)
            );
            out.push_str(&step.sentence.replace("{arithmetic}", &arithmetic));
            out.push('\n');
        }
    }
    out.push_str(&closing_sentence(answer));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::SyntheticSource;

    #[test]
    fn every_solution_starts_with_its_formats_opening() {
        assert!(CODE_TEXT_SOLUTION_OPENING.starts_with(&format!("{CODE_TEXT_OPENING}\n")));
        for format in Format::ALL {
            for docstring in [true, false] {
                let mut source = SyntheticSource::new(3, Some(format), 40);
                source.noise = 0.5;
                source.difficulty = 1..=4;
                source.render = RenderOptions { docstring };
                let documents = source.generate().unwrap();
                assert_eq!(documents.len(), 40);
                for document in documents {
                    let solution = document.solution.unwrap();
                    assert!(
                        solution.starts_with(solution_opening(format)),
                        "{format}: {solution}"
                    );
                    if format == Format::Prose {
                        assert!(!solution.starts_with("def ") && !solution.starts_with("Let's"));
                    }
                }
            }
        }
    }
}
