//! Comments: found by a scan of the text, since the grammar skips them.

/// A `# ...` comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comment {
    /// Byte offset of the `#`.
    pub start: usize,
    /// Byte offset one past the comment's last character.
    pub end: usize,
    /// The comment's text, from `#` to the end of the line, trailing spaces removed.
    pub text: String,
}

/// Every comment in `text`, in order. `#` inside a string is not a comment.
pub fn comments(text: &str) -> Vec<Comment> {
    let mut found = Vec::new();
    let mut in_string = false;
    let mut escaped = false;
    let mut characters = text.char_indices();
    while let Some((index, c)) = characters.next() {
        if in_string {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') | (false, '\n') => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_string = true,
            '#' => {
                let end = text[index..]
                    .find('\n')
                    .map_or(text.len(), |length| index + length);
                found.push(Comment {
                    start: index,
                    end,
                    text: text[index..end].trim_end().to_string(),
                });
                // Skip to the end of the line.
                for (next_index, _) in characters.by_ref() {
                    if next_index + 1 >= end {
                        break;
                    }
                }
            }
            _ => {}
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::comments;

    #[test]
    fn finds_comments_but_not_hashes_in_strings() {
        let text = "a = \"x # y\" # real\n# whole line\nb = 1";
        let found: Vec<String> = comments(text).into_iter().map(|c| c.text).collect();
        assert_eq!(
            found,
            vec!["# real".to_string(), "# whole line".to_string()]
        );
    }
}
