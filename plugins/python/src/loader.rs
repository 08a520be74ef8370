//! Starting CPython inside a `dlopen`ed plugin, without touching what belongs to the host.
//!
//! - Symbols: the plugin links libpython (its RUNPATH, set by `build.rs`, points at the
//!   Python it was built with), but a library loaded with `RTLD_LOCAL` keeps libpython's
//!   symbols private, and C extension modules (`_asyncio`, `_json`, `_decimal`, a venv's
//!   compiled packages) then fail to import with "undefined symbol". So before
//!   initializing, the already-loaded libpython is promoted to `RTLD_GLOBAL`.
//! - Home: left alone, CPython finds its standard library from the `python3` on `PATH`,
//!   which may be another Python (`PATH=/usr/bin:/bin` under systemd or cron gave the
//!   system's 3.11 library to a pyenv 3.11 libpython: `No module named 'math'`). The home
//!   is the one of the Python the plugin links, recorded by `build.rs`; only an explicit
//!   `PYTHONHOME` overrides it.
//! - Signals: the process's signal dispositions are the host's. `install_signal_handlers
//!   = 0` is not enough: importing `_signal` (asyncio does) installs Python's SIGINT
//!   handler whenever SIGINT is at its default, and Ctrl-C then raised
//!   `KeyboardInterrupt` inside the event loop, which stopped it. So `_signal` is
//!   imported during start-up, and every disposition libpython changed is put back.
//! - `site`: deferred (`-S`) to the first runtime, whose `venv` says which site-packages
//!   belong on `sys.path` (`agent_host/_venv.py`): a venv that excludes the base
//!   packages never runs their `.pth` files.

use std::ffi::{c_int, c_void, CStr, CString};
use std::mem::MaybeUninit;
use std::sync::atomic::{AtomicBool, Ordering};

/// glibc's `RTLD_NOLOAD`: only look up an already-loaded library, never load one.
#[cfg(target_os = "linux")]
const RTLD_NOLOAD: c_int = 0x0004;

