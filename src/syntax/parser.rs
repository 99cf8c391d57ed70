//! The pest parser and the conversion of its pairs into the [`ast`].
//!
//! pest reports only the first error of a parse, so [`parse`] recovers:
//! after an error it blanks the broken statement (see [`super::recovery`]) and
//! parses again, up to a limit, keeping every error it met.

use pest::error::{ErrorVariant, InputLocation};
use pest::iterators::Pair;
use pest::Parser as _;

use super::ast::*;
use super::number::parse_quantity;
use super::recovery;
use crate::diagnostic::{Diagnostic, FileId, Span};

#[derive(pest_derive::Parser)]
#[grammar = "../grammar/echo.pest"]
struct EchoParser;

/// How many syntax errors one parse reports before giving up.
const MAXIMUM_SYNTAX_ERRORS: usize = 20;

/// The result of parsing one file.
#[derive(Debug, Clone)]
pub struct Parsed {
    /// The tree of everything that parsed (broken statements left out).
    pub file: SourceFile,
    /// Syntax errors, in file order.
    pub diagnostics: Vec<Diagnostic>,
    /// Names defined by statements that were left out because of a syntax
    /// error; the checker does not report references to them as unknown.
    pub broken_names: Vec<String>,
}

/// Parses the text of one file.
pub fn parse(text: &str, file: FileId) -> Parsed {
    let mut working = text.to_string();
    let mut diagnostics: Vec<Diagnostic> = Vec::new();
    let mut broken_names = Vec::new();
    loop {
        match EchoParser::parse(Rule::file, &working) {
            Ok(mut pairs) => {
                let mut builder = Builder::new(&working, file);
                let tree = match pairs.next() {
                    Some(pair) => build_file(pair, &mut builder),
                    None => SourceFile { items: Vec::new() },
                };
                diagnostics.append(&mut builder.diagnostics);
                diagnostics.sort_by_key(|diagnostic| diagnostic.span.start);
                return Parsed {
                    file: tree,
                    diagnostics,
                    broken_names,
                };
            }
            Err(error) => {
                let offset = match error.location {
                    InputLocation::Pos(offset) => offset,
                    InputLocation::Span((start, _)) => start,
                };
                // An error at the end of the file after an earlier error is
                // almost always that error's echo (an unbalanced bracket).
                let at_end = working[offset.min(working.len())..].trim().is_empty();
                if !at_end || diagnostics.is_empty() {
                    diagnostics.push(syntax_error(&working, offset, &error.variant, file));
                }
                let blanked = if diagnostics.len() < MAXIMUM_SYNTAX_ERRORS {
                    recovery::blank_statement(&working, offset)
                } else {
                    None
                };
                match blanked {
                    Some((next, name, hint)) => {
                        broken_names.extend(name);
                        if let (Some(hint), Some(last)) = (hint, diagnostics.last_mut()) {
                            last.hints.push(hint);
                        }
                        working = next;
                    }
                    None => {
                        diagnostics.sort_by_key(|diagnostic| diagnostic.span.start);
                        return Parsed {
                            file: SourceFile { items: Vec::new() },
                            diagnostics,
                            broken_names,
                        };
                    }
                }
            }
        }
    }
}

/// Parses a value written alone (the catalog's defaults). `None` if it is
/// not exactly one valid value.
pub fn parse_value(text: &str, file: FileId) -> Option<Expression> {
    let mut pairs = EchoParser::parse(Rule::standalone_value, text).ok()?;
    let value = pairs.next()?.into_inner().find(is_content)?;
    let mut builder = Builder::new(text, file);
    let expression = build_value(value, &mut builder)?;
    builder.diagnostics.is_empty().then_some(expression)
}

