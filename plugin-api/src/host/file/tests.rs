//! Files that must be refused before anything is loaded. Real plugins are checked by the
//! host's integration tests; here the ELF checks meet hand-made and damaged files.

use std::path::Path;

use super::*;

fn refusal(path: &Path) -> String {
    match PluginFile::open(path) {
        Ok(_) => panic!("{} was accepted", path.display()),
        Err(error) => error.reason(),
    }
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// This test binary itself: a complete ELF file of this machine, but an executable.
fn own_executable() -> Vec<u8> {
    std::fs::read(std::env::current_exe().unwrap()).unwrap()
}

#[test]
fn odd_files_are_refused_by_kind() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(
        refusal(&write(dir.path(), "libempty.so", b"")),
        "not a loadable library: empty file"
    );
    assert!(refusal(&write(dir.path(), "libtext.so", b"hello")).ends_with("not an ELF file"));
    assert!(refusal(dir.path()).ends_with("a directory"));
    assert!(refusal(Path::new("/dev/null")).ends_with("a device"));
    assert!(refusal(&dir.path().join("libmissing.so")).contains("No such file"));
}

#[test]
fn a_fifo_is_refused_without_blocking() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("libfifo.so");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    // Opening a FIFO for reading blocks until a writer comes, unless non-blocking.
    assert!(refusal(&fifo).ends_with("a FIFO"));
}

#[test]
fn an_executable_is_not_a_library() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "libexe.so", &own_executable());
    let reason = refusal(&path);
    assert!(reason.contains("an executable"), "{reason}");
}

#[test]
fn a_truncated_elf_file_names_both_sizes() {
    let dir = tempfile::tempdir().unwrap();
    let whole = own_executable();
    let reason = refusal(&write(dir.path(), "libcut.so", &whole[..8192]));
    assert_eq!(
        reason,
        format!(
            "not a loadable library: truncated: 8192 of {} bytes",
            whole.len()
        )
    );
    let reason = refusal(&write(dir.path(), "libhead.so", &whole[..40]));
    assert!(reason.contains("damaged ELF file"), "{reason}");
}

#[test]
fn a_foreign_machine_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = own_executable();
    // e_machine at offset 18: claim another architecture.
    let other: u16 = if cfg!(target_arch = "aarch64") {
        62
    } else {
        183
    };
    bytes[18..20].copy_from_slice(&other.to_le_bytes());
    let reason = refusal(&write(dir.path(), "libforeign.so", &bytes));
    assert!(reason.contains("built for another machine"), "{reason}");
    bytes[4] = if cfg!(target_pointer_width = "64") {
        1
    } else {
        2
    };
    let reason = refusal(&write(dir.path(), "libclass.so", &bytes));
    assert!(reason.contains("other word size"), "{reason}");
}
