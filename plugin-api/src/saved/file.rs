//! One conversation's file: opened and locked for one agent, read back, appended to.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use super::id::{check_conversation_id, new_conversation_id};
use super::record::{Line, SavedConversation, SavedTurn, FORMAT_VERSION};
use crate::types::{AgentConfig, Error, UsageMetadata};

/// A saved conversation, open for one agent: the file stays locked (an exclusive
/// `flock`) until this is dropped, so a second agent on the same conversation, in this
/// process or another, is refused instead of interleaving its turns.
#[derive(Debug)]
pub struct ConversationFile {
    id: String,
    path: PathBuf,
    file: File,
    /// The file's length after its last complete line.
    length: u64,
    /// The usage totals on disk, which a clear keeps.
    total_usage: UsageMetadata,
    last_turn_usage: UsageMetadata,
    /// A failed write could not be undone: the file's end is unknown, so writing more
    /// could damage a good line. Every later write refuses.
    damaged: bool,
}

impl ConversationFile {
    /// Opens (creating if needed) `<save_dir>/<id>.jsonl` and reads it back. A torn
    /// last line (a crash during a write) is dropped and cut off the file; any other bad
    /// line is `InvalidConfig` naming the file and the line, and nothing is changed.
    pub fn open(save_dir: &Path, id: &str) -> Result<(Self, SavedConversation), Error> {
        check_conversation_id(id)?;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(save_dir)
            .map_err(|error| {
                let why = if save_dir.exists() && !save_dir.is_dir() {
                    "is not a directory".to_owned()
                } else {
                    format!("cannot create it: {error}")
                };
                Error::InvalidConfig(format!("save_dir {}: {why}", save_dir.display()))
            })?;
        let path = save_dir.join(format!("{id}.jsonl"));
        let file = open_locked(&path)?;
        let mut opened = ConversationFile {
            id: id.to_owned(),
            path,
            file,
            length: 0,
            total_usage: UsageMetadata::default(),
            last_turn_usage: UsageMetadata::default(),
            damaged: false,
        };
        let saved = opened.read_back()?;
        opened.total_usage = saved.total_usage;
        opened.last_turn_usage = saved.last_turn_usage;
        Ok((opened, saved))
    }

    /// Opens the conversation an agent's config asks for: with a `save_dir`, under its
    /// `conversation_id` or a new one (`new_conversation_id`); without, `None`.
    pub fn for_agent(config: &AgentConfig) -> Result<Option<(Self, SavedConversation)>, Error> {
        let Some(dir) = &config.save_dir else {
            return Ok(None);
        };
        let id = match &config.conversation_id {
            Some(id) => id.clone(),
            None => new_conversation_id(),
        };
        let (file, saved) = ConversationFile::open(dir, &id)?;
        if saved.turn_count() > 0 {
            tracing::debug!(
                conversation = id,
                turns = saved.turn_count(),
                "conversation resumed"
            );
        }
        Ok(Some((file, saved)))
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Saves a completed turn: on disk (written and fsynced) when this returns `Ok`.
    pub fn append(&mut self, turn: SavedTurn<'_>) -> Result<(), Error> {
        let line = encode(&turn.line())?;
        self.write_line(&line)?;
        self.total_usage += turn.usage;
        self.last_turn_usage = turn.usage;
        Ok(())
    }

    /// Forgets the history on disk, keeping the usage totals: the file is replaced by one
    /// holding only them (written aside, fsynced, renamed over it).
    pub fn clear(&mut self) -> Result<(), Error> {
        let mut text = encode(&self.header())?;
        text.push_str(&encode(&Line::Cleared {
            total_usage: self.total_usage,
            last_turn_usage: self.last_turn_usage,
        })?);
        let aside = self.path.with_extension("jsonl.new");
        // Locked before it takes the conversation's name, so the lock never lapses.
        let written = write_aside(&aside, &text).and_then(|file| {
            std::fs::rename(&aside, &self.path)?;
            sync_dir(&self.path)?;
            Ok(file)
        });
        match written {
            Ok(file) => self.file = file,
            Err(error) => {
                let _ = std::fs::remove_file(&aside);
                return Err(self.failed("clear", &error));
            }
        }
        self.length = text.len() as u64;
        self.damaged = false;
        Ok(())
    }

    /// Removes the conversation from disk.
    pub fn delete(self) -> Result<(), Error> {
        match std::fs::remove_file(&self.path) {
            Ok(()) => sync_dir(&self.path).map_err(|error| self.failed("delete", &error)),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(error) => Err(self.failed("delete", &error)),
        }
    }

    fn header(&self) -> Line<'_> {
        Line::Header {
            format: FORMAT_VERSION,
            id: self.id.as_str().into(),
        }
    }

