//! The `.echo` parser, checker and formatter on arbitrary text: no panic, no
//! hang, and formatting any file that parses gives a file that parses again
//! to the same formatted text (idempotence).
#![no_main]

use std::path::Path;

use echolab::compiler::compile_text;
use echolab::diagnostic::FileId;
use echolab::syntax::{format, parse};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // `use` paths resolve next to this (missing) file, so nothing is read.
    let _ = compile_text("fuzz.echo", Path::new("/nonexistent/fuzz.echo"), text.to_string());
    let parsed = parse(text, FileId(0));
    if parsed.diagnostics.is_empty() {
        let once = format(text, &parsed.file);
        let again = parse(&once, FileId(0));
        assert!(again.diagnostics.is_empty(), "formatting broke the syntax:\n{once}");
        assert_eq!(format(&once, &again.file), once, "formatting is not idempotent");
    }
});
