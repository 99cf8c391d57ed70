//! [`Lexer`]: source text to tokens, with Python's indentation tokens.
//!
//! The whole source is tokenised up front; the token list is at most a
//! constant times the source length, which [`Limits`](super::Limits) bounds.
//! Newlines inside brackets and after a backslash join lines, as in Python;
//! comments are dropped; indentation changes become [`TokenKind::Indent`] and
//! [`TokenKind::Dedent`] tokens (a tab advances to the next multiple of 8).

use super::error::{InterpreterError, Position};

/// What a token is.
#[derive(Debug, Clone, PartialEq)]
pub enum TokenKind {
    /// An identifier or keyword.
    Name(String),
    /// An integer literal that fits in 64 bits.
    Integer(i64),
    /// A float literal.
    Float(f64),
    /// A string literal, escapes resolved.
    String(String),
    /// An operator or delimiter, as written (`+`, `//=`, `(`, `->`, ...).
    Symbol(&'static str),
    /// The end of a logical line.
    Newline,
    /// The start of a more indented block.
    Indent,
    /// The end of an indented block.
    Dedent,
    /// The end of the source.
    End,
}

/// A token and where it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    /// What it is.
    pub kind: TokenKind,
    /// Where it starts.
    pub at: Position,
}

/// Symbols, longest first so that `**=` wins over `**` and `*`.
const SYMBOLS: [&str; 25] = [
    "**=", "//=", "**", "//", "+=", "-=", "*=", "/=", "%=", "->", "+", "-", "*", "/", "%", "=",
    "(", ")", "[", "]", ",", ":", ";", ".", "@",
];

/// Turns source text into [`Token`]s.
pub struct Lexer {
    characters: Vec<char>,
    index: usize,
    line: u32,
    column: u32,
    bracket_depth: usize,
    indents: Vec<u32>,
    tokens: Vec<Token>,
}

impl Lexer {
    /// A lexer over `source`.
    pub fn new(source: &str) -> Self {
        Lexer {
            characters: source.chars().collect(),
            index: 0,
            line: 1,
            column: 1,
            bracket_depth: 0,
            indents: vec![0],
            tokens: Vec::new(),
        }
    }

    /// Every token of the source, ending with [`TokenKind::End`].
    pub fn tokenize(mut self) -> Result<Vec<Token>, InterpreterError> {
        let mut at_line_start = true;
        while self.index < self.characters.len() {
            if at_line_start && self.bracket_depth == 0 {
                at_line_start = false;
                if self.indentation()? {
                    continue;
                }
            }
            let character = self.characters[self.index];
            match character {
                ' ' | '\t' | '\x0c' | '\r' => self.advance(),
                '#' => {
                    while self.peek(0).is_some_and(|c| c != '\n') {
                        self.advance();
                    }
                }
                '\\' if self.peek(1) == Some('\n') => {
                    self.advance();
                    self.advance();
                }
                '\n' => {
                    if self.bracket_depth == 0 {
                        self.push(TokenKind::Newline, self.position());
                        at_line_start = true;
                    }
                    self.advance();
                }
                '"' | '\'' => self.string()?,
                c if c.is_ascii_digit()
                    || (c == '.' && self.peek(1).is_some_and(|d| d.is_ascii_digit())) =>
                {
                    self.number()?
                }
                c if c.is_alphabetic() || c == '_' => self.name(),
                _ => self.symbol()?,
            }
        }
        let end = self.position();
        if self
            .tokens
            .last()
            .is_some_and(|token| !matches!(token.kind, TokenKind::Newline | TokenKind::Dedent))
        {
            self.push(TokenKind::Newline, end);
        }
        while self.indents.len() > 1 {
            self.indents.pop();
            self.push(TokenKind::Dedent, end);
        }
        self.push(TokenKind::End, end);
        Ok(self.tokens)
    }

