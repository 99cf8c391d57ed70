//! The data and the grader agree: every correct rendering of a problem, in
//! every format, grades as correct; every noisy one as wrong; and the
//! classifier names each rendering's own format. Over thousands of
//! problems from many seeds, and over all of GSM8K.

use echolab::data::{gsm8k, Document, Format, Split, SyntheticSource};
use echolab::evaluation::{classify, grade, Answer, Classified};

fn classified(format: Format) -> Classified {
    match format {
        Format::Code => Classified::Code,
        Format::CodeText => Classified::CodeText,
        Format::Prose => Classified::Prose,
    }
}

fn check(document: &Document, failures: &mut Vec<String>) {
    let Some(format) = document.format else {
        return;
    };
    let Some(solution) = &document.solution else {
        return;
    };
    let reference = Answer::parse(&document.answer).unwrap_or_else(|error| {
        panic!("reference `{}` does not parse: {error:?}", document.answer)
    });
    let graded = grade(solution, &reference);
    if graded.correct == document.noisy {
        failures.push(format!(
            "{format} {} graded {} (answer {:?}, failure {:?}):\n{}\n{solution}",
            if document.noisy { "noisy" } else { "clean" },
            if graded.correct { "correct" } else { "wrong" },
            graded.answer,
            graded.failure,
            document.question
        ));
    }
    if classify(solution) != classified(format) || graded.format != classified(format) {
        failures.push(format!(
            "{format} rendering classified as {:?}:\n{solution}",
            classify(solution)
        ));
    }
}

#[test]
fn every_rendering_grades_as_its_truth_and_is_classified_as_its_format() {
    let mut failures = Vec::new();
    let mut checked = 0;
    for seed in 0..40u64 {
        for format in Format::ALL {
            let mut source = SyntheticSource::new(seed, Some(format), 60);
            source.difficulty = 1..=6;
            source.noise = 0.5;
            source.split = if seed % 2 == 0 {
                Split::Train
            } else {
                Split::Test
            };
            for document in source.generate().unwrap() {
                check(&document, &mut failures);
                checked += 1;
            }
        }
    }
    assert!(checked >= 7000, "only {checked} documents checked");
    assert!(
        failures.is_empty(),
        "{} of {checked} disagree; first:\n{}",
        failures.len(),
        failures
            .iter()
            .take(3)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n---\n")
    );
}

/// The share of GSM8K problems whose rendering executes (code formats) or
/// reads (prose) to the `####` answer. Prints the figures; requires all of
/// the converted ones to grade correct.
#[test]
fn every_converted_gsm8k_problem_grades_correct_in_every_format() {
    for split in [Split::Train, Split::Test] {
        for format in Format::ALL {
            let path = std::path::PathBuf::from(format!("<built-in>/gsm8k/{}.jsonl", split.name()));
            let conversion =
                gsm8k::load_text(gsm8k::built_in(split), &path, split, Some(format)).unwrap();
            let total = conversion.documents.len() + conversion.failures.len();
            let mut failures = Vec::new();
            for document in &conversion.documents {
                check(document, &mut failures);
            }
            let correct =
                conversion.documents.len() - failures.len().min(conversion.documents.len());
            println!(
                "gsm8k {} {format}: {total} problems, {} converted, {correct} grade correct ({:.1}% of all)",
                split.name(),
                conversion.documents.len(),
                100.0 * correct as f64 / total as f64
            );
            assert!(
                failures.is_empty(),
                "{} {format}: {} converted problems grade wrong; first:\n{}",
                split.name(),
                failures.len(),
                failures.first().cloned().unwrap_or_default()
            );
        }
    }
}
