//! Links the plugin against the Python it was built with, and records where that Python
//! lives, so the plugin needs no `LD_LIBRARY_PATH` at run time and its interpreter finds
//! its standard library without looking at `PATH`.

use std::process::Command;

/// Asks the build's Python where it lives: its version, its home (`sys.base_prefix`,
/// the base interpreter's even when run from a venv) and its real executable.
const PROBE: &str = "import platform, sys; print(platform.python_version()); \
print(sys.base_prefix); print(getattr(sys, '_base_executable', sys.executable))";

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
    let lib_dir = config.lib_dir().unwrap_or_default();
    println!("cargo:rustc-env=AGENT_PYTHON_LIB_DIR={lib_dir}");
    println!(
        "cargo:rustc-env=AGENT_PYTHON_VERSION={}.{}",
        version.major, version.minor
    );
    let probed = config.executable().and_then(|executable| {
        let output = Command::new(executable)
            .args(["-c", PROBE])
            .output()
            .ok()
            .filter(|output| output.status.success())?;
        let text = String::from_utf8(output.stdout).ok()?;
        let lines: Vec<String> = text.lines().map(str::to_owned).collect();
        (lines.len() == 3).then_some(lines)
    });
    let (full_version, home, base_executable) = match probed {
        Some(lines) => (lines[0].clone(), lines[1].clone(), lines[2].clone()),
        // No interpreter to ask (a cross build from a config file): libpython's
        // directory is `<home>/lib` in every layout pyo3 links against by default.
        None => (
            format!("{}.{}", version.major, version.minor),
            std::path::Path::new(lib_dir)
                .parent()
                .map(|home| home.display().to_string())
                .unwrap_or_default(),
            String::new(),
        ),
    };
    // The interpreter's home (where `lib/pythonX.Y` is): the loader sets it, so `PATH`
    // never decides which standard library the plugin gets.
    println!("cargo:rustc-env=AGENT_PYTHON_HOME={home}");
    println!("cargo:rustc-env=AGENT_PYTHON_FULL_VERSION={full_version}");
    // `sys.executable` of the embedded interpreter (empty: left to CPython).
    println!("cargo:rustc-env=AGENT_PYTHON_BASE_EXECUTABLE={base_executable}");
    if let Some(executable) = config.executable() {
        // For the tests, which make venvs with the same Python.
        println!("cargo:rustc-env=AGENT_PYTHON_EXECUTABLE={executable}");
    }
    println!("cargo:rerun-if-env-changed=PYO3_PYTHON");
    for dir in ["python/agent_host", "python"] {
        println!("cargo:rerun-if-changed={dir}");
    }
}
