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
    write_bytecode(config.executable());
    println!("cargo:rerun-if-env-changed=PYO3_PYTHON");
    for dir in ["python/agent_host", "python"] {
        println!("cargo:rerun-if-changed={dir}");
    }
}

/// Compiles the bundled package with the build's Python, for `src/embedded.rs`: the
/// plugin then unmarshals its modules at start-up (under 1 ms) instead of compiling
/// them from source (about 18 ms here). Without an interpreter to ask, or when it fails,
/// the table is empty and the modules compile at start-up as before.
const COMPILE: &str = r#"
import importlib.util, marshal, os, sys
source_dir, out_dir = sys.argv[1], sys.argv[2]
print(importlib.util.MAGIC_NUMBER.hex())
for file in sorted(os.listdir(source_dir)):
    if not file.endswith(".py"):
        continue
    stem = file[:-3]
    name = "agent_host" if stem == "__init__" else "agent_host." + stem
    # The file name the importer gives the module (`_origin`), so tracebacks match.
    origin = "<agent-host plugin>/agent_host/" + file
    with open(os.path.join(source_dir, file), encoding="utf-8") as handle:
        code = compile(handle.read(), origin, "exec", dont_inherit=True, optimize=0)
    with open(os.path.join(out_dir, name + ".bytecode"), "wb") as handle:
        handle.write(marshal.dumps(code))
    print(name)
"#;

fn write_bytecode(executable: Option<&str>) {
    let out_dir = std::path::PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let bytecode_dir = out_dir.join("bytecode");
    std::fs::create_dir_all(&bytecode_dir).expect("OUT_DIR is writable");
    let source_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("python/agent_host");
    let compiled = executable.and_then(|executable| {
        let output = Command::new(executable)
            .args(["-I", "-c", COMPILE])
            .arg(&source_dir)
            .arg(&bytecode_dir)
            .output()
            .ok()
            .filter(|output| output.status.success())?;
        String::from_utf8(output.stdout).ok()
    });
    let mut lines = compiled.as_deref().unwrap_or_default().lines();
    let magic = lines.next().unwrap_or_default();
    let magic_bytes: Vec<String> = (0..magic.len() / 2)
        .filter_map(|at| u8::from_str_radix(&magic[2 * at..2 * at + 2], 16).ok())
        .map(|byte| byte.to_string())
        .collect();
    let mut table = String::new();
    for name in lines {
        let file = bytecode_dir.join(format!("{name}.bytecode"));
        table.push_str(&format!(
            "    ({name:?}, include_bytes!({:?})),\n",
            file.display().to_string()
        ));
    }
    let generated = format!(
        "/// `importlib.util.MAGIC_NUMBER` of the Python that compiled [`BYTECODE`].\n\
         const BYTECODE_MAGIC: &[u8] = &[{}];\n\
         /// `(module name, marshalled code)`, compiled at build time.\n\
         const BYTECODE: &[(&str, &[u8])] = &[\n{table}];\n",
        magic_bytes.join(", ")
    );
    std::fs::write(out_dir.join("bytecode.rs"), generated).expect("OUT_DIR is writable");
}
