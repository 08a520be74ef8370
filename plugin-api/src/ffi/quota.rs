//! A runtime's quota registry across the boundary, both sides: the host's
//! `quota_registry()` reads and writes the one inside the plugin.

use std::sync::Arc;
use std::time::Duration;

use abi_stable::sabi_trait;
use abi_stable::std_types::{RBox, ROption, RStr};

use super::data::FfiDuration;
use super::guard::PluginContext;
use crate::quota::{QuotaRegistry, RemoteQuota};
use crate::runtime::Runtime;

#[sabi_trait]
pub trait FfiQuota: Send + Sync {
    fn record_hit(&self, key: RStr<'_>, retry_after: FfiDuration) -> FfiDuration;
    fn record_success(&self, key: RStr<'_>);
    fn remaining(&self, key: RStr<'_>) -> ROption<FfiDuration>;
    #[sabi(last_prefix_field)]
    fn consecutive_hits(&self, key: RStr<'_>) -> u32;
}

pub type FfiQuotaBox = FfiQuota_TO<'static, RBox<()>>;

// --- plugin side ---------------------------------------------------------------------

/// The registry of the runtime `R`, reached through the runtime it belongs to.
pub(crate) struct ExportedQuota<R> {
    runtime: Arc<R>,
    context: PluginContext,
}

impl<R: Runtime + 'static> ExportedQuota<R> {
    pub(crate) fn into_ffi(runtime: Arc<R>, context: PluginContext) -> FfiQuotaBox {
        FfiQuota_TO::from_value(
            ExportedQuota { runtime, context },
            abi_stable::sabi_trait::TD_Opaque,
        )
    }

    /// Runs a call on the registry, a panic contained (and answered with the default).
    fn with<T: Default>(&self, body: impl FnOnce(&QuotaRegistry) -> T) -> T {
        self.context
            .call(|| body(self.runtime.quota_registry()))
            .unwrap_or_default()
    }
}

impl<R: Runtime + 'static> FfiQuota for ExportedQuota<R> {
    fn record_hit(&self, key: RStr<'_>, retry_after: FfiDuration) -> FfiDuration {
        self.with(|quota| quota.record_hit(key.as_str(), retry_after.into()).into())
    }

    fn record_success(&self, key: RStr<'_>) {
        self.with(|quota| quota.record_success(key.as_str()))
    }

    fn remaining(&self, key: RStr<'_>) -> ROption<FfiDuration> {
        self.with(|quota| quota.remaining(key.as_str()).map(FfiDuration::from).into())
    }

    fn consecutive_hits(&self, key: RStr<'_>) -> u32 {
        self.with(|quota| quota.consecutive_hits(key.as_str()))
    }
}

// --- host side -----------------------------------------------------------------------

/// A plugin's registry as the host's `QuotaRegistry`.
pub(crate) fn import(quota: FfiQuotaBox) -> QuotaRegistry {
    QuotaRegistry::remote(Box::new(ImportedQuota(quota)))
}

struct ImportedQuota(FfiQuotaBox);

impl RemoteQuota for ImportedQuota {
    fn record_hit(&self, key: &str, retry_after: Duration) -> Duration {
        self.0
            .record_hit(RStr::from_str(key), FfiDuration::from(retry_after))
            .into()
    }

    fn record_success(&self, key: &str) {
        self.0.record_success(RStr::from_str(key))
    }

    fn remaining(&self, key: &str) -> Option<Duration> {
        self.0
            .remaining(RStr::from_str(key))
            .into_option()
            .map(Duration::from)
    }

    fn consecutive_hits(&self, key: &str) -> u32 {
        self.0.consecutive_hits(RStr::from_str(key))
    }
}