/// Turns a pest error into a diagnostic in user words.
fn syntax_error(
    text: &str,
    offset: usize,
    variant: &ErrorVariant<Rule>,
    file: FileId,
) -> Diagnostic {
    // The file ended with a bracket open: point at that bracket, not at
    // the end of the file.
    if text[offset.min(text.len())..].trim().is_empty() {
        if let Some(opener) = recovery::unclosed_bracket(text) {
            let bracket = text[opener..].chars().next().unwrap_or('{');
            let closer = match bracket {
                '(' => ')',
                '[' => ']',
                _ => '}',
            };
            let last_line = text.trim_end().lines().count();
            return Diagnostic::error(
                Span::new(file, opener, opener + bracket.len_utf8()),
                format!("this `{bracket}` is never closed"),
            )
            .with_optional_hint(Some(format!(
                "the file ends (line {last_line}) with it open: add its `{closer}`"
            )));
        }
    }
    let found = describe_found(text, offset);
    let width = found_width(text, offset);
    let span = Span::new(file, offset, offset + width);
    let message = match variant {
        ErrorVariant::ParsingError { positives, .. } => {
            let mut expected: Vec<&str> = positives
                .iter()
                .map(|&rule| rule_description(rule))
                .collect();
            expected.sort_unstable();
            expected.dedup();
            if expected.is_empty() {
                format!("unexpected {found}")
            } else {
                format!("expected {}, found {found}", join_alternatives(&expected))
            }
        }
        ErrorVariant::CustomError { message } => message.clone(),
    };
    let hint = hint_for(text, offset);
    Diagnostic::error(span, message).with_optional_hint(hint)
}

/// A hint for common slips at `offset`.
fn hint_for(text: &str, offset: usize) -> Option<String> {
    let rest = &text[offset.min(text.len())..];
    let before = text[..offset.min(text.len())].trim_end();
    if rest.starts_with(':') {
        return Some("fields are written `name = value`, with `=`".to_string());
    }
    if rest.starts_with('"') && !rest[1..].lines().next().unwrap_or("").contains('"') {
        return Some("this string has no closing `\"` on its line".to_string());
    }
    if rest.starts_with('\'') {
        return Some("strings are written in double quotes: `\"...\"`".to_string());
    }
    if rest.starts_with("//") {
        return Some("comments start with `#`".to_string());
    }
    if rest.starts_with(',')
        && before.ends_with(|c: char| c.is_alphanumeric() || c == ')' || c == ']')
    {
        return Some(
            "fields in a block need no commas; write one `name = value` after another".to_string(),
        );
    }
    let line_start = text[..offset.min(text.len())]
        .rfind('\n')
        .map_or(0, |index| index + 1);
    let first_word: String = text[line_start..]
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    if !first_word.is_empty() && !recovery::STATEMENT_KEYWORDS.contains(&first_word.as_str()) {
        if let Some(keyword) = crate::diagnostic::closest(&first_word, recovery::STATEMENT_KEYWORDS)
        {
            return Some(format!("did you mean `{keyword}`?"));
        }
    }
    if rest.is_empty() {
        return Some("a `{`, `(` or `[` may be missing its closing bracket".to_string());
    }
    None
}

/// `a`, `a or b`, `a, b or c`.
fn join_alternatives(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => (*one).to_string(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

/// What the parser met at `offset`, in words.
fn describe_found(text: &str, offset: usize) -> String {
    let rest = &text[offset.min(text.len())..];
    match rest.chars().next() {
        None => "the end of the file".to_string(),
        Some('\n') | Some('\r') => "the end of the line".to_string(),
        Some(c) if c.is_alphanumeric() || c == '_' => {
            let word: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '.')
                .take(40)
                .collect();
            format!("`{word}`")
        }
        Some(c) => format!("`{c}`"),
    }
}

/// How many bytes the thing found at `offset` spans (at least one character).
fn found_width(text: &str, offset: usize) -> usize {
    let rest = &text[offset.min(text.len())..];
    match rest.chars().next() {
        None => 0,
        Some(c) if c.is_alphanumeric() || c == '_' => rest
            .char_indices()
            .find(|(_, c)| !(c.is_alphanumeric() || *c == '_' || *c == '.'))
            .map_or(rest.len(), |(index, _)| index),
        Some(c) => c.len_utf8(),
    }
}

/// The words a user sees for a grammar rule.
pub(super) fn rule_description(rule: Rule) -> &'static str {
    match rule {
        Rule::EOI => "the end of the file",
        Rule::file | Rule::item => "a statement",
        Rule::use_item => "`use`",
        Rule::experiment => "`experiment`",
        Rule::statement => "a statement",
        Rule::definition | Rule::definition_keyword => {
            "a definition (`source`, `mixture`, `model`)"
        }
        Rule::stage | Rule::stage_keyword => "a stage (`pretrain`, `rl`, `eval`, `report`)",
        Rule::sweep | Rule::sweep_zip | Rule::sweep_keyword => "`sweep`",
        Rule::zip_keyword => "`zip`",
        Rule::sweep_axis | Rule::path => "a parameter path such as `tuned.kl`",
        Rule::setting | Rule::field => "a field `name = value`",
        Rule::block => "`{`",
        Rule::value | Rule::product | Rule::atom | Rule::argument => "a value",
        Rule::named_argument => "an argument",
        Rule::call => "a call such as `adamw(lr = 1e-3)`",
        Rule::list => "a list `[...]`",
        Rule::tuple => "a tuple `(a, b)`",
        Rule::range => "a range such as `1..3`",
        Rule::metric => "a metric such as `pass@8`",
        Rule::quantity | Rule::number | Rule::digits => "a number",
        Rule::integer => "a whole number",
        Rule::suffix => "a unit suffix (`k`, `M`, `G`, `%`)",
        Rule::string | Rule::string_content => "a string",
        Rule::name | Rule::identifier_tail => "a name",
        Rule::WHITESPACE | Rule::COMMENT => "a space",
        Rule::standalone_value => "a value",
        Rule::use_keyword => "`use`",
        Rule::experiment_keyword => "`experiment`",
        Rule::equals => "`=`",
        Rule::plus => "`+`",
        Rule::times => "`*`",
        Rule::comma => "`,`",
        Rule::open_brace => "`{`",
        Rule::close_brace => "`}`",
        Rule::open_parenthesis => "`(`",
        Rule::close_parenthesis => "`)`",
        Rule::open_bracket => "`[`",
        Rule::close_bracket => "`]`",
    }
}

