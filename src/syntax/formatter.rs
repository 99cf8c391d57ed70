//! The canonical layout of `.echo` files (`echolab fmt`).
//!
//! One statement per line, two spaces of indent per block, one field per
//! line in blocks, `name = value` with single spaces, calls and lists on one
//! line unless that line would pass [`MAXIMUM_WIDTH`] columns, then one
//! element per line with a trailing comma. Blank lines between statements
//! are kept (at most one). Comments are kept: a comment on its own line stays
//! before the statement or field that follows it, and a comment after code
//! stays at the end of that line. Numbers keep their spelling (`50k` stays
//! `50k`), since the spelling carries the author's intent and not meaning.
//!
//! Formatting is idempotent and never changes what a file means; both are
//! property-tested over every file in `experiments/` and `tests/`.

use super::ast::*;
use super::comments::{comments, Comment};

/// Lines longer than this are broken at calls and lists.
const MAXIMUM_WIDTH: usize = 100;
/// Spaces per level of indentation.
const INDENT: usize = 2;

/// Formats a parsed file. `text` must be the text `file` was parsed from.
pub fn format(text: &str, file: &SourceFile) -> String {
    let mut printer = Printer {
        text,
        comments: comments(text),
        next_comment: 0,
        output: String::new(),
        last_end: 0,
    };
    let mut previous: Option<&Item> = None;
    for item in &file.items {
        let start = item_start(item);
        let separate = match previous {
            None => false,
            Some(Item::Experiment(_)) => true,
            Some(_) => matches!(item, Item::Experiment(_)) || printer.blank_line_before(start),
        };
        printer.leading_comments(start, 0, separate && previous.is_some());
        match item {
            Item::Use(use_item) => {
                printer.line(0, &format!("use {}", quote(&use_item.path)));
                printer.finish(use_item.span.end);
            }
            Item::Experiment(experiment) => {
                printer.line(0, &format!("experiment {} {{", experiment.name.text));
                printer.last_end = experiment.name.span.end;
                printer.trailing_comment();
                printer.statements(&experiment.statements, 1);
                printer.leading_comments(experiment.span.end.saturating_sub(1), 1, false);
                printer.line(0, "}");
                printer.finish(experiment.span.end);
            }
            Item::Statement(statement) => printer.statement(statement, 0),
        }
        previous = Some(item);
    }
    printer.leading_comments(
        text.len() + 1,
        0,
        !printer.output.is_empty() && printer.blank_line_before(text.len()),
    );
    printer.output
}

fn item_start(item: &Item) -> usize {
    match item {
        Item::Use(use_item) => use_item.span.start,
        Item::Experiment(experiment) => experiment.span.start,
        Item::Statement(statement) => statement.span().start,
    }
}

struct Printer<'a> {
    text: &'a str,
    comments: Vec<Comment>,
    next_comment: usize,
    output: String,
    /// End (in the source) of the last thing printed, for trailing comments.
    last_end: usize,
}

