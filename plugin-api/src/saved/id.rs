//! Conversation ids: they name files, so only a safe set of characters is allowed.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::types::Error;

/// The longest id accepted, in bytes (file names are at most 255).
const MAX_LEN: usize = 200;

/// Refuses an id that could not safely name a file: empty, longer than 200 bytes,
/// starting with `.`, or with a character other than ASCII letters, digits, `.`, `_`
/// and `-` (so no `/`, no `..` path, no NUL).
pub fn check_conversation_id(id: &str) -> Result<(), Error> {
    let allowed = |byte: u8| byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'_' | b'-');
    if id.is_empty() || id.len() > MAX_LEN || id.starts_with('.') || !id.bytes().all(allowed) {
        let shown: String = id.chars().take(60).collect();
        return Err(Error::InvalidConfig(format!(
            "conversation_id {shown:?}: use 1 to {MAX_LEN} ASCII letters, digits, '.', '_' \
             or '-', not starting with '.'"
        )));
    }
    Ok(())
}

/// A fresh id for a conversation started without one: the time in milliseconds and 32
/// random bits, both hex (`c-19ad3c2b1f0-3fa2b9c1`), so ids sort by creation.
pub fn new_conversation_id() -> String {
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_millis());
    format!("c-{millis:x}-{:08x}", fastrand::u32(..))
}
