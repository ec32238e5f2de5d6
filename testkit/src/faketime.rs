//! libfaketime, for processes whose wall clock a test sets (Redis's, a worker's).

use std::path::PathBuf;

/// libfaketime's multi-threaded build (Debian's `faketime` package), to preload directly
/// rather than through the `faketime` wrapper, which forks: a test that signals the
/// process needs its own pid. `HOIST_LIBFAKETIME` names another file.
///
/// # Panics
/// When it is not installed, saying how to install it.
pub fn libfaketime() -> PathBuf {
    let mut candidates: Vec<PathBuf> = std::fs::read_dir("/usr/lib")
        .into_iter()
        .flatten()
        .flatten()
        .map(|dir| dir.path().join("faketime/libfaketimeMT.so.1"))
        .chain([PathBuf::from("/usr/lib/faketime/libfaketimeMT.so.1")])
        .collect();
    if let Some(path) = std::env::var_os("HOIST_LIBFAKETIME") {
        candidates = vec![PathBuf::from(path)];
    }
    for candidate in candidates {
        if candidate.is_file() {
            return candidate;
        }
    }
    panic!(
        "libfaketime not found (no /usr/lib/*/faketime/libfaketimeMT.so.1, or no file at HOIST_LIBFAKETIME): \
         clock tests need Debian's `faketime` package, which test.sh installs (apt-get install faketime)"
    );
}

/// What to preload into `redis-server` so libfaketime can set its clock.
///
/// Debian's Redis allocates with jemalloc, which calls `clock_gettime` while libfaketime
/// is still starting up, and libfaketime then refuses to run (libfaketime issue #130).
/// glibc's `libc_malloc_debug.so.0`, preloaded first, gives Redis glibc's own `malloc`
/// and `free`, so jemalloc is not used for them and never starts up at that moment.
pub fn faketime_preload_for_redis() -> String {
    let faketime = libfaketime();
    let malloc = faketime
        .parent()
        .and_then(|dir| dir.parent())
        .map(|lib| lib.join("libc_malloc_debug.so.0"))
        .filter(|path| path.is_file());
    match malloc {
        Some(malloc) => format!("{} {}", malloc.display(), faketime.display()),
        None => faketime.display().to_string(),
    }
}
