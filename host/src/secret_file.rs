//! Files that hold secrets (a client token, a TLS key): read only when no one but their
//! owner can read them, as SSH treats private keys, so a leaky mode is fixed rather than
//! trusted.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// The contents of `path`, refused when its group or others have any access to it.
pub fn read_secret(path: &Path, what: &str) -> Result<Vec<u8>, String> {
    let shown = path.display();
    let metadata = std::fs::metadata(path).map_err(|error| format!("{what} {shown}: {error}"))?;
    if !metadata.is_file() {
        return Err(format!("{what} {shown}: not a regular file"));
    }
    let mode = metadata.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(format!(
            "{what} {shown}: its mode {mode:04o} lets others read it; `chmod 600 {shown}`"
        ));
    }
    std::fs::read(path).map_err(|error| format!("{what} {shown}: {error}"))
}

/// The contents of a file that is not secret (a certificate), with the file named in
/// the error.
pub fn read_public(path: &Path, what: &str) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|error| format!("{what} {}: {error}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_others_can_read_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("token");
        std::fs::write(&file, "s3cret\n").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let error = read_secret(&file, "token_file").unwrap_err();
        assert!(
            error.contains("mode 0644") && error.contains("chmod 600"),
            "{error}"
        );
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(read_secret(&file, "token_file").unwrap(), b"s3cret\n");
        let error = read_secret(dir.path(), "token_file").unwrap_err();
        assert!(error.contains("not a regular file"), "{error}");
        let error = read_secret(&dir.path().join("none"), "token_file").unwrap_err();
        assert!(error.contains("No such file"), "{error}");
    }
}
