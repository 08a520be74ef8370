//! Who may have put a file here: the OpenSSH StrictModes rules, for plugin files, the
//! directories they sit in, and config files that say where plugins come from.
//!
//! A file, and every directory from the root down to it, must be owned by root or by the
//! user running the host, and must not be writable by group or others; otherwise someone
//! else could have replaced it. A root-owned directory with the sticky bit (`/tmp`) is
//! fine: others may add files there but cannot rename or replace ours, and a file they
//! add is theirs, which the file rule refuses.

use std::fs::{File, Metadata};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

const GROUP_OR_OTHER_WRITE: u32 = 0o022;
const STICKY: u32 = 0o1000;

/// Why a file is not trusted, in one line with the fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Untrusted(pub String);

/// The user whose files are trusted besides root's.
fn current_user() -> u32 {
    rustix::process::geteuid().as_raw()
}

/// Checks the opened `file` (found at `path`) and every directory above it, both where
/// it was found and where it really is when a symlink led there.
pub(crate) fn check_file(path: &Path, file: &File) -> Result<(), Untrusted> {
    let meta = file
        .metadata()
        .map_err(|error| Untrusted(format!("cannot stat {}: {error}", path.display())))?;
    check_one(path, &meta, false)?;
    let mut dirs: Vec<PathBuf> = Vec::new();
    if let Some(parent) = absolute(path).parent() {
        dirs.extend(parent.canonicalize().ok());
    }
    if let Ok(real) = path.canonicalize() {
        dirs.extend(real.parent().map(Path::to_owned));
    }
    // Without a symlink both are the same directory.
    dirs.dedup();
    for dir in dirs {
        check_directories(&dir)?;
    }
    Ok(())
}

/// Checks a config file that decides where plugins come from (by path, before reading it).
pub(crate) fn check_config(path: &Path) -> Result<(), Untrusted> {
    let meta = std::fs::metadata(path)
        .map_err(|error| Untrusted(format!("cannot stat {}: {error}", path.display())))?;
    check_one(path, &meta, false)?;
    let real = path.canonicalize().unwrap_or_else(|_| absolute(path));
    match real.parent() {
        Some(dir) => check_directories(dir),
        None => Ok(()),
    }
}

/// `dir` and each directory above it.
fn check_directories(dir: &Path) -> Result<(), Untrusted> {
    for ancestor in dir.ancestors() {
        let meta = std::fs::metadata(ancestor).map_err(|error| {
            Untrusted(format!(
                "cannot stat directory {}: {error}",
                ancestor.display()
            ))
        })?;
        check_one(ancestor, &meta, true)?;
    }
    Ok(())
}

fn check_one(path: &Path, meta: &Metadata, is_dir: bool) -> Result<(), Untrusted> {
    let what = if is_dir { "directory" } else { "file" };
    let user = current_user();
    let owner = meta.uid();
    if owner != 0 && owner != user {
        return Err(Untrusted(format!(
            "{what} {} is owned by uid {owner}, not by root or the current user (uid {user}): \
             chown it, or pass --allow-insecure-plugins",
            path.display()
        )));
    }
    let mode = meta.mode() & 0o7777;
    let writable = mode & GROUP_OR_OTHER_WRITE != 0;
    let sticky_root_dir = is_dir && owner == 0 && mode & STICKY != 0;
    if writable && !sticky_root_dir {
        let by = match (mode & 0o020 != 0, mode & 0o002 != 0) {
            (true, true) => "group and others",
            (true, false) => "its group",
            _ => "others",
        };
        return Err(Untrusted(format!(
            "{what} {} is writable by {by} (mode {mode:04o}): run `chmod go-w {}`, \
             or pass --allow-insecure-plugins",
            path.display(),
            path.display()
        )));
    }
    Ok(())
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_owned())
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn chmod(path: &Path, mode: u32) {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    fn check(path: &Path) -> Result<(), Untrusted> {
        check_file(path, &File::open(path).unwrap())
    }

    #[test]
    fn a_private_file_in_tmp_is_trusted() {
        // /tmp is root-owned, world-writable and sticky; the temp dir is ours, 0700.
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("libp.so");
        std::fs::write(&file, b"x").unwrap();
        chmod(&file, 0o644);
        assert_eq!(check(&file), Ok(()));
    }

    #[test]
    fn writable_files_and_directories_are_refused_with_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("libp.so");
        std::fs::write(&file, b"x").unwrap();
        chmod(&file, 0o666);
        let reason = check(&file).unwrap_err().0;
        assert!(
            reason.contains("writable by group and others (mode 0666)"),
            "{reason}"
        );
        assert!(
            reason.contains(&format!("chmod go-w {}", file.display())),
            "{reason}"
        );
        chmod(&file, 0o644);
        chmod(dir.path(), 0o770);
        let reason = check(&file).unwrap_err().0;
        assert!(reason.starts_with("directory "), "{reason}");
        assert!(reason.contains("writable by its group"), "{reason}");
    }

    #[test]
    fn a_sticky_directory_of_another_user_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("libp.so");
        std::fs::write(&file, b"x").unwrap();
        chmod(dir.path(), 0o1777);
        if current_user() == 0 {
            // root's own sticky world-writable directory is like /tmp: fine.
            assert_eq!(check(&file), Ok(()));
        } else {
            assert!(check(&file).is_err());
        }
    }

    #[test]
    fn files_of_other_users_are_refused() {
        if current_user() != 0 {
            return; // only root can give a file away
        }
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("libp.so");
        std::fs::write(&file, b"x").unwrap();
        std::os::unix::fs::chown(&file, Some(65534), None).unwrap();
        let reason = check(&file).unwrap_err().0;
        assert!(reason.contains("owned by uid 65534"), "{reason}");
    }

    #[test]
    fn a_symlink_is_judged_where_it_leads() {
        let trusted = tempfile::tempdir().unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        let real = elsewhere.path().join("libreal.so");
        std::fs::write(&real, b"x").unwrap();
        chmod(elsewhere.path(), 0o777);
        let link = trusted.path().join("libp.so");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let reason = check(&link).unwrap_err().0;
        assert!(
            reason.contains(&elsewhere.path().display().to_string()),
            "{reason}"
        );
    }
}
