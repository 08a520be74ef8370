//! A plugin's own allocator: small blocks from mimalloc, larger ones from the C library.
//!
//! Through the ABI a turn costs a dozen more small allocations than in-process (the
//! message and every event are converted on the plugin's side), often made on one
//! thread and freed on another: mimalloc serves those in fewer instructions than glibc
//! and frees across threads without taking the other thread's arena lock. Blocks of
//! 4 KiB and more (a stream's text batches, a large message) stay with the C library,
//! which hands freed memory back for reuse at once and grows large blocks with `mremap`
//! instead of a copy. The soak's 10 MB echo (8-character chunks) peaks at 2.6x its size
//! with this split and without transparent huge pages (the workspace builds mimalloc
//! with `no_thp`), against 2.3x with the C library alone, and 3.1-3.4x with the split at
//! 64 KiB and huge pages (over the soak's bound of 3x).
//!
//! Sound because Rust hands `dealloc` and `realloc` the layout the block was made with,
//! so its size says which allocator made it; a block that crosses the threshold when it
//! grows or shrinks is moved to the other one.

use std::alloc::{GlobalAlloc, Layout, System};

use mimalloc::MiMalloc;

/// Blocks below this many bytes come from mimalloc; the rest from the C library.
const SMALL_BELOW: usize = 4 * 1024;

/// The allocator for a plugin's `#[global_allocator]` (feature `allocator`). Only a
/// `cdylib`'s own Rust allocations use it: values that cross the ABI carry their own
/// deallocation functions, so the host's allocator never frees its blocks.
///
/// ```ignore
/// #[global_allocator]
/// static ALLOCATOR: agent_plugin_api::plugin::PluginAllocator =
///     agent_plugin_api::plugin::PluginAllocator;
/// ```
pub struct PluginAllocator;

fn is_small(size: usize) -> bool {
    size < SMALL_BELOW
}

// SAFETY: every block is freed and resized by the allocator that made it, chosen by the
// size Rust passes back with it (the size it was made or last resized with); a resize
// across the threshold allocates from the other allocator, copies the bytes both blocks
// hold and frees the old block with its own allocator.
unsafe impl GlobalAlloc for PluginAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's layout is passed on unchanged (non-zero size).
        unsafe {
            if is_small(layout.size()) {
                MiMalloc.alloc(layout)
            } else {
                System.alloc(layout)
            }
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as in `alloc`.
        unsafe {
            if is_small(layout.size()) {
                MiMalloc.alloc_zeroed(layout)
            } else {
                System.alloc_zeroed(layout)
            }
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `layout` is the one the block was made or last resized with, so its
        // size picks the allocator `alloc` or `realloc` took it from.
        unsafe {
            if is_small(layout.size()) {
                MiMalloc.dealloc(ptr, layout)
            } else {
                System.dealloc(ptr, layout)
            }
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        match (is_small(layout.size()), is_small(new_size)) {
            // SAFETY: the block is that allocator's (see `dealloc`), and stays with it.
            (true, true) => unsafe { MiMalloc.realloc(ptr, layout, new_size) },
            // SAFETY: as above.
            (false, false) => unsafe { System.realloc(ptr, layout, new_size) },
            _ => {
                // SAFETY: `new_size` with the block's alignment is a valid layout (the
                // caller's contract for `realloc`); the new block holds at least the
                // bytes copied, which the old one holds too, and they do not overlap.
                unsafe {
                    let new_layout = Layout::from_size_align_unchecked(new_size, layout.align());
                    let moved = self.alloc(new_layout);
                    if !moved.is_null() {
                        std::ptr::copy_nonoverlapping(ptr, moved, layout.size().min(new_size));
                        self.dealloc(ptr, layout);
                    }
                    moved
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_block_keeps_its_bytes_as_it_grows_and_shrinks_across_the_threshold() {
        let allocator = PluginAllocator;
        let layout = Layout::from_size_align(100, 8).unwrap();
        // SAFETY: each block is used within its size and freed with its last layout.
        unsafe {
            let mut block = allocator.alloc(layout);
            assert!(!block.is_null());
            for index in 0..100 {
                *block.add(index) = index as u8;
            }
            let mut size = 100;
            for new_size in [SMALL_BELOW, 3 * SMALL_BELOW, SMALL_BELOW - 1, 50, 1 << 20] {
                block =
                    allocator.realloc(block, Layout::from_size_align(size, 8).unwrap(), new_size);
                assert!(!block.is_null());
                assert_eq!(block as usize % 8, 0);
                for index in 0..50 {
                    assert_eq!(
                        *block.add(index),
                        index as u8,
                        "after growing to {new_size}"
                    );
                }
                size = new_size;
            }
            allocator.dealloc(block, Layout::from_size_align(size, 8).unwrap());
        }
    }

    #[test]
    fn zeroed_blocks_are_zero_on_both_sides_of_the_threshold() {
        let allocator = PluginAllocator;
        for size in [16, SMALL_BELOW - 1, SMALL_BELOW, 4 * SMALL_BELOW] {
            let layout = Layout::from_size_align(size, 16).unwrap();
            // SAFETY: read within the block, freed with its layout.
            unsafe {
                let block = allocator.alloc_zeroed(layout);
                assert!(!block.is_null());
                assert!(std::slice::from_raw_parts(block, size)
                    .iter()
                    .all(|&byte| byte == 0));
                allocator.dealloc(block, layout);
            }
        }
    }
}
