//! The `echolab` command.

fn main() -> std::process::ExitCode {
    echolab::cli::main()
}
