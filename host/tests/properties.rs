//! Property tests for what a user types: the TOML config and `--option key=value`.
//!
//! Neither may panic on any input; an error is one line and names what is wrong (the
//! field, the key, or the missing `key=value` form); what is valid is read as written.

use std::path::PathBuf;

use agent_host::{parse_option, Config};
use proptest::prelude::*;
use serde_json::Value as Json;
use toml::{Table, Value};

/// The keys `Config` knows, at the top level and in a `[plugins.<name>]` table.
const TOP_LEVEL_KEYS: &[&str] = &["backend", "plugin_dirs", "backends", "plugins"];
const PIN_KEYS: &[&str] = &["path", "sha256"];

fn assert_one_line(error: &str) -> Result<(), TestCaseError> {
    prop_assert!(!error.is_empty(), "an empty error");
    prop_assert!(!error.contains('\n'), "the error spans lines: {error:?}");
    Ok(())
}

// ---- strategies ----

/// Any unicode, control characters included.
fn text() -> impl Strategy<Value = String> {
    prop::collection::vec(any::<char>(), 0..24).prop_map(String::from_iter)
}

/// Text made of TOML's own tokens and the config's keys, so that much of it parses a
/// little way before it goes wrong.
fn toml_like_text() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        Just("[".to_owned()),
        Just("]".to_owned()),
        Just("[[".to_owned()),
        Just("=".to_owned()),
        Just(" = ".to_owned()),
        Just("\"".to_owned()),
        Just("'".to_owned()),
        Just("\"\"\"".to_owned()),
        Just(".".to_owned()),
        Just(",".to_owned()),
        Just("{".to_owned()),
        Just("}".to_owned()),
        Just("\n".to_owned()),
        Just("#".to_owned()),
        Just("\\u".to_owned()),
        Just("1979-05-27T07:32:00Z".to_owned()),
        Just("-0x7f".to_owned()),
        Just("inf".to_owned()),
        Just("9223372036854775808".to_owned()),
        prop::sample::select(TOP_LEVEL_KEYS).prop_map(str::to_owned),
        prop::sample::select(PIN_KEYS).prop_map(str::to_owned),
        Just("mock".to_owned()),
        text(),
    ];
    prop::collection::vec(token, 0..40).prop_map(|tokens| tokens.concat())
}

/// A TOML value of any type; arrays and tables nest.
fn any_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        text().prop_map(Value::String),
        any::<i64>().prop_map(Value::Integer),
        any::<f64>().prop_map(Value::Float),
        any::<bool>().prop_map(Value::Boolean),
    ];
    leaf.prop_recursive(2, 12, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
            prop::collection::btree_map(text(), inner, 0..3)
                .prop_map(|map| Value::Table(map.into_iter().collect())),
        ]
    })
}

fn digest() -> impl Strategy<Value = String> {
    "[0-9a-fA-F]{64}"
}

/// A config that is valid in every part, as a TOML table.
fn valid_table() -> impl Strategy<Value = Table> {
    let pin = (prop::option::of(text()), prop::option::of(digest())).prop_map(|(path, digest)| {
        let mut pin = Table::new();
        if let Some(path) = path {
            pin.insert("path".into(), Value::String(path));
        }
        if let Some(digest) = digest {
            pin.insert("sha256".into(), Value::String(digest));
        }
        Value::Table(pin)
    });
    let options = prop::collection::btree_map(text(), any_value(), 0..3)
        .prop_map(|map| Value::Table(map.into_iter().collect()));
    (
        prop::option::of(text()),
        prop::option::of(prop::collection::vec(text(), 0..3)),
        prop::collection::btree_map(text(), options, 0..3),
        prop::collection::btree_map(text(), pin, 0..3),
    )
        .prop_map(|(backend, plugin_dirs, backends, plugins)| {
            let mut table = Table::new();
            if let Some(backend) = backend {
                table.insert("backend".into(), Value::String(backend));
            }
            if let Some(dirs) = plugin_dirs {
                let dirs = dirs.into_iter().map(Value::String).collect();
                table.insert("plugin_dirs".into(), Value::Array(dirs));
            }
            if !backends.is_empty() {
                table.insert(
                    "backends".into(),
                    Value::Table(backends.into_iter().collect()),
                );
            }
            if !plugins.is_empty() {
                table.insert(
                    "plugins".into(),
                    Value::Table(plugins.into_iter().collect()),
                );
            }
            table
        })
}

