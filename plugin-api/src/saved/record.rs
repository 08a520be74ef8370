//! The lines of a saved conversation, and the state they add up to.

use serde::{Deserialize, Serialize};

use crate::types::{Content, ConversationMessage, Role, UsageMetadata};

/// The version of the file format, in every file's first line.
pub(crate) const FORMAT_VERSION: u32 = 1;

/// One line of the file.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Line<'a> {
    /// The first line: the format's version and the conversation's id.
    Header {
        format: u32,
        id: std::borrow::Cow<'a, str>,
    },
    /// A completed turn.
    Turn(SavedTurnLine<'a>),
    /// The history was cleared: the usage totals carried over (it follows the header of
    /// a rewritten file).
    Cleared {
        total_usage: UsageMetadata,
        last_turn_usage: UsageMetadata,
    },
}

/// A turn as a line: owned when read, borrowed when written.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct SavedTurnLine<'a> {
    user: std::borrow::Cow<'a, Content>,
    #[serde(default, skip_serializing_if = "<[_]>::is_empty")]
    tools: std::borrow::Cow<'a, [ConversationMessage]>,
    answer: std::borrow::Cow<'a, str>,
    usage: UsageMetadata,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    compact: bool,
}

/// A completed turn, as a backend hands it over to be saved.
#[derive(Debug, Clone, Copy)]
pub struct SavedTurn<'a> {
    /// What the user said.
    pub user: &'a Content,
    /// The turn's tool calls and their answers, in history order.
    pub tool_messages: &'a [ConversationMessage],
    /// The model's answer.
    pub answer: &'a str,
    pub usage: UsageMetadata,
    /// The history's new length is a compaction point.
    pub compact: bool,
}

impl<'a> SavedTurn<'a> {
    pub(crate) fn line(self) -> Line<'a> {
        Line::Turn(SavedTurnLine {
            user: std::borrow::Cow::Borrowed(self.user),
            tools: std::borrow::Cow::Borrowed(self.tool_messages),
            answer: std::borrow::Cow::Borrowed(self.answer),
            usage: self.usage,
            compact: self.compact,
        })
    }
}

/// A turn read back from a saved conversation.
#[derive(Debug, Clone, PartialEq)]
pub struct ResumedTurn {
    pub user: Content,
    /// The calls to the host's tools and their results, between message and answer.
    pub tool_messages: Vec<ConversationMessage>,
    pub answer: String,
    pub usage: UsageMetadata,
}

/// What a saved conversation adds up to: the state an agent resumes with.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SavedConversation {
    /// The turns since the conversation began or was last cleared, oldest first.
    pub turns: Vec<ResumedTurn>,
    pub total_usage: UsageMetadata,
    pub last_turn_usage: UsageMetadata,
    /// History lengths at which a turn compacted the conversation.
    pub compaction_indices: Vec<u32>,
}

impl SavedConversation {
    pub fn turn_count(&self) -> u32 {
        u32::try_from(self.turns.len()).unwrap_or(u32::MAX)
    }

    /// The history as `Runtime::history` gives it: per turn the user's message, its tool
    /// messages, then the model's answer.
    pub fn history(&self) -> Vec<ConversationMessage> {
        let mut history = Vec::with_capacity(self.history_length());
        for turn in &self.turns {
            history.push(ConversationMessage::new(Role::User, turn.user.clone()));
            history.extend(turn.tool_messages.iter().cloned());
            history.push(ConversationMessage::new(Role::Model, turn.answer.as_str()));
        }
        history
    }

    pub fn last_response(&self) -> Option<&str> {
        self.turns.last().map(|turn| turn.answer.as_str())
    }

    fn history_length(&self) -> usize {
        self.turns
            .iter()
            .map(|turn| 2 + turn.tool_messages.len())
            .sum()
    }

    /// Adds one line after the header.
    pub(crate) fn replay(&mut self, line: Line<'_>) {
        match line {
            Line::Header { .. } => {}
            Line::Turn(turn) => {
                self.turns.push(ResumedTurn {
                    user: turn.user.into_owned(),
                    tool_messages: turn.tools.into_owned(),
                    answer: turn.answer.into_owned(),
                    usage: turn.usage,
                });
                self.last_turn_usage = turn.usage;
                self.total_usage += turn.usage;
                if turn.compact {
                    let length = u32::try_from(self.history_length()).unwrap_or(u32::MAX);
                    self.compaction_indices.push(length);
                }
            }
            Line::Cleared {
                total_usage,
                last_turn_usage,
            } => {
                *self = SavedConversation {
                    total_usage,
                    last_turn_usage,
                    ..SavedConversation::default()
                };
            }
        }
    }
}
