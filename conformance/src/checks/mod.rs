//! The checks, one file per topic of `semantics.md`. Each file lists its cases in `CASES`.

pub(crate) mod chat;
pub(crate) mod concurrency;
pub(crate) mod conversation;
pub(crate) mod idle;
pub(crate) mod lifecycle;
pub(crate) mod quota;
pub(crate) mod tools;

/// A `Case` whose check is the async fn `$check(ctx: Ctx) -> CheckResult`.
macro_rules! case {
    ($name:literal, $description:literal, $check:path) => {
        $crate::case::Case {
            name: $name,
            description: $description,
            run: |ctx| ::futures::FutureExt::boxed($check(ctx)),
        }
    };
}
pub(crate) use case;
