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
    Header { format: u32, id: std::borrow::Cow<'a, str> },
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

/// What a saved conversation adds up to: the state an agent resumes with.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SavedConversation {
    pub history: Vec<ConversationMessage>,
    pub turn_count: u32,
    pub total_usage: UsageMetadata,
    pub last_turn_usage: UsageMetadata,
    pub compaction_indices: Vec<u32>,
}

impl SavedConversation {
    /// Adds one line after the header.
    pub(crate) fn replay(&mut self, line: Line<'_>) {
        match line {
            Line::Header { .. } => {}
            Line::Turn(turn) => {
                self.history.push(ConversationMessage::new(
                    Role::User,
                    turn.user.into_owned(),
                ));
                self.history.extend(turn.tools.into_owned());
                self.history.push(ConversationMessage::new(
                    Role::Model,
                    turn.answer.into_owned(),
                ));
                self.turn_count = self.turn_count.saturating_add(1);
                self.last_turn_usage = turn.usage;
                self.total_usage += turn.usage;
                if turn.compact {
                    let length = u32::try_from(self.history.len()).unwrap_or(u32::MAX);
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
