//! Starting CPython inside a `dlopen`ed plugin.
//!
//! The plugin links libpython (its RUNPATH, set by `build.rs`, points at the Python it
//! was built with), but a library loaded with `RTLD_LOCAL` keeps libpython's symbols
//! private, and C extension modules (`_asyncio`, `_json`, `_decimal`, a venv's compiled
//! packages) then fail to import with "undefined symbol". So before initializing, the
//! already-loaded libpython is promoted to `RTLD_GLOBAL`.

/// glibc's `RTLD_NOLOAD`: only look up an already-loaded library, never load one.
#[cfg(target_os = "linux")]
const RTLD_NOLOAD: std::ffi::c_int = 0x0004;

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

/// Starts the interpreter, reporting a failure as an error instead of the abort that
/// `Py_InitializeEx` does (a bad `PYTHONHOME`, a missing standard library). Then releases
/// the GIL, as PyO3's own initialization does, so `Python::attach` can take it.
pub(crate) fn initialize() -> Result<(), String> {
    use pyo3::ffi;
    use std::mem::MaybeUninit;

    // SAFETY: all calls are CPython's documented start-up sequence, made once, from the
    // interpreter thread, before any other Python call in this plugin. `PyConfig` is
    // fully initialized by `PyConfig_InitPythonConfig` before it is read, and cleared
    // after use. The strings in a failed `PyStatus` are static C strings (or null).
    unsafe {
        if ffi::Py_IsInitialized() != 0 {
            // The host process embeds Python itself: share its interpreter.
            return Ok(());
        }
        let mut config = MaybeUninit::<ffi::PyConfig>::uninit();
        ffi::PyConfig_InitPythonConfig(config.as_mut_ptr());
        let mut config = config.assume_init();
        config.install_signal_handlers = 0;
        let status = ffi::Py_InitializeFromConfig(&config);
        ffi::PyConfig_Clear(&mut config);
        if ffi::PyStatus_Exception(status) != 0 {
            let text = |pointer: *const std::ffi::c_char| {
                if pointer.is_null() {
                    String::new()
                } else {
                    std::ffi::CStr::from_ptr(pointer)
                        .to_string_lossy()
                        .into_owned()
                }
            };
            return Err(format!(
                "Python failed to initialize: {} ({}); check PYTHONHOME and PYTHONPATH",
                text(status.err_msg),
                text(status.func)
            ));
        }
        ffi::PyEval_SaveThread();
    }
    Ok(())
}
