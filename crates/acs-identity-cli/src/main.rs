//! The `acs-identity` command.

fn main() {
    eprintln!("acs-identity: no commands yet");
    std::process::exit(2);
}
