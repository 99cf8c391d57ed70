//! Extracts and parses answers from arbitrary text; checks that an
//! extracted answer equals itself and survives printing and re-parsing.
#![no_main]

use echolab::evaluation::answer::{extract, Answer};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for answer in [extract(text), Answer::parse(text).ok()]
        .into_iter()
        .flatten()
    {
        assert_eq!(answer, answer);
        if let Answer::Exact(_) = answer {
            let reparsed = Answer::parse(&answer.to_string()).ok();
            assert_eq!(reparsed, Some(answer), "printed as {answer}");
        }
    }
});