    /// Reads every line, checks the header (writing one into a new file) and adds up
    /// the turns.
    fn read_back(&mut self) -> Result<SavedConversation, Error> {
        let mut saved = SavedConversation::default();
        let mut reader = BufReader::new(&self.file);
        let mut bytes = Vec::new();
        let mut good_length = 0_u64;
        let mut number = 0_usize;
        let mut torn = None;
        loop {
            bytes.clear();
            let read = reader
                .read_until(b'\n', &mut bytes)
                .map_err(|error| self.unreadable(&error))?;
            if read == 0 {
                break;
            }
            number += 1;
            // A line without its newline was never written whole.
            let line = if bytes.ends_with(b"\n") {
                serde_json::from_slice::<Line<'_>>(&bytes).map_err(|error| error.to_string())
            } else {
                Err("cut short".to_owned())
            };
            let line = match (torn.take(), line) {
                (Some(earlier), _) => return Err(self.corrupt(earlier)),
                (None, Ok(line)) => line,
                // A first line is torn only if it is what the header's write could have
                // left: anything else is not ours to overwrite.
                (None, Err(why)) if number == 1 && !self.is_torn_header(&bytes)? => {
                    return Err(self.corrupt((1, format!("not a saved conversation ({why})"))))
                }
                (None, Err(why)) => {
                    torn = Some((number, why));
                    continue;
                }
            };
            match (&line, number) {
                (Line::Header { format, .. }, 1) if *format == FORMAT_VERSION => {}
                (Line::Header { format, .. }, 1) => {
                    return Err(self.corrupt((
                        1,
                        format!("format {format}, but this version reads {FORMAT_VERSION}"),
                    )))
                }
                (_, 1) => return Err(self.corrupt((1, "the first line is not a header".into()))),
                (Line::Header { .. }, _) => {
                    return Err(self.corrupt((number, "a second header".into())))
                }
                _ => {}
            }
            saved.replay(line);
            good_length += read as u64;
        }
        let dropped = torn.is_some();
        if let Some((line, why)) = torn {
            tracing::warn!(
                path = %self.path.display(),
                line,
                "dropping the saved conversation's last line ({why}): the process ended while \
                 writing it"
            );
        }
        self.length = good_length;
        if good_length == 0 {
            // New (or only a torn header): start the file.
            let header = encode(&self.header())?;
            self.file
                .set_len(0)
                .map_err(|error| self.failed("start", &error))?;
            self.write_line(&header)?;
            sync_dir(&self.path).map_err(|error| self.failed("start", &error))?;
        } else if dropped {
            self.file
                .set_len(good_length)
                .and_then(|()| self.file.sync_data())
                .map_err(|error| self.failed("repair", &error))?;
        }
        Ok(saved)
    }

    /// Whether `bytes`, the file's first line, is part of its header cut short (or the
    /// zeros a file system may leave after a crash during the write).
    fn is_torn_header(&self, bytes: &[u8]) -> Result<bool, Error> {
        let header = encode(&self.header())?;
        Ok(header.as_bytes().starts_with(bytes) || bytes.iter().all(|&byte| byte == 0))
    }

