//! Telling what a stream is from its first bytes.

use std::fmt;

/// How many bytes of a stream [`crate::read_input`] looks at to sniff it.
pub(crate) const SNIFF_LEN: usize = 64 * 1024;

/// Reads what [`sniff`] needs from the start of `r`: up to [`SNIFF_LEN`] bytes (fewer only
/// at the end of the input), or just the first 8 when they are a binary format's magic
/// (gzip, zip, EVTX), whose reader starts over from byte 0 anyway. A case folder of
/// EVTX files is no longer read twice over 64 KiB per file before it is parsed.
pub(crate) fn read_head(r: &mut dyn std::io::Read) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut head = Vec::with_capacity(SNIFF_LEN);
    r.take(8).read_to_end(&mut head)?;
    let binary = head.starts_with(&[0x1f, 0x8b])
        || head.starts_with(b"PK\x03\x04")
        || head.starts_with(b"PK\x05\x06")
        || head.starts_with(b"ElfFile\0");
    if head.len() == 8 && !binary {
        r.take((SNIFF_LEN - 8) as u64).read_to_end(&mut head)?;
    }
    Ok(head)
}

/// The character encoding of a text stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TextEncoding {
    /// UTF-8 without a byte-order mark.
    Utf8,
    /// UTF-8 with a byte-order mark (PowerShell `ConvertTo-Json | Out-File -Encoding utf8`).
    Utf8Bom,
    /// UTF-16 little endian (PowerShell 5 `Out-File` default), with or without BOM.
    Utf16Le,
    /// UTF-16 big endian, with or without BOM.
    Utf16Be,
    /// Windows-1252 (Excel's "CSV (Comma delimited)" on an en-US/western Windows): a
    /// CSV whose first bytes are not valid UTF-8.
    Windows1252,
}

impl TextEncoding {
    /// A short name for messages and summaries.
    pub fn as_str(self) -> &'static str {
        match self {
            TextEncoding::Utf8 => "utf-8",
            TextEncoding::Utf8Bom => "utf-8 (bom)",
            TextEncoding::Utf16Le => "utf-16le",
            TextEncoding::Utf16Be => "utf-16be",
            TextEncoding::Windows1252 => "windows-1252",
        }
    }
}

/// What a stream looks like, judged from its first bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sniffed {
    /// gzip (`1f 8b`).
    Gzip,
    /// zip archive (`PK\x03\x04`, or `PK\x05\x06` for an empty archive).
    Zip,
    /// Windows EVTX (`ElfFile\0`).
    Evtx,
    /// Text whose first non-blank character is `[`: a JSON array (or several).
    JsonArray(TextEncoding),
    /// Text whose first non-blank character is `{`: JSON Lines, or one or more (pretty
    /// printed) JSON objects one after the other.
    JsonObjects(TextEncoding),
    /// CSV whose header line (after an optional `#TYPE` line) is split by `,`, `;` or a
    /// tab into columns one of which is a known column name.
    Csv(TextEncoding),
    /// Nothing but blanks (or a BOM).
    Empty,
    /// None of the above; the text says what the first bytes looked like.
    Unknown(String),
}

impl Sniffed {
    /// A short name for summaries: `gzip`, `zip`, `evtx`, `json-array`, `json-objects`,
    /// `csv`, `empty`, `unknown`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Sniffed::Gzip => "gzip",
            Sniffed::Zip => "zip",
            Sniffed::Evtx => "evtx",
            Sniffed::JsonArray(_) => "json-array",
            Sniffed::JsonObjects(_) => "json-objects",
            Sniffed::Csv(_) => "csv",
            Sniffed::Empty => "empty",
            Sniffed::Unknown(_) => "unknown",
        }
    }

    /// The text encoding, for the text kinds.
    pub fn encoding(&self) -> Option<TextEncoding> {
        match self {
            Sniffed::JsonArray(e) | Sniffed::JsonObjects(e) | Sniffed::Csv(e) => Some(*e),
            _ => None,
        }
    }
}

impl fmt::Display for Sniffed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Sniffed::Unknown(what) => write!(f, "unknown content ({what})"),
            other => match other.encoding() {
                Some(enc) => write!(f, "{} ({})", other.as_str(), enc.as_str()),
                None => f.write_str(other.as_str()),
            },
        }
    }
}

/// Column names that make a comma-separated first line count as a CSV header we read.
const KNOWN_CSV_COLUMNS: &[&str] = &[
    "AuditData",
    "TimeGenerated",
    "CreationDate",
    "CreationTime",
    "RecordType",
    "Operation",
    "Operations",
    "UserIds",
    "TenantId",
    "OperationName",
    "UserPrincipalName",
    "EventID",
];

