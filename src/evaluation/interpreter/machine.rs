//! [`Machine`]: walks a [`Program`] and computes its values.
//!
//! Scopes follow Python's rules for this subset: module-level names are
//! globals; inside a function, a name the function assigns anywhere (or a
//! parameter) is local throughout it, other names are read from the globals
//! and then the builtins. Every statement and expression node costs one
//! step from the budget; nesting of expressions and calls is counted
//! against [`Limits::max_depth`] so the interpreter's own stack stays small.

use std::collections::HashMap;
use std::rc::Rc;

use super::arithmetic::{binary, unary};
use super::builtin::{list, Builtin};
use super::error::{InterpreterError, Position};
use super::limits::Limits;
use super::syntax::{Expression, ExpressionKind, Function, Program, Statement};
use super::value::Value;

/// How a block of statements ended.
enum Flow {
    /// It ran to its end; the value of its last statement if that was an
    /// expression statement.
    Finished(Option<Value>),
    /// A `return` ran.
    Returned(Value),
}

/// One function call's local variables and the function itself.
struct Frame {
    function: Rc<Function>,
    locals: HashMap<String, Value>,
}

/// The interpreter's state for one run.
pub struct Machine {
    limits: Limits,
    steps: u64,
    depth: u32,
    printed: String,
    globals: HashMap<String, Value>,
    frames: Vec<Frame>,
}

impl Machine {
    /// A fresh machine with no globals.
    pub fn new(limits: Limits) -> Self {
        Machine {
            limits,
            steps: 0,
            depth: 0,
            printed: String::new(),
            globals: HashMap::new(),
            frames: Vec::new(),
        }
    }

    /// Runs the module's statements; the value of the last statement when it
    /// is an expression statement.
    pub fn run_module(&mut self, program: &Program) -> Result<Option<Value>, InterpreterError> {
        // The parser refuses `return` outside a function, so a module can
        // only finish.
        match self.block(&program.statements)? {
            Flow::Finished(value) => Ok(value),
            Flow::Returned(value) => Ok(Some(value)),
        }
    }

    /// The global called `name`, if the program defined it.
    pub fn global(&self, name: &str) -> Option<&Value> {
        self.globals.get(name)
    }

    /// Calls `function` with `arguments`.
    pub fn call_function(
        &mut self,
        function: &Rc<Function>,
        arguments: Vec<Value>,
        at: Position,
    ) -> Result<Value, InterpreterError> {
        if arguments.len() != function.parameters.len() {
            return Err(InterpreterError::Arity {
                function: function.name.clone(),
                expected: function.parameters.len().to_string(),
                found: arguments.len(),
                at,
            });
        }
        self.enter(at)?;
        let locals = function.parameters.iter().cloned().zip(arguments).collect();
        self.frames.push(Frame {
            function: Rc::clone(function),
            locals,
        });
        let flow = self.block(&function.body);
        self.frames.pop();
        self.depth -= 1;
        match flow? {
            Flow::Returned(value) => Ok(value),
            Flow::Finished(_) => Ok(Value::None),
        }
    }

    /// Steps spent so far.
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// Everything `print` wrote, and the machine's end.
    pub fn into_printed(self) -> String {
        self.printed
    }

    fn block(&mut self, statements: &[Statement]) -> Result<Flow, InterpreterError> {
        let mut last = None;
        for statement in statements {
            self.step()?;
            last = None;
            match statement {
                Statement::Expression(expression) => {
                    last = Some(self.evaluate(expression)?);
                }
                Statement::Assign { targets, value } => {
                    let value = self.evaluate(value)?;
                    for target in targets {
                        self.assign(target, value.clone());
                    }
                }
                Statement::AugmentedAssign {
                    target,
                    operator,
                    value,
                    at,
                } => {
                    let current = self.lookup(target, *at)?;
                    let right = self.evaluate(value)?;
                    let result = binary(*operator, &current, &right, value.at)?;
                    self.assign(target, result);
                }
                Statement::FunctionDefinition(function) => {
                    self.assign(&function.name, Value::Function(Rc::clone(function)));
                }
                Statement::Return(value) => {
                    let value = match value {
                        Some(expression) => self.evaluate(expression)?,
                        None => Value::None,
                    };
                    return Ok(Flow::Returned(value));
                }
                Statement::Pass => {}
            }
        }
        Ok(Flow::Finished(last))
    }

