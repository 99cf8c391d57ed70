//! [`classify`]: which of the three solution formats a completion is in.
//!
//! The rule, applied to the completion only (never the prompt), first match
//! wins:
//! 1. contains `<llm-code>` -> [`Classified::CodeText`];
//! 2. has a line that starts (after optional spaces) with `def`, whitespace,
//!    an identifier and `(` -> [`Classified::Code`];
//! 3. is blank, or has no final-answer marker (`\boxed{`, `####`, "answer
//!    is") and fewer than three words of two or more letters ->
//!    [`Classified::Unknown`];
//! 4. otherwise -> [`Classified::Prose`].
//!
//! The authors' rule was `<llm-code>` -> OMI1, else the substring `def` ->
//! TinyGSM, else prose, applied to prompt plus completion. Fixed on purpose:
//! `def` inside words ("define", "undefined", "default") no longer makes
//! prose into code; the prompt is not searched, so a question mentioning
//! `def` or `<llm-code>` cannot decide the format; and empty or symbol-only
//! output is Unknown instead of being counted as prose.

use crate::data::Format;

/// A completion's format, or [`Classified::Unknown`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Classified {
    /// A TinyGSM-style Python function.
    Code,
    /// OpenMathInstruct-1: text around an `<llm-code>` block.
    CodeText,
    /// OpenMathInstruct-2: natural-language steps.
    Prose,
    /// Blank or unrecognisable output.
    Unknown,
}

impl Classified {
    /// The data format this stands for, if any.
    pub fn format(self) -> Option<Format> {
        match self {
            Classified::Code => Some(Format::Code),
            Classified::CodeText => Some(Format::CodeText),
            Classified::Prose => Some(Format::Prose),
            Classified::Unknown => None,
        }
    }

    /// The name used in metrics and reports (`code`, ..., `unknown`).
    pub fn name(self) -> &'static str {
        self.format().map_or("unknown", Format::name)
    }
}

impl From<Format> for Classified {
    fn from(format: Format) -> Classified {
        match format {
            Format::Code => Classified::Code,
            Format::CodeText => Classified::CodeText,
            Format::Prose => Classified::Prose,
        }
    }
}

impl std::fmt::Display for Classified {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(self.name())
    }
}

/// The format of `completion` (the model's text after the prompt).
pub fn classify(completion: &str) -> Classified {
    if completion.contains("<llm-code>") {
        return Classified::CodeText;
    }
    if function_definition_line(completion).is_some() {
        return Classified::Code;
    }
    if completion.trim().is_empty() {
        return Classified::Unknown;
    }
    let has_marker = completion.contains("\\boxed{")
        || completion.contains("####")
        || completion.to_ascii_lowercase().contains("answer is");
    if has_marker || word_count(completion) >= 3 {
        Classified::Prose
    } else {
        Classified::Unknown
    }
}

/// The byte offset of the first line that starts a `def name(`, if any.
pub fn function_definition_line(text: &str) -> Option<usize> {
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        if starts_function_definition(line.trim_start_matches([' ', '\t'])) {
            return Some(offset);
        }
        offset += line.len();
    }
    None
}

fn starts_function_definition(line: &str) -> bool {
    let Some(rest) = line.strip_prefix("def") else {
        return false;
    };
    let name = rest.trim_start_matches([' ', '\t']);
    if name.len() == rest.len() {
        return false; // `define`, `default`: no space after `def`
    }
    let name_length = name
        .char_indices()
        .find(|(_, c)| !(c.is_alphanumeric() || *c == '_'))
        .map_or(name.len(), |(index, _)| index);
    let starts_well = name
        .chars()
        .next()
        .is_some_and(|c| c.is_alphabetic() || c == '_');
    starts_well
        && name[name_length..]
            .trim_start_matches([' ', '\t'])
            .starts_with('(')
}

/// Words of two or more letters.
fn word_count(text: &str) -> usize {
    text.split(|c: char| !c.is_alphabetic())
        .filter(|word| word.chars().count() >= 2)
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_format_is_recognised() {
        let code = "def simple_math_problem() -> int:\n    result = 16 - 3\n    return result\n";
        assert_eq!(classify(code), Classified::Code);
        let code_text =
            "Let's solve this problem using Python code.\n<llm-code>\nx = 1\nx\n</llm-code>";
        assert_eq!(classify(code_text), Classified::CodeText);
        let prose = "16 - 3 - 4 = 9 eggs. 9 * $2 = $18.\nThus, Janet makes \\boxed{18} dollars.";
        assert_eq!(classify(prose), Classified::Prose);
    }

    #[test]
    fn def_inside_words_is_not_code() {
        // The authors' substring rule would call all of these code.
        let define = "Let us define the number of eggs as 16. Thus \\boxed{16}.";
        assert_eq!(classify(define), Classified::Prose);
        assert_eq!(
            classify("By default she sells undefined amounts."),
            Classified::Prose
        );
        assert_eq!(classify("the def keyword is (not) used"), Classified::Prose);
        assert_eq!(classify("text\n  def helper (x):\n"), Classified::Code);
    }

    #[test]
    fn code_text_wins_over_a_def_inside_its_block() {
        let both = "<llm-code>\ndef f():\n    return 1\nf()\n</llm-code>";
        assert_eq!(classify(both), Classified::CodeText);
    }

    #[test]
    fn blank_and_garbage_are_unknown() {
        assert_eq!(classify(""), Classified::Unknown);
        assert_eq!(classify("  \n\t"), Classified::Unknown);
        assert_eq!(classify("12 + 7 = ) ) 4"), Classified::Unknown);
        assert_eq!(classify("#### 12"), Classified::Prose);
        assert_eq!(Classified::Unknown.name(), "unknown");
        assert_eq!(Classified::from(Format::CodeText).name(), "code_text");
    }
}
