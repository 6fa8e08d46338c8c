//! poppler and zbar, run on a PDF: its text and the QR codes on its page. The tools are required:
//! a missing one fails the test (scripts/test installs them). Used by the render and ticketd
//! tests.

use std::path::Path;
use std::process::Command;

pub fn run(program: &str, args: &[&str], dir: &Path) -> Vec<u8> {
    let output = Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|error| {
            panic!(
                "cannot run {program} ({error}); install it with \
                 `apt-get install -y poppler-utils zbar-tools`"
            )
        });
    assert!(
        output.status.success(),
        "{program} {args:?} failed: {}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

/// The page rasterised at 150 dpi by poppler, then decoded by zbar: the QR payloads found.
pub fn scan(pdf: &[u8]) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ticket.pdf"), pdf).unwrap();
    run(
        "pdftoppm",
        &["-r", "150", "-png", "-singlefile", "ticket.pdf", "page"],
        dir.path(),
    );
    let out = run("zbarimg", &["--raw", "-q", "page.png"], dir.path());
    String::from_utf8(out)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// The page's text, as poppler extracts it.
pub fn text(pdf: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ticket.pdf"), pdf).unwrap();
    String::from_utf8(run("pdftotext", &["ticket.pdf", "-"], dir.path())).unwrap()
}
