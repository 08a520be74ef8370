//! The schema itself: a JSON Schema document, as `schemars` derives it.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The JSON Schema of a plugin's options type (draft 2020-12, as `schemars` writes it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct OptionsSchema(Value);

impl OptionsSchema {
    /// The schema of `T`, read from its `JsonSchema` derive.
    pub fn of<T: JsonSchema>() -> Self {
        OptionsSchema(schemars::schema_for!(T).to_value())
    }

    /// A schema that crossed the ABI as text; `None` when it is not a JSON object (or
    /// boolean) schema, so a broken one is ignored rather than trusted.
    pub fn from_json(text: &str) -> Option<Self> {
        let value: Value = serde_json::from_str(text).ok()?;
        (value.is_object() || value.is_boolean()).then_some(OptionsSchema(value))
    }

    pub fn to_json(&self) -> String {
        self.0.to_string()
    }

    pub fn as_value(&self) -> &Value {
        &self.0
    }

    /// The schema of top-level option `name`, with its `$ref` followed.
    pub fn option(&self, name: &str) -> Option<&Value> {
        let property = self.root().get("properties")?.get(name)?;
        Some(self.resolve(property))
    }

    /// The root, with its `$ref` followed.
    pub(super) fn root(&self) -> &Value {
        self.resolve(&self.0)
    }

    /// Follows `$ref`s into `$defs` (or `definitions`); an unknown one resolves to
    /// itself, which then checks nothing but its siblings.
    pub(super) fn resolve<'a>(&'a self, mut node: &'a Value) -> &'a Value {
        // A bound on the chain, so a schema that refers to itself cannot loop.
        for _ in 0..32 {
            let Some(target) = node
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|reference| self.definition(reference))
            else {
                break;
            };
            node = target;
        }
        node
    }

    fn definition(&self, reference: &str) -> Option<&Value> {
        let name = reference
            .strip_prefix("#/$defs/")
            .or_else(|| reference.strip_prefix("#/definitions/"))?;
        self.0
            .get("$defs")
            .or_else(|| self.0.get("definitions"))?
            .get(name)
    }
}
