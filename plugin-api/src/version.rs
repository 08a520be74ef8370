//! Which plugins a host may load, by the `agent-plugin-api` version they were built with.
//!
//! A host of version H loads a plugin of version P exactly when P and H share the major
//! version (and, while it is 0, the minor version: `0.2.x` is one series) and P <= H. So a
//! 0.2.1 host loads 0.2.0 and 0.2.1 plugins; a 0.2.0 host refuses a 0.2.1 plugin (it may
//! use what 0.2.0 lacks) and every 0.1.x plugin. Within a series the ABI only grows
//! (`docs/abi.md`), which is what makes the older plugin safe to load.

use semver::Version;

/// The `agent-plugin-api` version this crate is.
pub const API_VERSION: &str = env!("CARGO_PKG_VERSION");

/// `API_VERSION` as a C string, for the handshake.
pub const API_VERSION_C: &std::ffi::CStr = match std::ffi::CStr::from_bytes_with_nul(
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes(),
) {
    Ok(version) => version,
    Err(_) => panic!("the crate version has no NUL byte"),
};

/// The version rule: same series (major; while 0.x, major and minor) and not newer than
/// the host.
pub fn is_compatible(plugin: &Version, host: &Version) -> bool {
    let same_series = plugin.major == host.major && (host.major != 0 || plugin.minor == host.minor);
    same_series && plugin <= host
}

/// What to do about a plugin the version rule refuses: a plugin of an older series is
/// rebuilt; a newer one needs a newer host (or a rebuild against this one's api).
pub(crate) fn incompatibility_advice(plugin: &Version, host: &Version) -> String {
    if plugin > host {
        format!(
            "the plugin is newer than this host: update agent-host, or rebuild the plugin \
             against agent-plugin-api {host}"
        )
    } else {
        format!("rebuild the plugin against agent-plugin-api {host}")
    }
}

/// This crate's version, parsed.
pub fn api_version() -> Version {
    Version::parse(API_VERSION).expect("the crate version is valid semver")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> Version {
        Version::parse(text).unwrap()
    }

    #[test]
    fn a_host_loads_its_series_up_to_itself() {
        assert!(
            is_compatible(&v("0.2.0"), &v("0.2.1")),
            "older patch of the series"
        );
        assert!(is_compatible(&v("0.2.1"), &v("0.2.1")));
        assert!(
            !is_compatible(&v("0.2.1"), &v("0.2.0")),
            "newer than the host"
        );
        assert!(
            !is_compatible(&v("0.1.0"), &v("0.2.0")),
            "an earlier series"
        );
        assert!(!is_compatible(&v("0.3.0"), &v("0.2.9")), "a later series");
    }

    #[test]
    fn the_advice_depends_on_which_side_is_newer() {
        let newer = incompatibility_advice(&v("0.2.2"), &v("0.2.1"));
        assert!(newer.contains("update agent-host"), "{newer}");
        let older = incompatibility_advice(&v("0.1.0"), &v("0.2.1"));
        assert_eq!(older, "rebuild the plugin against agent-plugin-api 0.2.1");
    }

    #[test]
    fn rule() {
        assert!(is_compatible(&v("0.3.0"), &v("0.3.2")));
        assert!(is_compatible(&v("0.3.2"), &v("0.3.2")));
        assert!(!is_compatible(&v("0.3.3"), &v("0.3.2")), "newer patch");
        assert!(
            !is_compatible(&v("0.2.9"), &v("0.3.2")),
            "older minor while 0.x"
        );
        assert!(!is_compatible(&v("0.4.0"), &v("0.3.2")));
        assert!(is_compatible(&v("1.1.0"), &v("1.4.0")));
        assert!(!is_compatible(&v("1.5.0"), &v("1.4.0")));
        assert!(!is_compatible(&v("2.0.0"), &v("1.4.0")));
    }
}
