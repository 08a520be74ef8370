//! The log bridge, both sides: a plugin's `tracing` events (and its dependencies' `log`
//! records) are handed to the host through a callback, which re-emits them under the
//! target `plugin::<name>::<original target>`, so a host's filter can tell a plugin's
//! own events from its dependencies' (`plugin::openai=debug,plugin::openai::hyper=warn`).
//!
//! Since api 0.2.3 the host also hands over its filter, which the plugin asks once per
//! callsite (per record for `log` records), so an event the host does not want is
//! never formatted.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

use abi_stable::std_types::RStr;
use abi_stable::StableAbi;
use tracing::field::{Field, Visit};
use tracing::subscriber::Interest;
use tracing::{Event, Level, Metadata, Subscriber};
use tracing_log::NormalizeEvent;
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;

/// Host-side callback plus the most verbose level the host wants.
#[repr(C)]
#[derive(StableAbi, Clone, Copy)]
pub struct FfiLogger {
    /// `level`: 1 error, 2 warn, 3 info, 4 debug, 5 trace.
    pub log: extern "C" fn(plugin: RStr<'_>, level: u8, target: RStr<'_>, message: RStr<'_>),
    /// 0 turns plugin logging off.
    pub max_level: u8,
}

/// The host's filter (api 0.2.3).
#[repr(C)]
#[derive(StableAbi, Clone, Copy)]
pub struct FfiLogFilter {
    /// Whether the host wants an event at `level` (numbered as in [`FfiLogger::log`])
    /// from `target`, the plugin-side target it would be logged under.
    pub enabled: extern "C" fn(plugin: RStr<'_>, level: u8, target: RStr<'_>) -> bool,
}

fn level_number(level: &Level) -> u8 {
    match *level {
        Level::ERROR => 1,
        Level::WARN => 2,
        Level::INFO => 3,
        Level::DEBUG => 4,
        Level::TRACE => 5,
    }
}

// --- plugin side ---------------------------------------------------------------------

static HOST_FILTER: OnceLock<FfiLogFilter> = OnceLock::new();

/// Called by a 0.2.3 host before [`install_once`]; a host built before 0.2.3 hands over
/// only its most verbose level.
pub(crate) fn set_filter(filter: FfiLogFilter) {
    let _ = HOST_FILTER.set(filter);
}

/// Called once by the host after loading: from then on the plugin's `tracing` events,
/// and its panic reports (which the export layer turns into errors), go to the host's
/// logs instead of straight to stderr.
pub(crate) fn install_once(plugin: &'static str, logger: FfiLogger) {
    static INSTALLED: AtomicBool = AtomicBool::new(false);
    if !INSTALLED.swap(true, Ordering::SeqCst) {
        let _ = std::panic::catch_unwind(|| {
            install(plugin, logger);
            std::panic::set_hook(Box::new(|info| tracing::error!(target: "panic", "{info}")));
        });
    }
}

/// Installs a subscriber that forwards to `logger`.
fn install(plugin: &'static str, logger: FfiLogger) {
    let max = match logger.max_level {
        0 => tracing_subscriber::filter::LevelFilter::OFF,
        1 => tracing_subscriber::filter::LevelFilter::ERROR,
        2 => tracing_subscriber::filter::LevelFilter::WARN,
        3 => tracing_subscriber::filter::LevelFilter::INFO,
        4 => tracing_subscriber::filter::LevelFilter::DEBUG,
        _ => tracing_subscriber::filter::LevelFilter::TRACE,
    };
    let subscriber = tracing_subscriber::registry().with(max).with(ForwardLayer {
        plugin,
        logger,
        filter: HOST_FILTER.get().copied(),
    });
    // Already set means this library was loaded into a process that set one (in-process
    // tests); the host's own subscriber then sees the events directly. `try_init` also
    // routes the `log` records of the plugin's dependencies (rustls, ...) here.
    let _ = subscriber.try_init();
}

struct ForwardLayer {
    plugin: &'static str,
    logger: FfiLogger,
    filter: Option<FfiLogFilter>,
}

impl ForwardLayer {
    fn host_wants(&self, metadata: &Metadata<'_>) -> bool {
        self.filter.is_none_or(|filter| {
            (filter.enabled)(
                self.plugin.into(),
                level_number(metadata.level()),
                metadata.target().into(),
            )
        })
    }
}

/// The callsites `tracing-log` emits `log` records through: one per level, whatever the
/// record's target, so they are asked record by record.
fn is_log_record(metadata: &Metadata<'_>) -> bool {
    metadata.fields().field("log.target").is_some()
}

impl<S: Subscriber> Layer<S> for ForwardLayer {
    fn register_callsite(&self, metadata: &'static Metadata<'static>) -> Interest {
        if is_log_record(metadata) {
            Interest::sometimes()
        } else if self.host_wants(metadata) {
            Interest::always()
        } else {
            Interest::never()
        }
    }

