//! Keeps freed activation buffers in the heap. A U-Net step allocates and frees a few hundred
//! MB of 1-16 MB buffers; with glibc's defaults the largest go back to the OS on every free
//! (mmap threshold, heap trimming) and every step page-faults them in again (measured: 389k page
//! faults for `gradlab bench --only seg`, 85k with these settings).

/// Sets glibc's mmap threshold to its 32 MiB maximum and trims the heap only above 256 MiB of
/// free memory at its top. Process-wide and idempotent; a no-op outside glibc.
pub fn keep_freed_buffers() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            // SAFETY: mallopt only changes allocator parameters; both values are in range.
            unsafe {
                libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
                libc::mallopt(libc::M_TRIM_THRESHOLD, 256 << 20);
            }
        });
    }
}
