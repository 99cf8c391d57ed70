//! [`Parser`]: tokens to a [`Program`], by recursive descent.
//!
//! Precedence, loosest first, as in Python: `+ -`, then `* / // %`, then
//! unary `- +`, then `**` (right-associative, and binding tighter than a
//! unary minus on its left: `-2 ** 2` is `-4`), then calls, then atoms.
//! Both the recursion and the depth of the tree it builds are bounded by
//! [`Limits::max_depth`](super::Limits), so hostile input such as ten
//! thousand `(` fails with [`InterpreterError::TooDeep`] instead of
//! exhausting the stack.

use std::collections::HashSet;
use std::rc::Rc;

use super::error::{InterpreterError, Position};
use super::lexer::{syntax, Token, TokenKind};
use super::syntax::{
    BinaryOperator, Expression, ExpressionKind, Function, Program, Statement, UnaryOperator,
};

/// Parses a token list into a [`Program`].
pub struct Parser {
    tokens: Vec<Token>,
    index: usize,
    nesting: u32,
    max_depth: u32,
}

impl Parser {
    /// A parser over `tokens` (which end with [`TokenKind::End`]) that
    /// refuses nesting deeper than `max_depth`.
    pub fn new(tokens: Vec<Token>, max_depth: u32) -> Self {
        Parser {
            tokens,
            index: 0,
            nesting: 0,
            max_depth,
        }
    }

    /// The whole program.
    pub fn program(mut self) -> Result<Program, InterpreterError> {
        let mut statements = Vec::new();
        loop {
            match self.kind() {
                TokenKind::End => break,
                TokenKind::Newline => self.index += 1,
                TokenKind::Indent => return Err(syntax("unexpected indent", self.at())),
                _ => self.statement_line(&mut statements, true)?,
            }
        }
        Ok(Program { statements })
    }

    /// One line: a `def`, or simple statements separated by `;`.
    fn statement_line(
        &mut self,
        statements: &mut Vec<Statement>,
        module_level: bool,
    ) -> Result<(), InterpreterError> {
        if self.is_name("def") {
            if !module_level {
                return Err(syntax("nested `def` is not supported", self.at()));
            }
            let function = self.function_definition()?;
            statements.push(Statement::FunctionDefinition(Rc::new(function)));
            return Ok(());
        }
        loop {
            if module_level && self.is_name("return") {
                return Err(syntax("`return` outside a function", self.at()));
            }
            statements.push(self.simple_statement()?);
            if self.eat_symbol(";") {
                if matches!(self.kind(), TokenKind::Newline | TokenKind::End) {
                    break;
                }
                continue;
            }
            break;
        }
        match self.kind() {
            TokenKind::Newline => {
                self.index += 1;
                Ok(())
            }
            TokenKind::End => Ok(()),
            _ => Err(self.unexpected()),
        }
    }

    fn function_definition(&mut self) -> Result<Function, InterpreterError> {
        self.index += 1; // `def`
        let name = self.expect_name()?;
        self.expect_symbol("(")?;
        let mut parameters = Vec::new();
        while !self.eat_symbol(")") {
            let parameter = self.expect_name()?;
            if parameters.contains(&parameter) {
                return Err(syntax(
                    &format!("duplicate argument `{parameter}` in function definition"),
                    self.at(),
                ));
            }
            parameters.push(parameter);
            if self.eat_symbol(":") {
                self.expression()?; // annotation, ignored
            }
            if !self.eat_symbol(",") {
                self.expect_symbol(")")?;
                break;
            }
        }
        if self.eat_symbol("->") {
            self.expression()?; // return annotation, ignored
        }
        self.expect_symbol(":")?;
        let mut body = Vec::new();
        if self.kind() == &TokenKind::Newline {
            self.index += 1;
            if self.kind() != &TokenKind::Indent {
                return Err(syntax("expected an indented block", self.at()));
            }
            self.index += 1;
            loop {
                match self.kind() {
                    TokenKind::Dedent => {
                        self.index += 1;
                        break;
                    }
                    TokenKind::End => break,
                    TokenKind::Newline => self.index += 1,
                    TokenKind::Indent => return Err(syntax("unexpected indent", self.at())),
                    _ => self.statement_line(&mut body, false)?,
                }
            }
        } else {
            self.statement_line(&mut body, false)?;
        }
        let mut locals: HashSet<String> = parameters.iter().cloned().collect();
        for statement in &body {
            match statement {
                Statement::Assign { targets, .. } => locals.extend(targets.iter().cloned()),
                Statement::AugmentedAssign { target, .. } => {
                    locals.insert(target.clone());
                }
                _ => {}
            }
        }
        Ok(Function {
            name,
            parameters,
            body,
            locals,
        })
    }

