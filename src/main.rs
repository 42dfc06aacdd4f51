fn main() -> std::process::ExitCode {
    invmon::cli::main()
}
