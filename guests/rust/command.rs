// kind: command
//! rust-command: a plain Rust program, built as a WASI command (wasi:cli/run through the preview1
//! command adapter). Prints to stdout and stderr; exits with the code in the environment variable
//! EXIT_CODE (0 when it is not set), so a host that grants no environment sees success.
fn main() {
    println!("rust-command: hello from main, {} argument(s)", std::env::args().count());
    eprintln!("rust-command: a line on stderr");
    let code = std::env::var("EXIT_CODE").ok().and_then(|c| c.parse().ok()).unwrap_or(0);
    std::process::exit(code);
}