    /// Reads a line's indentation and emits indent or dedent tokens. Returns
    /// true when the line is blank or a comment, so nothing was emitted.
    fn indentation(&mut self) -> Result<bool, InterpreterError> {
        let mut width = 0u32;
        while let Some(character) = self.peek(0) {
            match character {
                ' ' => width = width.saturating_add(1),
                '\t' => width = (width / 8).saturating_add(1).saturating_mul(8),
                '\x0c' | '\r' => {}
                _ => break,
            }
            self.advance();
        }
        match self.peek(0) {
            None | Some('\n') | Some('#') => return Ok(true),
            Some('\\') if self.peek(1) == Some('\n') => return Ok(true),
            _ => {}
        }
        let at = self.position();
        let current = self.indents.last().copied().unwrap_or(0);
        if width > current {
            self.indents.push(width);
            self.push(TokenKind::Indent, at);
        } else {
            while self.indents.last().is_some_and(|&top| width < top) {
                self.indents.pop();
                self.push(TokenKind::Dedent, at);
            }
            if self.indents.last().copied().unwrap_or(0) != width {
                return Err(syntax(
                    "unindent does not match any outer indentation level",
                    at,
                ));
            }
        }
        Ok(false)
    }

    fn name(&mut self) {
        let at = self.position();
        let mut text = String::new();
        while let Some(character) = self.peek(0) {
            if character.is_alphanumeric() || character == '_' {
                text.push(character);
                self.advance();
            } else {
                break;
            }
        }
        self.push(TokenKind::Name(text), at);
    }

    fn number(&mut self) -> Result<(), InterpreterError> {
        let at = self.position();
        let mut text = String::new();
        let mut is_float = false;
        let digits = |lexer: &mut Self, text: &mut String| -> Result<(), InterpreterError> {
            let mut previous_underscore = false;
            let mut any = false;
            while let Some(character) = lexer.peek(0) {
                if character.is_ascii_digit() {
                    text.push(character);
                    previous_underscore = false;
                    any = true;
                } else if character == '_' && any && !previous_underscore {
                    previous_underscore = true;
                } else {
                    break;
                }
                lexer.advance();
            }
            if previous_underscore {
                return Err(syntax("invalid decimal literal", lexer.position()));
            }
            Ok(())
        };
        digits(self, &mut text)?;
        if self.peek(0) == Some('.') {
            is_float = true;
            text.push('.');
            self.advance();
            digits(self, &mut text)?;
        }
        if matches!(self.peek(0), Some('e' | 'E')) {
            let signed = matches!(self.peek(1), Some('+' | '-'));
            let digit_at = if signed { 2 } else { 1 };
            if self.peek(digit_at).is_some_and(|c| c.is_ascii_digit()) {
                is_float = true;
                text.push('e');
                self.advance();
                if signed {
                    text.extend(self.peek(0));
                    self.advance();
                }
                digits(self, &mut text)?;
            }
        }
        if self
            .peek(0)
            .is_some_and(|c| c.is_alphanumeric() || c == '_')
        {
            return Err(syntax("invalid decimal literal", self.position()));
        }
        if is_float {
            let value: f64 = text
                .parse()
                .map_err(|_| syntax("invalid float literal", at))?;
            if !value.is_finite() {
                return Err(InterpreterError::Overflow {
                    operation: "float literal".to_string(),
                    at,
                });
            }
            self.push(TokenKind::Float(value), at);
        } else {
            if text.len() > 1 && text.starts_with('0') && text.bytes().any(|b| b != b'0') {
                return Err(syntax(
                    "leading zeros in decimal integer literals are not permitted",
                    at,
                ));
            }
            let value: i64 = text.parse().map_err(|_| InterpreterError::Overflow {
                operation: "integer literal".to_string(),
                at,
            })?;
            self.push(TokenKind::Integer(value), at);
        }
        Ok(())
    }

    fn string(&mut self) -> Result<(), InterpreterError> {
        let at = self.position();
        let quote = self.characters[self.index];
        let triple = self.peek(1) == Some(quote) && self.peek(2) == Some(quote);
        let quote_length = if triple { 3 } else { 1 };
        for _ in 0..quote_length {
            self.advance();
        }
        let mut text = String::new();
        loop {
            let Some(character) = self.peek(0) else {
                return Err(syntax("unterminated string literal", at));
            };
            if character == quote
                && (!triple || (self.peek(1) == Some(quote) && self.peek(2) == Some(quote)))
            {
                for _ in 0..quote_length {
                    self.advance();
                }
                break;
            }
            if character == '\n' && !triple {
                return Err(syntax("unterminated string literal", at));
            }
            self.advance();
            if character == '\\' {
                let Some(escaped) = self.peek(0) else {
                    return Err(syntax("unterminated string literal", at));
                };
                self.advance();
                match escaped {
                    'n' => text.push('\n'),
                    't' => text.push('\t'),
                    '\\' | '\'' | '"' => text.push(escaped),
                    '\n' => {}
                    other => {
                        text.push('\\');
                        text.push(other);
                    }
                }
            } else {
                text.push(character);
            }
        }
        self.push(TokenKind::String(text), at);
        Ok(())
    }

