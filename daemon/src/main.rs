//! The `socratic` binary: parse the command line, run, exit with the code `run` returns.

fn main() {
    std::process::exit(socratic::cli::main_exit_code());
}
