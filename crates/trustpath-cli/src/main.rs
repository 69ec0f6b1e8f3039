//! `trustpath`: detection and assurance for abuse of delegated access to Microsoft 365 mailboxes.

fn main() {
    println!("trustpath");
}