    fn simple_statement(&mut self) -> Result<Statement, InterpreterError> {
        let start = self.at();
        if self.is_name("return") {
            self.index += 1;
            if matches!(
                self.kind(),
                TokenKind::Newline | TokenKind::End | TokenKind::Symbol(";")
            ) {
                return Ok(Statement::Return(None));
            }
            return Ok(Statement::Return(Some(self.expression()?)));
        }
        if self.is_name("pass") {
            self.index += 1;
            return Ok(Statement::Pass);
        }
        if let Some(keyword) = self.unsupported_keyword() {
            return Err(syntax(&format!("`{keyword}` is not supported"), start));
        }
        let first = self.expression()?;
        if let TokenKind::Symbol(symbol) = *self.kind() {
            if let Some(operator) = augmented_operator(symbol) {
                let target = assignable(&first)?;
                self.index += 1;
                let value = self.expression()?;
                return Ok(Statement::AugmentedAssign {
                    target,
                    operator,
                    value,
                    at: start,
                });
            }
            if symbol == ":" {
                // An annotated assignment `name: type = value`.
                let target = assignable(&first)?;
                self.index += 1;
                self.expression()?;
                if !self.eat_symbol("=") {
                    return Ok(Statement::Pass);
                }
                let value = self.expression()?;
                return Ok(Statement::Assign {
                    targets: vec![target],
                    value,
                });
            }
        }
        if !self.eat_symbol("=") {
            return Ok(Statement::Expression(first));
        }
        let mut targets = vec![assignable(&first)?];
        let mut value = self.expression()?;
        while self.eat_symbol("=") {
            targets.push(assignable(&value)?);
            value = self.expression()?;
        }
        Ok(Statement::Assign { targets, value })
    }

    /// An expression: `+` and `-` over terms.
    fn expression(&mut self) -> Result<Expression, InterpreterError> {
        self.enter()?;
        let mut left = self.term()?;
        loop {
            let operator = match self.kind() {
                TokenKind::Symbol("+") => BinaryOperator::Add,
                TokenKind::Symbol("-") => BinaryOperator::Subtract,
                _ => break,
            };
            self.index += 1;
            let right = self.term()?;
            left = self.binary(operator, left, right)?;
        }
        self.nesting -= 1;
        Ok(left)
    }

