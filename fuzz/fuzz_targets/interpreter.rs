//! Runs arbitrary text as a program, both as a module and as a function.
//! Any panic, hang or runaway allocation is a bug; errors are fine.
#![no_main]

use echolab::evaluation::interpreter::{run, run_function, Limits};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(source) = std::str::from_utf8(data) else {
        return;
    };
    let limits = Limits::default();
    if let Ok(outcome) = run(source, &limits) {
        assert!(outcome.steps <= limits.max_steps);
        assert!(outcome.printed.len() <= limits.max_output_bytes);
    }
    let _ = run_function(source, &limits, None);
});
