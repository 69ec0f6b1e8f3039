//! Turning command-line paths into inputs.

use std::fmt;
use std::path::{Path, PathBuf};
use trustpath_event::{ErrorKind, Origin, RecordError};

/// One input to read: a file, or standard input.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Input {
    /// A regular file (any content: sniffed when read).
    File(PathBuf),
    /// Standard input (`-` on the command line).
    Stdin,
}

impl Input {
    /// The name records from this input carry in [`Origin::file`]: the path as given, or `-`.
    pub fn name(&self) -> String {
        match self {
            Input::File(p) => p.display().to_string(),
            Input::Stdin => "-".to_string(),
        }
    }
}

impl fmt::Display for Input {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

/// Expands command-line paths into inputs.
///
/// `-` is standard input; a folder is walked recursively (symbolic links followed, entries
/// sorted by name so the order is deterministic, every regular file included, hidden ones
/// too); a file is itself. A path that does not exist or cannot be walked becomes a
/// [`RecordError`] of kind [`ErrorKind::Io`].
pub fn expand_inputs(paths: &[PathBuf]) -> (Vec<Input>, Vec<RecordError>) {
    let mut inputs = Vec::new();
    let mut errors = Vec::new();
    for path in paths {
        if path.as_os_str() == "-" {
            inputs.push(Input::Stdin);
            continue;
        }
        match std::fs::metadata(path) {
            Err(e) => errors.push(io_error(path, &e.to_string())),
            Ok(meta) if meta.is_dir() => walk(path, &mut inputs, &mut errors),
            Ok(_) => inputs.push(Input::File(path.clone())),
        }
    }
    (inputs, errors)
}

fn walk(dir: &Path, inputs: &mut Vec<Input>, errors: &mut Vec<RecordError>) {
    let walker = walkdir::WalkDir::new(dir)
        .follow_links(true)
        .sort_by_file_name();
    for entry in walker {
        match entry {
            Ok(entry) if entry.file_type().is_file() => {
                inputs.push(Input::File(entry.path().to_path_buf()));
            }
            // FIFOs, sockets and devices in a folder are not exports: reading one could
            // block or never end. Each is reported, not skipped silently.
            Ok(entry) if !entry.file_type().is_dir() => {
                errors.push(io_error(
                    entry.path(),
                    "not a regular file (FIFO, socket or device): left out",
                ));
            }
            Ok(_) => {}
            Err(e) => {
                let at = e.path().unwrap_or(dir).to_path_buf();
                errors.push(io_error(&at, &e.to_string()));
            }
        }
    }
}

fn io_error(path: &Path, what: &str) -> RecordError {
    RecordError::new(
        Origin::file(path.display().to_string()),
        ErrorKind::Io,
        format!("cannot read input: {what}"),
    )
}

/// Why a file is clearly not a log, if it is: an image, a PDF, an Office document, or
/// plain text that is neither JSON nor a CSV with a known header (notes, a collection
/// tool's own log). Case folders hold such files next to the exports; they are listed as
/// ignored, not counted as skipped records. Judged by extension for Office documents
/// (`.xlsx` is a zip, which trustpath otherwise opens), else by the same first bytes the
/// reader sniffs. A file that cannot be opened is not judged here (the reader reports it).
pub fn not_a_log(path: &Path) -> Option<&'static str> {
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "xlsx" | "xlsm" | "xlsb" | "xls" | "docx" | "doc" | "pptx" | "ppt" | "odt" | "ods" => {
            return Some("an office document");
        }
        "png" | "jpg" | "jpeg" | "gif" | "bmp" | "tif" | "tiff" | "webp" => {
            return Some("an image");
        }
        "pdf" => return Some("a PDF"),
        _ => {}
    }
    let mut file = std::fs::File::open(path).ok()?;
    let prefix = crate::sniff::read_head(&mut file).ok()?;
    const MAGIC: [(&[u8], &str); 6] = [
        (b"\x89PNG", "an image"),
        (b"\xff\xd8\xff", "an image"),
        (b"GIF8", "an image"),
        (b"%PDF", "a PDF"),
        (b"\xd0\xcf\x11\xe0", "an office document"),
        (b"{\\rtf", "an office document"),
    ];
    if let Some((_, what)) = MAGIC.iter().find(|(magic, _)| prefix.starts_with(magic)) {
        return Some(what);
    }
    const TEXT: &str = "text that is not a log (not JSON, nor a CSV with a known header)";
    match crate::sniff::sniff(&prefix) {
        crate::Sniffed::Unknown(_) if looks_like_text(&prefix) => Some(TEXT),
        // A tool's log whose lines start with `[2025-03-08 10:12:01]` sniffs as a JSON
        // array: it is one only if JSON parses from its start.
        crate::Sniffed::JsonArray(enc) | crate::Sniffed::JsonObjects(enc)
            if matches!(
                enc,
                crate::TextEncoding::Utf8 | crate::TextEncoding::Utf8Bom
            ) && !starts_as_json(&prefix) =>
        {
            Some(TEXT)
        }
        _ => None,
    }
}