    fn term(&mut self) -> Result<Expression, InterpreterError> {
        let mut left = self.unary()?;
        loop {
            let operator = match self.kind() {
                TokenKind::Symbol("*") => BinaryOperator::Multiply,
                TokenKind::Symbol("/") => BinaryOperator::Divide,
                TokenKind::Symbol("//") => BinaryOperator::FloorDivide,
                TokenKind::Symbol("%") => BinaryOperator::Modulo,
                _ => break,
            };
            self.index += 1;
            let right = self.unary()?;
            left = self.binary(operator, left, right)?;
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expression, InterpreterError> {
        let operator = match self.kind() {
            TokenKind::Symbol("-") => UnaryOperator::Negate,
            TokenKind::Symbol("+") => UnaryOperator::Plus,
            _ => return self.power(),
        };
        let at = self.at();
        self.index += 1;
        self.enter()?;
        let operand = self.unary()?;
        self.nesting -= 1;
        let depth = self.checked_depth(operand.depth, at)?;
        Ok(Expression {
            kind: ExpressionKind::Unary {
                operator,
                operand: Box::new(operand),
            },
            at,
            depth,
        })
    }

    fn power(&mut self) -> Result<Expression, InterpreterError> {
        let base = self.call()?;
        if !self.eat_symbol("**") {
            return Ok(base);
        }
        self.enter()?;
        let exponent = self.unary()?;
        self.nesting -= 1;
        self.binary(BinaryOperator::Power, base, exponent)
    }

    fn call(&mut self) -> Result<Expression, InterpreterError> {
        let mut function = self.atom()?;
        while self.symbol_is("(") {
            let at = self.at();
            self.index += 1;
            self.enter()?;
            let arguments = self.sequence(")")?;
            self.nesting -= 1;
            let deepest = arguments
                .iter()
                .map(|argument| argument.depth)
                .max()
                .unwrap_or(0)
                .max(function.depth);
            let depth = self.checked_depth(deepest, at)?;
            function = Expression {
                kind: ExpressionKind::Call {
                    function: Box::new(function),
                    arguments,
                },
                at,
                depth,
            };
        }
        Ok(function)
    }

    fn atom(&mut self) -> Result<Expression, InterpreterError> {
        let at = self.at();
        let leaf = |kind| Expression { kind, at, depth: 1 };
        let kind = self.kind().clone();
        match kind {
            TokenKind::Integer(value) => {
                self.index += 1;
                Ok(leaf(ExpressionKind::Integer(value)))
            }
            TokenKind::Float(value) => {
                self.index += 1;
                Ok(leaf(ExpressionKind::Float(value)))
            }
            TokenKind::String(first) => {
                self.index += 1;
                let mut text = first;
                while let TokenKind::String(next) = self.kind() {
                    text.push_str(next);
                    self.index += 1;
                }
                Ok(leaf(ExpressionKind::String(Rc::from(text))))
            }
            TokenKind::Name(name) => {
                if is_keyword(&name) {
                    return Err(syntax(&format!("`{name}` is not supported here"), at));
                }
                self.index += 1;
                Ok(leaf(ExpressionKind::Name(name)))
            }
            TokenKind::Symbol("(") => {
                self.index += 1;
                self.enter()?;
                let inner = self.expression()?;
                if self.symbol_is(",") {
                    return Err(syntax("tuples are not supported", self.at()));
                }
                self.expect_symbol(")")?;
                self.nesting -= 1;
                Ok(inner)
            }
            TokenKind::Symbol("[") => {
                self.index += 1;
                self.enter()?;
                let items = self.sequence("]")?;
                self.nesting -= 1;
                let deepest = items.iter().map(|item| item.depth).max().unwrap_or(0);
                let depth = self.checked_depth(deepest, at)?;
                Ok(Expression {
                    kind: ExpressionKind::List(items),
                    at,
                    depth,
                })
            }
            _ => Err(self.unexpected()),
        }
    }

    /// Comma-separated expressions up to `close` (consumed); a trailing
    /// comma is allowed.
    fn sequence(&mut self, close: &str) -> Result<Vec<Expression>, InterpreterError> {
        let mut items = Vec::new();
        while !self.eat_symbol(close) {
            items.push(self.expression()?);
            if !self.eat_symbol(",") {
                self.expect_symbol(close)?;
                break;
            }
        }
        Ok(items)
    }

    fn binary(
        &self,
        operator: BinaryOperator,
        left: Expression,
        right: Expression,
    ) -> Result<Expression, InterpreterError> {
        let at = left.at;
        let depth = self.checked_depth(left.depth.max(right.depth), at)?;
        Ok(Expression {
            kind: ExpressionKind::Binary {
                operator,
                left: Box::new(left),
                right: Box::new(right),
            },
            at,
            depth,
        })
    }

    /// One more than `child_depth`, if within the limit.
    fn checked_depth(&self, child_depth: u32, at: Position) -> Result<u32, InterpreterError> {
        let depth = child_depth.saturating_add(1);
        if depth > self.max_depth {
            return Err(InterpreterError::TooDeep {
                limit: self.max_depth,
                at,
            });
        }
        Ok(depth)
    }

    /// Counts one level of parser recursion.
    fn enter(&mut self) -> Result<(), InterpreterError> {
        self.nesting += 1;
        if self.nesting > self.max_depth {
            return Err(InterpreterError::TooDeep {
                limit: self.max_depth,
                at: self.at(),
            });
        }
        Ok(())
    }

    fn unsupported_keyword(&self) -> Option<&'static str> {
        const UNSUPPORTED: [&str; 14] = [
            "if", "for", "while", "import", "from", "class", "try", "with", "lambda", "del",
            "global", "nonlocal", "raise", "assert",
        ];
        match self.kind() {
            TokenKind::Name(name) => UNSUPPORTED.into_iter().find(|keyword| keyword == name),
            _ => None,
        }
    }

    fn kind(&self) -> &TokenKind {
        self.tokens
            .get(self.index)
            .map(|token| &token.kind)
            .unwrap_or(&TokenKind::End)
    }

    fn at(&self) -> Position {
        self.tokens
            .get(self.index)
            .or(self.tokens.last())
            .map(|token| token.at)
            .unwrap_or_default()
    }

    fn is_name(&self, name: &str) -> bool {
        matches!(self.kind(), TokenKind::Name(found) if found == name)
    }

    fn symbol_is(&self, symbol: &str) -> bool {
        matches!(self.kind(), TokenKind::Symbol(found) if *found == symbol)
    }

    fn eat_symbol(&mut self, symbol: &str) -> bool {
        let found = self.symbol_is(symbol);
        if found {
            self.index += 1;
        }
        found
    }

    fn expect_symbol(&mut self, symbol: &str) -> Result<(), InterpreterError> {
        if self.eat_symbol(symbol) {
            Ok(())
        } else {
            Err(syntax(
                &format!("expected `{symbol}`, found {}", describe(self.kind())),
                self.at(),
            ))
        }
    }

    fn expect_name(&mut self) -> Result<String, InterpreterError> {
        match self.kind() {
            TokenKind::Name(name) if !is_keyword(name) => {
                let name = name.clone();
                self.index += 1;
                Ok(name)
            }
            other => Err(syntax(
                &format!("expected a name, found {}", describe(other)),
                self.at(),
            )),
        }
    }

    fn unexpected(&self) -> InterpreterError {
        syntax(&format!("unexpected {}", describe(self.kind())), self.at())
    }
}

/// The name an assignment writes to, if `expression` is a plain name.
fn assignable(expression: &Expression) -> Result<String, InterpreterError> {
    match &expression.kind {
        ExpressionKind::Name(name) => Ok(name.clone()),
        _ => Err(syntax("cannot assign to this expression", expression.at)),
    }
}

fn augmented_operator(symbol: &str) -> Option<BinaryOperator> {
    Some(match symbol {
        "+=" => BinaryOperator::Add,
        "-=" => BinaryOperator::Subtract,
        "*=" => BinaryOperator::Multiply,
        "/=" => BinaryOperator::Divide,
        "//=" => BinaryOperator::FloorDivide,
        "%=" => BinaryOperator::Modulo,
        "**=" => BinaryOperator::Power,
        _ => return None,
    })
}

/// Python keywords, which cannot be used as names.
fn is_keyword(name: &str) -> bool {
    matches!(
        name,
        "False"
            | "True"
            | "and"
            | "as"
            | "assert"
            | "async"
            | "await"
            | "break"
            | "class"
            | "continue"
            | "def"
            | "del"
            | "elif"
            | "else"
            | "except"
            | "finally"
            | "for"
            | "from"
            | "global"
            | "if"
            | "import"
            | "in"
            | "is"
            | "lambda"
            | "nonlocal"
            | "not"
            | "or"
            | "pass"
            | "raise"
            | "return"
            | "try"
            | "while"
            | "with"
            | "yield"
    )
}

fn describe(kind: &TokenKind) -> String {
    match kind {
        TokenKind::Name(name) => format!("`{name}`"),
        TokenKind::Integer(value) => format!("`{value}`"),
        TokenKind::Float(value) => format!("`{value}`"),
        TokenKind::String(_) => "a string".to_string(),
        TokenKind::Symbol(symbol) => format!("`{symbol}`"),
        TokenKind::Newline => "the end of the line".to_string(),
        TokenKind::Indent => "an indent".to_string(),
        TokenKind::Dedent => "a dedent".to_string(),
        TokenKind::End => "the end of the source".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::lexer::Lexer;
    use super::*;

    fn parse(source: &str) -> Result<Program, InterpreterError> {
        Parser::new(Lexer::new(source).tokenize()?, 50).program()
    }

    #[test]
    fn power_binds_tighter_than_unary_minus_and_is_right_associative() {
        let program = parse("-2 ** 3 ** 2").unwrap();
        let Statement::Expression(expression) = &program.statements[0] else {
            panic!("expected an expression statement");
        };
        let ExpressionKind::Unary { operand, .. } = &expression.kind else {
            panic!("expected unary minus at the root, got {expression:?}");
        };
        let ExpressionKind::Binary { right, .. } = &operand.kind else {
            panic!("expected a power under the minus");
        };
        assert!(matches!(
            right.kind,
            ExpressionKind::Binary {
                operator: BinaryOperator::Power,
                ..
            }
        ));
    }

    #[test]
    fn function_records_its_locals() {
        let program =
            parse("def f(a: int) -> int:\n    b = a\n    c += 1\n    return b\n").unwrap();
        let Statement::FunctionDefinition(function) = &program.statements[0] else {
            panic!("expected a def");
        };
        let mut locals: Vec<_> = function.locals.iter().cloned().collect();
        locals.sort();
        assert_eq!(locals, ["a", "b", "c"]);
        assert_eq!(function.body.len(), 3);
    }

    #[test]
    fn deep_parentheses_and_long_chains_are_refused() {
        let parentheses = format!("{}1{}", "(".repeat(10_000), ")".repeat(10_000));
        assert!(matches!(
            parse(&parentheses),
            Err(InterpreterError::TooDeep { limit: 50, .. })
        ));
        let chain = vec!["1"; 100].join(" + ");
        assert!(matches!(
            parse(&chain),
            Err(InterpreterError::TooDeep { .. })
        ));
        assert!(parse(&vec!["1"; 40].join(" + ")).is_ok());
    }

    #[test]
    fn unsupported_statements_are_syntax_errors_with_positions() {
        let error = parse("x = 1\nif x:\n    pass\n").unwrap_err();
        assert!(matches!(
            error,
            InterpreterError::Syntax {
                at: Position { line: 2, column: 1 },
                ..
            }
        ));
        assert!(parse("def f():\n    def g():\n        pass\n").is_err());
        assert!(parse("x = (1, 2)").is_err());
        assert!(parse("1 = x").is_err());
        assert!(matches!(
            parse("x = 1\nreturn x"),
            Err(InterpreterError::Syntax {
                at: Position { line: 2, column: 1 },
                ..
            })
        ));
    }
}
