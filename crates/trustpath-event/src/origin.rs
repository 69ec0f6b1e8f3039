//! Where a record came from.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::Arc;

/// The place of a record in its input, precise enough to open the file and find it.
///
/// `file` is the path as given on the command line (`-` for stdin); a member of an
/// archive is written `archive.zip!member.json`. The other parts are filled in when the
/// reader knows them: `line` (1-based) for line-oriented formats, `offset` (byte offset
/// in the decompressed stream) for JSON and EVTX chunks, `record` (0-based index of the
/// record in the file, or the EVTX `EventRecordID`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Origin {
    /// Input path (`-` for stdin, `a.zip!b.json` for archive members).
    pub file: Arc<str>,
    /// 1-based line number.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub line: Option<u64>,
    /// Byte offset of the record's start in the (decompressed) stream.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub offset: Option<u64>,
    /// Record index in the file (0-based) or EVTX record id.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub record: Option<u64>,
}

impl Origin {
    /// An origin naming only the file.
    pub fn file(file: impl Into<Arc<str>>) -> Self {
        Origin {
            file: file.into(),
            line: None,
            offset: None,
            record: None,
        }
    }

    /// The same origin with a line number.
    pub fn with_line(mut self, line: u64) -> Self {
        self.line = Some(line);
        self
    }

    /// The same origin with a byte offset.
    pub fn with_offset(mut self, offset: u64) -> Self {
        self.offset = Some(offset);
        self
    }

    /// The same origin with a record number.
    pub fn with_record(mut self, record: u64) -> Self {
        self.record = Some(record);
        self
    }
}

impl fmt::Display for Origin {
    /// `file:line`, `file@offset`, `file#record`, combined as known: `a.json:12 #11`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(offset) = self.offset {
            write!(f, "@{offset}")?;
        }
        if let Some(record) = self.record {
            write!(f, "#{record}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_combines_known_parts() {
        let o = Origin::file("a.json").with_line(3).with_record(2);
        assert_eq!(o.to_string(), "a.json:3#2");
        assert_eq!(
            Origin::file("x.evtx").with_offset(4096).to_string(),
            "x.evtx@4096"
        );
    }
}
