use std::ops::{Add, AddAssign};

use serde::{Deserialize, Serialize};

/// Token counts of one turn or a sum of turns. `None` means the backend did not report it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageMetadata {
    pub prompt_token_count: Option<u32>,
    pub cached_content_token_count: Option<u32>,
    pub candidates_token_count: Option<u32>,
    pub thoughts_token_count: Option<u32>,
    pub total_token_count: Option<u32>,
}

fn add_counts(a: Option<u32>, b: Option<u32>) -> Option<u32> {
    match (a, b) {
        (None, None) => None,
        (a, b) => Some(a.unwrap_or(0).saturating_add(b.unwrap_or(0))),
    }
}

impl Add for UsageMetadata {
    type Output = UsageMetadata;

    fn add(self, other: UsageMetadata) -> UsageMetadata {
        UsageMetadata {
            prompt_token_count: add_counts(self.prompt_token_count, other.prompt_token_count),
            cached_content_token_count: add_counts(
                self.cached_content_token_count,
                other.cached_content_token_count,
            ),
            candidates_token_count: add_counts(
                self.candidates_token_count,
                other.candidates_token_count,
            ),
            thoughts_token_count: add_counts(self.thoughts_token_count, other.thoughts_token_count),
            total_token_count: add_counts(self.total_token_count, other.total_token_count),
        }
    }
}

impl AddAssign for UsageMetadata {
    fn add_assign(&mut self, other: UsageMetadata) {
        *self = *self + other;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adding_keeps_unreported_counts_unreported() {
        let a = UsageMetadata {
            prompt_token_count: Some(2),
            total_token_count: Some(5),
            ..Default::default()
        };
        let b = UsageMetadata {
            prompt_token_count: Some(3),
            candidates_token_count: Some(1),
            ..Default::default()
        };
        let sum = a + b;
        assert_eq!(sum.prompt_token_count, Some(5));
        assert_eq!(sum.candidates_token_count, Some(1));
        assert_eq!(sum.total_token_count, Some(5));
        assert_eq!(sum.thoughts_token_count, None);
    }
}
