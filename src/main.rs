//! The `echolab` command.

fn main() -> std::process::ExitCode {
    echolab::model::tune_process();
    echolab::cli::main()
}