/// Whether JSON parses from the start of `prefix` (a value, or one cut off by the end of
/// the prefix), or, for JSON Lines whose first line is damaged, from one of the next
/// lines.
fn starts_as_json(prefix: &[u8]) -> bool {
    let text = String::from_utf8_lossy(prefix);
    let text = text.trim_start_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
    let mut values = serde_json::Deserializer::from_str(text).into_iter::<serde_json::Value>();
    match values.next() {
        None | Some(Ok(_)) => return true,
        Some(Err(e)) if e.is_eof() => return true,
        Some(Err(_)) => {}
    }
    text.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .take(4)
        .any(|l| serde_json::from_str::<serde_json::Value>(l).is_ok())
}

/// Whether bytes look like text (UTF-8, or a legacy 8-bit code page) rather than binary:
/// no NUL and few control characters besides tab, CR and LF.
fn looks_like_text(prefix: &[u8]) -> bool {
    let controls = prefix
        .iter()
        .filter(|&&b| b < 0x20 && !matches!(b, b'\t' | b'\r' | b'\n' | 0x0c))
        .count();
    !prefix.contains(&0) && controls * 100 <= prefix.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_sorted_missing_reported_stdin() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        std::fs::create_dir_all(d.join("b/sub")).expect("mkdir");
        for f in ["b/sub/z.json", "b/a.json", "b/.hidden", "c.json"] {
            std::fs::write(d.join(f), "{}").expect("write");
        }
        let (inputs, errors) = expand_inputs(&[
            d.join("b"),
            PathBuf::from("-"),
            d.join("c.json"),
            d.join("missing.json"),
        ]);
        let names: Vec<String> = inputs
            .iter()
            .map(|i| match i {
                Input::File(p) => p.strip_prefix(d).expect("under tmp").display().to_string(),
                Input::Stdin => "-".to_string(),
            })
            .collect();
        assert_eq!(
            names,
            ["b/.hidden", "b/a.json", "b/sub/z.json", "-", "c.json"]
        );
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].kind, ErrorKind::Io);
        assert!(errors[0].origin.file.ends_with("missing.json"));
        assert_eq!(Input::Stdin.to_string(), "-");
    }

    #[cfg(unix)]
    #[test]
    fn sockets_in_a_folder_are_reported_not_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("a.json"), "{}").expect("write");
        let _socket = std::os::unix::net::UnixListener::bind(dir.path().join("s.sock"))
            .expect("bind a socket");
        let (inputs, errors) = expand_inputs(&[dir.path().to_path_buf()]);
        assert_eq!(inputs.len(), 1);
        assert_eq!(errors.len(), 1);
        assert!(errors[0].origin.file.ends_with("s.sock"));
        assert!(
            errors[0].reason.contains("not a regular file"),
            "{}",
            errors[0].reason
        );
    }
}
