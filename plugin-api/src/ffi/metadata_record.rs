//! The metadata record: what a plugin says about itself, readable without running it.
//!
//! `export_plugin!` places the record in an exported, relocation-free byte array (the
//! symbol [`METADATA_SYMBOL`]). A host reads it from the file with an ELF parser, so it
//! can pick a plugin by name, and refuse one by pin or version, before `dlopen` runs any
//! of the plugin's code.
//!
//! Layout (all integers little-endian `u32`):
//!
//! ```text
//! MAGIC (16 bytes) | format version | field count | (length, UTF-8 bytes) * count
//! ```
//!
//! Fields, in order: name, version, description, api version, options help, path
//! options (one per line). A reader ignores fields it does not know, and a field a
//! writer did not have is empty, so later versions may append fields.

use std::ffi::CStr;

use crate::host::PluginMetadata;
use crate::plugin::Plugin;

/// The exported symbol holding the record.
pub const METADATA_SYMBOL: &str = "agent_plugin_metadata_record";

const MAGIC: &[u8; 16] = b"agent-plugin-md\0";
const FORMAT_VERSION: u32 = 1;
const FIELDS: usize = 6;
/// Bytes before the first field: magic, format version, field count.
const HEADER: usize = MAGIC.len() + 4 + 4;

/// The record's fields for `P`; the last one is joined from `P::PATH_OPTIONS`.
const fn text_fields<P: Plugin>(api_version: &CStr) -> [&str; FIELDS - 1] {
    let api_version = match std::str::from_utf8(api_version.to_bytes()) {
        Ok(text) => text,
        Err(_) => panic!("the api version is not UTF-8"),
    };
    [
        P::NAME,
        P::VERSION,
        P::DESCRIPTION,
        api_version,
        P::OPTIONS_HELP,
    ]
}

/// The size of `P`'s record, for the array type `export_plugin!` declares.
/// `api_version` is what the handshake reports (a fixture may claim another one).
pub const fn record_len<P: Plugin>(api_version: &CStr) -> usize {
    let fields = text_fields::<P>(api_version);
    let mut len = HEADER;
    let mut index = 0;
    while index < fields.len() {
        len += 4 + fields[index].len();
        index += 1;
    }
    len + 4 + joined_len(P::PATH_OPTIONS)
}

const fn joined_len(lines: &[&str]) -> usize {
    let mut len = 0;
    let mut index = 0;
    while index < lines.len() {
        len += lines[index].len();
        if index > 0 {
            len += 1;
        }
        index += 1;
    }
    len
}

/// `P`'s record; `N` must be `record_len::<P>()` (the array type checks it at compile time).
pub const fn record<P: Plugin, const N: usize>(api_version: &CStr) -> [u8; N] {
    let mut out = [0u8; N];
    let mut at = copy(&mut out, 0, MAGIC);
    at = put_u32(&mut out, at, FORMAT_VERSION);
    at = put_u32(&mut out, at, FIELDS as u32);
    let fields = text_fields::<P>(api_version);
    let mut index = 0;
    while index < fields.len() {
        at = put_u32(&mut out, at, fields[index].len() as u32);
        at = copy(&mut out, at, fields[index].as_bytes());
        index += 1;
    }
    let paths = P::PATH_OPTIONS;
    at = put_u32(&mut out, at, joined_len(paths) as u32);
    let mut index = 0;
    while index < paths.len() {
        if index > 0 {
            at = copy(&mut out, at, b"\n");
        }
        at = copy(&mut out, at, paths[index].as_bytes());
        index += 1;
    }
    assert!(at == N, "record length mismatch");
    out
}

const fn put_u32<const N: usize>(out: &mut [u8; N], at: usize, value: u32) -> usize {
    copy(out, at, &value.to_le_bytes())
}

const fn copy<const N: usize>(out: &mut [u8; N], at: usize, bytes: &[u8]) -> usize {
    let mut index = 0;
    while index < bytes.len() {
        out[at + index] = bytes[index];
        index += 1;
    }
    at + bytes.len()
}

