//! The `evalkit` command: the command line of the library
//! ([`evalkit::cli`]), so the binary and the Python package's `evalkit`
//! command run the same code.

/// Large blocks on transparent huge pages ([`evalkit::alloc`]).
#[global_allocator]
static ALLOCATOR: evalkit::alloc::HugePages = evalkit::alloc::HugePages;

fn main() -> std::process::ExitCode {
    std::process::ExitCode::from(evalkit::cli::main(std::env::args_os()).code())
}