/// Whether a pair is content rather than punctuation or a keyword.
fn is_content(pair: &Pair<Rule>) -> bool {
    !matches!(
        pair.as_rule(),
        Rule::equals
            | Rule::plus
            | Rule::times
            | Rule::comma
            | Rule::open_brace
            | Rule::close_brace
            | Rule::open_parenthesis
            | Rule::close_parenthesis
            | Rule::open_bracket
            | Rule::close_bracket
            | Rule::use_keyword
            | Rule::experiment_keyword
            | Rule::sweep_keyword
            | Rule::zip_keyword
    )
}

/// Builds tree nodes from pest pairs, with spans that end at the node's last
/// token: pest's implicit whitespace (comments included) can extend a pair
/// past it, which would hide a trailing comment from the formatter.
struct Builder {
    file: FileId,
    diagnostics: Vec<Diagnostic>,
    /// Bytes that are whitespace or inside a comment.
    trivia: Vec<bool>,
}

impl Builder {
    fn new(text: &str, file: FileId) -> Self {
        let mut trivia: Vec<bool> = text
            .bytes()
            .map(|byte| byte.is_ascii_whitespace())
            .collect();
        for comment in super::comments(text) {
            trivia[comment.start..comment.end]
                .iter_mut()
                .for_each(|byte| *byte = true);
        }
        Builder {
            file,
            diagnostics: Vec::new(),
            trivia,
        }
    }

    fn span(&self, pair: &Pair<Rule>) -> Span {
        let span = pair.as_span();
        let mut end = span.end();
        while end > span.start() && self.trivia.get(end - 1).copied().unwrap_or(false) {
            end -= 1;
        }
        Span::new(self.file, span.start(), end)
    }

    fn identifier(&self, pair: Pair<Rule>) -> Identifier {
        Identifier {
            text: pair.as_str().to_string(),
            span: self.span(&pair),
        }
    }
}

fn build_file(pair: Pair<Rule>, builder: &mut Builder) -> SourceFile {
    let mut items = Vec::new();
    for item in pair.into_inner().filter(is_content) {
        match item.as_rule() {
            Rule::use_item => {
                let span = builder.span(&item);
                if let Some(string) = item.into_inner().find(is_content) {
                    let path_span = builder.span(&string);
                    let path = string_value(string);
                    items.push(Item::Use(Use {
                        path,
                        path_span,
                        span,
                    }));
                }
            }
            Rule::experiment => {
                let span = builder.span(&item);
                let mut inner = item.into_inner().filter(is_content);
                let Some(name) = inner.next() else { continue };
                let statements = inner
                    .filter_map(|statement| build_statement(statement, builder))
                    .collect();
                items.push(Item::Experiment(Experiment {
                    name: builder.identifier(name),
                    statements,
                    span,
                }));
            }
            Rule::EOI => {}
            _ => {
                if let Some(statement) = build_statement(item, builder) {
                    items.push(Item::Statement(statement));
                }
            }
        }
    }
    SourceFile { items }
}

