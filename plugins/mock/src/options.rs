//! The `[backends.mock]` options, and the per-agent settings derived from them.

use std::collections::BTreeMap;
use std::ops::RangeInclusive;
use std::time::Duration;

use agent_plugin_api::plugin::JsonSchema;
use agent_plugin_api::types::{AgentConfig, BackoffPolicy, Error};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The accepted values of each numeric option, inclusive; a value outside is refused
/// by name. Wide enough for any test, narrow enough that no value stalls a stream or
/// overflows a deadline. The schema states the same bounds (a test keeps them in step).
pub const CHUNK_CHARS: RangeInclusive<u64> = 1..=1_000_000;
pub const CHUNK_DELAY_MS: RangeInclusive<u64> = 0..=60_000;
pub const QUOTA_EVERY: RangeInclusive<u64> = 0..=1_000_000;
pub const QUOTA_RETRY_AFTER_MS: RangeInclusive<u64> = 0..=86_400_000;
pub const COMPACT_EVERY: RangeInclusive<u64> = 0..=1_000_000;
pub const BACKOFF_BASE_MS: RangeInclusive<u64> = 0..=86_400_000;
pub const BACKOFF_CAP_MS: RangeInclusive<u64> = 0..=86_400_000;

/// How answers are made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ReplyMode {
    /// `echo: <the user's text>`.
    #[default]
    Echo,
    /// The next of `MockOptions::replies`, in turn.
    Scripted,
}

/// The mock backend's options: the `[backends.mock]` table of a host config.
///
/// Unknown keys are refused, so a typo never silently falls back to a default. The doc
/// comments are the help `agent-host inspect mock` shows.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct MockOptions {
    /// Echo the user's text, or answer from `replies` (a non-empty `replies` implies
    /// "scripted").
    pub reply: ReplyMode,
    /// Scripted answers: turn i of an agent answers replies[i % len].
    pub replies: Vec<String>,
    /// The answer streams in chunks of at most this many characters (per agent:
    /// extras.chunk_chars).
    #[schemars(range(min = 1, max = 1_000_000))]
    pub chunk_chars: usize,
    /// Pause before every chunk after the first, so streaming is observable (per agent:
    /// extras.chunk_delay_ms).
    #[schemars(range(min = 0, max = 60_000))]
    pub chunk_delay_ms: u64,
    /// Emit a thought event in every turn.
    pub thoughts: bool,
    /// Every Nth turn of an agent fails with a quota error and records a quota hit;
    /// 0 = never.
    #[schemars(range(min = 0, max = 1_000_000))]
    pub quota_every: u32,
    /// The retry_after of those quota errors.
    #[schemars(range(min = 0, max = 86_400_000))]
    pub quota_retry_after_ms: u64,
    /// Record a compaction index after every N completed turns; 0 = never.
    #[schemars(range(min = 0, max = 1_000_000))]
    pub compact_every: u32,
    /// A message containing this text fails with a backend error; "" = never.
    pub fail_on: String,
    /// The key this runtime's quota backoff is kept under; not empty.
    #[schemars(length(min = 1))]
    pub api_key: String,
    /// Quota backoff after a first hit with no retry_after; at most backoff_cap_ms.
    #[schemars(range(min = 0, max = 86_400_000))]
    pub backoff_base_ms: u64,
    /// Quota backoff never grows past this.
    #[schemars(range(min = 0, max = 86_400_000))]
    pub backoff_cap_ms: u64,
}

impl Default for MockOptions {
    fn default() -> Self {
        MockOptions {
            reply: ReplyMode::Echo,
            replies: Vec::new(),
            chunk_chars: 8,
            chunk_delay_ms: 20,
            thoughts: true,
            quota_every: 0,
            quota_retry_after_ms: 1000,
            compact_every: 0,
            fail_on: "FAIL".to_owned(),
            api_key: "mock".to_owned(),
            backoff_base_ms: 1000,
            backoff_cap_ms: 60_000,
        }
    }
}

