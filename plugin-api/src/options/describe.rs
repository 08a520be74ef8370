//! The schema as a person reads it: one line per option, for `agent-host inspect`.

use serde_json::Value;

use super::check::type_word;
use super::schema::OptionsSchema;

/// One top-level option as `inspect` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptionSpec {
    pub name: String,
    /// `integer`, `string`, `"echo" | "scripted"`, `array of string`, ...
    pub kind: String,
    /// The default as JSON, when the schema states one (`null`: unset).
    pub default: Option<Value>,
    /// `1..=1000000`, `>= 0.5`, ...; `None` when only the type bounds it.
    pub range: Option<String>,
    /// The field's doc comment.
    pub help: String,
    pub required: bool,
}

impl OptionsSchema {
    /// Every top-level option, by name.
    pub fn options(&self) -> Vec<OptionSpec> {
        let root = self.root();
        let required: Vec<&str> = root
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let Some(properties) = root.get("properties").and_then(Value::as_object) else {
            return Vec::new();
        };
        let mut options: Vec<OptionSpec> = properties
            .iter()
            .map(|(name, property)| {
                // `description` and `default` may sit beside a `$ref`, or in its target.
                let target = self.resolve(property);
                let field = |key: &str| property.get(key).or_else(|| target.get(key));
                OptionSpec {
                    name: name.clone(),
                    kind: type_text(self, property),
                    default: field("default").cloned(),
                    range: range_text(value_schema(self, property)),
                    help: field("description")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .split_whitespace()
                        .collect::<Vec<_>>()
                        .join(" "),
                    required: required.contains(&name.as_str()),
                }
            })
            .collect();
        options.sort_by(|a, b| a.name.cmp(&b.name));
        options
    }
}

/// The type of a value `node` accepts, in a word or a few: `null` alternatives (an
/// `Option`) are left out, since leaving the option unset says the same.
pub(super) fn type_text(schema: &OptionsSchema, node: &Value) -> String {
    type_text_within(schema, node, 0)
}

/// A schema from a plugin may refer to itself (`items` of its own `$ref`): past a few
/// levels the text stops instead of recursing without end.
fn type_text_within(schema: &OptionsSchema, node: &Value, depth: usize) -> String {
    if depth > 6 {
        return "...".to_owned();
    }
    let type_text =
        |schema: &OptionsSchema, node: &Value| type_text_within(schema, node, depth + 1);
    let node = schema.resolve(node);
    if let Some(allowed) = node.get("enum").and_then(Value::as_array) {
        let values: Vec<String> = allowed
            .iter()
            .filter(|value| !value.is_null())
            .map(Value::to_string)
            .collect();
        return values.join(" | ");
    }
    if let Some(constant) = node.get("const") {
        return constant.to_string();
    }
    for keyword in ["anyOf", "oneOf"] {
        if let Some(branches) = node.get(keyword).and_then(Value::as_array) {
            let texts: Vec<String> = branches
                .iter()
                .filter(|branch| !is_null_schema(schema, branch))
                .map(|branch| type_text(schema, branch))
                .collect();
            return texts.join(" | ");
        }
    }
    let names: Vec<&str> = match node.get("type") {
        Some(Value::String(name)) => vec![name.as_str()],
        Some(Value::Array(names)) => names
            .iter()
            .filter_map(Value::as_str)
            .filter(|name| *name != "null")
            .collect(),
        _ => return "any".to_owned(),
    };
    let texts: Vec<String> = names
        .iter()
        .map(|name| match *name {
            "array" => match node.get("items") {
                Some(items) => format!("array of {}", type_text(schema, items)),
                None => "array".to_owned(),
            },
            "object" => match node.get("additionalProperties") {
                Some(Value::Object(_)) => format!(
                    "table of {}",
                    type_text(schema, &node["additionalProperties"])
                ),
                _ => "table".to_owned(),
            },
            other => type_word(other).to_owned(),
        })
        .collect();
    if texts.is_empty() {
        "null".to_owned()
    } else {
        texts.join(" | ")
    }
}

fn is_null_schema(schema: &OptionsSchema, node: &Value) -> bool {
    schema.resolve(node).get("type") == Some(&Value::String("null".into()))
}

/// The schema that bounds an option's value: an `Option`'s non-null alternative.
fn value_schema<'a>(schema: &'a OptionsSchema, node: &'a Value) -> &'a Value {
    let node = schema.resolve(node);
    for keyword in ["anyOf", "oneOf"] {
        if let Some(branches) = node.get(keyword).and_then(Value::as_array) {
            let mut others = branches
                .iter()
                .filter(|branch| !is_null_schema(schema, branch));
            if let (Some(only), None) = (others.next(), others.next()) {
                return schema.resolve(only);
            }
        }
    }
    node
}

fn range_text(node: &Value) -> Option<String> {
    let number = |key: &str| node.get(key).filter(|bound| bound.is_number());
    let (min, max) = (number("minimum"), number("maximum"));
    let zero = |bound: &Value| bound.as_f64() == Some(0.0);
    let text = match (min, max) {
        (Some(min), Some(max)) => format!("{min}..={max}"),
        // An unsigned type's own floor says nothing.
        (Some(min), None) if zero(min) => return length_text(node),
        (Some(min), None) => format!(">= {min}"),
        (None, Some(max)) => format!("<= {max}"),
        (None, None) => match (number("exclusiveMinimum"), number("exclusiveMaximum")) {
            (Some(min), Some(max)) => format!("> {min} and < {max}"),
            (Some(min), None) => format!("> {min}"),
            (None, Some(max)) => format!("< {max}"),
            (None, None) => return length_text(node),
        },
    };
    Some(text)
}

fn length_text(node: &Value) -> Option<String> {
    for (min, max, unit) in [
        ("minLength", "maxLength", "characters"),
        ("minItems", "maxItems", "items"),
    ] {
        let bound = |key: &str| node.get(key).and_then(Value::as_u64);
        match (bound(min), bound(max)) {
            (Some(min), Some(max)) => return Some(format!("{min}..={max} {unit}")),
            (Some(1), None) => return Some("not empty".to_owned()),
            (Some(min), None) if min > 0 => return Some(format!("at least {min} {unit}")),
            (_, Some(max)) => return Some(format!("at most {max} {unit}")),
            _ => {}
        }
    }
    None
}