/// Reads a record; the error says what is wrong with it, in a few words.
pub fn decode(bytes: &[u8]) -> Result<PluginMetadata, String> {
    let mut reader = Reader { bytes, at: 0 };
    if reader.take(MAGIC.len())? != MAGIC {
        return Err("not an agent-plugin metadata record".to_owned());
    }
    let format = reader.u32()?;
    if format != FORMAT_VERSION {
        return Err(format!(
            "metadata record format {format}, expected {FORMAT_VERSION}"
        ));
    }
    let count = reader.u32()? as usize;
    let mut fields = Vec::with_capacity(count.min(FIELDS));
    for _ in 0..count {
        let len = reader.u32()? as usize;
        let field = reader.take(len)?;
        if fields.len() < FIELDS {
            let text = std::str::from_utf8(field)
                .map_err(|_| "a metadata record field is not UTF-8".to_owned())?;
            fields.push(text.to_owned());
        }
    }
    fields.resize(FIELDS, String::new());
    let mut fields = fields.into_iter();
    let mut next = || fields.next().unwrap_or_default();
    let metadata = PluginMetadata {
        name: next(),
        version: next(),
        description: next(),
        api_version: next(),
        options_help: next(),
        path_options: next()
            .lines()
            .filter(|line| !line.is_empty())
            .map(str::to_owned)
            .collect(),
        // Derived at run time, so only the loaded code can say it.
        options_schema: None,
    };
    if metadata.name.is_empty() {
        return Err("the metadata record names no plugin".to_owned());
    }
    Ok(metadata)
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, len: usize) -> Result<&'a [u8], String> {
        let end = self
            .at
            .checked_add(len)
            .filter(|end| *end <= self.bytes.len())
            .ok_or_else(|| "the metadata record is cut short".to_owned())?;
        let taken = &self.bytes[self.at..end];
        self.at = end;
        Ok(taken)
    }

    fn u32(&mut self) -> Result<u32, String> {
        let bytes = self.take(4)?;
        Ok(u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kit::{AgentBackend, AgentRuntime, NoOptions, Turn};
    use crate::types::{AgentConfig, Content, Error};
    use crate::version::API_VERSION_C;

    struct Recorded;

    #[async_trait::async_trait]
    impl AgentBackend for Recorded {
        const NAME: &'static str = "recorded";
        const VERSION: &'static str = "1.2.3";
        const DESCRIPTION: &'static str = "described ✓";
        const OPTIONS_HELP: &'static str = "a = 1\nb = 2";
        const PATH_OPTIONS: &'static [&'static str] = &["venv", "python_path"];
        type Options = NoOptions;
        type Agent = ();

        fn new(_: NoOptions) -> Result<Self, Error> {
            Ok(Recorded)
        }

        fn create_agent(&self, _: &AgentConfig) -> Result<(), Error> {
            Ok(())
        }

        async fn chat(&self, _: &(), _: &Content, _: &mut Turn) -> Result<(), Error> {
            Ok(())
        }
    }

    type Exported = AgentRuntime<Recorded>;
    const LEN: usize = record_len::<Exported>(API_VERSION_C);
    static RECORD: [u8; LEN] = record::<Exported, LEN>(API_VERSION_C);

    #[test]
    fn a_record_round_trips() {
        let metadata = decode(&RECORD).unwrap();
        assert_eq!(metadata.name, "recorded");
        assert_eq!(metadata.version, "1.2.3");
        assert_eq!(metadata.description, "described ✓");
        assert_eq!(metadata.api_version, crate::version::API_VERSION);
        assert_eq!(metadata.options_help, "a = 1\nb = 2");
        assert_eq!(metadata.path_options, ["venv", "python_path"]);
    }

    #[test]
    fn a_cut_or_foreign_record_is_an_error() {
        for len in [0, 10, HEADER, LEN - 1] {
            assert!(decode(&RECORD[..len]).is_err(), "{len} bytes decoded");
        }
        let mut foreign = RECORD;
        foreign[0] ^= 1;
        assert!(decode(&foreign)
            .unwrap_err()
            .contains("not an agent-plugin"));
        let mut huge = RECORD;
        huge[HEADER..HEADER + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(decode(&huge).unwrap_err().contains("cut short"));
    }

    #[test]
    fn later_fields_are_ignored_and_missing_ones_empty() {
        let mut longer = RECORD.to_vec();
        longer[HEADER - 4..HEADER].copy_from_slice(&7u32.to_le_bytes());
        longer.extend_from_slice(&3u32.to_le_bytes());
        longer.extend_from_slice(b"new");
        assert_eq!(decode(&longer).unwrap().name, "recorded");

        let mut shorter = RECORD[..HEADER].to_vec();
        shorter[HEADER - 4..].copy_from_slice(&1u32.to_le_bytes());
        shorter.extend_from_slice(&4u32.to_le_bytes());
        shorter.extend_from_slice(b"only");
        let metadata = decode(&shorter).unwrap();
        assert_eq!(metadata.name, "only");
        assert!(metadata.path_options.is_empty());
    }
}
