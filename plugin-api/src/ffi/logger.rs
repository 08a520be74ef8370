//! The log bridge, both sides: a plugin's `tracing` events are handed to the host
//! through a callback, which re-emits them under the target `plugin::<name>`.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};

use abi_stable::std_types::RStr;
use abi_stable::StableAbi;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, SubscriberExt};
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
    let subscriber = tracing_subscriber::registry()
        .with(max)
        .with(ForwardLayer { plugin, logger });
    // Already set means this library was loaded into a process that set one (in-process
    // tests); the host's own subscriber then sees the events directly.
    let _ = tracing::subscriber::set_global_default(subscriber);
}

struct ForwardLayer {
    plugin: &'static str,
    logger: FfiLogger,
}

impl<S: Subscriber> Layer<S> for ForwardLayer {
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        let mut message = MessageVisitor(String::new());
        event.record(&mut message);
        let metadata = event.metadata();
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
        if field.name() == "message" {
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

/// Re-emits a plugin's log event through `log`, which `tracing` subscribers pick up.
extern "C" fn forward_log(plugin: RStr<'_>, level: u8, target: RStr<'_>, message: RStr<'_>) {
    let level = match level {
        1 => log::Level::Error,
        2 => log::Level::Warn,
        3 => log::Level::Info,
        4 => log::Level::Debug,
        _ => log::Level::Trace,
    };
    let host_target = format!("plugin::{plugin}");
    log::logger().log(
        &log::Record::builder()
            .level(level)
            .target(&host_target)
            .module_path(Some(target.as_str()))
            .args(format_args!("{message}"))
            .build(),
    );
}