/// Makes the libpython this plugin was linked against global. `RTLD_NOLOAD` means it can
/// only re-flag the copy the dynamic linker already mapped, never load a second one
/// (two libpythons in one process crash it).
#[cfg(target_os = "linux")]
pub(crate) fn promote_libpython() -> Result<(), String> {
    use libloading::os::unix::{Library, RTLD_GLOBAL, RTLD_NOW};
    let soname = env!("AGENT_PYTHON_LIBPYTHON");
    // SAFETY: with RTLD_NOLOAD, dlopen runs no initializer and maps nothing new: it
    // returns the libpython already loaded as this plugin's dependency, with its flags
    // widened to RTLD_GLOBAL.
    let library = unsafe { Library::open(Some(soname), RTLD_NOLOAD | RTLD_NOW | RTLD_GLOBAL) }
        .map_err(|error| {
            format!("cannot make {soname} global (is the plugin linked against it?): {error}")
        })?;
    // Closing would drop the reference the promotion holds; libpython stays for good.
    std::mem::forget(library);
    Ok(())
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn promote_libpython() -> Result<(), String> {
    Ok(())
}

/// Set when this plugin started the interpreter with `site` deferred, until the first
/// runtime takes that work.
static SITE_DEFERRED: AtomicBool = AtomicBool::new(false);

/// Whether `site`'s start-up work falls to the caller: `true` once, for the first
/// runtime, and only when this plugin started the interpreter (a host that embeds
/// Python ran its own `site`, or chose not to).
pub(crate) fn take_deferred_site() -> bool {
    SITE_DEFERRED.swap(false, Ordering::Relaxed)
}

/// The home of the Python this plugin links (where `lib/pythonX.Y` is), from `build.rs`.
pub(crate) const PYTHON_HOME: &str = env!("AGENT_PYTHON_HOME");

/// That Python's real executable (`sys.executable` of the embedded interpreter).
const PYTHON_EXECUTABLE: &str = env!("AGENT_PYTHON_BASE_EXECUTABLE");

/// Starts the interpreter, reporting a failure as an error instead of the abort that
/// `Py_InitializeEx` does (a bad `PYTHONHOME`, a missing standard library). Leaves the
/// process's signal dispositions as they were. Then releases the GIL, as PyO3's own
/// initialization does, so `Python::attach` can take it.
pub(crate) fn initialize() -> Result<(), String> {
    use pyo3::ffi;

    // SAFETY: a read-only query of the interpreter's state, allowed before start-up.
    if unsafe { ffi::Py_IsInitialized() } != 0 {
        // The host process embeds Python itself: share its interpreter (and leave its
        // signal handling to it).
        return Ok(());
    }
    let home = (std::env::var_os("PYTHONHOME").is_none_or(|home| home.is_empty())
        && !PYTHON_HOME.is_empty())
    .then_some(PYTHON_HOME);
    let executable = (!PYTHON_EXECUTABLE.is_empty()
        && std::path::Path::new(PYTHON_EXECUTABLE).is_file())
    .then_some(PYTHON_EXECUTABLE);
    let before = dispositions();

    // SAFETY: all calls are CPython's documented start-up sequence, made once, from the
    // interpreter thread, before any other Python call in this plugin. `PyConfig` is
    // fully initialized by `PyConfig_InitPythonConfig` before it is read or written
    // (`PyConfig_SetBytesString` copies the string into it), and cleared after use. The
    // strings in a failed `PyStatus` are static C strings (or null).
    unsafe {
        let mut config = MaybeUninit::<ffi::PyConfig>::uninit();
        ffi::PyConfig_InitPythonConfig(config.as_mut_ptr());
        let mut config = config.assume_init();
        config.install_signal_handlers = 0;
        config.site_import = 0;
        let mut status = ffi::PyStatus_Ok();
        if let Some(home) = home {
            let home = c_string(home)?;
            let field = std::ptr::addr_of_mut!(config.home);
            status = ffi::PyConfig_SetBytesString(&mut config, field, home.as_ptr());
        }
        if let (Some(executable), 0) = (executable, ffi::PyStatus_Exception(status)) {
            let executable = c_string(executable)?;
            let field = std::ptr::addr_of_mut!(config.program_name);
            status = ffi::PyConfig_SetBytesString(&mut config, field, executable.as_ptr());
        }
        if ffi::PyStatus_Exception(status) == 0 {
            status = ffi::Py_InitializeFromConfig(&config);
        }
        ffi::PyConfig_Clear(&mut config);
        if ffi::PyStatus_Exception(status) != 0 {
            let text = |pointer: *const std::ffi::c_char| {
                if pointer.is_null() {
                    String::new()
                } else {
                    CStr::from_ptr(pointer).to_string_lossy().into_owned()
                }
            };
            let home = match home {
                Some(home) => format!("home {home}, the Python the plugin was built with"),
                None => "home from PYTHONHOME".to_owned(),
            };
            return Err(format!(
                "Python failed to initialize ({home}): {} ({}); check PYTHONHOME and PYTHONPATH",
                text(status.err_msg),
                text(status.func)
            ));
        }
    }
    keep_signals(&before);
    SITE_DEFERRED.store(true, Ordering::Relaxed);
    // SAFETY: the interpreter is initialized and this thread holds the GIL (start-up
    // left it attached); saving the thread state releases it.
    unsafe {
        ffi::PyEval_SaveThread();
    }
    Ok(())
}

fn c_string(text: &str) -> Result<CString, String> {
    CString::new(text).map_err(|_| format!("a NUL byte in {text:?}"))
}

/// One signal's disposition.
type Disposition = (c_int, libc::sigaction);

/// Every signal's disposition, as `sigaction` reports it (glibc's own two, which it
/// refuses to report, are left out).
fn dispositions() -> Vec<Disposition> {
    (1..=libc::SIGRTMAX())
        .filter_map(|signal| {
            let mut action = MaybeUninit::<libc::sigaction>::zeroed();
            // SAFETY: with a null new action, sigaction only writes the current one into
            // `action`, which is valid for writes.
            let read = unsafe { libc::sigaction(signal, std::ptr::null(), action.as_mut_ptr()) };
            // SAFETY: a successful sigaction filled it; it was zeroed anyway.
            (read == 0).then(|| (signal, unsafe { action.assume_init() }))
        })
        .collect()
}

/// Imports `_signal` now (later imports then change nothing), makes Python's own table
/// say SIGINT is at its default if it was, and puts back every disposition that now
/// points into libpython. Runs with the GIL held, right after start-up.
fn keep_signals(before: &[Disposition]) {
    use pyo3::prelude::*;
    let sigint_was_default = before
        .iter()
        .any(|(signal, action)| *signal == libc::SIGINT && action.sa_sigaction == libc::SIG_DFL);
    Python::attach(|py| {
        let fixed = (|| -> PyResult<()> {
            let module = py.import("_signal")?;
            let handler = module.call_method1("getsignal", (libc::SIGINT,))?;
            if sigint_was_default && handler.is(&module.getattr("default_int_handler")?) {
                // This thread started the interpreter, so it is Python's main thread,
                // the only one allowed to set a handler.
                module.call_method1("signal", (libc::SIGINT, module.getattr("SIG_DFL")?))?;
            }
            Ok(())
        })();
        if let Err(error) = fixed {
            tracing::warn!("cannot reset Python's SIGINT handler: {error}");
        }
    });
    let python = object_base(pyo3::ffi::Py_Initialize as *const () as usize);
    let after = dispositions();
    for (signal, saved) in before {
        let Some((_, now)) = after.iter().find(|(other, _)| other == signal) else {
            continue;
        };
        let changed = now.sa_sigaction != saved.sa_sigaction || now.sa_flags != saved.sa_flags;
        // Only what libpython installed: a handler another thread of the host set
        // meanwhile is the host's.
        let by_python = python.is_some() && object_base(now.sa_sigaction) == python;
        if changed && by_python {
            // SAFETY: `saved` is the disposition sigaction reported for this signal
            // before start-up; setting it back restores exactly that.
            let restored = unsafe { libc::sigaction(*signal, saved, std::ptr::null_mut()) };
            tracing::debug!(
                signal,
                restored = restored == 0,
                "put back a signal disposition Python changed"
            );
        }
    }
}

/// The base address of the loaded object (library or executable) holding `address`.
fn object_base(address: usize) -> Option<usize> {
    if address <= 1 {
        return None; // SIG_DFL or SIG_IGN
    }
    let mut info = MaybeUninit::<libc::Dl_info>::zeroed();
    // SAFETY: dladdr only reads the loader's tables and writes `info`, valid for writes.
    let found = unsafe { libc::dladdr(address as *const c_void, info.as_mut_ptr()) };
    // SAFETY: zeroed, and filled by a successful dladdr.
    (found != 0).then(|| unsafe { info.assume_init() }.dli_fbase as usize)
}
