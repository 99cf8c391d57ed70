//! A safe interpreter for the Python subset the solution formats use.
//!
//! Model-written code is untrusted: this interpreter has no I/O, no imports
//! and no access to anything outside itself, and every resource it uses is
//! bounded by [`Limits`] (source length, steps, nesting depth, printed
//! bytes, and number magnitude through 64-bit integers and finite floats).
//! Every failure is an [`InterpreterError`]; nothing panics.
//!
//! The subset: int and float literals, strings (printed and converted only),
//! list displays (for the builtins), names, `+ - * / // % **` and unary
//! `- +` with Python's semantics (see [`arithmetic`]), assignment including
//! chained and augmented forms and annotations, `def` at module level with
//! positional parameters and `return`, calls, `pass`, comments, docstrings,
//! and the builtins `print round int float abs min max sum len`. Control
//! flow (`if`, `for`, `while`), imports, tuples, comparisons and string
//! operations are syntax or type errors. `docs/grading.md` lists it all.
//!
//! Stages are separate, as in a compiler: [`lexer`] (text to tokens),
//! [`parser`] (tokens to a [`syntax`] tree), [`machine`] (tree to values).

pub mod arithmetic;
mod builtin;
mod error;
pub mod lexer;
mod limits;
mod machine;
pub mod parser;
pub mod syntax;
mod value;

use std::rc::Rc;

pub use builtin::Builtin;
pub use error::{InterpreterError, Position};
pub use limits::Limits;
pub use machine::Machine;
pub use value::{float_repr, Value, TEXT_LIMIT};

use lexer::Lexer;
use parser::Parser;
use syntax::Program;

/// What a completed run produced.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// [`run`]: the value of the last statement if it is an expression
    /// statement (as a notebook cell shows it); [`run_function`]: the
    /// function's return value (`None` when it fell off its end).
    pub value: Option<Value>,
    /// Everything `print` wrote.
    pub printed: String,
    /// Steps spent from the budget.
    pub steps: u64,
}

/// Parses `source` within `limits`.
pub fn parse(source: &str, limits: &Limits) -> Result<Program, InterpreterError> {
    if source.len() > limits.max_source_bytes {
        return Err(InterpreterError::SourceTooLong {
            length: source.len(),
            limit: limits.max_source_bytes,
        });
    }
    let tokens = Lexer::new(source).tokenize()?;
    Parser::new(tokens, limits.max_depth).program()
}

/// Runs `source` as a module; the outcome's value is that of its last
/// statement when that is an expression (the `code_text` rule).
pub fn run(source: &str, limits: &Limits) -> Result<Outcome, InterpreterError> {
    let program = parse(source, limits)?;
    let mut machine = Machine::new(*limits);
    let value = machine.run_module(&program)?;
    let steps = machine.steps();
    Ok(Outcome {
        value,
        printed: machine.into_printed(),
        steps,
    })
}

