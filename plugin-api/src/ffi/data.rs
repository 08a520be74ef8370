//! StableAbi mirrors of the contract's data types, and their conversions.
//!
//! Media crosses as raw bytes; `AgentConfig` crosses as JSON (large, cold, evolving);
//! everything else mirrors its Rust type field by field.

use std::sync::Arc;
use std::time::Duration;

use abi_stable::std_types::{ROption, RResult, RString, RVec};
use abi_stable::StableAbi;

use crate::stream::{
    ChatEvent, ChatResult, Ended, Entry, Packed, PackedTexts, Step, TextBatch, ToolCall,
};
use crate::types::{Content, ConversationMessage, Error, Media, Role, UsageMetadata};

#[repr(C)]
#[derive(StableAbi, Clone, Copy, Debug, Default)]
pub struct FfiDuration {
    pub secs: u64,
    pub nanos: u32,
}

impl From<Duration> for FfiDuration {
    fn from(duration: Duration) -> Self {
        FfiDuration {
            secs: duration.as_secs(),
            nanos: duration.subsec_nanos(),
        }
    }
}

impl From<FfiDuration> for Duration {
    fn from(duration: FfiDuration) -> Self {
        Duration::new(duration.secs, duration.nanos.min(999_999_999))
    }
}

/// Error codes on the wire. New codes may be added; unknown ones become `BackendError`.
mod code {
    pub const AGENT_NOT_STARTED: u32 = 1;
    pub const BACKEND: u32 = 2;
    pub const CONNECTION: u32 = 3;
    pub const QUOTA_EXCEEDED: u32 = 4;
    pub const CHANNEL_CLOSED: u32 = 5;
    pub const CONNECTION_CLOSED: u32 = 6;
    pub const TIMEOUT: u32 = 7;
    pub const STREAM: u32 = 8;
    pub const INVALID_CONFIG: u32 = 9;
    pub const IO: u32 = 10;
    pub const CANCELLED: u32 = 11;
}

/// [`Error`] on the wire: a code plus the fields any variant needs.
#[repr(C)]
#[derive(StableAbi, Clone, Debug)]
pub struct FfiError {
    pub code: u32,
    /// The variant's text (for `Timeout`, the operation).
    pub message: RString,
    pub agent_id: u64,
    pub retry_after: ROption<FfiDuration>,
    pub duration: ROption<FfiDuration>,
}

pub type FfiResult<T> = RResult<T, FfiError>;

impl FfiError {
    fn new(code: u32, message: impl Into<RString>) -> Self {
        FfiError {
            code,
            message: message.into(),
            agent_id: 0,
            retry_after: ROption::RNone,
            duration: ROption::RNone,
        }
    }
}

impl From<Error> for FfiError {
    fn from(error: Error) -> Self {
        match error {
            Error::AgentNotStarted(agent_id) => FfiError {
                agent_id,
                ..FfiError::new(code::AGENT_NOT_STARTED, "")
            },
            Error::BackendError(message) => FfiError::new(code::BACKEND, message),
            Error::ConnectionError(message) => FfiError::new(code::CONNECTION, message),
            Error::QuotaExceeded {
                retry_after,
                message,
            } => FfiError {
                retry_after: retry_after.map(FfiDuration::from).into(),
                ..FfiError::new(code::QUOTA_EXCEEDED, message)
            },
            Error::ChannelClosed => FfiError::new(code::CHANNEL_CLOSED, ""),
            Error::ConnectionClosed => FfiError::new(code::CONNECTION_CLOSED, ""),
            Error::Timeout {
                duration,
                operation,
            } => FfiError {
                duration: ROption::RSome(duration.into()),
                ..FfiError::new(code::TIMEOUT, operation)
            },
            Error::Stream(message) => FfiError::new(code::STREAM, message),
            Error::InvalidConfig(message) => FfiError::new(code::INVALID_CONFIG, message),
            Error::Io(message) => FfiError::new(code::IO, message),
            Error::Cancelled => FfiError::new(code::CANCELLED, ""),
        }
    }
}

impl From<FfiError> for Error {
    fn from(error: FfiError) -> Self {
        let message = error.message.into_string();
        match error.code {
            code::AGENT_NOT_STARTED => Error::AgentNotStarted(error.agent_id),
            code::CONNECTION => Error::ConnectionError(message),
            code::QUOTA_EXCEEDED => Error::QuotaExceeded {
                retry_after: error.retry_after.into_option().map(Duration::from),
                message,
            },
            code::CHANNEL_CLOSED => Error::ChannelClosed,
            code::CONNECTION_CLOSED => Error::ConnectionClosed,
            code::TIMEOUT => Error::Timeout {
                duration: error.duration.map_or(Duration::ZERO, Duration::from),
                operation: message,
            },
            code::STREAM => Error::Stream(message),
            code::INVALID_CONFIG => Error::InvalidConfig(message),
            code::IO => Error::Io(message),
            code::CANCELLED => Error::Cancelled,
            // BACKEND, and codes from newer plugins that this host does not know.
            _ => Error::BackendError(message),
        }
    }
}

