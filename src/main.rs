//! The `echolab` command.

fn main() -> std::process::ExitCode {
    restore_default_broken_pipe_action();
    echolab::model::tune_process();
    echolab::cli::main()
}

/// Rust ignores SIGPIPE, so printing to a closed pipe (`echolab explain ... |
/// head -1`) would panic in `println!`. With the default action the process
/// ends quietly when its reader goes away, as other Unix tools do. A run
/// ended this way resumes like any killed run.
fn restore_default_broken_pipe_action() {
    #[cfg(unix)]
    // SAFETY: called first in `main`, before any other thread exists;
    // `signal` with `SIG_DFL` only resets the action of one signal.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