/// Runs `source` as a module, then calls the function `name` with no
/// arguments (the `code` rule); with `name` `None`, calls the first function
/// the module defines. The outcome's value is the return value.
pub fn run_function(
    source: &str,
    limits: &Limits,
    name: Option<&str>,
) -> Result<Outcome, InterpreterError> {
    let program = parse(source, limits)?;
    let wanted = name.map(str::to_string).or_else(|| {
        program
            .statements
            .iter()
            .find_map(|statement| match statement {
                syntax::Statement::FunctionDefinition(function) => Some(function.name.clone()),
                _ => None,
            })
    });
    let Some(wanted) = wanted else {
        return Err(InterpreterError::NoFunction {
            name: "def".to_string(),
        });
    };
    let mut machine = Machine::new(*limits);
    machine.run_module(&program)?;
    let Some(Value::Function(function)) = machine.global(&wanted).cloned() else {
        return Err(InterpreterError::NoFunction { name: wanted });
    };
    let value = machine.call_function(&Rc::clone(&function), Vec::new(), Position::default())?;
    let steps = machine.steps();
    Ok(Outcome {
        value: Some(value),
        printed: machine.into_printed(),
        steps,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(source: &str) -> Value {
        run(source, &Limits::default()).unwrap().value.unwrap()
    }

    #[test]
    fn tiny_gsm_function_runs_and_returns() {
        let source = "def simple_math_problem() -> int:\n    \"\"\"Janet's ducks.\"\"\"\n    eggs_per_day = 16\n    eggs_eaten = 3\n    remaining = eggs_per_day - eggs_eaten  # left\n    result = remaining * 2\n    return result\n";
        let outcome = run_function(source, &Limits::default(), None).unwrap();
        assert_eq!(outcome.value, Some(Value::Integer(26)));
        assert!(outcome.steps > 5);
    }

    #[test]
    fn last_expression_is_the_value_and_print_is_captured() {
        let outcome = run(
            "eggs = 16 - 3 - 4\nresult = eggs * 2\nprint('eggs', eggs, 1/2)\nresult\n",
            &Limits::default(),
        )
        .unwrap();
        assert_eq!(outcome.value, Some(Value::Integer(18)));
        assert_eq!(outcome.printed, "eggs 9 0.5\n");
        let assigned_last = run("x = 1", &Limits::default()).unwrap();
        assert_eq!(assigned_last.value, None);
    }

    #[test]
    fn python_semantics_of_operators() {
        assert_eq!(value("7 / 2"), Value::Float(3.5));
        assert_eq!(value("-7 // 2"), Value::Integer(-4));
        assert_eq!(value("-2 ** 2"), Value::Integer(-4));
        assert_eq!(value("2 ** -1"), Value::Float(0.5));
        assert_eq!(value("x = 5\nx += 2.5\nx *= 2\nx"), Value::Float(15.0));
        assert_eq!(value("round(7 / 2)"), Value::Integer(4));
        assert_eq!(value("sum([1, 2, 3]) + max(4, 9.5)"), Value::Float(15.5));
    }

    #[test]
    fn functions_with_parameters_and_scopes() {
        assert_eq!(
            value("rate = 3\ndef f(n):\n    return n * rate\nf(4) + f(1)"),
            Value::Integer(15)
        );
        let unbound = run(
            "x = 1\ndef f():\n    y = x\n    x = 2\n    return y\nf()",
            &Limits::default(),
        );
        assert!(matches!(
            unbound,
            Err(InterpreterError::UnboundLocal { .. })
        ));
        let none = run_function("def f():\n    x = 1\n", &Limits::default(), Some("f")).unwrap();
        assert_eq!(none.value, Some(Value::None));
    }

    #[test]
    fn runtime_errors_are_typed_with_positions() {
        let limits = Limits::default();
        assert!(matches!(
            run("x = 1\ny = x / (x - 1)", &limits),
            Err(InterpreterError::DivisionByZero {
                at: Position { line: 2, column: 5 }
            })
        ));
        assert!(matches!(
            run("z + 1", &limits),
            Err(InterpreterError::UnknownName { .. })
        ));
        assert!(matches!(
            run("'a' * 3", &limits),
            Err(InterpreterError::Type { .. })
        ));
        assert!(matches!(
            run("10 ** 19", &limits),
            Err(InterpreterError::Overflow { .. })
        ));
        assert!(matches!(
            run_function("x = 1", &limits, None),
            Err(InterpreterError::NoFunction { .. })
        ));
    }

    #[test]
    fn recursion_is_stopped_by_depth_and_exponential_work_by_the_budget() {
        let limits = Limits::default();
        let infinite = run("def f():\n    return f()\nf()", &limits);
        assert!(matches!(infinite, Err(InterpreterError::TooDeep { .. })));
        // f20 calls f19 twice, which calls f18 twice, ...: 2**20 calls.
        let mut doubling = String::from("def f0():\n    return 1\n");
        for level in 1..=20 {
            let below = level - 1;
            doubling.push_str(&format!(
                "def f{level}():\n    return f{below}() + f{below}()\n"
            ));
        }
        doubling.push_str("f20()\n");
        let exponential = run(&doubling, &limits);
        assert!(matches!(
            exponential,
            Err(InterpreterError::BudgetExceeded { limit: 100_000 })
        ));
        let long = "x = 1\n".repeat(20_000);
        assert!(matches!(
            run(&long, &limits),
            Err(InterpreterError::SourceTooLong { .. })
        ));
        let printing = "print('aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa')\n".repeat(500);
        assert!(matches!(
            run(&printing, &limits),
            Err(InterpreterError::OutputTooLong { .. })
        ));
    }

    #[test]
    fn doubling_lists_cannot_blow_up_printing() {
        // Regression: `b = [a, a]; c = [b, b]; ...` doubled the printed size
        // per line at one step each; nested lists are now refused, and a
        // wide list of one long string stops printing at the limit.
        let nested = run("a = [1]\nb = [a, a]\nprint(b)", &Limits::default());
        assert!(matches!(nested, Err(InterpreterError::Type { .. })));
        let mut wide = format!("s = '{}'\nx = [", "a".repeat(1000));
        wide.push_str(&"s, ".repeat(2000));
        wide.push_str("]\nprint(x)\n");
        let result = run(&wide, &Limits::default());
        assert!(matches!(
            result,
            Err(InterpreterError::OutputTooLong { limit: 16_384 })
        ));
    }
}