pub(crate) fn into_result<T, U: From<T>>(result: FfiResult<T>) -> Result<U, Error> {
    result.into_result().map(U::from).map_err(Error::from)
}

pub(crate) fn from_result<T, U: From<T>>(result: Result<T, Error>) -> FfiResult<U> {
    result.map(U::from).map_err(FfiError::from).into()
}

#[repr(u8)]
#[derive(StableAbi, Clone, Copy, Debug, PartialEq, Eq)]
pub enum FfiMediaKind {
    Image,
    Document,
    Audio,
    Video,
}

#[repr(C)]
#[derive(StableAbi, Clone, Debug)]
pub struct FfiMedia {
    pub kind: FfiMediaKind,
    pub data: RVec<u8>,
    pub mime_type: RString,
    pub description: ROption<RString>,
}

/// One node of a [`Content`] tree in pre-order; `Multi` is followed by its `len` parts.
/// A flat list keeps the type non-recursive, which abi_stable's layout check prefers.
#[repr(u8)]
#[derive(StableAbi, Clone, Debug)]
pub enum FfiContentPart {
    Text(RString),
    Media(FfiMedia),
    Multi(u32),
}

#[repr(C)]
#[derive(StableAbi, Clone, Debug)]
pub struct FfiContent {
    pub parts: RVec<FfiContentPart>,
}

impl From<&Content> for FfiContent {
    fn from(content: &Content) -> Self {
        fn flatten(content: &Content, parts: &mut RVec<FfiContentPart>) {
            let media = |kind, media: &Media| {
                FfiContentPart::Media(FfiMedia {
                    kind,
                    data: RVec::from(media.data.as_slice()),
                    mime_type: media.mime_type.as_str().into(),
                    description: media.description.as_deref().map(RString::from).into(),
                })
            };
            parts.push(match content {
                Content::Text(text) => FfiContentPart::Text(text.as_str().into()),
                Content::Image(m) => media(FfiMediaKind::Image, m),
                Content::Document(m) => media(FfiMediaKind::Document, m),
                Content::Audio(m) => media(FfiMediaKind::Audio, m),
                Content::Video(m) => media(FfiMediaKind::Video, m),
                Content::Multi(children) => {
                    parts.push(FfiContentPart::Multi(children.len() as u32));
                    children.iter().for_each(|child| flatten(child, parts));
                    return;
                }
            });
        }
        let mut parts = RVec::new();
        flatten(content, &mut parts);
        FfiContent { parts }
    }
}

impl From<FfiContent> for Content {
    fn from(content: FfiContent) -> Self {
        fn build(parts: &mut std::vec::IntoIter<FfiContentPart>) -> Content {
            match parts.next() {
                Some(FfiContentPart::Text(text)) => Content::Text(text.into_string()),
                Some(FfiContentPart::Media(media)) => {
                    let value = Media {
                        data: media.data.into_vec(),
                        mime_type: media.mime_type.into_string(),
                        description: media.description.into_option().map(RString::into_string),
                    };
                    match media.kind {
                        FfiMediaKind::Image => Content::Image(value),
                        FfiMediaKind::Document => Content::Document(value),
                        FfiMediaKind::Audio => Content::Audio(value),
                        FfiMediaKind::Video => Content::Video(value),
                    }
                }
                Some(FfiContentPart::Multi(len)) => {
                    Content::Multi((0..len).map(|_| build(parts)).collect())
                }
                // A truncated list (only from a buggy peer) reads as empty text.
                None => Content::Text(String::new()),
            }
        }
        build(&mut content.parts.into_vec().into_iter())
    }
}

#[repr(u8)]
#[derive(StableAbi, Clone, Debug)]
pub enum FfiRole {
    User,
    Model,
    System,
    Unknown(RString),
}

#[repr(C)]
#[derive(StableAbi, Clone, Debug)]
pub struct FfiMessage {
    pub role: FfiRole,
    pub content: FfiContent,
}

impl From<ConversationMessage> for FfiMessage {
    fn from(message: ConversationMessage) -> Self {
        FfiMessage {
            role: match message.role {
                Role::User => FfiRole::User,
                Role::Model => FfiRole::Model,
                Role::System => FfiRole::System,
                Role::Unknown(name) => FfiRole::Unknown(name.into()),
            },
            content: FfiContent::from(&message.content),
        }
    }
}