impl Printer<'_> {
    /// Prints one line at `level`.
    fn line(&mut self, level: usize, content: &str) {
        for _ in 0..level * INDENT {
            self.output.push(' ');
        }
        self.output.push_str(content);
        self.output.push('\n');
    }

    /// Whether the source has a blank line in the gap before `offset`,
    /// counting from the end of what was printed last.
    fn blank_line_before(&self, offset: usize) -> bool {
        let gap_end = self
            .comments
            .get(self.next_comment)
            .map_or(offset, |comment| comment.start.min(offset))
            .min(self.text.len());
        let gap_start = self.last_end.min(gap_end);
        let gap = &self.text[gap_start..gap_end];
        gap.matches('\n').count() >= 2
    }

    /// Prints comments that start before `offset` on lines of their own.
    fn leading_comments(&mut self, offset: usize, level: usize, blank_line_first: bool) {
        let mut first = true;
        let mut wrote_blank = false;
        if blank_line_first && !self.output.is_empty() {
            self.output.push('\n');
            wrote_blank = true;
        }
        while let Some(comment) = self.comments.get(self.next_comment) {
            if comment.start >= offset {
                break;
            }
            let comment = comment.clone();
            if !first
                && !wrote_blank
                && self.text[self.last_end.min(comment.start)..comment.start]
                    .matches('\n')
                    .count()
                    >= 2
            {
                self.output.push('\n');
            }
            first = false;
            wrote_blank = false;
            self.line(level, &comment.text);
            self.last_end = comment.end;
            self.next_comment += 1;
        }
    }

    /// After printing a node ending at `end`, keeps a comment that followed
    /// it on the same source line at the end of the printed line.
    fn finish(&mut self, end: usize) {
        self.last_end = end;
        self.trailing_comment();
    }

    fn trailing_comment(&mut self) {
        let Some(comment) = self.comments.get(self.next_comment) else {
            return;
        };
        // Only brackets and separators may stand between the node and its
        // comment; anything else means the comment belongs to a later node.
        let gap_is_punctuation = comment.start >= self.last_end
            && self.text[self.last_end..comment.start]
                .chars()
                .all(|c| c == ' ' || c == '\t' || c == '\r' || "{}()[],".contains(c));
        if !gap_is_punctuation {
            return;
        }
        let text = comment.text.clone();
        if self.output.ends_with('\n') {
            self.output.pop();
        }
        self.output.push_str("  ");
        self.output.push_str(&text);
        self.output.push('\n');
        self.last_end = comment.end;
        self.next_comment += 1;
    }

    fn statements(&mut self, statements: &[Statement], level: usize) {
        for (index, statement) in statements.iter().enumerate() {
            let start = statement.span().start;
            let blank = index > 0 && self.blank_line_before(start);
            self.leading_comments(start, level, blank);
            self.statement(statement, level);
        }
    }

    fn statement(&mut self, statement: &Statement, level: usize) {
        match statement {
            Statement::Definition(definition) => {
                let prefix = format!("{} {} = ", definition.kind.keyword(), definition.name.text);
                let value = render(&definition.value, level, level * INDENT + prefix.len());
                self.line(level, &format!("{prefix}{value}"));
                self.finish(definition.span.end);
            }
            Statement::Setting(field) => self.field(field, level),
            Statement::Stage(stage) => {
                let head = match &stage.name {
                    Some(name) => format!("{} {}", stage.kind.keyword(), name.text),
                    None => stage.kind.keyword().to_string(),
                };
                self.block(
                    &head,
                    stage.span,
                    &stage.fields,
                    level,
                    |printer, field, level| printer.field(field, level),
                );
            }
            Statement::Sweep(sweep) if sweep.zipped => {
                self.block(
                    "sweep zip",
                    sweep.span,
                    &sweep.axes,
                    level,
                    |printer, axis, level| printer.axis(axis, level, ""),
                );
            }
            Statement::Sweep(sweep) => {
                for axis in &sweep.axes {
                    self.axis(axis, level, "sweep ");
                }
                self.finish(sweep.span.end);
            }
        }
    }

    /// `head { elements }`, with comments kept inside.
    fn block<T: HasSpan>(
        &mut self,
        head: &str,
        span: crate::diagnostic::Span,
        elements: &[T],
        level: usize,
        mut print: impl FnMut(&mut Self, &T, usize),
    ) {
        let has_inner_comment = self
            .comments
            .get(self.next_comment)
            .is_some_and(|comment| comment.start < span.end);
        if elements.is_empty() && !has_inner_comment {
            self.line(level, &format!("{head} {{}}"));
            self.finish(span.end);
            return;
        }
        self.line(level, &format!("{head} {{"));
        self.last_end = span.start + head.len().min(span.end - span.start);
        // A comment right after `{` on the head line stays there.
        if let Some(brace) = self.text[span.start..span.end].find('{') {
            self.last_end = span.start + brace + 1;
            self.trailing_comment();
        }
        for (index, element) in elements.iter().enumerate() {
            let start = element.span().start;
            let blank = index > 0 && self.blank_line_before(start);
            self.leading_comments(start, level + 1, blank);
            print(self, element, level + 1);
        }
        self.leading_comments(span.end.saturating_sub(1), level + 1, false);
        self.line(level, "}");
        self.finish(span.end);
    }

    fn field(&mut self, field: &Field, level: usize) {
        let prefix = format!("{} = ", field.name.text);
        let value = render(&field.value, level, level * INDENT + prefix.len());
        self.line(level, &format!("{prefix}{value}"));
        self.finish(field.span.end);
    }

    fn axis(&mut self, axis: &SweepAxis, level: usize, keyword: &str) {
        let path: Vec<&str> = axis.path.iter().map(|name| name.text.as_str()).collect();
        let prefix = format!("{keyword}{} = ", path.join("."));
        let list = Expression {
            kind: ExpressionKind::List(axis.values.clone()),
            span: axis.list_span,
        };
        let value = render(&list, level, level * INDENT + prefix.len());
        self.line(level, &format!("{prefix}{value}"));
        self.finish(axis.span.end);
    }
}

