//! The `evalkit` command: the command line of the library
//! ([`evalkit::cli`]), so the binary and the Python package's `evalkit`
//! command run the same code.

fn main() -> std::process::ExitCode {
    std::process::ExitCode::from(evalkit::cli::main(std::env::args_os()).code())
}
