//! The `provision` binary: [`cli`] turns flags into option structs, [`ops`] runs one command each
//! on the engine (`provision-core`) with the AWS drivers (`provision-aws`).

mod cli;
mod ops;

fn main() -> std::process::ExitCode {
    cli::main()
}
