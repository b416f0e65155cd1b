//! The `euid-operator` binary.

fn main() {
    eprintln!("euid-operator: the server is not built yet (issue 7)");
    std::process::exit(1);
}
