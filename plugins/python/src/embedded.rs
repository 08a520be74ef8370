//! The bundled `agent_host` Python package, compiled into the plugin and imported from
//! memory, so the plugin is one file and its Python half can never go missing. Its
//! modules also come compiled (by the build's Python, see `build.rs`): unmarshalled when
//! the running Python has the same bytecode magic, compiled from source otherwise.

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

include!(concat!(env!("OUT_DIR"), "/bytecode.rs"));

/// `(module name, source, is a package)`.
const MODULES: &[(&str, &str, bool)] = &[
    (
        "agent_host",
        include_str!("../python/agent_host/__init__.py"),
        true,
    ),
    (
        "agent_host._agent",
        include_str!("../python/agent_host/_agent.py"),
        false,
    ),
    (
        "agent_host._answers",
        include_str!("../python/agent_host/_answers.py"),
        false,
    ),
    (
        "agent_host._base",
        include_str!("../python/agent_host/_base.py"),
        false,
    ),
    (
        "agent_host._bridge",
        include_str!("../python/agent_host/_bridge.py"),
        false,
    ),
    (
        "agent_host._config",
        include_str!("../python/agent_host/_config.py"),
        false,
    ),
    (
        "agent_host._content",
        include_str!("../python/agent_host/_content.py"),
        false,
    ),
    (
        "agent_host._events",
        include_str!("../python/agent_host/_events.py"),
        false,
    ),
    (
        "agent_host._idle",
        include_str!("../python/agent_host/_idle.py"),
        false,
    ),
    (
        "agent_host._loop",
        include_str!("../python/agent_host/_loop.py"),
        false,
    ),
    (
        "agent_host._reply",
        include_str!("../python/agent_host/_reply.py"),
        false,
    ),
    (
        "agent_host._runtime",
        include_str!("../python/agent_host/_runtime.py"),
        false,
    ),
    (
        "agent_host._stream",
        include_str!("../python/agent_host/_stream.py"),
        false,
    ),
    (
        "agent_host._tools",
        include_str!("../python/agent_host/_tools.py"),
        false,
    ),
    (
        "agent_host._turns",
        include_str!("../python/agent_host/_turns.py"),
        false,
    ),
    (
        "agent_host._venv",
        include_str!("../python/agent_host/_venv.py"),
        false,
    ),
    (
        "agent_host.reference",
        include_str!("../python/agent_host/reference.py"),
        false,
    ),
];

/// A meta-path finder over a dict of sources. `get_source` keeps tracebacks readable.
/// It implements the finder and loader protocols without `importlib.abc`'s base
/// classes: importing that module pulls in `importlib.resources`, `pathlib`, `tempfile`
/// and `shutil` (18 ms of start-up here, when no `.pth` file imports them anyway), for
/// nothing the plugin uses.
const IMPORTER: &str = r#"
import importlib.util
import marshal
import sys


class EmbeddedImporter:
    """Imports the modules compiled into the agent-host Python plugin (a meta-path finder
    and an inspect loader, by protocol)."""

    def __init__(self, modules, magic):
        self._modules = modules
        # Bytecode from the build is used only by a Python that reads it, and compiles
        # as the source would here (`-O` drops asserts).
        self._use_bytecode = magic == importlib.util.MAGIC_NUMBER and not sys.flags.optimize

    def find_spec(self, fullname, path=None, target=None):
        if fullname not in self._modules:
            return None
        _, is_package, _ = self._modules[fullname]
        return importlib.util.spec_from_loader(
            fullname, self, origin=self._origin(fullname), is_package=is_package
        )

    def _origin(self, fullname):
        _, is_package, _ = self._modules[fullname]
        path = fullname.replace(".", "/")
        return f"<agent-host plugin>/{path}/__init__.py" if is_package else f"<agent-host plugin>/{path}.py"

    def get_source(self, fullname):
        return self._modules[fullname][0]

    def is_package(self, fullname):
        return self._modules[fullname][1]

    def get_code(self, fullname):
        bytecode = self._modules[fullname][2]
        if self._use_bytecode and bytecode is not None:
            try:
                return marshal.loads(bytecode)
            except (EOFError, ValueError, TypeError):
                pass
        return compile(self.get_source(fullname), self._origin(fullname), "exec", dont_inherit=True)

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        module.__file__ = self._origin(module.__name__)
        if self.is_package(module.__name__):
            module.__path__ = []
        exec(self.get_code(module.__name__), module.__dict__)


def install(modules, magic):
    sys.meta_path.insert(0, EmbeddedImporter(modules, magic))
"#;

/// Makes `import agent_host` find the bundled package.
pub(crate) fn install(py: Python<'_>) -> PyResult<()> {
    let modules = PyDict::new(py);
    for (name, source, is_package) in MODULES {
        let bytecode = BYTECODE
            .iter()
            .find(|(compiled, _)| compiled == name)
            .map(|(_, code)| PyBytes::new(py, code));
        modules.set_item(name, (source, is_package, bytecode))?;
    }
    let importer = PyModule::from_code(
        py,
        &std::ffi::CString::new(IMPORTER).expect("no NUL in the importer"),
        c"<agent-host plugin>/importer.py",
        c"agent_host_importer",
    )?;
    importer.call_method1("install", (modules, PyBytes::new(py, BYTECODE_MAGIC)))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::MODULES;

    #[test]
    fn every_module_of_the_package_is_bundled() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("python/agent_host");
        let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(|entry| {
                let name = entry.unwrap().file_name().into_string().unwrap();
                let module = name.strip_suffix(".py")?;
                Some(match module {
                    "__init__" => "agent_host".to_owned(),
                    module => format!("agent_host.{module}"),
                })
            })
            .collect();
        on_disk.sort();
        let mut bundled: Vec<String> = MODULES
            .iter()
            .map(|(name, ..)| (*name).to_owned())
            .collect();
        bundled.sort();
        assert_eq!(bundled, on_disk);
    }

    #[test]
    fn every_module_comes_compiled_by_the_build_python() {
        assert!(
            !super::BYTECODE_MAGIC.is_empty(),
            "build.rs could not compile the package with the build's Python"
        );
        let mut compiled: Vec<&str> = super::BYTECODE.iter().map(|(name, _)| *name).collect();
        compiled.sort();
        let mut bundled: Vec<&str> = MODULES.iter().map(|(name, ..)| *name).collect();
        bundled.sort();
        assert_eq!(compiled, bundled);
    }
}
