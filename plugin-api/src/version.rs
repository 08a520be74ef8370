//! Which plugins a host may load, by the `agent-plugin-api` version they were built with.

use semver::Version;

/// The `agent-plugin-api` version this crate is.
pub const API_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The version rule: same major (while 0.x, same minor) and not newer than the host.
pub fn is_compatible(plugin: &Version, host: &Version) -> bool {
    let same_series = plugin.major == host.major && (host.major != 0 || plugin.minor == host.minor);
    same_series && plugin <= host
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
