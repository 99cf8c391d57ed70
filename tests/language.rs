//! The `.echo` language against its golden corpus, and its properties.
//!
//! - `tests/language/invalid/*.echo`: each file ends with its expected
//!   diagnostics as `#! error LINE:COLUMN: message` comments (a diagnostic in
//!   another file is written `#! error FILE:LINE:COLUMN: message`); the
//!   checker must report exactly those, in that order.
//! - `tests/language/valid/*.echo`: every construct of the language; they
//!   must check with exactly the diagnostics they list (usually none).
//! - Formatting is idempotent and never changes what a file means, for every
//!   file in `experiments/` and `tests/`, and for random re-layouts of them.
//! - No input makes the checker panic.

use std::path::{Path, PathBuf};

use echolab::compiler::{catalog, compile_file, compile_text, Compilation};
use echolab::diagnostic::FileId;
use echolab::syntax::{format, parse};
use proptest::prelude::*;

fn echo_files(directory: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(directory)
        .unwrap_or_else(|error| panic!("cannot list {directory}: {error}"))
        .map(|entry| entry.unwrap().path())
        .filter(|path| {
            path.extension()
                .is_some_and(|extension| extension == "echo")
        })
        .collect();
    files.sort();
    files
}

/// Every `.echo` file the properties run over.
fn all_echo_files() -> Vec<PathBuf> {
    let mut files = echo_files("experiments");
    for directory in [
        "tests/language/valid",
        "tests/language/invalid",
        "tests/language/included",
    ] {
        files.extend(echo_files(directory));
    }
    files
}

fn expected_diagnostics(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|line| line.strip_prefix("#! "))
        .map(str::to_string)
        .collect()
}

fn reported_diagnostics(compilation: &Compilation, main: &Path) -> Vec<String> {
    compilation
        .diagnostics
        .iter()
        .map(|diagnostic| {
            let sources = &compilation.sources;
            let (line, column) = sources.line_column(diagnostic.span.file, diagnostic.span.start);
            let name = sources.name(diagnostic.span.file);
            let place = if Path::new(name) == main {
                format!("{line}:{column}")
            } else {
                let file = Path::new(name).file_name().unwrap().to_string_lossy();
                format!("{file}:{line}:{column}")
            };
            format!(
                "{} {place}: {}",
                diagnostic.severity.name(),
                diagnostic.message
            )
        })
        .collect()
}