    /// Writes one whole line at the end and fsyncs it; on failure, cuts the file back to
    /// where it was, so no part of the line stays.
    fn write_line(&mut self, line: &str) -> Result<(), Error> {
        if self.damaged {
            return Err(Error::BackendError(format!(
                "saved conversation {}: an earlier write failed and could not be undone; \
                 the turn is not saved",
                self.path.display()
            )));
        }
        let written = (&self.file)
            .seek(SeekFrom::Start(self.length))
            .and_then(|_| (&self.file).write_all(line.as_bytes()))
            .and_then(|()| self.file.sync_data());
        match written {
            Ok(()) => {
                self.length += line.len() as u64;
                Ok(())
            }
            Err(error) => {
                if self
                    .file
                    .set_len(self.length)
                    .and_then(|()| self.file.sync_data())
                    .is_err()
                {
                    self.damaged = true;
                }
                Err(self.failed("save a turn in", &error))
            }
        }
    }

    fn failed(&self, doing: &str, error: &std::io::Error) -> Error {
        Error::BackendError(format!(
            "cannot {doing} saved conversation {}: {error}",
            self.path.display()
        ))
    }

    fn unreadable(&self, error: &std::io::Error) -> Error {
        Error::InvalidConfig(format!(
            "saved conversation {}: cannot read it: {error}",
            self.path.display()
        ))
    }

    fn corrupt(&self, (line, why): (usize, String)) -> Error {
        Error::InvalidConfig(format!(
            "saved conversation {} is damaged at line {line}: {why}; nothing was changed \
             (move the file away to start the conversation afresh)",
            self.path.display()
        ))
    }
}

/// Opens the file for reading and writing, refusing anything but a regular file (a
/// symlink, a directory, a FIFO that would block), and takes its lock.
fn open_locked(path: &Path) -> Result<File, Error> {
    let refuse =
        |why: String| Error::InvalidConfig(format!("saved conversation {}: {why}", path.display()));
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)
        .map_err(|error| match error.raw_os_error() {
            Some(libc::ELOOP) => refuse("is a symbolic link, which is not followed".into()),
            _ => refuse(format!("cannot open it: {error}")),
        })?;
    let kind = file
        .metadata()
        .map_err(|error| refuse(format!("cannot read it: {error}")))?
        .file_type();
    if !kind.is_file() {
        return Err(refuse("is not a regular file".into()));
    }
    lock(&file).map_err(&refuse)?;
    // Locked, but maybe on a file a clear has just renamed a new one over: the lock
    // must be on the file the path names, or two agents could each hold one.
    let named = std::fs::symlink_metadata(path)
        .map_err(|error| refuse(format!("cannot read it: {error}")))?;
    let opened = file
        .metadata()
        .map_err(|error| refuse(format!("cannot read it: {error}")))?;
    if (named.dev(), named.ino()) != (opened.dev(), opened.ino()) {
        return Err(refuse(IN_USE.into()));
    }
    Ok(file)
}

const IN_USE: &str = "is in use by another agent (its lock is held); shut that agent down first";

/// Takes the file's exclusive lock without waiting (`flock`: held by this open file,
/// so a second open in this process is refused as well as one in another).
fn lock(file: &File) -> Result<(), String> {
    use rustix::fs::{flock, FlockOperation};
    match flock(file, FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => Ok(()),
        Err(rustix::io::Errno::WOULDBLOCK) => Err(IN_USE.into()),
        Err(error) => Err(format!("cannot lock it: {error}")),
    }
}

/// Writes `text` into a new file at `path`, fsynced and locked.
fn write_aside(path: &Path, text: &str) -> std::io::Result<File> {
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)?;
    lock(&file).map_err(std::io::Error::other)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    Ok(file)
}

/// Makes a file's creation, rename or removal durable.
fn sync_dir(path: &Path) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    File::open(dir)?.sync_all()
}

fn encode(line: &Line<'_>) -> Result<String, Error> {
    let mut text = serde_json::to_string(line)
        .map_err(|error| Error::BackendError(format!("cannot encode a saved turn: {error}")))?;
    text.push('\n');
    Ok(text)
}
