//! Garbage never panics: random text and mutated valid programs go through
//! the interpreter, the extractor and the grader, which must return (an
//! error is fine) and respect their limits.

use echolab::evaluation::interpreter::{run, run_function, Limits};
use echolab::evaluation::{classify, extract, grade, Answer};
use proptest::prelude::*;

const PROGRAMS: [&str; 3] = [
    "def simple_math_problem() -> int:\n    \"\"\"Janet's ducks lay 16 eggs.\"\"\"\n    eggs_per_day = 16\n    eggs_eaten = 3\n    remaining = eggs_per_day - eggs_eaten\n    result = remaining * 2\n    return result\n",
    "eggs = 16 - 3 - 4\nresult = eggs * 2\nprint(round(result / 3, 2), max([1, 2.5]))\nresult\n",
    "def f(a, b):\n    a **= 2\n    return a // b + a % b - abs(-b) / 2\nx = f(7, -3)\nsum([x, int(2.9), float('1.5')])\n",
];

/// Text made of the pieces Python-ish garbage is made of.
fn python_like() -> impl Strategy<Value = String> {
    let pieces = prop::sample::select(vec![
        "def ",
        "f",
        "(",
        ")",
        ":",
        "\n",
        "    ",
        "\t",
        "return ",
        "x",
        " = ",
        "+",
        "-",
        "*",
        "/",
        "//",
        "%",
        "**",
        "1",
        "0",
        "9999999999",
        "2.5",
        "1e308",
        ",",
        "[",
        "]",
        "'",
        "\"\"\"",
        "#",
        "print",
        "round",
        "int",
        "float",
        "min",
        "sum",
        "=",
        "+=",
        "\\",
        "<llm-code>",
        "</llm-code>",
        "\\boxed{",
        "}",
        "{",
        "####",
        "The answer is ",
        "$",
    ]);
    prop::collection::vec(pieces, 0..60).prop_map(|pieces| pieces.concat())
}

fn exercise(text: &str) {
    let limits = Limits::default();
    if let Ok(outcome) = run(text, &limits) {
        assert!(outcome.steps <= limits.max_steps);
        assert!(outcome.printed.len() <= limits.max_output_bytes);
    }
    let _ = run_function(text, &limits, None);
    let _ = extract(text);
    let _ = Answer::parse(text);
    let reference = Answer::parse("18").unwrap();
    let graded = grade(text, &reference);
    assert_eq!(graded.format, classify(text));
    assert_eq!(graded.answer.is_none(), graded.failure.is_some());
    for wrapped in [
        format!("<llm-code>\n{text}\n</llm-code>"),
        format!("def simple_math_problem():\n{text}"),
    ] {
        let graded = grade(&wrapped, &reference);
        assert_eq!(graded.answer.is_none(), graded.failure.is_some());
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(text in any::<String>()) {
        exercise(&text);
    }

    #[test]
    fn python_like_garbage_never_panics(text in python_like()) {
        exercise(&text);
    }

    #[test]
    fn mutated_programs_never_panic(
        program in 0..PROGRAMS.len(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), 0..3u8, any::<char>()), 1..8),
    ) {
        let mut characters: Vec<char> = PROGRAMS[program].chars().collect();
        for (position, kind, character) in edits {
            let index = position.index(characters.len() + 1);
            match kind {
                0 => characters.insert(index, character),
                1 if index < characters.len() => { characters.remove(index); }
                _ if index < characters.len() => characters[index] = character,
                _ => characters.push(character),
            }
        }
        let text: String = characters.into_iter().collect();
        exercise(&text);
    }
}

#[test]
fn hostile_inputs_fail_cleanly() {
    let limits = Limits::default();
    for text in [
        "(".repeat(100_000),
        "-".repeat(50_000) + "1",
        "[".repeat(5_000),
        format!("x = {}", vec!["1"; 10_000].join("+")),
        "\\boxed{".repeat(10_000),
        "{".repeat(10_000) + &"}".repeat(10_000),
        "def f():\n    return f()\nf()".to_string(),
        "x = 2 ** 62\nx * 4".to_string(),
        format!("print('{}')\n", "a".repeat(100)).repeat(200),
    ] {
        exercise(&text);
        assert!(
            run(&text, &limits).is_err(),
            "expected an error for {:.40}",
            text
        );
    }
}
