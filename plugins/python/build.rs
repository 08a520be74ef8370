//! Links the plugin against the Python it was built with, and records where that Python
//! lives, so the plugin needs no `LD_LIBRARY_PATH` at run time.

fn main() {
    pyo3_build_config::add_libpython_rpath_link_args();
    let config = pyo3_build_config::get();
    let version = config.version();
    let lib_name = config
        .lib_name()
        .map(str::to_owned)
        .unwrap_or_else(|| format!("python{}.{}", version.major, version.minor));
    // The SONAME the dynamic linker loaded; the loader promotes it to RTLD_GLOBAL.
    println!("cargo:rustc-env=AGENT_PYTHON_LIBPYTHON=lib{lib_name}.so.1.0");
    println!(
        "cargo:rustc-env=AGENT_PYTHON_LIB_DIR={}",
        config.lib_dir().unwrap_or_default()
    );
    println!(
        "cargo:rustc-env=AGENT_PYTHON_VERSION={}.{}",
        version.major, version.minor
    );
    if let Some(executable) = config.executable() {
        // For the tests, which make venvs with the same Python.
        println!("cargo:rustc-env=AGENT_PYTHON_EXECUTABLE={executable}");
    }
    println!("cargo:rerun-if-env-changed=PYO3_PYTHON");
    for dir in ["python/agent_host", "python"] {
        println!("cargo:rerun-if-changed={dir}");
    }
}
