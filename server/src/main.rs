//! `hoist`: parses the command line and hands over to the library.

fn main() -> std::process::ExitCode {
    keep_large_allocations_mapped();
    hoist_server::cli::main()
}

/// Each password hash (Argon2) allocates 19 MiB. glibc raises its mmap threshold once the
/// first such block is freed, so later ones come from per-thread heaps that it keeps: a
/// dozen parallel sign-ins left the server at ~280 MiB resident instead of ~26 MiB. A
/// fixed threshold keeps large blocks mapped, and returned to the system when freed.
fn keep_large_allocations_mapped() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator settings; called first, before any thread starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}
