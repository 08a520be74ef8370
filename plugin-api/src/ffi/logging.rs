//! The log bridge: a plugin's `tracing` events are handed to the host through a callback.

use std::fmt::Write as _;

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

pub(crate) fn level_number(level: &Level) -> u8 {
    match *level {
        Level::ERROR => 1,
        Level::WARN => 2,
        Level::INFO => 3,
        Level::DEBUG => 4,
        Level::TRACE => 5,
    }
}

/// Installs, once per plugin library, a subscriber that forwards to `logger`.
pub(crate) fn install(plugin: &'static str, logger: FfiLogger) {
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
