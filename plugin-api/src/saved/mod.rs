//! Conversations saved on disk, so they survive a restart (`AgentConfig.save_dir` and
//! `conversation_id`).
//!
//! One file per conversation, `<save_dir>/<conversation_id>.jsonl`: a header line, then
//! one JSON line per completed turn, each written whole and fsynced before the turn's
//! result is handed out. A crash can leave only the last line torn; loading drops it
//! (and cuts it off the file). `clear_history` rewrites the file (write, fsync, rename)
//! keeping only the usage totals; `delete` removes it. The open file is locked for as
//! long as an agent uses it, so two agents never write one conversation.
//!
//! The kit does all of this for its backends; a backend that keeps its own state (the
//! Python bridge) uses [`ConversationFile`] directly. The format is in
//! `docs/semantics.md` ("Saved conversations").

mod file;
mod id;
mod record;

pub use file::ConversationFile;
pub use id::{check_conversation_id, new_conversation_id};
pub use record::{ResumedTurn, SavedConversation, SavedTurn};

#[cfg(test)]
mod tests;
