//! A plugin file, opened once and checked before any of its code can run.
//!
//! The one road to `dlopen`: [`PluginFile::open`] opens the path once (never blocking,
//! so a FIFO cannot hang the host), refuses anything but a regular file, reads it, checks
//! it is a complete shared library for this machine and reads its metadata record. A
//! host then applies its own rules to the same open file (ownership, modes, digest of
//! [`PluginFile::bytes`]) and calls [`PluginFile::load`], which loads that very file
//! (through `/proc/self/fd`), not whatever the path names by then.

mod elf;

use std::fs::File;
use std::os::unix::fs::{FileExt, FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use super::{LoadError, PluginLibrary, PluginMetadata};
use crate::ffi;

/// Larger files are refused before they are read: no plugin is a gigabyte.
pub const MAX_PLUGIN_BYTES: u64 = 1 << 30;

/// An open, validated plugin file that has not run any code yet.
#[derive(Debug)]
pub struct PluginFile {
    path: PathBuf,
    file: File,
    bytes: Vec<u8>,
    metadata: Result<PluginMetadata, String>,
}

impl PluginFile {
    /// Opens and checks `path`. The error says what is wrong with the file, in one line.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, LoadError> {
        let path = path.as_ref();
        let file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(path)
            .map_err(|error| not_a_library(path, error.to_string()))?;
        PluginFile::from_file(file, path)
    }

    /// Checks a file that is already open (a scanner child gets it as its stdin);
    /// `path` is only for messages.
    pub fn from_file(file: File, path: impl AsRef<Path>) -> Result<Self, LoadError> {
        let path = path.as_ref();
        let meta = file
            .metadata()
            .map_err(|error| not_a_library(path, error.to_string()))?;
        let kind = meta.file_type();
        if !kind.is_file() {
            let what = if kind.is_dir() {
                "a directory"
            } else if kind.is_fifo() {
                "a FIFO"
            } else if kind.is_char_device() || kind.is_block_device() {
                "a device"
            } else if kind.is_socket() {
                "a socket"
            } else {
                "not a regular file"
            };
            return Err(not_a_library(path, what.to_owned()));
        }
        if meta.len() > MAX_PLUGIN_BYTES {
            return Err(not_a_library(
                path,
                format!("{} bytes, larger than any plugin", meta.len()),
            ));
        }
        // Read by position: a descriptor shared with another process (a scanner child
        // gets it as stdin) has one offset for both.
        let mut bytes = vec![0u8; meta.len() as usize];
        file.read_exact_at(&mut bytes, 0)
            .map_err(|error| not_a_library(path, format!("cannot read it: {error}")))?;
        let exports = elf::validate(&bytes).map_err(|reason| not_a_library(path, reason))?;
        if !exports.handshake {
            return Err(LoadError::NoHandshake {
                path: path.to_owned(),
            });
        }
        let metadata = match exports.metadata_record {
            Some(record) => ffi::decode_metadata_record(record),
            None => Err(format!(
                "no `{}` symbol (built with an older agent-plugin-api?)",
                ffi::METADATA_SYMBOL
            )),
        };
        Ok(PluginFile {
            path: path.to_owned(),
            file,
            bytes,
            metadata,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The open file, for checks on what was opened (owner, mode) rather than on a path.
    pub fn file(&self) -> &File {
        &self.file
    }

    /// The file's contents as read and validated: hash these, not the path. Empty after
    /// [`PluginFile::release_bytes`].
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Frees the contents once the checks that need them are done: a file can wait a
    /// long time for its load (or never be loaded), and loading does not read them.
    pub fn release_bytes(&mut self) {
        self.bytes = Vec::new();
    }

    /// What the plugin's metadata record says, read without running it; the error says
    /// why there is none.
    pub fn metadata(&self) -> Result<&PluginMetadata, &str> {
        self.metadata.as_ref().map_err(String::as_str)
    }

    /// Loads this file: handshake, api version, layout, root module. Runs the plugin's
    /// initializers. The file stays open and loaded for the life of the process.
    pub fn load(self) -> Result<PluginLibrary, LoadError> {
        let PluginFile {
            path,
            file,
            metadata,
            ..
        } = self;
        let module = ffi::open(file, &path)?;
        PluginLibrary::from_module(path, module, metadata.ok())
    }
}

fn not_a_library(path: &Path, reason: String) -> LoadError {
    LoadError::NotALibrary {
        path: path.to_owned(),
        reason,
    }
}

#[cfg(test)]
mod tests;