impl From<FfiMessage> for ConversationMessage {
    fn from(message: FfiMessage) -> Self {
        ConversationMessage {
            role: match message.role {
                FfiRole::User => Role::User,
                FfiRole::Model => Role::Model,
                FfiRole::System => Role::System,
                FfiRole::Unknown(name) => Role::Unknown(name.into_string()),
            },
            content: message.content.into(),
        }
    }
}

#[repr(C)]
#[derive(StableAbi, Clone, Copy, Debug, Default)]
pub struct FfiUsage {
    pub prompt_token_count: ROption<u32>,
    pub cached_content_token_count: ROption<u32>,
    pub candidates_token_count: ROption<u32>,
    pub thoughts_token_count: ROption<u32>,
    pub total_token_count: ROption<u32>,
}

impl From<UsageMetadata> for FfiUsage {
    fn from(usage: UsageMetadata) -> Self {
        FfiUsage {
            prompt_token_count: usage.prompt_token_count.into(),
            cached_content_token_count: usage.cached_content_token_count.into(),
            candidates_token_count: usage.candidates_token_count.into(),
            thoughts_token_count: usage.thoughts_token_count.into(),
            total_token_count: usage.total_token_count.into(),
        }
    }
}

impl From<FfiUsage> for UsageMetadata {
    fn from(usage: FfiUsage) -> Self {
        UsageMetadata {
            prompt_token_count: usage.prompt_token_count.into(),
            cached_content_token_count: usage.cached_content_token_count.into(),
            candidates_token_count: usage.candidates_token_count.into(),
            thoughts_token_count: usage.thoughts_token_count.into(),
            total_token_count: usage.total_token_count.into(),
        }
    }
}

#[repr(u8)]
#[derive(StableAbi, Debug)]
pub enum FfiChatEvent {
    Text(RString),
    Thought(RString),
    ToolCall {
        id: RString,
        name: RString,
        args_json: RString,
    },
    Step {
        index: u32,
        description: RString,
    },
    Usage(FfiUsage),
    /// Many text chunks packed end to end, lent by the plugin (which keeps them too).
    Texts(FfiSharedTexts),
}

/// Text chunks lent across the boundary: a plugin's frozen batch, read in place by the
/// host and released, by the plugin's own code and allocator, when the host drops it.
/// Both sides hold one copy of the bytes: the plugin for its history, the host for the
/// application's readers.
#[repr(C)]
#[derive(StableAbi)]
pub struct FfiSharedTexts {
    buffer: *const u8,
    buffer_len: usize,
    /// `ends[i]` is where chunk `i` ends in `buffer`.
    ends: *const u32,
    ends_len: usize,
    /// The batch's `Arc`, released once by `release`.
    owner: *const (),
    release: extern "C" fn(*const ()),
}

// SAFETY: the pointers only reach the bytes of an `Arc<Packed>` (which is Send and Sync)
// that `owner` keeps alive and that nobody changes while it is shared (it is frozen).
unsafe impl Send for FfiSharedTexts {}
// SAFETY: as for Send: shared access only ever reads immutable bytes.
unsafe impl Sync for FfiSharedTexts {}

impl FfiSharedTexts {
    fn share(packed: Arc<Packed>) -> Self {
        let (buffer, buffer_len) = (packed.buffer.as_ptr(), packed.buffer.len());
        let (ends, ends_len) = (packed.ends.as_ptr(), packed.ends.len());
        FfiSharedTexts {
            buffer,
            buffer_len,
            ends,
            ends_len,
            owner: Arc::into_raw(packed).cast::<()>(),
            release: release_packed,
        }
    }
}

/// Drops one reference to a shared batch, on the side that made it.
extern "C" fn release_packed(owner: *const ()) {
    // SAFETY: `owner` comes from `Arc::into_raw` of an `Arc<Packed>` in `share`, in this
    // same library (the function pointer travels with it), and `Drop` calls this once.
    drop(unsafe { Arc::from_raw(owner.cast::<Packed>()) });
}

impl Drop for FfiSharedTexts {
    fn drop(&mut self) {
        (self.release)(self.owner)
    }
}

impl PackedTexts for FfiSharedTexts {
    fn buffer(&self) -> &str {
        // SAFETY: `buffer` and `buffer_len` describe the `String` of the batch that
        // `owner` keeps alive and unchanged for as long as `self` lives; a `String` is
        // UTF-8 (the same trust an `RString` from the peer gets).
        unsafe {
            std::str::from_utf8_unchecked(std::slice::from_raw_parts(self.buffer, self.buffer_len))
        }
    }

