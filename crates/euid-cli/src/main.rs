//! The `euid` command-line tool.

fn main() {
    eprintln!("euid: no commands yet (issue 8)");
    std::process::exit(2);
}
