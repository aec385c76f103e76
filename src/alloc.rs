//! The allocator of the `evalkit` command (the Python extension keeps the
//! system's): the system's, asking Linux for transparent huge pages on
//! large blocks.
//!
//! The full tier's large buffers (the sort's keys and scratch, the ranking
//! table, the per-row arrays: tens to hundreds of megabytes at 10⁷ rows)
//! are written once each, and on 4 KiB pages a tenth or more of a run went
//! to faulting them in, one page at a time, and the sort's bucket scatter
//! to TLB misses. Where the kernel gives transparent huge pages only to
//! memory that asks for them (`/sys/kernel/mm/transparent_hugepage/enabled`
//! is `madvise`, as on this project's machines and many distributions),
//! each block of at least [`LARGE`] bytes is a mapping of its own, advised
//! `MADV_HUGEPAGE` before its first use: 2 MiB pages, 512 times fewer faults
//! and TLB entries (README, "Performance"). That is what the C library's
//! allocator does with such blocks anyway (a mapping each), plus the
//! advice; advising blocks inside its mappings instead split them, and
//! growing a vector then copied it. Smaller blocks, and other systems, are
//! the system allocator's as they were; no value changes, only where the
//! bytes live.

use std::alloc::{GlobalAlloc, Layout, System};

/// Blocks at least this large are mapped on their own and advised (a few
/// huge pages' worth).
pub const LARGE: usize = 32 << 20;

/// The system allocator, with large blocks mapped on their own and advised
/// as huge-page candidates (Linux).
pub struct HugePages;

/// Whether a block of this layout is one of ours: large, and aligned no
/// more strictly than a page (a fresh mapping's start satisfies it).
#[cfg(target_os = "linux")]
fn ours(size: usize, align: usize) -> bool {
    size >= LARGE && align <= 4096
}

// SAFETY: small blocks are `System`'s, forwarded as they are; a large one
// is a private anonymous mapping of its own (page-aligned, zeroed), freed
// with `munmap` and grown or shrunk with `mremap`, which moves its bytes;
// `ours` decides by the layout, which Rust passes back unchanged to
// `dealloc` and `realloc`, so a block is always freed by its maker.
unsafe impl GlobalAlloc for HugePages {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        #[cfg(target_os = "linux")]
        if ours(layout.size(), layout.align()) {
            return map(layout.size());
        }
        // SAFETY: forwarded as is.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        #[cfg(target_os = "linux")]
        if ours(layout.size(), layout.align()) {
            // A fresh anonymous mapping reads as zeros.
            return map(layout.size());
        }
        // SAFETY: forwarded as is.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        #[cfg(target_os = "linux")]
        if ours(layout.size(), layout.align()) {
            // SAFETY: `ptr` is the start of our mapping of this size.
            unsafe { libc::munmap(ptr.cast(), layout.size()) };
            return;
        }
        // SAFETY: forwarded as is.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        #[cfg(target_os = "linux")]
        {
            let (old, new) = (
                ours(layout.size(), layout.align()),
                ours(new_size, layout.align()),
            );
            if old && new {
                // SAFETY: `ptr` is the start of our mapping of the old size;
                // the kernel moves it whole when it cannot grow in place.
                let p = unsafe {
                    libc::mremap(ptr.cast(), layout.size(), new_size, libc::MREMAP_MAYMOVE)
                };
                return if p == libc::MAP_FAILED {
                    std::ptr::null_mut()
                } else {
                    p.cast()
                };
            }
            if old || new {
                // Across the boundary: a new block of the other kind, the
                // bytes both hold copied, the old block freed.
                // SAFETY: `new_size` is non-zero (a realloc's) with the
                // old alignment; both blocks are valid for the copy.
                unsafe {
                    let to = Layout::from_size_align_unchecked(new_size, layout.align());
                    let q = self.alloc(to);
                    if !q.is_null() {
                        std::ptr::copy_nonoverlapping(ptr, q, layout.size().min(new_size));
                        self.dealloc(ptr, layout);
                    }
                    return q;
                }
            }
        }
        // SAFETY: forwarded as is.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// A private anonymous mapping of `size` bytes, advised `MADV_HUGEPAGE`
/// (the kernel places mappings of 2 MiB and more on 2 MiB boundaries);
/// null when the kernel refuses the mapping.
#[cfg(target_os = "linux")]
fn map(size: usize) -> *mut u8 {
    // SAFETY: a new mapping, overlapping nothing; madvise only records a
    // preference (its error, e.g. a kernel without transparent huge pages,
    // changes nothing).
    unsafe {
        let p = libc::mmap(
            std::ptr::null_mut(),
            size,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        );
        if p == libc::MAP_FAILED {
            return std::ptr::null_mut();
        }
        libc::madvise(p, size, libc::MADV_HUGEPAGE);
        p.cast()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Blocks of every size round-trip their bytes through alloc, realloc
    /// (growing past and shrinking below [`LARGE`]) and dealloc.
    #[test]
    fn blocks_keep_their_bytes() {
        for size in [1usize, 4096, LARGE - 1, LARGE, 3 * LARGE + 12345] {
            let layout = Layout::from_size_align(size, 8).unwrap();
            // SAFETY: a non-zero layout; every access is inside the block.
            unsafe {
                let p = HugePages.alloc_zeroed(layout);
                assert!(!p.is_null());
                assert!(std::slice::from_raw_parts(p, size).iter().all(|&b| b == 0));
                for i in (0..size).step_by(4093) {
                    *p.add(i) = (i % 251) as u8;
                }
                let bigger = size * 2 + LARGE;
                let q = HugePages.realloc(p, layout, bigger);
                assert!(!q.is_null());
                for i in (0..size).step_by(4093) {
                    assert_eq!(*q.add(i), (i % 251) as u8);
                }
                let r = HugePages.realloc(q, Layout::from_size_align(bigger, 8).unwrap(), size);
                for i in (0..size).step_by(4093) {
                    assert_eq!(*r.add(i), (i % 251) as u8);
                }
                HugePages.dealloc(r, layout);
            }
        }
    }
}