fn build_statement(pair: Pair<Rule>, builder: &mut Builder) -> Option<Statement> {
    let span = builder.span(&pair);
    match pair.as_rule() {
        Rule::definition => {
            let mut inner = pair.into_inner().filter(is_content);
            let kind = match inner.next()?.as_str() {
                "source" => DefinitionKind::Source,
                "mixture" => DefinitionKind::Mixture,
                _ => DefinitionKind::Model,
            };
            let name = builder.identifier(inner.next()?);
            let value = build_value(inner.next()?, builder)?;
            Some(Statement::Definition(Definition {
                kind,
                name,
                value,
                span,
            }))
        }
        Rule::stage => {
            let mut inner = pair.into_inner().filter(is_content);
            let keyword = inner.next()?;
            let keyword_span = builder.span(&keyword);
            let kind = match keyword.as_str() {
                "pretrain" => StageKind::Pretrain,
                "rl" => StageKind::Rl,
                "eval" => StageKind::Eval,
                _ => StageKind::Report,
            };
            let mut name = None;
            let mut fields = Vec::new();
            for part in inner {
                match part.as_rule() {
                    Rule::name => name = Some(builder.identifier(part)),
                    Rule::block => {
                        fields = part
                            .into_inner()
                            .filter(is_content)
                            .filter_map(|field| build_field(field, builder))
                            .collect();
                    }
                    _ => {}
                }
            }
            Some(Statement::Stage(Stage {
                kind,
                keyword_span,
                name,
                fields,
                span,
            }))
        }
        Rule::sweep => {
            let body = pair
                .into_inner()
                .filter(is_content)
                .find(|part| part.as_rule() != Rule::sweep_keyword)?;
            let (zipped, axes) = match body.as_rule() {
                Rule::sweep_zip => (
                    true,
                    body.into_inner()
                        .filter(is_content)
                        .filter(|part| part.as_rule() == Rule::sweep_axis)
                        .filter_map(|axis| build_axis(axis, builder))
                        .collect(),
                ),
                _ => (false, build_axis(body, builder).into_iter().collect()),
            };
            Some(Statement::Sweep(Sweep { axes, zipped, span }))
        }
        Rule::setting => build_field(pair, builder).map(Statement::Setting),
        _ => None,
    }
}

fn build_axis(pair: Pair<Rule>, builder: &mut Builder) -> Option<SweepAxis> {
    let span = builder.span(&pair);
    let mut inner = pair.into_inner().filter(is_content);
    let path_pair = inner.next()?;
    let path_span = builder.span(&path_pair);
    let path = path_pair
        .into_inner()
        .filter(is_content)
        .map(|name| builder.identifier(name))
        .collect();
    let list = inner.next()?;
    let list_span = builder.span(&list);
    let values = list
        .into_inner()
        .filter(is_content)
        .filter_map(|value| build_value(value, builder))
        .collect();
    Some(SweepAxis {
        path,
        path_span,
        values,
        list_span,
        span,
    })
}

fn build_field(pair: Pair<Rule>, builder: &mut Builder) -> Option<Field> {
    let span = builder.span(&pair);
    let mut inner = pair.into_inner().filter(is_content);
    let name = builder.identifier(inner.next()?);
    let value = build_value(inner.next()?, builder)?;
    Some(Field { name, value, span })
}

/// `value = product ("+" product)*`: a single product is returned as itself.
fn build_value(pair: Pair<Rule>, builder: &mut Builder) -> Option<Expression> {
    let span = builder.span(&pair);
    let mut terms: Vec<Expression> = pair
        .into_inner()
        .filter(is_content)
        .filter_map(|product| build_product(product, builder))
        .collect();
    if terms.len() == 1 {
        return terms.pop();
    }
    Some(Expression {
        kind: ExpressionKind::Sum(terms),
        span,
    })
}

fn build_product(pair: Pair<Rule>, builder: &mut Builder) -> Option<Expression> {
    let span = builder.span(&pair);
    let mut factors: Vec<Expression> = pair
        .into_inner()
        .filter(is_content)
        .filter_map(|atom| build_atom(atom, builder))
        .collect();
    match factors.len() {
        1 => factors.pop(),
        2 => {
            let right = factors.pop()?;
            let left = factors.pop()?;
            Some(Expression {
                kind: ExpressionKind::Product(Box::new(left), Box::new(right)),
                span,
            })
        }
        _ => None,
    }
}

