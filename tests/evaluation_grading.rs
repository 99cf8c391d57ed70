//! Grading the paper's three example formats end to end: right answers are
//! correct, wrong ones are not, cut-off completions have no answer.

use echolab::evaluation::metrics::{pass_at_k, FormatTally};
use echolab::evaluation::{grade, Answer, Classified, Failure};

const CODE: &str = "def simple_math_problem() -> int:\n    \"\"\"Janet's ducks lay 16 eggs per day. She eats three for breakfast every morning and bakes muffins for her friends every day with four. She sells the remainder at the farmers' market daily for $2 per fresh duck egg. How much in dollars does she make every day at the farmers' market?\"\"\"\n    eggs_per_day = 16\n    eggs_eaten = 3\n    eggs_baked = 4\n    remaining = eggs_per_day - eggs_eaten - eggs_baked\n    price_per_egg = 2\n    result = remaining * price_per_egg\n    return result\n";

const CODE_TEXT: &str = "Let's solve this problem using Python code.\n<llm-code>\neggs = 16 - 3 - 4\nresult = eggs * 2\nresult\n</llm-code>\n<llm-code-output>\n18\n</llm-code-output>\nThus, Janet makes \\boxed{18} dollars.";

const PROSE: &str = "Janet has 16 - 3 - 4 = 9 eggs left to sell.\n9 * $2 = $18.\nThus, Janet makes \\boxed{18} dollars every day.";

fn eighteen() -> Answer {
    Answer::parse("18").unwrap()
}

#[test]
fn each_format_grades_correct() {
    for (completion, format) in [
        (CODE, Classified::Code),
        (CODE_TEXT, Classified::CodeText),
        (PROSE, Classified::Prose),
    ] {
        let graded = grade(completion, &eighteen());
        assert_eq!(graded.format, format);
        assert!(graded.correct, "{format}: {graded:?}");
        assert_eq!(graded.answer, Some(eighteen()));
        assert_eq!(graded.failure, None);
    }
}

#[test]
fn wrong_answers_grade_incorrect() {
    let wrong_code = CODE.replace("eggs_baked = 4", "eggs_baked = 5");
    let graded = grade(&wrong_code, &eighteen());
    assert_eq!(graded.answer, Answer::parse("16").ok());
    assert!(!graded.correct);

    let wrong_prose = PROSE.replace("\\boxed{18}", "\\boxed{20}");
    assert!(!grade(&wrong_prose, &eighteen()).correct);

    // The code is what counts in code_text, not the written output or box.
    let wrong_code_right_box = CODE_TEXT.replace("result = eggs * 2", "result = eggs * 3");
    let graded = grade(&wrong_code_right_box, &eighteen());
    assert_eq!(graded.answer, Answer::parse("27").ok());
    assert!(!graded.correct);
    let right_code_wrong_box = CODE_TEXT
        .replace("\\boxed{18}", "\\boxed{99}")
        .replace("\n18\n", "\n99\n");
    assert!(grade(&right_code_wrong_box, &eighteen()).correct);
}

#[test]
fn cut_off_completions_have_no_answer() {
    let reference = eighteen();
    let code_cut = &CODE[..CODE.find("result =").unwrap() + 12];
    let graded = grade(code_cut, &reference);
    assert!(!graded.correct);
    assert!(
        matches!(graded.failure, Some(Failure::Interpreter(_))),
        "{graded:?}"
    );

    let code_before_return = &CODE[..CODE.find("    return").unwrap()];
    assert_eq!(
        grade(code_before_return, &reference).failure,
        Some(Failure::NoValue)
    );

    let code_text_cut = &CODE_TEXT[..CODE_TEXT.find("result\n</llm-code>").unwrap()];
    assert_eq!(
        grade(code_text_cut, &reference).failure,
        Some(Failure::UnclosedCodeBlock)
    );

    let prose_cut = &PROSE[..PROSE.find("Thus").unwrap()];
    let graded = grade(prose_cut, &reference);
    assert_eq!(graded.format, Classified::Prose);
    assert_eq!(graded.failure, Some(Failure::NoAnswer));
}

#[test]
fn the_prompt_is_not_part_of_the_completion() {
    // A question that says "define" or shows a `def` does not make the
    // prose answer code: only the completion is classified.
    let question = "Define the price as def price(): ... How much?";
    let graded = grade(PROSE, &eighteen());
    assert_eq!(graded.format, Classified::Prose);
    let with_prompt = format!("{question}\n\n{PROSE}");
    assert_eq!(grade(&with_prompt, &eighteen()).format, Classified::Prose);
}

#[test]
fn metrics_over_graded_samples() {
    let completions = [CODE, CODE_TEXT, PROSE, &PROSE.replace("18}", "17}"), ""];
    let grades: Vec<_> = completions.iter().map(|c| grade(c, &eighteen())).collect();
    let correct = grades.iter().filter(|g| g.correct).count();
    assert_eq!(correct, 3);
    // 5 samples, 3 correct: pass@2 = 1 - C(2,2)/C(5,2) = 1 - 1/10.
    assert!((pass_at_k(5, correct, 2).unwrap() - 0.9).abs() < 1e-12);
    let tally = FormatTally::from_grades(&grades);
    assert_eq!(tally.share(Classified::Prose), 0.4);
    assert_eq!(tally.accuracy(Classified::Prose), Some(0.5));
}
