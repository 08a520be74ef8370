//! One agent's conversation state: only turns that complete well change it.

use crate::saved::SavedConversation;
use crate::stream::SharedText;
use crate::types::{Content, ConversationMessage, Role, UsageMetadata};

/// One message as the kit keeps it: an answer stays shared with the turn that streamed
/// it (no copy of its own); a copy is made only when the history is read.
#[derive(Debug, Clone)]
enum Kept {
    Message(ConversationMessage),
    Answer(SharedText),
}

impl Kept {
    fn message(&self) -> ConversationMessage {
        match self {
            Kept::Message(message) => message.clone(),
            Kept::Answer(answer) => ConversationMessage::new(Role::Model, answer.to_text()),
        }
    }
}

#[derive(Debug, Default)]
pub(crate) struct Conversation {
    history: Vec<Kept>,
    /// Completed turns since creation or the last `clear`.
    pub turn_count: u32,
    /// Every completed turn's usage, summed; `clear` keeps it.
    pub total_usage: UsageMetadata,
    pub last_turn_usage: UsageMetadata,
    pub compaction_indices: Vec<u32>,
}

impl Conversation {
    /// The state a saved conversation comes back with.
    pub fn resumed(saved: SavedConversation) -> Self {
        let mut history = Vec::with_capacity(saved.turns.len() * 2);
        let turn_count = saved.turn_count();
        for turn in saved.turns {
            history.push(Kept::Message(ConversationMessage::new(
                Role::User,
                turn.user,
            )));
            history.extend(turn.tool_messages.into_iter().map(Kept::Message));
            history.push(Kept::Answer(SharedText::from_text(turn.answer)));
        }
        Conversation {
            history,
            turn_count,
            total_usage: saved.total_usage,
            last_turn_usage: saved.last_turn_usage,
            compaction_indices: saved.compaction_indices,
        }
    }

    /// Records a completed turn: the user's message, each tool call and its answer, and
    /// the model's answer; with `compact`, the history's new length becomes a compaction
    /// point.
    pub fn record_turn(
        &mut self,
        user: Content,
        tool_messages: Vec<ConversationMessage>,
        answer: SharedText,
        usage: UsageMetadata,
        compact: bool,
    ) {
        self.history
            .push(Kept::Message(ConversationMessage::new(Role::User, user)));
        self.history
            .extend(tool_messages.into_iter().map(Kept::Message));
        self.history.push(Kept::Answer(answer));
        self.turn_count = self.turn_count.saturating_add(1);
        self.last_turn_usage = usage;
        self.total_usage += usage;
        if compact {
            let length = u32::try_from(self.history.len()).unwrap_or(u32::MAX);
            self.compaction_indices.push(length);
        }
    }

    /// The messages, oldest first, each a copy.
    pub fn history(&self) -> Vec<ConversationMessage> {
        self.history.iter().map(Kept::message).collect()
    }

    /// The last completed answer: the history's last message, kept once.
    pub fn last_response(&self) -> Option<String> {
        match self.history.last()? {
            Kept::Answer(answer) => Some(answer.to_text()),
            Kept::Message(_) => None,
        }
    }

    /// Forgets the conversation; the usage totals stay.
    pub fn clear(&mut self) {
        self.history.clear();
        self.turn_count = 0;
        self.compaction_indices.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(text: &str) -> SharedText {
        let mut batch = crate::stream::TextBatch::new();
        batch.push(text);
        SharedText::new(vec![batch.freeze()])
    }

    fn usage(words: u32) -> UsageMetadata {
        UsageMetadata {
            total_token_count: Some(words),
            ..Default::default()
        }
    }

    #[test]
    fn a_turn_appends_user_then_model() {
        let mut conversation = Conversation::default();
        conversation.record_turn("hi".into(), Vec::new(), answer("echo: hi"), usage(3), false);
        assert_eq!(
            conversation.history(),
            [
                ConversationMessage::new(Role::User, "hi"),
                ConversationMessage::new(Role::Model, "echo: hi"),
            ]
        );
        assert_eq!(conversation.turn_count, 1);
        assert_eq!(conversation.last_response().as_deref(), Some("echo: hi"));
        assert!(conversation.compaction_indices.is_empty());
    }

    #[test]
    fn usage_adds_up_and_survives_clear() {
        let mut conversation = Conversation::default();
        conversation.record_turn("a".into(), Vec::new(), answer("b"), usage(2), false);
        conversation.record_turn("c".into(), Vec::new(), answer("d"), usage(5), true);
        assert_eq!(conversation.last_turn_usage, usage(5));
        assert_eq!(conversation.total_usage, usage(7));
        assert_eq!(conversation.compaction_indices, [4]);
        conversation.clear();
        assert!(conversation.history().is_empty());
        assert!(conversation.compaction_indices.is_empty());
        assert_eq!(conversation.turn_count, 0);
        assert_eq!(conversation.last_response(), None);
        assert_eq!(conversation.total_usage, usage(7));
    }
}
