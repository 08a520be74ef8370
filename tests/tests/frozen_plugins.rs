//! Plugins built against earlier versions of the api (`tests/fixtures/frozen`, built by
//! `cargo xtask fixtures` into `$AGENT_HOST_FIXTURES`) load in this host and pass every
//! conformance check that applies to them: the proof that the ABI grew compatibly
//! (`docs/abi.md`).

use std::path::PathBuf;

use agent_conformance::{run_all, Status, Target};
use agent_plugin_api::host::{api_version, is_compatible, LoadError, PluginLibrary};

fn fixtures_dir() -> PathBuf {
    match std::env::var_os("AGENT_HOST_FIXTURES") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/fixtures"),
    }
}

/// Every frozen plugin file, with the api version its name carries.
fn frozen_plugins() -> Vec<(semver::Version, PathBuf)> {
    let sources = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/frozen");
    let mut found = Vec::new();
    for entry in std::fs::read_dir(&sources).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        let Some(version) = name.strip_prefix("api-") else {
            continue;
        };
        let file = fixtures_dir().join(format!("libfrozen_api_{}.so", version.replace('.', "_")));
        assert!(
            file.is_file(),
            "{} is missing: run `cargo xtask fixtures` first",
            file.display()
        );
        found.push((semver::Version::parse(version).unwrap(), file));
    }
    found
}

#[test]
fn every_version_of_this_series_has_a_frozen_plugin() {
    let host = api_version();
    let frozen = frozen_plugins();
    assert!(
        !frozen.is_empty(),
        "no frozen plugin in tests/fixtures/frozen"
    );
    // The series' first version is frozen; each later one that changed the ABI adds
    // its own directory.
    let series_start = semver::Version::new(host.major, host.minor, 0);
    assert!(
        frozen.iter().any(|(version, _)| *version == series_start),
        "no plugin frozen at {series_start}, the start of this host's series"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn frozen_plugins_load_and_pass_their_checks() {
    let host = api_version();
    for (version, file) in frozen_plugins() {
        if !is_compatible(&version, &host) {
            continue; // an earlier series: refused by design, tested by `bad_plugins`
        }
        let library = PluginLibrary::open(&file).unwrap_or_else(|error| {
            if let LoadError::LayoutMismatch { details, .. } = &error {
                eprintln!("abi_stable's layout report:\n{details}");
            }
            panic!("the plugin frozen at {version} no longer loads: {error}")
        });
        assert_eq!(library.metadata().api_version, version.to_string());
        // Options schemas came with 0.2.3; an older plugin has none, and that is fine.
        let schema = &library.metadata().options_schema;
        assert_eq!(
            schema.is_some(),
            version >= semver::Version::new(0, 2, 3),
            "{version}"
        );
        let report = run_all(&Target::from_library(library, serde_json::json!({}))).await;
        let failed: Vec<String> = report
            .cases
            .iter()
            .filter(|case| !matches!(case.status, Status::Passed | Status::Skipped))
            .map(|case| case.to_string())
            .collect();
        assert!(
            failed.is_empty(),
            "the plugin frozen at {version} fails in a {host} host:\n{}",
            failed.join("\n")
        );
        // Host tools came with 0.2.1, saved conversations with 0.2.4: from then on
        // their checks run; before, they skip, saying why.
        skipped_before(&report, &version, "tools.", (0, 2, 1), "has no host tools");
        let saves_none = "saves no conversations";
        skipped_before(&report, &version, "saved.", (0, 2, 4), saves_none);
    }
}

/// The checks under `prefix` skip, with `reason`, on a plugin older than the version
/// given, and run on the others.
fn skipped_before(
    report: &agent_conformance::Report,
    version: &semver::Version,
    prefix: &str,
    (major, minor, patch): (u64, u64, u64),
    reason: &str,
) {
    let applies = *version >= semver::Version::new(major, minor, patch);
    for case in report
        .cases
        .iter()
        .filter(|case| case.name.starts_with(prefix))
    {
        let skipped = case.status == Status::Skipped;
        assert_eq!(skipped, !applies, "{version}: {case}");
        if skipped {
            assert!(case.details.contains(reason), "{case}");
        }
    }
}