impl MockOptions {
    /// Checks the values serde cannot: each error names the offending option.
    pub fn validate(&self) -> Result<(), Error> {
        let numbers = [
            (
                "chunk_chars",
                u64::try_from(self.chunk_chars).unwrap_or(u64::MAX),
                CHUNK_CHARS,
            ),
            ("chunk_delay_ms", self.chunk_delay_ms, CHUNK_DELAY_MS),
            ("quota_every", u64::from(self.quota_every), QUOTA_EVERY),
            (
                "quota_retry_after_ms",
                self.quota_retry_after_ms,
                QUOTA_RETRY_AFTER_MS,
            ),
            (
                "compact_every",
                u64::from(self.compact_every),
                COMPACT_EVERY,
            ),
            ("backoff_base_ms", self.backoff_base_ms, BACKOFF_BASE_MS),
            ("backoff_cap_ms", self.backoff_cap_ms, BACKOFF_CAP_MS),
        ];
        for (name, value, range) in numbers {
            in_range(&format!("option `{name}`"), value, &range)?;
        }
        if self.reply == ReplyMode::Scripted && self.replies.is_empty() {
            return Err(invalid(
                "option `replies` must not be empty when `reply` is \"scripted\"",
            ));
        }
        if self.api_key.is_empty() {
            return Err(invalid("option `api_key` must not be empty"));
        }
        if self.backoff_base_ms > self.backoff_cap_ms {
            return Err(invalid(format!(
                "option `backoff_base_ms` ({}) must not exceed `backoff_cap_ms` ({})",
                self.backoff_base_ms, self.backoff_cap_ms
            )));
        }
        Ok(())
    }

    /// The answers to script from, or `None` to echo.
    pub fn scripted_replies(&self) -> Option<&[String]> {
        (!self.replies.is_empty()).then_some(self.replies.as_slice())
    }

    pub fn backoff_policy(&self) -> BackoffPolicy {
        BackoffPolicy {
            base: Duration::from_millis(self.backoff_base_ms),
            cap: Duration::from_millis(self.backoff_cap_ms),
            multiplier: 2.0,
            jitter: 0.1,
        }
    }

    pub fn quota_retry_after(&self) -> Duration {
        Duration::from_millis(self.quota_retry_after_ms)
    }
}

/// What one agent streams with: the runtime's options, overridden by the agent's extras.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentSettings {
    pub chunk_chars: usize,
    pub chunk_delay: Duration,
    /// Tool names, in config order: the first one named in a message is reported as a
    /// call (when the host offers no such tool to run).
    pub tools: Vec<String>,
    /// For each declared tool, the argument a scripted call fills (see `tool_calls`).
    pub tool_arguments: BTreeMap<String, String>,
    pub response_schema: Option<Value>,
}

impl AgentSettings {
    /// Applies the agent's overrides (`extras.chunk_chars`, `extras.chunk_delay_ms`); a
    /// bad one is `Error::InvalidConfig`. The kit has checked the rest of the config.
    pub fn resolve(options: &MockOptions, config: &AgentConfig) -> Result<Self, Error> {
        let chunk_chars = match extra_number(config, "chunk_chars", &CHUNK_CHARS)? {
            // In range, so it fits a usize.
            Some(chars) => usize::try_from(chars).unwrap_or(usize::MAX),
            None => options.chunk_chars,
        };
        let chunk_delay_ms = extra_number(config, "chunk_delay_ms", &CHUNK_DELAY_MS)?
            .unwrap_or(options.chunk_delay_ms);
        Ok(AgentSettings {
            chunk_chars,
            chunk_delay: Duration::from_millis(chunk_delay_ms),
            tools: config.tools.iter().map(|tool| tool.name.clone()).collect(),
            tool_arguments: crate::tool_calls::argument_names(config),
            response_schema: config.response_schema.clone(),
        })
    }
}

