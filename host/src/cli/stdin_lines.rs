//! Interactive input: stdin's lines, numbered, read on a thread of their own so that the
//! chat loop can wait for a line and for Ctrl-C at the same time.

use tokio::sync::mpsc;

/// One line of stdin, without its line ending, or why it could not be read.
pub struct Line {
    /// Counted from 1.
    pub number: u64,
    pub text: Result<String, LineError>,
}

#[derive(Debug, thiserror::Error)]
pub enum LineError {
    #[error("stdin line {0}: not valid UTF-8")]
    NotUtf8(u64),
    #[error("stdin: {0}")]
    Read(std::io::Error),
}

/// Stdin's lines as they arrive; `None` at the end of input.
pub struct Lines {
    receiver: mpsc::Receiver<Line>,
}

impl Lines {
    /// Starts the reader thread. It reads one line ahead at most, and stops at the end
    /// of input, at a read error, or when `Lines` is dropped and the next line is read.
    pub fn from_stdin() -> std::io::Result<Self> {
        let (sender, receiver) = mpsc::channel(1);
        std::thread::Builder::new()
            .name("stdin".into())
            .spawn(move || read_lines(std::io::stdin().lock(), sender))?;
        Ok(Lines { receiver })
    }

    /// The next line. Cancel-safe.
    pub async fn next(&mut self) -> Option<Line> {
        self.receiver.recv().await
    }
}

fn read_lines(mut input: impl std::io::BufRead, sender: mpsc::Sender<Line>) {
    let mut number = 0;
    loop {
        let mut bytes = Vec::new();
        let text = match input.read_until(b'\n', &mut bytes) {
            Ok(0) => return,
            Ok(_) => {
                number += 1;
                decode(bytes, number)
            }
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(error) => Err(LineError::Read(error)),
        };
        let stop = text
            .as_ref()
            .is_err_and(|error| matches!(error, LineError::Read(_)));
        if sender.blocking_send(Line { number, text }).is_err() || stop {
            return;
        }
    }
}

/// The line as text, without its `\n` or `\r\n`.
fn decode(mut bytes: Vec<u8>, number: u64) -> Result<String, LineError> {
    if bytes.last() == Some(&b'\n') {
        bytes.pop();
        if bytes.last() == Some(&b'\r') {
            bytes.pop();
        }
    }
    String::from_utf8(bytes).map_err(|_| LineError::NotUtf8(number))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn lines_are_numbered_and_bad_utf8_names_its_line() {
        let (sender, mut receiver) = mpsc::channel(1);
        let input: &[u8] = b"one\r\n\xff\xfe\n\nlast without newline";
        let reader = std::thread::spawn(move || read_lines(input, sender));
        let mut seen = Vec::new();
        while let Some(line) = receiver.recv().await {
            seen.push((line.number, line.text.map_err(|error| error.to_string())));
        }
        reader.join().unwrap();
        assert_eq!(
            seen,
            [
                (1, Ok("one".to_owned())),
                (2, Err("stdin line 2: not valid UTF-8".to_owned())),
                (3, Ok(String::new())),
                (4, Ok("last without newline".to_owned())),
            ]
        );
    }
}