fn build_atom(pair: Pair<Rule>, builder: &mut Builder) -> Option<Expression> {
    let span = builder.span(&pair);
    let kind = match pair.as_rule() {
        Rule::string => ExpressionKind::String(string_value(pair)),
        Rule::quantity => match parse_quantity(pair.as_str()) {
            Some(quantity) => ExpressionKind::Quantity(quantity),
            None => {
                builder.diagnostics.push(Diagnostic::error(
                    span,
                    format!("the number `{}` is too large", pair.as_str()),
                ));
                return None;
            }
        },
        Rule::range => {
            let mut inner = pair.into_inner().filter(is_content);
            let start = whole_number(inner.next()?, builder)?;
            let end = whole_number(inner.next()?, builder)?;
            ExpressionKind::Range(start, end)
        }
        Rule::metric => {
            let mut inner = pair.into_inner().filter(is_content);
            let name = builder.identifier(inner.next()?);
            let k = whole_number(inner.next()?, builder)?;
            ExpressionKind::Metric(name, k)
        }
        Rule::path => ExpressionKind::Path(
            pair.into_inner()
                .filter(is_content)
                .map(|name| builder.identifier(name))
                .collect(),
        ),
        Rule::call => {
            let mut inner = pair.into_inner().filter(is_content);
            let name = builder.identifier(inner.next()?);
            let arguments = inner
                .filter_map(|argument| build_argument(argument, builder))
                .collect();
            ExpressionKind::Call(Call { name, arguments })
        }
        Rule::list => ExpressionKind::List(
            pair.into_inner()
                .filter(is_content)
                .filter_map(|value| build_value(value, builder))
                .collect(),
        ),
        Rule::tuple => ExpressionKind::Tuple(
            pair.into_inner()
                .filter(is_content)
                .filter_map(|value| build_value(value, builder))
                .collect(),
        ),
        _ => return None,
    };
    Some(Expression { kind, span })
}

fn build_argument(pair: Pair<Rule>, builder: &mut Builder) -> Option<Argument> {
    let span = builder.span(&pair);
    let inner = pair.into_inner().find(is_content)?;
    match inner.as_rule() {
        Rule::named_argument => {
            let mut parts = inner.into_inner().filter(is_content);
            let name = builder.identifier(parts.next()?);
            let value = build_value(parts.next()?, builder)?;
            Some(Argument {
                name: Some(name),
                value,
                span,
            })
        }
        _ => Some(Argument {
            name: None,
            value: build_value(inner, builder)?,
            span,
        }),
    }
}

fn whole_number(pair: Pair<Rule>, builder: &mut Builder) -> Option<i64> {
    let text: String = pair.as_str().chars().filter(|&c| c != '_').collect();
    match text.parse::<i64>() {
        Ok(value) => Some(value),
        Err(_) => {
            builder.diagnostics.push(Diagnostic::error(
                builder.span(&pair),
                format!("the number `{}` is too large", pair.as_str()),
            ));
            None
        }
    }
}

/// The value of a string literal, escapes resolved.
fn string_value(pair: Pair<Rule>) -> String {
    let raw = pair
        .into_inner()
        .find(is_content)
        .map_or("", |content| content.as_str());
    let mut value = String::with_capacity(raw.len());
    let mut characters = raw.chars();
    while let Some(c) = characters.next() {
        if c == '\\' {
            match characters.next() {
                Some('n') => value.push('\n'),
                Some('t') => value.push('\t'),
                Some(other) => value.push(other),
                None => {}
            }
        } else {
            value.push(c);
        }
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_block_without_its_brace_is_one_error_with_a_hint_naming_the_header() {
        let text = "experiment e {\n  pretrain base\n    model = small\n    tokens = 1k\n  }\n  rl tuned {\n    from = base\n  }\n}\n";
        let parsed = parse(text, FileId(0));
        assert_eq!(parsed.diagnostics.len(), 1, "{:?}", parsed.diagnostics);
        assert_eq!(
            parsed.diagnostics[0].hints,
            ["`pretrain base` on line 2 needs a `{` to open its block"]
        );
        assert_eq!(parsed.broken_names, ["base"]);
    }

    #[test]
    fn a_file_ending_inside_a_block_points_at_the_block_and_says_where_it_ends() {
        let text = "experiment e {\n  seed = 1\n";
        let parsed = parse(text, FileId(0));
        assert_eq!(parsed.diagnostics.len(), 1);
        let diagnostic = &parsed.diagnostics[0];
        assert_eq!(diagnostic.span.start, 13);
        assert_eq!(
            diagnostic.hints,
            ["the file ends (line 2) with it open: add its `}`"]
        );
    }
}