/// `extras[key]` as an integer in `range`, if present.
fn extra_number(
    config: &AgentConfig,
    key: &str,
    range: &RangeInclusive<u64>,
) -> Result<Option<u64>, Error> {
    let name = format!("extras.{key}");
    match config.extras.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => {
            let number = value.as_u64().ok_or_else(|| {
                invalid(format!(
                    "{name} must be an integer in {}..={}, not {value}",
                    range.start(),
                    range.end()
                ))
            })?;
            in_range(&name, number, range).map(|()| Some(number))
        }
    }
}

/// Refuses a value outside its option's range, naming the option, the value and the range.
fn in_range(name: &str, value: u64, range: &RangeInclusive<u64>) -> Result<(), Error> {
    if range.contains(&value) {
        Ok(())
    } else {
        Err(invalid(format!(
            "{name} is {value}, outside its range {}..={}",
            range.start(),
            range.end()
        )))
    }
}

fn invalid(message: impl Into<String>) -> Error {
    Error::InvalidConfig(message.into())
}

#[cfg(test)]
mod tests {
    use agent_plugin_api::types::OptionsSchema;
    use serde_json::json;

    use super::*;

    fn parse(json: Value) -> Result<MockOptions, serde_json::Error> {
        serde_json::from_value(json)
    }

    #[test]
    fn an_empty_table_gives_the_defaults() {
        let options = parse(json!({})).unwrap();
        assert_eq!(options, MockOptions::default());
        assert_eq!(options.chunk_chars, 8);
        assert_eq!(options.chunk_delay_ms, 20);
        assert_eq!(options.fail_on, "FAIL");
        assert!(options.validate().is_ok());
    }

    #[test]
    fn unknown_keys_are_refused_by_name() {
        let error = parse(json!({"chunk_char": 3})).unwrap_err().to_string();
        assert!(error.contains("chunk_char"), "{error}");
    }

    #[test]
    fn mistyped_values_are_refused() {
        assert!(parse(json!({"chunk_chars": "many"})).is_err());
        assert!(parse(json!({"reply": "shout"})).is_err());
    }

    #[test]
    fn replies_imply_scripted() {
        let options = parse(json!({"replies": ["a", "b"]})).unwrap();
        assert_eq!(options.scripted_replies().unwrap().len(), 2);
        let scripted_without_replies = parse(json!({"reply": "scripted"})).unwrap();
        assert!(scripted_without_replies.validate().is_err());
    }

    #[test]
    fn bad_values_name_the_option() {
        for (options, name) in [
            (json!({"chunk_chars": 0}), "chunk_chars"),
            (json!({"api_key": ""}), "api_key"),
            (
                json!({"backoff_base_ms": 10, "backoff_cap_ms": 5}),
                "backoff_base_ms",
            ),
        ] {
            let Err(Error::InvalidConfig(message)) = parse(options).unwrap().validate() else {
                panic!("{name} should be refused");
            };
            assert!(message.contains(name), "{message}");
        }
    }

    /// Every numeric option and its range.
    const NUMERIC: [(&str, RangeInclusive<u64>); 7] = [
        ("chunk_chars", CHUNK_CHARS),
        ("chunk_delay_ms", CHUNK_DELAY_MS),
        ("quota_every", QUOTA_EVERY),
        ("quota_retry_after_ms", QUOTA_RETRY_AFTER_MS),
        ("compact_every", COMPACT_EVERY),
        ("backoff_base_ms", BACKOFF_BASE_MS),
        ("backoff_cap_ms", BACKOFF_CAP_MS),
    ];

    /// A table that sets `name` to `value`; the backoff base and cap at their ends, so
    /// either may take any value of its range.
    fn with(name: &str, value: u64) -> Value {
        let mut table = json!({ "backoff_base_ms": 0, "backoff_cap_ms": BACKOFF_CAP_MS.end() });
        table[name] = json!(value);
        table
    }

