//! The synthetic generator: determinism, splits, difficulty, formats, noise.

use std::collections::BTreeSet;

use echolab::data::{corrupt, render, Format, Number, RenderOptions, Split, SyntheticSource};
use echolab::random::Stream;

fn source(seed: u64, format: Option<Format>, problems: usize) -> SyntheticSource {
    let mut source = SyntheticSource::new(seed, format, problems);
    source.difficulty = 1..=6;
    source
}

#[test]
fn same_seed_gives_the_same_documents_and_different_seeds_differ() {
    let first = source(11, Some(Format::Prose), 200).generate().unwrap();
    let again = source(11, Some(Format::Prose), 200).generate().unwrap();
    let other = source(12, Some(Format::Prose), 200).generate().unwrap();
    assert_eq!(first, again);
    let differing = first
        .iter()
        .zip(&other)
        .filter(|(a, b)| a.question != b.question)
        .count();
    assert!(differing > 190, "only {differing} of 200 questions differ");
    let distinct: BTreeSet<&str> = first
        .iter()
        .map(|document| document.question.as_str())
        .collect();
    assert!(
        distinct.len() > 190,
        "only {} distinct questions",
        distinct.len()
    );
}

#[test]
fn train_and_test_questions_never_overlap() {
    let mut train = source(5, None, 3_000);
    train.test_fraction = 0.2;
    let mut test = train.clone();
    test.split = Split::Test;
    test.problems = 600;
    let train_questions: BTreeSet<String> = train
        .generate()
        .unwrap()
        .into_iter()
        .map(|document| document.question)
        .collect();
    let test_documents = test.generate().unwrap();
    assert_eq!(test_documents.len(), 600);
    assert!(test_documents
        .iter()
        .all(|document| document.split == Split::Test));
    let overlap = test_documents
        .iter()
        .filter(|document| train_questions.contains(&document.question))
        .count();
    assert_eq!(overlap, 0);
    // Another seed's training set must not contain this test set either.
    let mut other = train.clone();
    other.seed = 99;
    let leaked = other
        .generate()
        .unwrap()
        .into_iter()
        .filter(|document| Split::of_question(&document.question, 0.2) == Split::Test)
        .count();
    assert_eq!(leaked, 0);
}

#[test]
fn every_difficulty_gives_that_many_steps_and_whole_answers() {
    for steps in 1..=8 {
        let mut config = source(3, Some(Format::Code), 1);
        config.difficulty = steps..=steps;
        for index in 0..100 {
            let problem = config.problem(index);
            assert_eq!(problem.steps.len(), steps, "{}", problem.question);
            let values = problem.step_values().unwrap();
            assert!(values
                .iter()
                .all(|value| value.is_whole() && *value >= Number::whole(0)));
            assert_eq!(values.last().copied(), Some(problem.reference));
            assert!(problem.question.ends_with('?'));
        }
    }
}

#[test]
fn numbers_in_questions_stay_in_the_configured_range() {
    let mut config = source(8, None, 1);
    config.numbers = 3..=9;
    for index in 0..200 {
        let problem = config.problem(index);
        for given in &problem.givens {
            let value = given.value.as_whole().unwrap();
            assert!((3..=9).contains(&value), "{value} in {}", problem.question);
        }
    }
}

#[test]
fn renders_carry_their_format_markers_and_the_answer() {
    for format in Format::ALL {
        for document in source(21, Some(format), 150).generate().unwrap() {
            let solution = document.solution.as_deref().unwrap();
            let has_def = solution.contains("def simple_math_problem");
            let has_block = solution.contains("<llm-code>");
            match format {
                Format::Code => {
                    assert!(has_def && !has_block);
                    assert!(solution.starts_with("def simple_math_problem() -> int:\n"));
                    assert!(solution.contains(
                        "
    result = "
                    ));
                    assert!(solution.ends_with("\n    return result"));
                }
                Format::CodeText => {
                    assert!(has_block && !has_def);
                    assert!(solution
                        .starts_with("Let's solve this problem using Python code.\n<llm-code>\n"));
                    let boxed = format!("<llm-code-output>\n{}\n</llm-code-output>\nThus, the answer is \\boxed{{{}}}.", document.answer, document.answer);
                    assert!(solution.ends_with(&boxed), "{solution}");
                }
                Format::Prose => {
                    assert!(!has_def && !has_block);
                    assert!(solution.ends_with(&format!("\\boxed{{{}}}.", document.answer)));
                    assert!(solution.contains(" = "));
                }
            }
            assert_eq!(
                document.text(),
                format!("{}\n\n{}", document.question, solution)
            );
            assert!(!document.noisy);
        }
    }
}

#[test]
fn questions_only_sources_have_no_solution() {
    let documents = source(2, None, 20).generate().unwrap();
    assert!(documents
        .iter()
        .all(|document| document.solution.is_none() && document.format.is_none()));
    assert_eq!(documents[0].text(), documents[0].question);
}

#[test]
fn noisy_solutions_reach_a_different_answer_at_the_configured_rate() {
    for format in Format::ALL {
        let mut config = source(31, Some(format), 1_000);
        config.noise = 0.3;
        let documents = config.generate().unwrap();
        let noisy = documents.iter().filter(|document| document.noisy).count();
        assert!(
            (240..=360).contains(&noisy),
            "{format}: {noisy} noisy of 1000"
        );
        for document in documents.iter().filter(|document| document.noisy) {
            let solution = document.solution.as_deref().unwrap();
            let boxed_reference = format!("\\boxed{{{}}}", document.answer);
            match format {
                Format::Code => {}
                _ => assert!(!solution.contains(&boxed_reference), "{solution}"),
            }
        }
    }
}

#[test]
fn every_corruption_changes_the_final_answer() {
    let config = source(41, None, 1);
    for index in 0..300 {
        let problem = config.problem(index);
        for format in Format::ALL {
            let mut stream = Stream::new(index).derive(&[format as u64]);
            let (wrong, _) = corrupt(&problem, format, &mut stream).expect("a mistake exists");
            assert!(wrong.is_wrong());
            assert_ne!(wrong.solution_answer(), Some(problem.reference));
            let correct = render(&problem, format, RenderOptions::default()).unwrap();
            let noisy = render(&wrong, format, RenderOptions::default()).unwrap();
            assert_ne!(correct, noisy);
        }
    }
}

#[test]
fn invalid_configurations_are_refused_with_the_field_named() {
    let mut config = source(1, None, 5);
    config.split = Split::Test;
    config.test_fraction = 0.0;
    assert!(config
        .generate()
        .unwrap_err()
        .to_string()
        .contains("`test_fraction`"));
    let mut config = source(1, None, 5);
    config.difficulty = 0..=2;
    assert!(config
        .generate()
        .unwrap_err()
        .to_string()
        .contains("`difficulty`"));
    let mut config = source(1, None, 5);
    config.noise = 1.5;
    assert!(config
        .generate()
        .unwrap_err()
        .to_string()
        .contains("`noise`"));
}
