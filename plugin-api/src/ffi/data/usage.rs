//! Token counts on the wire, field by field. A later count goes into a new field of a
//! new type, never into this one (its layout is fixed).

use abi_stable::std_types::ROption;
use abi_stable::StableAbi;

use crate::types::UsageMetadata;

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
