//! `hoist`: parses the command line and hands over to the library.

fn main() -> std::process::ExitCode {
    hoist_server::cli::main()
}