/// Things with a span, so `block` can print fields and sweep axes alike.
trait HasSpan {
    fn span(&self) -> crate::diagnostic::Span;
}

impl HasSpan for Field {
    fn span(&self) -> crate::diagnostic::Span {
        self.span
    }
}

impl HasSpan for SweepAxis {
    fn span(&self) -> crate::diagnostic::Span {
        self.span
    }
}

/// Renders a value that starts at `column` of a line indented `level` times:
/// on one line if it fits, else broken at its outermost call, list or tuple.
fn render(expression: &Expression, level: usize, column: usize) -> String {
    let inline = render_inline(expression);
    if column + inline.len() <= MAXIMUM_WIDTH {
        return inline;
    }
    let (open, close, head, elements): (&str, &str, String, Vec<String>) = match &expression.kind {
        ExpressionKind::Call(call) => (
            "(",
            ")",
            call.name.text.clone(),
            call.arguments
                .iter()
                .map(|argument| {
                    let prefix = argument
                        .name
                        .as_ref()
                        .map_or(String::new(), |name| format!("{} = ", name.text));
                    let column = (level + 1) * INDENT + prefix.len();
                    format!("{prefix}{}", render(&argument.value, level + 1, column))
                })
                .collect(),
        ),
        ExpressionKind::List(items) => (
            "[",
            "]",
            String::new(),
            items
                .iter()
                .map(|item| render(item, level + 1, (level + 1) * INDENT))
                .collect(),
        ),
        ExpressionKind::Tuple(items) => (
            "(",
            ")",
            String::new(),
            items
                .iter()
                .map(|item| render(item, level + 1, (level + 1) * INDENT))
                .collect(),
        ),
        _ => return inline,
    };
    if elements.is_empty() {
        return inline;
    }
    let indent = " ".repeat((level + 1) * INDENT);
    let mut out = format!("{head}{open}\n");
    for element in elements {
        out.push_str(&indent);
        out.push_str(&element);
        out.push_str(",\n");
    }
    out.push_str(&" ".repeat(level * INDENT));
    out.push_str(close);
    out
}

/// Renders a value on one line.
fn render_inline(expression: &Expression) -> String {
    match &expression.kind {
        ExpressionKind::Quantity(quantity) => quantity.text.clone(),
        ExpressionKind::String(value) => quote(value),
        ExpressionKind::Range(start, end) => format!("{start}..{end}"),
        ExpressionKind::Metric(name, k) => format!("{}@{k}", name.text),
        ExpressionKind::Path(names) => names
            .iter()
            .map(|name| name.text.as_str())
            .collect::<Vec<_>>()
            .join("."),
        ExpressionKind::Call(call) => {
            let arguments: Vec<String> = call
                .arguments
                .iter()
                .map(|argument| match &argument.name {
                    Some(name) => format!("{} = {}", name.text, render_inline(&argument.value)),
                    None => render_inline(&argument.value),
                })
                .collect();
            format!("{}({})", call.name.text, arguments.join(", "))
        }
        ExpressionKind::List(items) => {
            let items: Vec<String> = items.iter().map(render_inline).collect();
            format!("[{}]", items.join(", "))
        }
        ExpressionKind::Tuple(items) => {
            let items: Vec<String> = items.iter().map(render_inline).collect();
            format!("({})", items.join(", "))
        }
        ExpressionKind::Sum(terms) => terms
            .iter()
            .map(render_inline)
            .collect::<Vec<_>>()
            .join(" + "),
        ExpressionKind::Product(left, right) => {
            format!("{} * {}", render_inline(left), render_inline(right))
        }
    }
}

/// A string literal with its escapes.
fn quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            other => out.push(other),
        }
    }
    out.push('"');
    out
}
