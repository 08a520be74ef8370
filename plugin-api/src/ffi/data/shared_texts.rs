//! Text chunks lent across the boundary without a copy.

use std::sync::Arc;

use abi_stable::StableAbi;

use crate::stream::{Packed, PackedTexts};

/// Text chunks lent across the boundary: a plugin's frozen batch, read in place by the
/// host and released, by the plugin's own code and allocator, when the host drops it.
/// Both sides hold one copy of the bytes: the plugin for its history, the host for the
/// application's readers.
#[repr(C)]
#[derive(StableAbi)]
pub struct FfiSharedTexts {
    buffer: *const u8,
    buffer_len: usize,
    /// `ends[i]` is where chunk `i` ends in `buffer`.
    ends: *const u32,
    ends_len: usize,
    /// The batch's `Arc`, released once by `release`.
    owner: *const (),
    release: extern "C" fn(*const ()),
}

// SAFETY: the pointers only reach the bytes of an `Arc<Packed>` (which is Send and Sync)
// that `owner` keeps alive and that nobody changes while it is shared (it is frozen).
unsafe impl Send for FfiSharedTexts {}
// SAFETY: as for Send: shared access only ever reads immutable bytes.
unsafe impl Sync for FfiSharedTexts {}

impl FfiSharedTexts {
    pub(super) fn share(packed: Arc<Packed>) -> Self {
        let (buffer, buffer_len) = (packed.buffer.as_ptr(), packed.buffer.len());
        let (ends, ends_len) = (packed.ends.as_ptr(), packed.ends.len());
        FfiSharedTexts {
            buffer,
            buffer_len,
            ends,
            ends_len,
            owner: Arc::into_raw(packed).cast::<()>(),
            release: release_packed,
        }
    }
}

/// Drops one reference to a shared batch, on the side that made it.
extern "C" fn release_packed(owner: *const ()) {
    // SAFETY: `owner` comes from `Arc::into_raw` of an `Arc<Packed>` in `share`, in this
    // same library (the function pointer travels with it), and `Drop` calls this once.
    drop(unsafe { Arc::from_raw(owner.cast::<Packed>()) });
}

impl Drop for FfiSharedTexts {
    fn drop(&mut self) {
        (self.release)(self.owner)
    }
}

impl PackedTexts for FfiSharedTexts {
    fn buffer(&self) -> &str {
        // SAFETY: `buffer` and `buffer_len` describe the `String` of the batch that
        // `owner` keeps alive and unchanged for as long as `self` lives; a `String` is
        // UTF-8 (the same trust an `RString` from the peer gets).
        unsafe {
            std::str::from_utf8_unchecked(std::slice::from_raw_parts(self.buffer, self.buffer_len))
        }
    }

    fn ends(&self) -> &[u32] {
        // SAFETY: as for `buffer`: the batch's `Vec<u32>`, alive and unchanged.
        unsafe { std::slice::from_raw_parts(self.ends, self.ends_len) }
    }
}

impl std::fmt::Debug for FfiSharedTexts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FfiSharedTexts")
            .field("bytes", &self.buffer_len)
            .field("chunks", &self.ends_len)
            .finish()
    }
}
