//! Quota backoff ("Quota" in semantics.md).

use std::time::{Duration, Instant};

use crate::case::CheckResult;
use crate::ctx::Ctx;
use crate::expect::millis;

const RETRY_AFTER: Duration = Duration::from_millis(100);

/// Records a hit and waits it out; the time counts from before the hit, so it can only
/// be longer than the backoff, never shorter.
async fn hit_and_wait(ctx: &Ctx, retry_after: Duration) -> Duration {
    ctx.step(format!(
        "recording a quota hit of {} and waiting it out",
        millis(retry_after)
    ));
    let started = Instant::now();
    ctx.runtime().record_quota_hit(retry_after).await;
    ctx.runtime().wait_for_quota().await;
    started.elapsed()
}

pub(crate) async fn backoff_at_least_retry_after(ctx: Ctx) -> CheckResult {
    ctx.within(
        Duration::from_secs(1),
        "wait_for_quota on a fresh runtime (no backoff)",
        ctx.runtime().wait_for_quota(),
    )
    .await?;
    let waited = hit_and_wait(&ctx, RETRY_AFTER).await;
    ensure!(
        waited >= RETRY_AFTER,
        "after record_quota_hit({}), wait_for_quota returned after only {}",
        millis(RETRY_AFTER),
        millis(waited)
    );
    Ok(())
}

pub(crate) async fn backoff_grows(ctx: Ctx) -> CheckResult {
    let first = hit_and_wait(&ctx, RETRY_AFTER).await;
    let second = hit_and_wait(&ctx, RETRY_AFTER).await;
    ensure!(
        second > first,
        "consecutive quota hits must back off longer each time: record_quota_hit({}) then \
         wait_for_quota took {} the first time and {} the second",
        millis(RETRY_AFTER),
        millis(first),
        millis(second)
    );
    Ok(())
}

pub(crate) async fn registry_per_runtime(ctx: Ctx) -> CheckResult {
    let other = ctx.another_runtime().await?;
    let long_backoff = Duration::from_secs(5);
    ctx.step("recording a 5 s quota hit on the first runtime");
    ctx.runtime().record_quota_hit(long_backoff).await;
    let first_waits =
        tokio::time::timeout(Duration::from_millis(300), ctx.runtime().wait_for_quota())
            .await
            .is_err();
    ensure!(
        first_waits,
        "after record_quota_hit(5 s), wait_for_quota on the same runtime returned within \
         300 ms"
    );
    ctx.step("waiting for quota on a second runtime");
    ctx.within(
        Duration::from_secs(2),
        "wait_for_quota on a second runtime from the factory, while the first backs off 5 s",
        other.wait_for_quota(),
    )
    .await?;
    Ok(())
}
