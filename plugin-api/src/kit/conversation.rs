//! One agent's conversation state: only turns that complete well change it.

use crate::types::{Content, ConversationMessage, Role, UsageMetadata};

#[derive(Debug, Default)]
pub(crate) struct Conversation {
    pub history: Vec<ConversationMessage>,
    /// Completed turns since creation or the last `clear`.
    pub turn_count: u32,
    /// Every completed turn's usage, summed; `clear` keeps it.
    pub total_usage: UsageMetadata,
    pub last_turn_usage: UsageMetadata,
    pub last_response: Option<String>,
    pub compaction_indices: Vec<u32>,
}

impl Conversation {
    /// Records a completed turn; with `compact`, the history's new length becomes a
    /// compaction point.
    pub fn record_turn(
        &mut self,
        user: Content,
        answer: String,
        usage: UsageMetadata,
        compact: bool,
    ) {
        self.history
            .push(ConversationMessage::new(Role::User, user));
        self.history
            .push(ConversationMessage::new(Role::Model, answer.clone()));
        self.turn_count = self.turn_count.saturating_add(1);
        self.last_turn_usage = usage;
        self.total_usage += usage;
        self.last_response = Some(answer);
        if compact {
            let length = u32::try_from(self.history.len()).unwrap_or(u32::MAX);
            self.compaction_indices.push(length);
        }
    }

    /// Forgets the conversation; the usage totals stay.
    pub fn clear(&mut self) {
        self.history.clear();
        self.turn_count = 0;
        self.last_response = None;
        self.compaction_indices.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage(words: u32) -> UsageMetadata {
        UsageMetadata {
            total_token_count: Some(words),
            ..Default::default()
        }
    }

    #[test]
    fn a_turn_appends_user_then_model() {
        let mut conversation = Conversation::default();
        conversation.record_turn("hi".into(), "echo: hi".into(), usage(3), false);
        assert_eq!(
            conversation.history,
            [
                ConversationMessage::new(Role::User, "hi"),
                ConversationMessage::new(Role::Model, "echo: hi"),
            ]
        );
        assert_eq!(conversation.turn_count, 1);
        assert_eq!(conversation.last_response.as_deref(), Some("echo: hi"));
        assert!(conversation.compaction_indices.is_empty());
    }

    #[test]
    fn usage_adds_up_and_survives_clear() {
        let mut conversation = Conversation::default();
        conversation.record_turn("a".into(), "b".into(), usage(2), false);
        conversation.record_turn("c".into(), "d".into(), usage(5), true);
        assert_eq!(conversation.last_turn_usage, usage(5));
        assert_eq!(conversation.total_usage, usage(7));
        assert_eq!(conversation.compaction_indices, [4]);
        conversation.clear();
        assert!(conversation.history.is_empty());
        assert!(conversation.compaction_indices.is_empty());
        assert_eq!(conversation.turn_count, 0);
        assert_eq!(conversation.last_response, None);
        assert_eq!(conversation.total_usage, usage(7));
    }
}
