use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{OptionError, OptionsSchema};
use crate::kit::NoOptions;

/// An author's options type, written without `deny_unknown_fields`.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(default)]
struct Lenient {
    /// The model's base URL.
    base_url: String,
    /// Seconds to wait for the first byte.
    #[schemars(range(min = 1, max = 600))]
    first_byte_timeout_s: u32,
    temperature: Option<f64>,
    mode: Mode,
    retry: Retry,
    stop: Vec<String>,
    headers: BTreeMap<String, String>,
}

impl Default for Lenient {
    fn default() -> Self {
        Lenient {
            base_url: "http://127.0.0.1:8080".into(),
            first_byte_timeout_s: 30,
            temperature: None,
            mode: Mode::Fast,
            retry: Retry { max_ms: 100 },
            stop: Vec::new(),
            headers: BTreeMap::new(),
        }
    }
}

#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
enum Mode {
    Fast,
    Careful,
}

#[derive(Debug, Deserialize, Serialize, JsonSchema)]
struct Retry {
    max_ms: u64,
}

fn refusal(options: Value) -> OptionError {
    OptionsSchema::of::<Lenient>()
        .check(&options)
        .expect_err("should be refused")
}

#[test]
fn a_struct_without_deny_unknown_fields_still_refuses_unknown_keys() {
    let error = refusal(json!({"base_ulr": "x"}));
    assert_eq!(error.path, "base_ulr");
    assert!(
        error.problem.contains("did you mean `base_url`?"),
        "{error}"
    );
    assert!(error.problem.contains("first_byte_timeout_s"), "{error}");
    // serde alone would have taken it.
    assert!(serde_json::from_value::<Lenient>(json!({"base_ulr": "x"})).is_ok());
}

#[test]
fn nested_structs_are_closed_too_and_maps_stay_open() {
    let error = refusal(json!({"retry": {"max_ms": 5, "tries": 3}}));
    assert_eq!(error.path, "retry.tries");
    let schema = OptionsSchema::of::<Lenient>();
    assert_eq!(
        schema.check(&json!({"headers": {"x-anything": "v"}})),
        Ok(())
    );
    let error = refusal(json!({"headers": {"x-anything": 5}}));
    assert_eq!(error.path, "headers.x-anything");
    assert!(error.problem.contains("expected a string"), "{error}");
}

#[test]
fn wrong_types_are_named_with_what_was_expected_and_given() {
    let error = refusal(json!({"first_byte_timeout_s": "ten"}));
    assert_eq!(error.path, "first_byte_timeout_s");
    assert_eq!(error.problem, "expected an integer, got the string \"ten\"");
    let error = refusal(json!({"mode": "slow"}));
    assert_eq!(error.path, "mode");
    assert!(error.problem.contains("\"fast\""), "{error}");
    let error = refusal(json!({"stop": ["a", 2]}));
    assert_eq!(error.path, "stop[1]");
    let error = refusal(json!({"temperature": "hot"}));
    assert_eq!(error.path, "temperature");
    assert!(error.problem.contains("number"), "{error}");
    assert!(!error.to_string().contains("line"), "{error}");
}

#[test]
fn ranges_and_optional_values_are_checked() {
    let error = refusal(json!({"first_byte_timeout_s": 0}));
    assert_eq!(error.problem, "must be at least 1, got 0");
    let error = refusal(json!({"first_byte_timeout_s": 601}));
    assert_eq!(error.problem, "must be at most 600, got 601");
    let schema = OptionsSchema::of::<Lenient>();
    assert_eq!(
        schema.check(&json!({"temperature": null, "first_byte_timeout_s": 600})),
        Ok(())
    );
    assert_eq!(schema.check(&json!({"temperature": 0.7})), Ok(()));
    let error = refusal(json!({"retry": {}}));
    assert_eq!(error.path, "retry.max_ms");
    assert_eq!(error.problem, "is required");
}

#[test]
fn a_plugin_without_options_refuses_any() {
    let error = OptionsSchema::of::<NoOptions>()
        .check(&json!({"x": 1}))
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "option `x`: unknown option: this plugin takes no options"
    );
    assert_eq!(OptionsSchema::of::<NoOptions>().check(&json!({})), Ok(()));
}

#[test]
fn the_description_has_type_default_range_and_help() {
    let options = OptionsSchema::of::<Lenient>().options();
    let find = |name: &str| options.iter().find(|option| option.name == name).unwrap();
    let timeout = find("first_byte_timeout_s");
    assert_eq!(timeout.kind, "integer");
    assert_eq!(timeout.default, Some(json!(30)));
    assert_eq!(timeout.range.as_deref(), Some("1..=600"));
    assert_eq!(timeout.help, "Seconds to wait for the first byte.");
    assert_eq!(find("mode").kind, "\"fast\" | \"careful\"");
    assert_eq!(find("mode").default, Some(json!("fast")));
    assert_eq!(find("temperature").kind, "number");
    assert_eq!(find("stop").kind, "array of string");
    assert_eq!(find("headers").kind, "table of string");
    assert_eq!(find("retry").kind, "table");
    assert_eq!(find("base_url").help, "The model's base URL.");
}

#[test]
fn a_schema_that_is_not_json_is_not_trusted() {
    assert!(OptionsSchema::from_json("{not json").is_none());
    assert!(OptionsSchema::from_json("[1]").is_none());
    let schema = OptionsSchema::of::<Lenient>();
    assert_eq!(OptionsSchema::from_json(&schema.to_json()), Some(schema));
}

#[test]
fn a_schema_that_refers_to_itself_is_described_and_checked_without_end() {
    let schema = OptionsSchema::from_json(
        r##"{"type":"object","properties":{"tree":{"$ref":"#/$defs/T"}},
            "$defs":{"T":{"type":"array","items":{"$ref":"#/$defs/T"}}}}"##,
    )
    .unwrap();
    let options = schema.options();
    assert!(
        options[0].kind.starts_with("array of array of"),
        "{}",
        options[0].kind
    );
    assert!(options[0].kind.ends_with("..."), "{}", options[0].kind);
    assert_eq!(schema.check(&json!({"tree": [[], [[]]]})), Ok(()));
    assert_eq!(
        schema.check(&json!({"tree": [[1]]})).unwrap_err().path,
        "tree[0][0]"
    );
}