/// What a stream whose first bytes are `prefix` is.
///
/// Binary kinds by magic bytes (`\x1f\x8b` gzip, `PK\x03\x04` zip, `ElfFile\0` EVTX); text
/// by the first non-blank character after an optional BOM (`[` JSON array, `{` JSON
/// objects); CSV when the first line (after an optional `#TYPE …` line written by old
/// `Export-Csv`) splits on `,`, `;` (Excel in European locales) or a tab (Excel "Unicode
/// Text") into columns one of which is a known column name. UTF-16 is recognised by its
/// BOM, or by a `[`/`{` followed by a NUL byte; a CSV that is not valid UTF-8 is read as
/// Windows-1252 (what Excel writes for "CSV (Comma delimited)").
pub fn sniff(prefix: &[u8]) -> Sniffed {
    if prefix.starts_with(&[0x1f, 0x8b]) {
        return Sniffed::Gzip;
    }
    if prefix.starts_with(b"PK\x03\x04") || prefix.starts_with(b"PK\x05\x06") {
        return Sniffed::Zip;
    }
    if prefix.starts_with(b"ElfFile\0") {
        return Sniffed::Evtx;
    }
    let encoding = detect_encoding(prefix);
    let text = decode_prefix(prefix, encoding);
    let mut trimmed = text.trim_start_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
    // `evtx_dump -o json` writes `Record <n>` before each record.
    if let Some(rest) = trimmed.strip_prefix("Record ") {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let after = &rest[digits..];
        if digits > 0 && (after.starts_with('\n') || after.starts_with("\r\n")) {
            trimmed = after.trim_start();
            if trimmed.starts_with('{') {
                return Sniffed::JsonObjects(encoding);
            }
        }
    }
    match trimmed.chars().next() {
        None => return Sniffed::Empty,
        Some('[') => return Sniffed::JsonArray(encoding),
        Some('{') => return Sniffed::JsonObjects(encoding),
        Some(_) => {}
    }
    if csv_delimiter(trimmed).is_some() {
        if encoding == TextEncoding::Utf8 && !is_utf8_prefix(prefix) {
            return Sniffed::Csv(TextEncoding::Windows1252);
        }
        return Sniffed::Csv(encoding);
    }
    Sniffed::Unknown(describe_bytes(prefix))
}

/// The delimiter of a CSV stream whose first bytes are `prefix`, sniffed as CSV in
/// `encoding` (`,` when none of the three splits the header into a known column).
pub(crate) fn csv_delimiter_of(prefix: &[u8], encoding: TextEncoding) -> u8 {
    let text = decode_prefix(prefix, encoding);
    let trimmed = text.trim_start_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
    csv_delimiter(trimmed).unwrap_or(b',')
}

/// Whether `prefix` is UTF-8, allowing a sequence cut off at its very end.
fn is_utf8_prefix(prefix: &[u8]) -> bool {
    match std::str::from_utf8(prefix) {
        Ok(_) => true,
        Err(e) => e.error_len().is_none(),
    }
}

pub(crate) fn detect_encoding(prefix: &[u8]) -> TextEncoding {
    if prefix.starts_with(&[0xef, 0xbb, 0xbf]) {
        TextEncoding::Utf8Bom
    } else if prefix.starts_with(&[0xff, 0xfe]) {
        TextEncoding::Utf16Le
    } else if prefix.starts_with(&[0xfe, 0xff]) {
        TextEncoding::Utf16Be
    } else if prefix.len() >= 2 && prefix[1] == 0 && matches!(prefix[0], b'[' | b'{') {
        TextEncoding::Utf16Le
    } else if prefix.len() >= 2 && prefix[0] == 0 && matches!(prefix[1], b'[' | b'{') {
        TextEncoding::Utf16Be
    } else {
        TextEncoding::Utf8
    }
}

fn decode_prefix(prefix: &[u8], encoding: TextEncoding) -> String {
    match encoding {
        TextEncoding::Utf8 | TextEncoding::Utf8Bom => String::from_utf8_lossy(prefix).into_owned(),
        TextEncoding::Utf16Le => encoding_rs::UTF_16LE
            .decode_with_bom_removal(prefix)
            .0
            .into_owned(),
        TextEncoding::Utf16Be => encoding_rs::UTF_16BE
            .decode_with_bom_removal(prefix)
            .0
            .into_owned(),
        TextEncoding::Windows1252 => encoding_rs::WINDOWS_1252
            .decode_without_bom_handling(prefix)
            .0
            .into_owned(),
    }
}

/// The delimiter (`,`, `;` or tab) that splits the header line of `text` (after an optional
/// `#TYPE` line) into columns one of which is a known column name; `None`: not a CSV we
/// read.
fn csv_delimiter(text: &str) -> Option<u8> {
    let mut lines = text.lines();
    let mut first = lines.next().unwrap_or("");
    if first.starts_with("#TYPE") {
        first = lines.next().unwrap_or("");
    }
    [b',', b';', b'\t'].into_iter().find(|&delimiter| {
        let d = char::from(delimiter);
        first.contains(d)
            && first
                .split(d)
                .map(clean_header)
                .any(|c| KNOWN_CSV_COLUMNS.iter().any(|k| k.eq_ignore_ascii_case(&c)))
    })
}

