//! Recovery after a syntax error: blank out the broken statement and go on.
//!
//! Blanking (every character but newlines replaced by a space) keeps every
//! byte offset of the rest of the file, so later errors and the tree keep
//! their true positions. A statement starts on a *statement line*: one whose
//! first word is a statement keyword followed by what that keyword needs
//! (`model small =`, `rl tuned {`, `sweep a.b =`); a field named `model`
//! (`model = small`) is not one.

/// Keywords that begin a definition: `keyword name =`.
const DEFINITION_KEYWORDS: [&str; 3] = ["source", "mixture", "model"];
/// Keywords that begin a block: `keyword [name] {`.
const STAGE_KEYWORDS: [&str; 5] = ["pretrain", "rl", "eval", "report", "experiment"];

/// Every keyword that can begin a statement, for "did you mean" hints.
pub(super) const STATEMENT_KEYWORDS: [&str; 10] = [
    "source",
    "mixture",
    "model",
    "pretrain",
    "rl",
    "eval",
    "report",
    "experiment",
    "sweep",
    "use",
];

/// Blanks the statement around byte `offset` of `text`. Returns the new text,
/// the name the blanked statement defined (if any), and a hint for the error
/// that caused the blanking; `None` when nothing could be blanked (the caller
/// stops recovering).
pub(super) fn blank_statement(
    text: &str,
    offset: usize,
) -> Option<(String, Option<String>, Option<String>)> {
    let lines = line_ranges(text);
    let depths = depths_at_line_starts(text, &lines);
    let error_line = lines
        .iter()
        .position(|&(start, end)| offset >= start && offset <= end)
        .unwrap_or(lines.len().saturating_sub(1));
    // A block header without its `{` (`pretrain base` then its fields):
    // blank the header, its fields and the `}` that closed them, so the
    // missing brace is one error, not one per field.
    let before = text[..offset.min(text.len())].trim_end();
    let header = lines
        .iter()
        .position(|&(start, end)| before.len() >= start && before.len() <= end)
        .filter(|&line| {
            let header_line = &text[lines[line].0..before.len()];
            is_block_header(header_line) && !header_line.contains('{')
        });
    if let Some(header) = header {
        let closing = (error_line..lines.len())
            .find(|&line| line_text(text, lines[line]).trim() == "}")
            .map_or(text.len(), |line| lines[line].1);
        let header_text = line_text(text, lines[header]).trim();
        let name = defined_name(&format!("{header_text} {{"));
        let hint = format!(
            "`{header_text}` on line {} needs a `{{` to open its block",
            header + 1
        );
        return blank(text, lines[header].0, closing).map(|blanked| (blanked, name, Some(hint)));
    }
    // A statement line deeper than the statement before it means that
    // statement was never closed: blank it, which removes its open bracket.
    if is_statement_line(line_text(text, lines[error_line])) {
        let before = (0..error_line).rev().find(|&line| {
            let content = line_text(text, lines[line]);
            is_statement_line(content) && content.split_whitespace().next() != Some("experiment")
        });
        if let Some(before) = before {
            if depths[error_line] > depths[before] {
                let name = defined_name(line_text(text, lines[before]));
                let hint = format!(
                    "the statement on line {} may be missing a closing bracket",
                    before + 1
                );
                return blank(text, lines[before].0, lines[error_line].0)
                    .map(|blanked| (blanked, name, Some(hint)));
            }
        }
    }
    // The experiment block encloses everything: it is the broken statement
    // only when the error is on its own line.
    let previous_statement = (0..=error_line).rev().find(|&line| {
        let content = line_text(text, lines[line]);
        is_statement_line(content)
            && (line == error_line || content.split_whitespace().next() != Some("experiment"))
    });
    let first = match previous_statement {
        Some(line) if depths[line] != depths[error_line] => line,
        _ => error_line,
    };
    let start_depth = depths[first];
    let mut last = lines.len();
    for line in first + 1..lines.len() {
        let content = line_text(text, lines[line]).trim();
        let closes_enclosing = content == "}" && depths[line] <= start_depth && start_depth > 0;
        if (is_statement_line(content) && depths[line] <= start_depth) || closes_enclosing {
            last = line;
            break;
        }
    }
    let blank_end = if last < lines.len() {
        lines[last].0
    } else {
        text.len()
    };
    let name = defined_name(line_text(text, lines[first]));
    blank(text, lines[first].0, blank_end).map(|blanked| (blanked, name, None))
}

/// `text` with `start..end` blanked; `None` if there is nothing to blank.
fn blank(text: &str, start: usize, end: usize) -> Option<String> {
    if end <= start || text[start..end].trim().is_empty() {
        return None;
    }
    let mut blanked = String::with_capacity(text.len());
    blanked.push_str(&text[..start]);
    blanked.extend(
        text[start..end]
            .chars()
            .map(|c| if c == '\n' || c == '\r' { c } else { ' ' }),
    );
    blanked.push_str(&text[end..]);
    Some(blanked)
}

/// `(start, end)` byte ranges of each line, without the newline.
fn line_ranges(text: &str) -> Vec<(usize, usize)> {
    let mut ranges = Vec::new();
    let mut start = 0;
    for (index, c) in text.char_indices() {
        if c == '\n' {
            ranges.push((start, index));
            start = index + 1;
        }
    }
    ranges.push((start, text.len()));
    ranges
}

fn line_text(text: &str, (start, end): (usize, usize)) -> &str {
    &text[start..end]
}

