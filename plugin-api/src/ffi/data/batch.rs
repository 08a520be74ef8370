//! What one pull of a chat stream carries: events, and the turn's outcome at the end.

use abi_stable::std_types::{ROption, RString, RVec};
use abi_stable::StableAbi;

use super::{parse_json, FfiChatEvent, FfiResult, FfiUsage};
use crate::stream::{ChatResult, Ended};

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
    use crate::types::UsageMetadata;

    #[test]
    fn results_survive_the_crossing_and_the_text_only_when_given() {
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
}