/// Any unicode but control characters.
fn printable_text() -> impl Strategy<Value = String> {
    text().prop_map(|text| text.chars().filter(|c| !c.is_control()).collect())
}

/// A key that `Config` does not know at the level it is put.
fn unknown_key(
    known: &'static [&'static str],
    key: impl Strategy<Value = String>,
) -> impl Strategy<Value = String> {
    key.prop_filter("an unknown key", move |key| !known.contains(&key.as_str()))
}

/// Puts `key = value` at the top level or into `[plugins.mock]`; returns the key.
fn insert_unknown(table: &mut Table, top_level: bool, key: String, value: Value) -> String {
    if top_level {
        table.insert(key.clone(), value);
    } else {
        let mut pin = Table::new();
        pin.insert(key.clone(), value);
        let mut plugins = Table::new();
        plugins.insert("mock".into(), Value::Table(pin));
        table.insert("plugins".into(), Value::Table(plugins));
    }
    key
}

/// A value of another type than the field expects: `(field, value)`.
fn wrong_type(field: &'static str) -> impl Strategy<Value = (&'static str, Value)> {
    let not_a_string = prop_oneof![
        any::<i64>().prop_map(Value::Integer),
        any::<bool>().prop_map(Value::Boolean),
        prop::collection::vec(any::<i64>().prop_map(Value::Integer), 0..2).prop_map(Value::Array),
    ];
    let not_a_table = prop_oneof![
        text().prop_map(Value::String),
        any::<i64>().prop_map(Value::Integer),
        prop::collection::vec(text().prop_map(Value::String), 0..2).prop_map(Value::Array),
    ];
    let not_strings = prop_oneof![
        text().prop_map(Value::String),
        any::<bool>().prop_map(Value::Boolean),
        prop::collection::vec(any::<i64>().prop_map(Value::Integer), 1..3).prop_map(Value::Array),
    ];
    match field {
        "backend" | "path" | "sha256" => not_a_string.prop_map(move |v| (field, v)).boxed(),
        "plugin_dirs" => not_strings.prop_map(move |v| (field, v)).boxed(),
        _ => not_a_table.prop_map(move |v| (field, v)).boxed(),
    }
}

/// A TOML value `parse_option` reads back as the same JSON: strings, integers, finite
/// floats, booleans and arrays of them.
fn option_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        text().prop_map(Value::String),
        any::<i64>().prop_map(Value::Integer),
        any::<f64>()
            .prop_filter("finite", |number| number.is_finite())
            .prop_map(Value::Float),
        any::<bool>().prop_map(Value::Boolean),
    ];
    leaf.prop_recursive(2, 8, 3, |inner| {
        prop::collection::vec(inner, 0..3).prop_map(Value::Array)
    })
}