/// The bracket depth at the start of each line, ignoring strings and comments.
fn depths_at_line_starts(text: &str, lines: &[(usize, usize)]) -> Vec<i64> {
    let mut depths = Vec::with_capacity(lines.len());
    let mut depth: i64 = 0;
    for &(start, end) in lines {
        depths.push(depth);
        for (_, c) in brackets(&text[start..end]) {
            match c {
                '{' | '(' | '[' => depth += 1,
                _ => depth = (depth - 1).max(0),
            }
        }
    }
    depths
}

/// The brackets of one line with their byte offsets in it, leaving out
/// those in strings and in a comment.
fn brackets(line: &str) -> Vec<(usize, char)> {
    let mut found = Vec::new();
    let mut in_string = false;
    let mut escaped = false;
    for (position, c) in line.char_indices() {
        if in_string {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_string = true,
            '#' => break,
            '{' | '(' | '[' | '}' | ')' | ']' => found.push((position, c)),
            _ => {}
        }
    }
    found
}

/// Whether a line begins a statement (see the module doc).
fn is_statement_line(line: &str) -> bool {
    let mut words = line.split_whitespace();
    let Some(keyword) = words.next() else {
        return false;
    };
    let rest = line.trim_start()[keyword.len()..].trim_start();
    if keyword == "use" {
        return rest.starts_with('"');
    }
    if keyword == "sweep" {
        return rest.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_');
    }
    if DEFINITION_KEYWORDS.contains(&keyword) {
        let name_length = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        return name_length > 0 && rest[name_length..].trim_start().starts_with('=');
    }
    if STAGE_KEYWORDS.contains(&keyword) {
        return rest.starts_with('{')
            || rest.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_');
    }
    false
}

/// Whether a line is a stage's header: a stage keyword and, but for
/// `eval` and `report`, a name (`pretrain base`, `eval`), with nothing
/// else but an optional `{`.
fn is_block_header(line: &str) -> bool {
    let words: Vec<&str> = line.split_whitespace().collect();
    let words: &[&str] = match words.split_last() {
        Some((&"{", rest)) => rest,
        _ => &words,
    };
    match words {
        [keyword] => ["eval", "report"].contains(keyword),
        [keyword, name] => {
            STAGE_KEYWORDS.contains(keyword)
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        }
        _ => false,
    }
}

/// The bracket a file that ends too early left open: the first whose
/// closing bracket began a line indented otherwise than the opener's line
/// (so it probably closed an outer one), else the innermost still open.
/// Its byte offset; `None` when every bracket is closed.
pub(super) fn unclosed_bracket(text: &str) -> Option<usize> {
    let lines = line_ranges(text);
    let indent = |line: &str| line.len() - line.trim_start().len();
    let mut open: Vec<(usize, usize)> = Vec::new(); // (offset, line indent)
    let mut suspect: Option<usize> = None;
    for &(start, end) in &lines {
        let line = &text[start..end];
        for (position, c) in brackets(line) {
            if matches!(c, '{' | '(' | '[') {
                open.push((start + position, indent(line)));
                continue;
            }
            let begins_line = line[..position].trim().is_empty();
            if let Some((opener, opener_indent)) = open.pop() {
                if begins_line && opener_indent != indent(line) && suspect.is_none() {
                    suspect = Some(opener);
                }
            }
        }
    }
    if open.is_empty() {
        return None;
    }
    suspect.or_else(|| open.last().map(|(offset, _)| *offset))
}

/// The name a statement line defines, if any.
fn defined_name(line: &str) -> Option<String> {
    let words: Vec<&str> = line.split_whitespace().take(3).collect();
    let looks_like_definition =
        words.len() == 3 && (words[2].starts_with('=') || words[2].starts_with('{'));
    if !is_statement_line(line) && !looks_like_definition {
        return None;
    }
    let mut words = line.split_whitespace();
    let keyword = words.next()?;
    if keyword == "use" || keyword == "sweep" || keyword == "experiment" {
        return None;
    }
    let rest = line.trim_start()[keyword.len()..].trim_start();
    let name: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    (!name.is_empty()).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statement_lines_are_told_from_fields() {
        assert!(is_statement_line("  model small = gpt()"));
        assert!(!is_statement_line("    model = small"));
        assert!(is_statement_line("rl tuned {"));
        assert!(is_statement_line("eval {"));
        assert!(is_statement_line("sweep tuned.kl = [1]"));
        assert!(!is_statement_line("seed = 3"));
    }

    #[test]
    fn block_headers_are_a_keyword_and_a_name() {
        assert!(is_block_header("  pretrain base"));
        assert!(is_block_header("  rl tuned {"));
        assert!(is_block_header("eval"));
        assert!(!is_block_header("  model = small"));
        assert!(!is_block_header("  rl tuned = 3"));
    }

    #[test]
    fn the_unclosed_bracket_is_the_one_whose_closer_is_misindented() {
        let missing_last = "experiment e {\n  rl a {\n    x = 1\n  }\n";
        assert_eq!(unclosed_bracket(missing_last), Some(13));
        let missing_inner = "experiment e {\n  rl a {\n    x = f(1)\n  rl b {\n  }\n}\n";
        assert_eq!(
            unclosed_bracket(missing_inner),
            missing_inner.find("a {").map(|a| a + 2)
        );
        assert_eq!(unclosed_bracket("a = f(\"(\") # (\n"), None);
    }

    #[test]
    fn blanking_keeps_offsets_and_reports_the_name() {
        let text =
            "experiment e {\n  source a = synthetic(format = )\n  source b = synthetic()\n}\n";
        let offset = text.find("= )").unwrap() + 2;
        let (blanked, name, _) = blank_statement(text, offset).unwrap();
        assert_eq!(blanked.len(), text.len());
        assert_eq!(name.as_deref(), Some("a"));
        assert!(blanked.contains("source b"));
        assert!(!blanked.contains("source a"));
    }
}
