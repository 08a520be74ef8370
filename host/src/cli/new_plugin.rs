//! `agent-host new-plugin NAME`: writes a standalone plugin crate that builds, and whose
//! tests (the conformance kit, in-process and on the freshly built file) pass, as
//! generated. The templates are in `new_plugin/`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The plugin's name, as hosts select it (`--backend NAME`): lowercase letters,
    /// digits, `-` and `_`, starting with a letter.
    name: String,
    /// Where to write the crate (default: ./NAME). It must not exist, or be empty.
    #[arg(long, value_name = "DIR")]
    path: Option<PathBuf>,
    /// A checkout of the agent-host repository: depend on its crates by path. Default:
    /// the checkout this host was built from, when it is still there (same api version).
    #[arg(long, value_name = "DIR", conflicts_with = "git")]
    api_path: Option<PathBuf>,
    /// Depend on the crates by git instead, from this repository (`default` for
    /// agent-host's own), at the tag of this host's api version.
    #[arg(long, value_name = "URL")]
    git: Option<String>,
}

const TEMPLATES: [(&str, &str); 5] = [
    ("Cargo.toml", include_str!("new_plugin/Cargo.toml.in")),
    ("README.md", include_str!("new_plugin/README.md.in")),
    (".gitignore", include_str!("new_plugin/gitignore.in")),
    ("src/lib.rs", include_str!("new_plugin/lib.rs.in")),
    (
        "tests/conformance.rs",
        include_str!("new_plugin/conformance.rs.in"),
    ),
];

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    check_name(&args.name)?;
    let dir = args
        .path
        .clone()
        .unwrap_or_else(|| PathBuf::from(&args.name));
    let is_empty_dir = dir.is_dir()
        && std::fs::read_dir(&dir)
            .with_context(|| format!("cannot read {}", dir.display()))?
            .next()
            .is_none();
    if dir.exists() && !dir.is_dir() {
        anyhow::bail!("{} is a file; choose another --path", dir.display());
    }
    if dir.exists() && !is_empty_dir {
        anyhow::bail!(
            "{} already exists and is not empty; choose another --path",
            dir.display()
        );
    }
    let (api, kit, source) = dependencies(&args)?;
    // The package keeps the dashes; code and the library file use underscores.
    let lib_name = args.name.replace('-', "_");
    let fill = |template: &str| {
        template
            .replace("{{name}}", &args.name)
            .replace("{{lib}}", &lib_name)
            .replace("{{api_dependency}}", &api)
            .replace("{{kit_dependency}}", &kit)
            .replace("{{api_version}}", agent_plugin_api::host::API_VERSION)
    };
    for (file, template) in TEMPLATES {
        let path = dir.join(file);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        std::fs::write(&path, fill(template))
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    println!("wrote plugin crate {:?} in {}", args.name, dir.display());
    println!("  agent-plugin-api and agent-conformance come {source}");
    println!(
        "  cd {} && cargo test            # the conformance kit, in-process and on the built file",
        dir.display()
    );
    println!("  cargo build --release           # target/release/lib{lib_name}.so");
    Ok(ExitCode::SUCCESS)
}

fn check_name(name: &str) -> anyhow::Result<()> {
    let mut chars = name.chars();
    let starts_well = chars.next().is_some_and(|first| first.is_ascii_lowercase());
    let rest_well =
        chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if starts_well && rest_well && name.len() <= 64 {
        Ok(())
    } else {
        anyhow::bail!(
            "plugin name {name:?}: use lowercase letters, digits, `-` and `_`, starting with a letter (at most 64)"
        )
    }
}

/// The two dependency lines, by path into a checkout or by git at this api's tag, and
/// where they come from, in words.
fn dependencies(args: &Args) -> anyhow::Result<(String, String, String)> {
    let checkout = match (&args.api_path, &args.git) {
        (Some(dir), _) => Some(dir.clone()),
        (None, None) => own_checkout(),
        (None, Some(_)) => None,
    };
    if let Some(checkout) = checkout {
        let checkout = std::fs::canonicalize(&checkout)
            .with_context(|| format!("--api-path {}", checkout.display()))?;
        let api = checkout.join("plugin-api");
        let kit = checkout.join("conformance");
        for crate_dir in [&api, &kit] {
            if !crate_dir.join("Cargo.toml").is_file() {
                anyhow::bail!(
                    "--api-path {}: no crate at {} (give a checkout of the agent-host repository)",
                    checkout.display(),
                    crate_dir.display()
                );
            }
        }
        let source = format!("by path from {}", checkout.display());
        return Ok((path_dependency(&api), path_dependency(&kit), source));
    }
    let url = match args.git.as_deref() {
        None | Some("default") => env!("CARGO_PKG_REPOSITORY"),
        Some(url) => url,
    };
    let tag = format!("agent-plugin-api-v{}", agent_plugin_api::host::API_VERSION);
    let git = format!("{{ git = {url:?}, tag = {tag:?} }}");
    Ok((git.clone(), git, format!("by git from {url} at {tag}")))
}

/// The checkout this binary was built from, if it is still there with this api version:
/// a host built from a clone is the usual case, and then the crate builds offline.
fn own_checkout() -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent()?;
    let manifest = std::fs::read_to_string(root.join("plugin-api/Cargo.toml")).ok()?;
    let version_line = format!("version = \"{}\"", agent_plugin_api::host::API_VERSION);
    let same_version = manifest.lines().any(|line| line.trim() == version_line);
    (same_version && root.join("conformance/Cargo.toml").is_file()).then(|| root.to_path_buf())
}

fn path_dependency(dir: &Path) -> String {
    format!("{{ path = {:?} }}", dir.display().to_string())
}
