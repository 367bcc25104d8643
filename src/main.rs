fn main() -> std::process::ExitCode {
    leadbook::cli::main()
}