    fn enabled(&self, metadata: &Metadata<'_>, _: Context<'_, S>) -> bool {
        // A `log` record is asked here with its own target (`tracing-log` builds its
        // metadata per record).
        self.host_wants(metadata)
    }

    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        let mut message = MessageVisitor(String::new());
        event.record(&mut message);
        let normalized = event.normalized_metadata();
        let metadata = normalized.as_ref().unwrap_or_else(|| event.metadata());
        (self.logger.log)(
            self.plugin.into(),
            level_number(metadata.level()),
            metadata.target().into(),
            message.0.as_str().into(),
        );
    }
}

/// Formats the `message` field first, then the others as `key=value`.
struct MessageVisitor(String);

impl Visit for MessageVisitor {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name().starts_with("log.") {
            // Where a `log` record came from: the target says it.
        } else if field.name() == "message" {
            let rest = std::mem::take(&mut self.0);
            let _ = write!(self.0, "{value:?}");
            if !rest.is_empty() {
                self.0.push(' ');
                self.0.push_str(&rest);
            }
        } else {
            if !self.0.is_empty() {
                self.0.push(' ');
            }
            let _ = write!(self.0, "{}={value:?}", field.name());
        }
    }
}

// --- host side -----------------------------------------------------------------------

/// The callback handed to every plugin, with the most verbose level this process wants.
pub(crate) fn host_logger() -> FfiLogger {
    FfiLogger {
        log: forward_log,
        max_level: host_max_level(),
    }
}

fn host_max_level() -> u8 {
    let from_tracing = tracing::level_filters::LevelFilter::current()
        .into_level()
        .map_or(0, |level| level_number(&level));
    from_tracing.max(log::max_level() as u8)
}

/// The host's filter, handed to 0.2.3 plugins: asks this process's `log` logger (which
/// a `tracing` subscriber's filter answers through `tracing-log`).
pub(crate) fn host_log_filter() -> FfiLogFilter {
    FfiLogFilter {
        enabled: host_log_enabled,
    }
}

extern "C" fn host_log_enabled(plugin: RStr<'_>, level: u8, target: RStr<'_>) -> bool {
    let target = host_target(plugin.as_str(), target.as_str());
    log::logger().enabled(
        &log::Metadata::builder()
            .level(log_level(level))
            .target(&target)
            .build(),
    )
}

/// `plugin::<name>::<target>`: the plugin's name first, so one directive covers all of
/// a plugin's events, and the original target after, so a longer one picks some out.
fn host_target(plugin: &str, target: &str) -> String {
    if target.is_empty() {
        format!("plugin::{plugin}")
    } else {
        format!("plugin::{plugin}::{target}")
    }
}

fn log_level(level: u8) -> log::Level {
    match level {
        1 => log::Level::Error,
        2 => log::Level::Warn,
        3 => log::Level::Info,
        4 => log::Level::Debug,
        _ => log::Level::Trace,
    }
}

/// Re-emits a plugin's log event through `log`, which `tracing` subscribers pick up.
extern "C" fn forward_log(plugin: RStr<'_>, level: u8, target: RStr<'_>, message: RStr<'_>) {
    let host_target = host_target(plugin.as_str(), target.as_str());
    log::logger().log(
        &log::Record::builder()
            .level(log_level(level))
            .target(&host_target)
            .module_path(Some(target.as_str()))
            .args(format_args!("{message}"))
            .build(),
    );
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;
    use std::sync::Mutex;

    use super::*;

    static LOGGED: Mutex<Vec<String>> = Mutex::new(Vec::new());
    static FORMATTED: AtomicUsize = AtomicUsize::new(0);

    extern "C" fn log(plugin: RStr<'_>, _: u8, target: RStr<'_>, message: RStr<'_>) {
        LOGGED
            .lock()
            .unwrap()
            .push(format!("{plugin} {target}: {message}"));
    }

    extern "C" fn enabled(_: RStr<'_>, _: u8, target: RStr<'_>) -> bool {
        !target.as_str().starts_with("noisy")
    }

    /// Counts the times it is formatted.
    struct Counted;

    impl std::fmt::Display for Counted {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            FORMATTED.fetch_add(1, Ordering::SeqCst);
            f.write_str("counted")
        }
    }

    #[test]
    fn events_the_host_filters_out_are_never_formatted() {
        let layer = ForwardLayer {
            plugin: "p",
            logger: FfiLogger { log, max_level: 5 },
            filter: Some(FfiLogFilter { enabled }),
        };
        let subscriber = tracing_subscriber::registry().with(layer);
        tracing::subscriber::with_default(subscriber, || {
            for _ in 0..3 {
                tracing::info!(target: "noisy::dependency", "{}", Counted);
                tracing::info!(target: "mine", "kept {}", 1);
            }
        });
        assert_eq!(FORMATTED.load(Ordering::SeqCst), 0);
        assert_eq!(*LOGGED.lock().unwrap(), vec!["p mine: kept 1"; 3]);
    }

    #[test]
    fn the_host_logs_a_plugin_event_under_the_plugin_then_its_own_target() {
        assert_eq!(
            host_target("openai", "hyper::client"),
            "plugin::openai::hyper::client"
        );
        assert_eq!(host_target("openai", ""), "plugin::openai");
    }
}