    fn ends(&self) -> &[u32] {
        // SAFETY: as for `buffer`: the batch's `Vec<u32>`, alive and unchanged.
        unsafe { std::slice::from_raw_parts(self.ends, self.ends_len) }
    }
}

impl std::fmt::Debug for FfiSharedTexts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FfiSharedTexts")
            .field("bytes", &self.buffer_len)
            .field("chunks", &self.ends_len)
            .finish()
    }
}

impl From<Entry> for FfiChatEvent {
    fn from(entry: Entry) -> Self {
        match entry {
            Entry::Event(event) => event.into(),
            Entry::Texts(mut batch) => FfiChatEvent::Texts(FfiSharedTexts::share(batch.freeze())),
        }
    }
}

impl From<ChatEvent> for FfiChatEvent {
    fn from(event: ChatEvent) -> Self {
        match event {
            ChatEvent::Text(text) => FfiChatEvent::Text(text.into()),
            ChatEvent::Thought(text) => FfiChatEvent::Thought(text.into()),
            ChatEvent::ToolCall(call) => FfiChatEvent::ToolCall {
                id: call.id.into(),
                name: call.name.into(),
                args_json: call.args.to_string().into(),
            },
            ChatEvent::Step(step) => FfiChatEvent::Step {
                index: step.index,
                description: step.description.into(),
            },
            ChatEvent::Usage(usage) => FfiChatEvent::Usage(usage.into()),
        }
    }
}

impl From<FfiChatEvent> for Entry {
    /// A lent text batch stays where it is; the host reads it in place.
    fn from(event: FfiChatEvent) -> Self {
        Entry::Event(match event {
            FfiChatEvent::Text(text) => ChatEvent::Text(text.into_string()),
            FfiChatEvent::Thought(text) => ChatEvent::Thought(text.into_string()),
            FfiChatEvent::ToolCall {
                id,
                name,
                args_json,
            } => ChatEvent::ToolCall(ToolCall {
                id: id.into_string(),
                name: name.into_string(),
                args: parse_json(&args_json),
            }),
            FfiChatEvent::Step { index, description } => ChatEvent::Step(Step {
                index,
                description: description.into_string(),
            }),
            FfiChatEvent::Usage(usage) => ChatEvent::Usage(usage.into()),
            FfiChatEvent::Texts(texts) => return Entry::Texts(TextBatch::foreign(Box::new(texts))),
        })
    }
}

/// JSON that a peer produced with `serde_json`; anything unparsable is kept as a string.
fn parse_json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|_| serde_json::Value::String(text.to_owned()))
}

#[repr(C)]
#[derive(StableAbi, Clone, Debug)]
pub struct FfiChatResult {
    /// `RNone`: the text is every text chunk of the turn, concatenated (the host builds it
    /// from the chunks it has, so the answer never crosses twice).
    pub text: ROption<RString>,
    pub usage: FfiUsage,
    pub structured_output_json: ROption<RString>,
}

impl From<Ended> for FfiChatResult {
    fn from(ended: Ended) -> Self {
        let Ended {
            result,
            text_from_chunks,
        } = ended;
        FfiChatResult {
            text: (!text_from_chunks).then(|| result.text.into()).into(),
            usage: result.usage.into(),
            structured_output_json: result
                .structured_output
                .map(|value| RString::from(value.to_string()))
                .into(),
        }
    }
}

impl From<FfiChatResult> for Ended {
    fn from(result: FfiChatResult) -> Self {
        let text = result.text.into_option().map(RString::into_string);
        Ended {
            text_from_chunks: text.is_none(),
            result: ChatResult {
                text: text.unwrap_or_default(),
                usage: result.usage.into(),
                structured_output: result
                    .structured_output_json
                    .into_option()
                    .map(|json| parse_json(&json)),
            },
        }
    }
}

/// What one `next_batch` call carries: events, and the outcome once all were sent.
#[repr(C)]
#[derive(StableAbi, Debug)]
pub struct FfiBatch {
    pub events: RVec<FfiChatEvent>,
    pub outcome: ROption<FfiResult<FfiChatResult>>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stream::TextBatch;

    fn round_trip(error: Error) -> Error {
        FfiError::from(error).into()
    }

