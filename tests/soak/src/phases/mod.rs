//! The soak's phases, one file each.

pub mod cycles;
pub mod dropped;
pub mod in_flight;
pub mod large_message;
pub mod runtimes;

/// True when `chunk` can start the echo of `message` (`echo: ` and the message): the
/// mock's first chunk is 8 characters, the Python reference agent's the first word.
pub fn first_chunk_of(chunk: &str, message: &str) -> bool {
    !chunk.is_empty() && format!("echo: {message}").starts_with(chunk)
}