// ---- properties ----

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Any text: a config or a one-line error, never a panic.
    #[test]
    fn any_text_is_read_or_refused_in_one_line(text in prop_oneof![text(), toml_like_text()]) {
        if let Err(error) = Config::from_toml(&text) {
            assert_one_line(&error)?;
        }
    }

    /// A valid config is read as written.
    #[test]
    fn a_valid_config_is_read_as_written(table in valid_table()) {
        let text = toml::to_string(&table).expect("a table serializes");
        let config = Config::from_toml(&text)
            .map_err(|error| TestCaseError::fail(format!("{error}\n{text}")))?;
        prop_assert_eq!(
            config.backend.as_deref(),
            table.get("backend").and_then(Value::as_str)
        );
        let dirs: Vec<PathBuf> = table
            .get("plugin_dirs")
            .and_then(Value::as_array)
            .map(|dirs| dirs.iter().filter_map(Value::as_str).map(PathBuf::from).collect())
            .unwrap_or_default();
        prop_assert_eq!(&config.plugin_dirs, &dirs);
        let backends = table.get("backends").and_then(Value::as_table);
        for (name, options) in backends.into_iter().flatten() {
            let expected = serde_json::to_value(options).expect("options convert");
            prop_assert_eq!(Json::Object(config.backend_options(name, &[])), expected);
        }
        let plugins = table.get("plugins").and_then(Value::as_table);
        prop_assert_eq!(config.plugins.len(), plugins.map_or(0, Table::len));
        for (name, pin) in plugins.into_iter().flatten() {
            let read = &config.plugins[name];
            prop_assert_eq!(
                read.path.as_deref(),
                pin.get("path").and_then(Value::as_str).map(std::path::Path::new)
            );
            prop_assert_eq!(read.sha256.as_deref(), pin.get("sha256").and_then(Value::as_str));
        }
    }

    /// An unknown key, at the top level or in a `[plugins.<name>]` table, is refused in
    /// one line that names it.
    #[test]
    fn an_unknown_key_is_named(
        mut table in valid_table(),
        top_level in any::<bool>(),
        key in printable_text(),
        value in any_value(),
    ) {
        let known = if top_level { TOP_LEVEL_KEYS } else { PIN_KEYS };
        prop_assume!(!known.contains(&key.as_str()));
        let key = insert_unknown(&mut table, top_level, key, value);
        let text = toml::to_string(&table).expect("a table serializes");
        let error = Config::from_toml(&text).expect_err("an unknown key is refused");
        assert_one_line(&error)?;
        prop_assert!(error.contains(&key), "{error:?} does not name {key:?}");
    }

    /// The same with keys that hold control characters (a quoted `"a\nb"` key): the
    /// error must still be one line.
    #[test]
    fn an_unknown_key_with_control_characters_stays_one_line(
        mut table in valid_table(),
        top_level in any::<bool>(),
        key in unknown_key(TOP_LEVEL_KEYS, text()),
        value in any_value(),
    ) {
        insert_unknown(&mut table, top_level, key, value);
        let text = toml::to_string(&table).expect("a table serializes");
        let error = Config::from_toml(&text).expect_err("an unknown key is refused");
        assert_one_line(&error)?;
    }

    /// A known field with a value of the wrong type is refused in one line that names
    /// the field.
    #[test]
    fn a_wrong_type_names_the_field(
        mut table in valid_table(),
        (field, value) in prop::sample::select(&["backend", "plugin_dirs", "backends", "plugins", "path", "sha256"][..])
            .prop_flat_map(wrong_type),
    ) {
        if matches!(field, "path" | "sha256") {
            let mut pin = Table::new();
            pin.insert(field.into(), value);
            let mut plugins = Table::new();
            plugins.insert("mock".into(), Value::Table(pin));
            table.insert("plugins".into(), Value::Table(plugins));
        } else {
            table.insert(field.into(), value);
        }
        let text = toml::to_string(&table).expect("a table serializes");
        let error = Config::from_toml(&text).expect_err("a wrong type is refused");
        assert_one_line(&error)?;
        prop_assert!(error.contains(field), "{error:?} does not name {field:?}");
    }

    /// `--option` on any text: a `(key, value)` whose key is the trimmed text before the
    /// first `=`, or a one-line error that names the key or asks for `key=value`.
    #[test]
    fn any_option_is_read_or_refused_in_one_line(text in prop_oneof![text(), toml_like_text()]) {
        match parse_option(&text) {
            Ok((key, _)) => {
                let (before, _) = text.split_once('=').expect("an accepted option has a =");
                prop_assert_eq!(key.as_str(), before.trim());
                prop_assert!(!key.is_empty());
            }
            Err(error) => {
                assert_one_line(&error)?;
                prop_assert!(
                    error.contains("key=value") || error.contains("key is empty"),
                    "{error:?}"
                );
            }
        }
    }

    /// `key=<a TOML value>` gives that key and that value, as JSON.
    #[test]
    fn a_typed_option_is_read_as_written(
        key in "[A-Za-z_][A-Za-z0-9_.-]{0,16}",
        value in option_value(),
    ) {
        let written = value.to_string();
        let (read_key, read_value) = parse_option(&format!("{key}={written}"))
            .map_err(TestCaseError::fail)?;
        prop_assert_eq!(read_key, key);
        prop_assert_eq!(read_value, serde_json::to_value(&value).expect("a value converts"));
    }
}