    #[test]
    fn numbers_outside_their_range_are_refused_by_name_value_and_range() {
        for (name, range) in NUMERIC {
            let ends = [*range.start(), *range.end()];
            for value in ends {
                let options = parse(with(name, value)).unwrap();
                assert!(options.validate().is_ok(), "{name} = {value} is in range");
            }
            let mut outside = vec![range.end() + 1, u64::MAX, i64::MAX as u64];
            if *range.start() > 0 {
                outside.push(range.start() - 1);
            }
            for value in outside {
                let Ok(options) = parse(with(name, value)) else {
                    // Wider than the field's type: serde refuses it (by name, see export).
                    continue;
                };
                let Err(Error::InvalidConfig(message)) = options.validate() else {
                    panic!("{name} = {value} should be refused");
                };
                let range_text = format!("{}..={}", range.start(), range.end());
                for part in [name, &value.to_string(), &range_text] {
                    assert!(message.contains(part), "{message} should name {part}");
                }
            }
        }
    }

    #[test]
    fn the_schema_states_each_range() {
        let schema = OptionsSchema::of::<MockOptions>();
        for (name, range) in NUMERIC {
            let option = schema.option(name).unwrap();
            assert_eq!(option["minimum"], json!(range.start()), "{name}");
            assert_eq!(option["maximum"], json!(range.end()), "{name}");
        }
    }

    #[test]
    fn agent_overrides_outside_their_range_are_refused_by_name() {
        let options = MockOptions::default();
        for (key, value) in [
            ("chunk_chars", json!(CHUNK_CHARS.end() + 1)),
            ("chunk_delay_ms", json!(9_223_372_036_854_775_807u64)),
            ("chunk_delay_ms", json!(-1)),
            ("chunk_chars", json!(1.5)),
        ] {
            let config = AgentConfig::builder("m").extra(key, value.clone()).build();
            let Err(Error::InvalidConfig(message)) = AgentSettings::resolve(&options, &config)
            else {
                panic!("extras.{key} = {value} should be refused");
            };
            assert!(message.contains(&format!("extras.{key}")), "{message}");
            assert!(message.contains(&value.to_string()), "{message}");
        }
        let at_the_end = AgentConfig::builder("m")
            .extra("chunk_delay_ms", json!(CHUNK_DELAY_MS.end()))
            .build();
        assert!(AgentSettings::resolve(&options, &at_the_end).is_ok());
    }

    #[test]
    fn every_option_has_help_and_a_default() {
        let options = OptionsSchema::of::<MockOptions>().options();
        assert_eq!(options.len(), 12);
        for option in options {
            assert!(!option.help.is_empty(), "no help for {}", option.name);
            assert!(option.default.is_some(), "no default for {}", option.name);
        }
    }

    #[test]
    fn extras_override_chunking_per_agent() {
        let config = AgentConfig::builder("m")
            .extra("chunk_chars", json!(3))
            .extra("chunk_delay_ms", json!(0))
            .build();
        let settings = AgentSettings::resolve(&MockOptions::default(), &config).unwrap();
        assert_eq!(settings.chunk_chars, 3);
        assert_eq!(settings.chunk_delay, Duration::ZERO);

        let defaults =
            AgentSettings::resolve(&MockOptions::default(), &AgentConfig::builder("m").build())
                .unwrap();
        assert_eq!(defaults.chunk_chars, 8);
        assert_eq!(defaults.chunk_delay, Duration::from_millis(20));
    }

    #[test]
    fn bad_agent_overrides_are_refused() {
        let options = MockOptions::default();
        let bad = [
            AgentConfig::builder("m")
                .extra("chunk_chars", json!(0))
                .build(),
            AgentConfig::builder("m")
                .extra("chunk_delay_ms", json!("fast"))
                .build(),
        ];
        for config in bad {
            assert!(
                matches!(
                    AgentSettings::resolve(&options, &config),
                    Err(Error::InvalidConfig(_))
                ),
                "{config:?} should be refused"
            );
        }
    }
}