/// A CSV header name without quotes, blanks, BOM and a Log Analytics ` [UTC]` suffix.
pub(crate) fn clean_header(raw: &str) -> String {
    let s = raw.trim_matches(|c: char| c.is_whitespace() || c == '"' || c == '\u{feff}');
    let s = match s.strip_suffix("[UTC]") {
        Some(rest) => rest.trim_end(),
        None => s,
    };
    s.to_string()
}

/// `first bytes: 4d 5a 90 00 … ("MZ..")`, for the unknown-content error.
pub(crate) fn describe_bytes(prefix: &[u8]) -> String {
    let head = &prefix[..prefix.len().min(16)];
    let hex: Vec<String> = head.iter().map(|b| format!("{b:02x}")).collect();
    let printable: String = head
        .iter()
        .map(|&b| {
            if (0x20..0x7f).contains(&b) {
                b as char
            } else {
                '.'
            }
        })
        .collect();
    format!(
        "first bytes: {}{} (\"{}\")",
        hex.join(" "),
        if prefix.len() > 16 { " …" } else { "" },
        printable
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic_bytes() {
        assert_eq!(sniff(&[0x1f, 0x8b, 8, 0]), Sniffed::Gzip);
        assert_eq!(sniff(b"PK\x03\x04rest"), Sniffed::Zip);
        assert_eq!(sniff(b"PK\x05\x06"), Sniffed::Zip);
        assert_eq!(sniff(b"ElfFile\0\0\0"), Sniffed::Evtx);
    }

    #[test]
    fn json_kinds_and_encodings() {
        assert_eq!(sniff(b"  \n[{}]"), Sniffed::JsonArray(TextEncoding::Utf8));
        assert_eq!(
            sniff(b"\xef\xbb\xbf[\n"),
            Sniffed::JsonArray(TextEncoding::Utf8Bom)
        );
        assert_eq!(
            sniff(b"{\"a\":1}\n"),
            Sniffed::JsonObjects(TextEncoding::Utf8)
        );
        assert_eq!(
            sniff(b"\xff\xfe[\x00{\x00"),
            Sniffed::JsonArray(TextEncoding::Utf16Le)
        );
        assert_eq!(
            sniff(b"\xfe\xff\x00{\x00}"),
            Sniffed::JsonObjects(TextEncoding::Utf16Be)
        );
        assert_eq!(
            sniff(b"{\x00}\x00"),
            Sniffed::JsonObjects(TextEncoding::Utf16Le)
        );
        assert_eq!(
            sniff(b"Record 12\n{\n"),
            Sniffed::JsonObjects(TextEncoding::Utf8)
        );
        assert_eq!(
            sniff(b"Record 12\r\n{"),
            Sniffed::JsonObjects(TextEncoding::Utf8)
        );
        assert!(matches!(sniff(b"Record of things\n{"), Sniffed::Unknown(_)));
    }

    #[test]
    fn empty_and_bom_only() {
        assert_eq!(sniff(b""), Sniffed::Empty);
        assert_eq!(sniff(b" \r\n\t"), Sniffed::Empty);
        assert_eq!(sniff(b"\xef\xbb\xbf"), Sniffed::Empty);
        assert_eq!(sniff(b"\xff\xfe"), Sniffed::Empty);
    }

    #[test]
    fn csv_headers() {
        assert_eq!(
            sniff(b"RecordId,CreationDate,RecordType,Operation,UserId,AuditData\r\n"),
            Sniffed::Csv(TextEncoding::Utf8)
        );
        assert_eq!(
            sniff(b"#TYPE System.Management.Automation.PSCustomObject\r\n\"RecordType\",\"CreationDate\"\r\n"),
            Sniffed::Csv(TextEncoding::Utf8)
        );
        assert_eq!(
            sniff(b"TimeGenerated [UTC],UserPrincipalName\n"),
            Sniffed::Csv(TextEncoding::Utf8)
        );
        assert!(matches!(sniff(b"a,b,c\n1,2,3\n"), Sniffed::Unknown(_)));
        assert!(matches!(sniff(b"AuditData\n"), Sniffed::Unknown(_)));
    }

    #[test]
    fn unknown_says_what_it_saw() {
        match sniff(b"MZ\x90\x00\x03\x00") {
            Sniffed::Unknown(what) => {
                assert!(what.contains("4d 5a 90 00"), "{what}");
                assert!(what.contains("MZ.."), "{what}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn header_cleaning() {
        assert_eq!(clean_header(" \"TimeGenerated [UTC]\" "), "TimeGenerated");
        assert_eq!(clean_header("\u{feff}RecordId"), "RecordId");
    }
}