    fn evaluate(&mut self, expression: &Expression) -> Result<Value, InterpreterError> {
        self.step()?;
        self.enter(expression.at)?;
        let result = self.evaluate_inner(expression);
        self.depth -= 1;
        result
    }

    fn evaluate_inner(&mut self, expression: &Expression) -> Result<Value, InterpreterError> {
        let at = expression.at;
        match &expression.kind {
            ExpressionKind::Integer(value) => Ok(Value::Integer(*value)),
            ExpressionKind::Float(value) => Ok(Value::Float(*value)),
            ExpressionKind::String(text) => Ok(Value::String(Rc::clone(text))),
            ExpressionKind::Name(name) => self.lookup(name, at),
            ExpressionKind::List(items) => {
                let values = items
                    .iter()
                    .map(|item| self.evaluate(item))
                    .collect::<Result<Vec<_>, _>>()?;
                // Lists of lists could nest thousands deep through
                // variables, and every walk over them would recurse.
                if values.iter().any(|value| matches!(value, Value::List(_))) {
                    return Err(InterpreterError::Type {
                        message: "lists inside lists are not supported".to_string(),
                        at,
                    });
                }
                Ok(list(values))
            }
            ExpressionKind::Unary { operator, operand } => {
                let value = self.evaluate(operand)?;
                unary(*operator, &value, at)
            }
            ExpressionKind::Binary {
                operator,
                left,
                right,
            } => {
                let left = self.evaluate(left)?;
                let right = self.evaluate(right)?;
                binary(*operator, &left, &right, at)
            }
            ExpressionKind::Call {
                function,
                arguments,
            } => {
                let callee = self.evaluate(function)?;
                let arguments = arguments
                    .iter()
                    .map(|argument| self.evaluate(argument))
                    .collect::<Result<Vec<_>, _>>()?;
                match callee {
                    Value::Function(function) => self.call_function(&function, arguments, at),
                    Value::Builtin(Builtin::Print) => self.print(&arguments),
                    Value::Builtin(builtin) => {
                        let (value, steps) = builtin.call(&arguments, at)?;
                        self.spend(steps)?;
                        Ok(value)
                    }
                    other => Err(InterpreterError::Type {
                        message: format!("`{}` object is not callable", other.type_name()),
                        at,
                    }),
                }
            }
        }
    }

    fn print(&mut self, arguments: &[Value]) -> Result<Value, InterpreterError> {
        let limit = self.limits.max_output_bytes;
        let too_long = InterpreterError::OutputTooLong { limit };
        for (index, argument) in arguments.iter().enumerate() {
            if index > 0 {
                self.printed.push(' ');
            }
            // Writing stops at the limit, so a huge value never materialises.
            if !argument.write_python(&mut self.printed, false, limit) {
                return Err(too_long);
            }
        }
        self.printed.push('\n');
        if self.printed.len() > limit {
            return Err(too_long);
        }
        Ok(Value::None)
    }

    fn lookup(&self, name: &str, at: Position) -> Result<Value, InterpreterError> {
        if let Some(frame) = self.frames.last() {
            if frame.function.locals.contains(name) {
                return frame.locals.get(name).cloned().ok_or_else(|| {
                    InterpreterError::UnboundLocal {
                        name: name.to_string(),
                        at,
                    }
                });
            }
        }
        if let Some(value) = self.globals.get(name) {
            return Ok(value.clone());
        }
        if name == "None" {
            return Ok(Value::None);
        }
        Builtin::from_name(name)
            .map(Value::Builtin)
            .ok_or_else(|| InterpreterError::UnknownName {
                name: name.to_string(),
                at,
            })
    }

    fn assign(&mut self, name: &str, value: Value) {
        match self.frames.last_mut() {
            Some(frame) => frame.locals.insert(name.to_string(), value),
            None => self.globals.insert(name.to_string(), value),
        };
    }

    fn step(&mut self) -> Result<(), InterpreterError> {
        self.spend(1)
    }

    fn spend(&mut self, steps: u64) -> Result<(), InterpreterError> {
        self.steps = self.steps.saturating_add(steps);
        if self.steps > self.limits.max_steps {
            return Err(InterpreterError::BudgetExceeded {
                limit: self.limits.max_steps,
            });
        }
        Ok(())
    }

    fn enter(&mut self, at: Position) -> Result<(), InterpreterError> {
        if self.depth >= self.limits.max_depth {
            return Err(InterpreterError::TooDeep {
                limit: self.limits.max_depth,
                at,
            });
        }
        self.depth += 1;
        Ok(())
    }
}