    #[test]
    fn every_error_survives_the_crossing() {
        let errors = [
            Error::AgentNotStarted(7),
            Error::BackendError("b".into()),
            Error::ConnectionError("c".into()),
            Error::QuotaExceeded {
                retry_after: Some(Duration::from_millis(1500)),
                message: "q".into(),
            },
            Error::QuotaExceeded {
                retry_after: None,
                message: "q".into(),
            },
            Error::ChannelClosed,
            Error::ConnectionClosed,
            Error::Timeout {
                duration: Duration::from_secs(3),
                operation: "chat".into(),
            },
            Error::Stream("s".into()),
            Error::InvalidConfig("i".into()),
            Error::Io("io".into()),
            Error::Cancelled,
        ];
        for error in errors {
            assert_eq!(round_trip(error.clone()), error);
        }
    }

    #[test]
    fn extreme_durations_cross_without_wrapping() {
        assert_eq!(
            Duration::from(FfiDuration::from(Duration::MAX)),
            Duration::MAX
        );
        let broken = FfiDuration {
            secs: u64::MAX,
            nanos: u32::MAX,
        };
        assert_eq!(Duration::from(broken), Duration::MAX);
        for error in [
            Error::Timeout {
                duration: Duration::MAX,
                operation: "chat".into(),
            },
            Error::QuotaExceeded {
                retry_after: Some(Duration::MAX),
                message: "q".into(),
            },
        ] {
            assert_eq!(round_trip(error.clone()), error);
        }
    }

    #[test]
    fn unknown_codes_become_backend_errors() {
        let future = FfiError::new(999, "from a newer plugin");
        assert_eq!(
            Error::from(future),
            Error::BackendError("from a newer plugin".into())
        );
    }

    #[test]
    fn nested_content_survives_the_crossing() {
        let content = Content::Multi(vec![
            Content::text("look"),
            Content::Multi(vec![
                Content::Image(Media {
                    data: vec![0, 255, 1],
                    mime_type: "image/png".into(),
                    description: Some("a dot".into()),
                }),
                Content::Audio(Media::new(vec![9; 1000], "audio/wav")),
            ]),
            Content::Video(Media::new(Vec::new(), "video/mp4")),
            Content::Document(Media::new(b"%PDF".to_vec(), "application/pdf")),
        ]);
        assert_eq!(Content::from(FfiContent::from(&content)), content);
    }

    #[test]
    fn events_and_results_survive_the_crossing() {
        let events = vec![
            ChatEvent::Text("t".into()),
            ChatEvent::Thought("th".into()),
            ChatEvent::ToolCall(ToolCall {
                id: "1".into(),
                name: "search".into(),
                args: serde_json::json!({"q": "x"}),
            }),
            ChatEvent::Step(Step {
                index: 2,
                description: "tool".into(),
            }),
            ChatEvent::Usage(UsageMetadata {
                total_token_count: Some(3),
                ..Default::default()
            }),
        ];
        for event in events {
            let Entry::Event(back) = Entry::from(FfiChatEvent::from(event.clone())) else {
                panic!("{event:?} came back as text");
            };
            assert_eq!(back, event);
        }
        let mut batch = TextBatch::new();
        batch.push("a");
        batch.push("bc");
        let Entry::Texts(back) = Entry::from(FfiChatEvent::from(Entry::Texts(batch))) else {
            panic!("a text batch came back as an event");
        };
        assert_eq!(back.chunks().collect::<Vec<_>>(), ["a", "bc"]);
        let result = ChatResult {
            text: "answer".into(),
            usage: UsageMetadata {
                prompt_token_count: Some(1),
                ..Default::default()
            },
            structured_output: Some(serde_json::json!({"a": [1, 2]})),
        };
        for text_from_chunks in [false, true] {
            let ended = Ended {
                result: result.clone(),
                text_from_chunks,
            };
            let back = Ended::from(FfiChatResult::from(ended));
            assert_eq!(back.text_from_chunks, text_from_chunks);
            let text = if text_from_chunks { "" } else { "answer" };
            assert_eq!(back.result.text, text, "the text crosses only when given");
            assert_eq!(back.result.usage, result.usage);
            assert_eq!(back.result.structured_output, result.structured_output);
        }
    }

    #[test]
    fn a_lent_batch_is_released_once_when_the_host_drops_it() {
        let mut batch = TextBatch::new();
        batch.push("kept");
        let shared = batch.freeze();
        let lent = FfiChatEvent::from(Entry::Texts(batch));
        assert_eq!(Arc::strong_count(&shared), 2);
        let Entry::Texts(on_the_host) = Entry::from(lent) else {
            panic!("a text batch came back as an event");
        };
        assert_eq!(on_the_host.as_str(), "kept");
        assert!(
            std::ptr::eq(on_the_host.as_str(), shared.buffer.as_str()),
            "not copied"
        );
        drop(on_the_host);
        assert_eq!(Arc::strong_count(&shared), 1);
    }
}