#[test]
fn every_invalid_file_reports_exactly_its_expected_diagnostics() {
    let files = echo_files("tests/language/invalid");
    assert!(
        files.len() >= 40,
        "the golden corpus has only {} invalid files",
        files.len()
    );
    let mut failures = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let expected = expected_diagnostics(&text);
        let compilation = compile_file(file).unwrap();
        let reported = reported_diagnostics(&compilation, file);
        assert!(compilation.has_errors(), "{} has no error", file.display());
        assert!(
            !expected.is_empty(),
            "{} lists no expected diagnostic",
            file.display()
        );
        if reported != expected {
            failures.push(format!(
                "{}\n  expected: {expected:#?}\n  reported: {reported:#?}",
                file.display()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_valid_file_checks_with_exactly_its_listed_diagnostics() {
    let mut files = echo_files("tests/language/valid");
    files.extend(echo_files("experiments"));
    assert!(files.len() >= 6);
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let compilation = compile_file(file).unwrap();
        assert_eq!(
            reported_diagnostics(&compilation, file),
            expected_diagnostics(&text),
            "{}",
            file.display()
        );
        assert!(
            compilation.experiment.is_some(),
            "{} did not compile",
            file.display()
        );
    }
}

#[test]
fn the_valid_corpus_uses_every_call_and_field_of_the_language() {
    let corpus: String = echo_files("tests/language/valid")
        .iter()
        .map(|file| std::fs::read_to_string(file).unwrap())
        .collect();
    let words: std::collections::BTreeSet<&str> = corpus
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .collect();
    let mut names: Vec<&str> = Vec::new();
    for calls in catalog::CALL_FAMILIES {
        for call in *calls {
            names.push(call.name);
            names.extend(call.fields.iter().map(|field| field.name));
        }
    }
    for fields in catalog::BLOCKS {
        names.extend(fields.iter().map(|field| field.name));
    }
    names.extend(catalog::PLAIN_METRICS);
    names.extend(catalog::METRICS_AT_K);
    names.extend(catalog::CHARTS);
    let missing: Vec<&&str> = names
        .iter()
        .filter(|name| !words.contains(**name))
        .collect();
    assert!(missing.is_empty(), "no valid test file uses {missing:?}");
}

/// What a file means: the checked experiment, or the messages of its errors.
fn meaning(name: &Path, text: String) -> Result<String, Vec<String>> {
    let compilation = compile_text(&name.to_string_lossy(), name, text);
    match &compilation.experiment {
        Some(checked) => Ok(serde_json::to_string(checked).unwrap()),
        None => {
            let mut messages: Vec<String> = compilation
                .diagnostics
                .iter()
                .map(|d| d.message.clone())
                .collect();
            messages.sort();
            Err(messages)
        }
    }
}

fn assert_formatting_is_faithful(path: &Path, text: &str) {
    let parsed = parse(text, FileId(0));
    if !parsed.diagnostics.is_empty() {
        return; // `fmt` refuses files with syntax errors
    }
    let once = format(text, &parsed.file);
    let reparsed = parse(&once, FileId(0));
    assert!(
        reparsed.diagnostics.is_empty(),
        "formatting {} broke its syntax:\n{once}",
        path.display()
    );
    let twice = format(&once, &reparsed.file);
    assert_eq!(
        once,
        twice,
        "formatting {} is not idempotent",
        path.display()
    );
    assert_eq!(
        meaning(path, text.to_string()),
        meaning(path, once.clone()),
        "formatting {} changed its meaning:\n{once}",
        path.display()
    );
    let comments = |text: &str| {
        echolab::syntax::comments(text)
            .into_iter()
            .map(|c| c.text)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        comments(text),
        comments(&once),
        "formatting {} lost or reordered a comment",
        path.display()
    );
}

#[test]
fn formatting_every_file_is_idempotent_and_keeps_its_meaning_and_comments() {
    let files = all_echo_files();
    assert!(files.len() >= 50);
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        assert_formatting_is_faithful(&file, &text);
    }
}

#[test]
fn the_experiments_are_already_formatted() {
    for file in echo_files("experiments") {
        let text = std::fs::read_to_string(&file).unwrap();
        let parsed = parse(&text, FileId(0));
        assert_eq!(
            format(&text, &parsed.file),
            text,
            "run `echolab fmt {}`",
            file.display()
        );
    }
}

/// Rewrites every run of whitespace outside strings and comments with one
/// chosen by `choices` (never removing a line break that ends a comment).
fn relayout(text: &str, choices: &[u8]) -> String {
    const LAYOUTS: [&str; 5] = [" ", "  ", "\n", "\n\n    ", " \t "];
    let mut out = String::with_capacity(text.len() * 2);
    let mut characters = text.chars().peekable();
    let mut in_string = false;
    let mut in_comment = false;
    let mut choice = 0usize;
    while let Some(c) = characters.next() {
        if in_comment {
            out.push(c);
            in_comment = c != '\n';
            continue;
        }
        if in_string {
            out.push(c);
            if c == '\\' {
                if let Some(next) = characters.next() {
                    out.push(next);
                }
            } else if c == '"' {
                in_string = false;
            }
            continue;
        }
        match c {
            '"' => {
                in_string = true;
                out.push(c);
            }
            '#' => {
                in_comment = true;
                out.push(c);
            }
            c if c.is_whitespace() => {
                while characters.peek().is_some_and(|next| next.is_whitespace()) {
                    characters.next();
                }
                let pick = choices
                    .get(choice % choices.len().max(1))
                    .copied()
                    .unwrap_or(0) as usize;
                choice += 1;
                out.push_str(LAYOUTS[pick % LAYOUTS.len()]);
            }
            c => out.push(c),
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn any_relayout_of_a_file_means_the_same_and_formats_faithfully(
        index in 0usize..1000,
        choices in proptest::collection::vec(0u8..5, 1..64),
    ) {
        let files = all_echo_files();
        let file = &files[index % files.len()];
        let text = std::fs::read_to_string(file).unwrap();
        let moved = relayout(&text, &choices);
        assert_formatting_is_faithful(file, &moved);
        let original = parse(&text, FileId(0));
        if original.diagnostics.is_empty() {
            prop_assert_eq!(meaning(file, text.clone()), meaning(file, moved));
        }
    }

    #[test]
    fn no_input_makes_the_checker_panic(text in "\\PC{0,200}") {
        let _ = compile_text("fuzz.echo", Path::new("fuzz.echo"), text);
    }

    #[test]
    fn no_mutation_of_a_real_file_makes_the_checker_panic(
        index in 0usize..1000,
        edits in proptest::collection::vec((any::<prop::sample::Index>(), 0usize..4, "[ -~\\n]{0,3}"), 1..8),
    ) {
        let files = all_echo_files();
        let file = &files[index % files.len()];
        let mut text: Vec<char> = std::fs::read_to_string(file).unwrap().chars().collect();
        for (position, removed, inserted) in edits {
            if text.is_empty() {
                break;
            }
            let at = position.index(text.len());
            let end = (at + removed).min(text.len());
            text.splice(at..end, inserted.chars());
        }
        let text: String = text.into_iter().collect();
        let _ = compile_text(&file.to_string_lossy(), file, text.clone());
        let parsed = parse(&text, FileId(0));
        if parsed.diagnostics.is_empty() {
            let _ = format(&text, &parsed.file);
        }
    }
}

#[test]
fn the_language_reference_matches_the_catalog() {
    let path = "docs/language.md";
    let document = std::fs::read_to_string(path).unwrap();
    let start_marker = "<!-- reference:start -->\n";
    let end_marker = "<!-- reference:end -->";
    let start = document.find(start_marker).expect("start marker") + start_marker.len();
    let end = document.find(end_marker).expect("end marker");
    let generated = echolab::compiler::reference_markdown();
    if std::env::var_os("ECHOLAB_BLESS").is_some() {
        let updated = format!("{}{generated}{}", &document[..start], &document[end..]);
        std::fs::write(path, updated).unwrap();
        return;
    }
    assert_eq!(
        &document[start..end],
        generated,
        "docs/language.md is stale: run with ECHOLAB_BLESS=1"
    );
}

#[test]
fn the_benchmark_inputs_are_valid_experiments() {
    let large = echolab::bench::language::large_experiment(1000);
    assert!(large.lines().count() >= 1000);
    let compilation = compile_text("large.echo", Path::new("large.echo"), large);
    assert!(!compilation.has_errors(), "{:?}", compilation.diagnostics);
    let swept = echolab::bench::language::swept_experiment(100);
    let compilation = compile_text("swept.echo", Path::new("swept.echo"), swept);
    assert_eq!(
        compilation.experiment.map(|checked| checked.points.len()),
        Some(100)
    );
}

/// Expansion is linear in the number of points: the largest sweep allowed
/// checks (its speed target lives in `echolab bench language`).
#[test]
fn a_sweep_of_the_most_points_allowed_checks() {
    let swept = echolab::bench::language::swept_experiment(10_000);
    let compilation = compile_text("swept.echo", Path::new("swept.echo"), swept);
    let checked = compilation.experiment.expect("the sweep checks");
    assert_eq!(checked.points.len(), 10_000);
    let labels: std::collections::BTreeSet<String> =
        checked.points.iter().map(|point| point.label()).collect();
    assert_eq!(labels.len(), 10_000);
    assert_eq!(checked.points[0].label(), "kl=constant(0)");
}

/// The hints of the one error `replace` makes in the default experiment.
fn hints_after(from: &str, to: &str) -> Vec<String> {
    let path = Path::new("experiments/echo_chamber.echo");
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.contains(from), "{from}");
    let compilation = compile_text("echo_chamber.echo", path, text.replacen(from, to, 1));
    let errors: Vec<_> = compilation
        .diagnostics
        .iter()
        .filter(|diagnostic| diagnostic.severity == echolab::diagnostic::Severity::Error)
        .collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    errors[0].hints.clone()
}

#[test]
fn hints_list_the_choices_and_say_how_to_write_the_value() {
    assert_eq!(
        hints_after("algorithm = grpo()", "algorithm = dpo()"),
        [
            "did you mean `ppo`?",
            "`algorithm` is one of `ppo`, `grpo`, `reinforce` or `expert_iteration`"
        ]
    );
    assert_eq!(
        hints_after("algorithm = grpo()", "algorithm = sft()"),
        ["`algorithm` is one of `ppo`, `grpo`, `reinforce` or `expert_iteration`"]
    );
    assert_eq!(
        hints_after("samples_per_prompt = 8", "samples_per_prompt = \"8\""),
        ["write the number without quotes: `samples_per_prompt = 8`"]
    );
    assert_eq!(
        hints_after("temperature = 1.0", "temperature = [1.0, 0.7]"),
        ["`temperature` takes one value; to run several, sweep it: `sweep STAGE.temperature = [...]`"]
    );
    assert_eq!(
        hints_after("samples_per_prompt = 8", "samples_per_prompt = true"),
        ["for example `samples_per_prompt = 8`"]
    );
}
