//! [`extract`]: the final answer written in a text.
//!
//! Rules, first match wins:
//! 1. the last *complete* `\boxed{...}` (or `\fbox{...}`), braces balanced
//!    and nested braces allowed; its content is read with [`Answer::parse`]
//!    and if that fails the text has no answer (the model's final answer
//!    was not a number);
//! 2. the last `#### N` (GSM8K's own answer line);
//! 3. the last "the answer is N" (any case, also "final answer is: $N$").
//!
//! There is no "last number in the text" fallback: a completion cut off
//! before its final answer should have no answer, not the last number of
//! its working.

use super::answer::Answer;
use super::number::{normalize, scan_number};

/// The final answer in `text`, if it states one.
pub fn extract(text: &str) -> Option<Answer> {
    if let Some(content) = last_boxed(text) {
        return Answer::parse(content).ok();
    }
    let normalized = normalize(text);
    if let Some(answer) = after_last_marker(&normalized, "####") {
        return Some(answer);
    }
    let lowercase = normalized.to_ascii_lowercase();
    let position = lowercase.rfind("answer is")?;
    number_after(&normalized[position + "answer is".len()..])
}

/// The content of the last complete `\boxed{...}` or `\fbox{...}`.
///
/// One forward pass with a stack of open braces, so the time is linear in
/// the text even when it holds thousands of unclosed boxes.
pub fn last_boxed(text: &str) -> Option<&str> {
    let bytes = text.as_bytes();
    // For each open `{`: where its content starts, and whether it opened a box.
    let mut open: Vec<(usize, bool)> = Vec::new();
    let mut last: Option<(usize, usize, usize)> = None; // (box start, content start, end)
    for (index, byte) in bytes.iter().enumerate() {
        match byte {
            b'{' => {
                let before = &bytes[..index];
                let is_box = before.ends_with(b"\\boxed") || before.ends_with(b"\\fbox");
                open.push((index + 1, is_box));
            }
            b'}' => {
                if let Some((content_start, true)) = open.pop() {
                    let box_start = content_start - 1;
                    if last.is_none_or(|(start, _, _)| box_start > start) {
                        last = Some((box_start, content_start, index));
                    }
                }
            }
            _ => {}
        }
    }
    last.map(|(_, content_start, end)| &text[content_start..end])
}

fn after_last_marker(text: &str, marker: &str) -> Option<Answer> {
    let position = text.rfind(marker)?;
    number_after(&text[position + marker.len()..])
}

/// The number after a marker, past spaces, colons, `$`, `*` and `\(`.
fn number_after(text: &str) -> Option<Answer> {
    let mut rest = text;
    loop {
        let trimmed = rest.trim_start_matches([' ', '\t', ':', '*', '$']);
        let trimmed = trimmed.strip_prefix("\\(").unwrap_or(trimmed);
        let trimmed = trimmed.strip_prefix("\\boxed{").unwrap_or(trimmed);
        if trimmed.len() == rest.len() {
            break;
        }
        rest = trimmed;
    }
    scan_number(rest).map(|(answer, _)| answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn extracted(text: &str) -> Option<String> {
        extract(text).map(|answer| answer.to_string())
    }

    #[test]
    fn last_complete_boxed_wins() {
        assert_eq!(
            extracted("first \\boxed{3} then \\boxed{18}."),
            Some("18".into())
        );
        assert_eq!(extracted("\\boxed{\\frac{3}{4}}"), Some("3/4".into()));
        assert_eq!(extracted("\\boxed{\\$1{,}000}"), Some("1000".into()));
        assert_eq!(
            extracted("\\boxed{18} and a cut-off \\boxed{2"),
            Some("18".into())
        );
        assert_eq!(extracted("\\fbox{7}"), Some("7".into()));
        assert_eq!(extracted("Thus \\boxed{x} is it"), None);
        assert_eq!(
            extracted("\\boxed{1} \\boxed{\\boxed{2}}"),
            Some("2".into())
        );
        assert_eq!(extracted("} \\boxed{5}}"), Some("5".into()));
    }

    #[test]
    fn many_unclosed_boxes_take_linear_time() {
        // Regression: searching back from every unclosed box and scanning to
        // the end was quadratic; a megabyte of them took minutes.
        let text = "\\boxed{".repeat(150_000);
        assert_eq!(extracted(&text), None);
    }

    #[test]
    fn gsm8k_and_answer_is_markers() {
        assert_eq!(extracted("16 - 3 = 13\n#### 1,300"), Some("1300".into()));
        assert_eq!(extracted("So the answer is $-2.5."), Some("-5/2".into()));
        assert_eq!(
            extracted("The final answer is: $\\frac{1}{2}$"),
            Some("1/2".into())
        );
        assert_eq!(extracted("The answer is 40%."), Some("40".into()));
    }

    #[test]
    fn text_without_a_final_answer_has_none() {
        assert_eq!(extracted("16 - 3 - 4 = 9 eggs. 9 * $2 = $18"), None);
        assert_eq!(extracted(""), None);
        assert_eq!(extracted("The answer is"), None);
    }
}
