//! The answer's side of the CLI: text to stdout, flushed as it streams, with errors that
//! say they are stdout's (never the backend's).

use std::io::Write;

/// Writing to stdout failed.
#[derive(Debug, thiserror::Error)]
pub enum StdoutError {
    /// The reader went away (`agent-host chat ... | head -c 5`): end quietly.
    #[error("stdout closed")]
    Closed,
    #[error("stdout: {0}")]
    Failed(std::io::Error),
}

impl From<std::io::Error> for StdoutError {
    fn from(error: std::io::Error) -> Self {
        if error.kind() == std::io::ErrorKind::BrokenPipe {
            StdoutError::Closed
        } else {
            StdoutError::Failed(error)
        }
    }
}

/// Stdout, remembering whether the last text left a line open.
pub struct Output {
    stdout: std::io::Stdout,
    mid_line: bool,
}

impl Output {
    pub fn new() -> Self {
        Output {
            stdout: std::io::stdout(),
            mid_line: false,
        }
    }

    /// Writes `text` and flushes, so it shows as it streams.
    pub fn text(&mut self, text: &str) -> Result<(), StdoutError> {
        if text.is_empty() {
            return Ok(());
        }
        self.write(text.as_bytes())?;
        self.mid_line = !text.ends_with('\n');
        Ok(())
    }

    /// Ends the line, whatever came before.
    pub fn newline(&mut self) -> Result<(), StdoutError> {
        self.write(b"\n")?;
        self.mid_line = false;
        Ok(())
    }

    /// Ends the line if text left it open.
    pub fn end_line(&mut self) -> Result<(), StdoutError> {
        if self.mid_line {
            self.newline()?;
        }
        Ok(())
    }

    /// A prompt; the user's Enter ends its line, so it does not count as open.
    pub fn prompt(&mut self, prompt: &str) -> Result<(), StdoutError> {
        self.write(prompt.as_bytes())
    }

    fn write(&mut self, bytes: &[u8]) -> Result<(), StdoutError> {
        let mut stdout = self.stdout.lock();
        stdout.write_all(bytes)?;
        stdout.flush()?;
        Ok(())
    }
}