    fn symbol(&mut self) -> Result<(), InterpreterError> {
        let at = self.position();
        for symbol in SYMBOLS {
            let matches = symbol
                .chars()
                .enumerate()
                .all(|(offset, expected)| self.peek(offset) == Some(expected));
            if matches {
                for _ in 0..symbol.len() {
                    self.advance();
                }
                match symbol {
                    "(" | "[" => self.bracket_depth += 1,
                    ")" | "]" => {
                        if self.bracket_depth == 0 {
                            return Err(syntax(&format!("unmatched `{symbol}`"), at));
                        }
                        self.bracket_depth -= 1;
                    }
                    _ => {}
                }
                self.push(TokenKind::Symbol(symbol), at);
                return Ok(());
            }
        }
        let character = self.characters[self.index];
        Err(syntax(
            &format!("invalid character `{}`", character.escape_debug()),
            at,
        ))
    }

    fn peek(&self, offset: usize) -> Option<char> {
        self.characters.get(self.index + offset).copied()
    }

    fn advance(&mut self) {
        if let Some(&character) = self.characters.get(self.index) {
            self.index += 1;
            if character == '\n' {
                self.line = self.line.saturating_add(1);
                self.column = 1;
            } else {
                self.column = self.column.saturating_add(1);
            }
        }
    }

    fn position(&self) -> Position {
        Position {
            line: self.line,
            column: self.column,
        }
    }

    fn push(&mut self, kind: TokenKind, at: Position) {
        self.tokens.push(Token { kind, at });
    }
}

/// A syntax error with `message` at `at`.
pub(super) fn syntax(message: &str, at: Position) -> InterpreterError {
    InterpreterError::Syntax {
        message: message.to_string(),
        at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(source: &str) -> Vec<TokenKind> {
        Lexer::new(source)
            .tokenize()
            .unwrap()
            .into_iter()
            .map(|token| token.kind)
            .collect()
    }

    #[test]
    fn indentation_becomes_indent_and_dedent_tokens() {
        let tokens = kinds("def f():\n    x = 1\n\n    return x\ny = 2\n");
        assert_eq!(
            tokens.iter().filter(|k| **k == TokenKind::Indent).count(),
            1
        );
        assert_eq!(
            tokens.iter().filter(|k| **k == TokenKind::Dedent).count(),
            1
        );
        let dedent = tokens.iter().position(|k| *k == TokenKind::Dedent).unwrap();
        assert_eq!(tokens[dedent + 1], TokenKind::Name("y".to_string()));
    }

    #[test]
    fn newlines_inside_brackets_join_lines() {
        let tokens = kinds("x = (1 +\n 2)\n");
        assert_eq!(
            tokens.iter().filter(|k| **k == TokenKind::Newline).count(),
            1
        );
    }

    #[test]
    fn numbers_strings_and_longest_symbols() {
        let tokens = kinds("a //= 1_000 ** .5e1 # note\n'''doc\nstring'''");
        assert_eq!(tokens[1], TokenKind::Symbol("//="));
        assert_eq!(tokens[2], TokenKind::Integer(1000));
        assert_eq!(tokens[3], TokenKind::Symbol("**"));
        assert_eq!(tokens[4], TokenKind::Float(5.0));
        assert_eq!(tokens[6], TokenKind::String("doc\nstring".to_string()));
    }

    #[test]
    fn bad_dedent_is_a_syntax_error_with_its_position() {
        let error = Lexer::new("def f():\n    x = 1\n  y = 2\n")
            .tokenize()
            .unwrap_err();
        assert!(matches!(
            error,
            InterpreterError::Syntax {
                at: Position { line: 3, column: 3 },
                ..
            }
        ));
    }

    #[test]
    fn oversized_integer_literal_is_an_overflow() {
        let error = Lexer::new("99999999999999999999").tokenize().unwrap_err();
        assert!(matches!(error, InterpreterError::Overflow { .. }));
    }
}
