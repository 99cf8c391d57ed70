//! GSM8K: every reference answer parses, conversion counts add up, and the
//! converted problems compute their reference.

use std::path::Path;

use echolab::data::gsm8k::{self, Unconvertible};
use echolab::data::jsonl::{self, FieldMapping};
use echolab::data::{Format, Number, Split};

fn directory() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/data/gsm8k"))
}

#[test]
fn all_8792_reference_answers_parse() {
    let mut total = 0;
    for split in [Split::Train, Split::Test] {
        let questions = gsm8k::load(directory(), split, None).unwrap();
        assert!(questions.failures.is_empty());
        total += questions.documents.len();
        // The JSONL reader with GSM8K's mapping agrees on every answer.
        let mut mapping = FieldMapping::new("question", "answer");
        mapping.split = split;
        let generic = jsonl::load(&directory().join(format!("{split}.jsonl")), &mapping).unwrap();
        let answers: Vec<&str> = generic
            .iter()
            .map(|document| document.answer.as_str())
            .collect();
        let expected: Vec<&str> = questions
            .documents
            .iter()
            .map(|document| document.answer.as_str())
            .collect();
        assert_eq!(answers, expected);
    }
    assert_eq!(total, 8_792);
}

#[test]
fn conversion_counts_add_up_and_rendered_answers_are_the_reference() {
    for (split, size) in [(Split::Train, 7_473), (Split::Test, 1_319)] {
        let conversion = gsm8k::load(directory(), split, Some(Format::CodeText)).unwrap();
        assert_eq!(conversion.total(), size);
        assert_eq!(
            conversion.counts().values().sum::<usize>(),
            conversion.failures.len()
        );
        assert!(
            conversion.documents.len() * 100 >= size * 95,
            "{} of {size}",
            conversion.documents.len()
        );
        for document in &conversion.documents {
            let solution = document.solution.as_deref().unwrap();
            let expected = format!("<llm-code-output>\n{}\n</llm-code-output>", document.answer);
            assert!(solution.contains(&expected), "{solution}");
        }
        let lines: Vec<usize> = conversion
            .failures
            .iter()
            .map(|failure| failure.line)
            .collect();
        assert!(lines.windows(2).all(|pair| pair[0] < pair[1]));
    }
}

#[test]
fn annotations_become_chained_steps() {
    let answer = "Natalia sold 48/2 = <<48/2=24>>24 clips in May.\nNatalia sold 48+24 = <<48+24=72>>72 clips altogether.\n#### 72";
    let problem = gsm8k::convert("How many?", answer, Number::whole(72)).unwrap();
    assert_eq!(problem.steps.len(), 2);
    assert_eq!(problem.solution_answer(), Some(Number::whole(72)));
    let code = echolab::data::render(&problem, Format::Code, Default::default()).unwrap();
    assert!(
        code.contains("    step_1 = 48 / 2\n    step_2 = 48 + step_1\n    result = step_2\n"),
        "{code}"
    );
    let prose = echolab::data::render(&problem, Format::Prose, Default::default()).unwrap();
    assert_eq!(
        prose,
        "Natalia sold 48/2 = 24 clips in May.\nNatalia sold 48+24 = 72 clips altogether.\nThus, the answer is \\boxed{72}."
    );
}

#[test]
fn a_final_equation_written_without_annotation_is_used() {
    let answer =
        "The ice cream is 10 × $4 = $<<10*4=40>>40.\nCaleb spent $40 − $4 = $36 more.\n#### 36";
    let problem = gsm8k::convert("How much more?", answer, Number::whole(36)).unwrap();
    assert_eq!(problem.steps.len(), 2);
    assert_eq!(problem.solution_answer(), Some(Number::whole(36)));
}

#[test]
fn unconvertible_problems_are_named_with_their_reason() {
    let no_calculation = gsm8k::convert("q", "Let x be 5.\n#### 5", Number::whole(5));
    assert_eq!(no_calculation.unwrap_err(), Unconvertible::NoCalculations);
    let off = gsm8k::convert("q", "<<2+2=5>>5\n#### 5", Number::whole(5));
    assert_eq!(off.unwrap_err(), Unconvertible::AnnotationMismatch);
    let broken = gsm8k::convert("q", "<<2+*2=4>>4\n#### 4", Number::whole(4));
    assert_eq!(broken.unwrap_err(), Unconvertible::MalformedAnnotation);
    let elsewhere = gsm8k::convert(
        "q",
        "<<2+2=4>>4 so the answer is 8\n#### 8",
        Number::whole(8),
    );
    assert_eq!(elsewhere.unwrap_err(), Unconvertible::AnswerNotComputed);
}
