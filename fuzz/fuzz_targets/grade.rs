//! Grades arbitrary text as a completion; also wraps it as each format so
//! the fuzzer reaches the code-running paths quickly.
#![no_main]

use echolab::evaluation::{classify, grade, Answer, Classified};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let reference = Answer::parse("18").expect("18 is a number");
    let wrapped_code_text = format!("<llm-code>\n{text}\n</llm-code>");
    let wrapped_code = format!("def simple_math_problem():\n{text}");
    for completion in [text, wrapped_code_text.as_str(), wrapped_code.as_str()] {
        let graded = grade(completion, &reference);
        assert_eq!(graded.format, classify(completion));
        assert_eq!(graded.answer.is_none(), graded.failure.is_some());
        assert!(!graded.correct || graded.answer == Some(reference));
        if graded.format == Classified::CodeText {
            assert!(completion.contains("<llm-code>"));
        }
    }
});
