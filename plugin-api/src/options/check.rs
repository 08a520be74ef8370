//! Checking an options table against the schema, before serde sees it.
//!
//! A subset of JSON Schema, the part `schemars` writes: `type`, `enum`, `const`,
//! `$ref`, `anyOf`/`oneOf`/`allOf`, number bounds, string lengths, `items`,
//! `properties`, `required` and `additionalProperties`. One rule is stricter than JSON
//! Schema: an object schema with `properties` (a struct) and no `additionalProperties`
//! is closed, so a misspelt key is refused even when the author left out
//! `#[serde(deny_unknown_fields)]`. A map (`additionalProperties` given) stays open.

use serde_json::Value;

use super::schema::OptionsSchema;

/// What is wrong with an options table: the option (a path such as `retry.max_ms` or
/// `replies[2]`, empty for the table itself) and the problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptionError {
    pub path: String,
    pub problem: String,
}

impl std::fmt::Display for OptionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}", self.problem)
        } else {
            write!(f, "option `{}`: {}", self.path, self.problem)
        }
    }
}

impl OptionsSchema {
    /// Checks `options` (the whole table) against the schema.
    pub fn check(&self, options: &Value) -> Result<(), OptionError> {
        Checker { schema: self }.check(self.as_value(), options, "", true)
    }

    /// The names of the top-level options, sorted.
    pub fn option_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self
            .root()
            .get("properties")
            .and_then(Value::as_object)
            .map(|properties| properties.keys().map(String::as_str).collect())
            .unwrap_or_default();
        names.sort_unstable();
        names
    }
}

struct Checker<'a> {
    schema: &'a OptionsSchema,
}

impl Checker<'_> {
    fn check(
        &self,
        node: &Value,
        value: &Value,
        path: &str,
        root: bool,
    ) -> Result<(), OptionError> {
        let fail = |problem: String| {
            Err(OptionError {
                path: path.to_owned(),
                problem,
            })
        };
        let node = match node {
            Value::Bool(true) => return Ok(()),
            Value::Bool(false) => return fail("is not accepted".to_owned()),
            Value::Object(_) => self.schema.resolve(node),
            _ => return Ok(()),
        };
        for keyword in ["anyOf", "oneOf"] {
            if let Some(branches) = node.get(keyword).and_then(Value::as_array) {
                self.check_any(node, branches, value, path)?;
            }
        }
        if let Some(all) = node.get("allOf").and_then(Value::as_array) {
            for branch in all {
                self.check(branch, value, path, root)?;
            }
        }
        if let Some(constant) = node.get("const") {
            if constant != value {
                return fail(format!("expected {constant}, got {}", kind_of(value)));
            }
        }
        if let Some(allowed) = node.get("enum").and_then(Value::as_array) {
            if !allowed.contains(value) {
                let list: Vec<String> = allowed.iter().map(Value::to_string).collect();
                return fail(format!(
                    "expected one of {}, got {}",
                    list.join(", "),
                    kind_of(value)
                ));
            }
        }
        if let Some(types) = node.get("type") {
            if !type_matches(types, value) {
                return fail(format!(
                    "expected {}, got {}",
                    expected_types(types),
                    kind_of(value)
                ));
            }
        }
        match value {
            Value::Number(number) => check_bounds(node, number).map_or(Ok(()), fail),
            Value::String(text) => {
                let length = text.chars().count() as f64;
                check_length(node, length, "minLength", "maxLength", "characters")
                    .map_or(Ok(()), fail)
            }
            Value::Array(items) => self.check_array(node, items, path),
            Value::Object(map) => self.check_object(node, map, path, root),
            _ => Ok(()),
        }
    }

    /// `anyOf`/`oneOf`: one branch must accept the value. When none does, the error of
    /// the one branch of the value's own type says more than a list of types would.
    fn check_any(
        &self,
        node: &Value,
        branches: &[Value],
        value: &Value,
        path: &str,
    ) -> Result<(), OptionError> {
        let mut errors = Vec::new();
        for branch in branches {
            match self.check(branch, value, path, false) {
                Ok(()) => return Ok(()),
                Err(error) => errors.push((branch, error)),
            }
        }
        let same_type: Vec<_> = errors
            .iter()
            .filter(|(branch, _)| {
                self.schema
                    .resolve(branch)
                    .get("type")
                    .is_some_and(|types| type_matches(types, value))
            })
            .collect();
        if let [(_, error)] = same_type.as_slice() {
            return Err(error.clone());
        }
        Err(OptionError {
            path: path.to_owned(),
            problem: format!(
                "expected {}, got {}",
                super::describe::type_text(self.schema, node),
                kind_of(value)
            ),
        })
    }

    fn check_array(&self, node: &Value, items: &[Value], path: &str) -> Result<(), OptionError> {
        if let Some(problem) =
            check_length(node, items.len() as f64, "minItems", "maxItems", "items")
        {
            return Err(OptionError {
                path: path.to_owned(),
                problem,
            });
        }
        let prefix = node.get("prefixItems").and_then(Value::as_array);
        for (index, item) in items.iter().enumerate() {
            let item_schema = prefix
                .and_then(|prefix| prefix.get(index))
                .or_else(|| node.get("items"));
            if let Some(item_schema) = item_schema {
                self.check(item_schema, item, &format!("{path}[{index}]"), false)?;
            }
        }
        Ok(())
    }

    fn check_object(
        &self,
        node: &Value,
        map: &serde_json::Map<String, Value>,
        path: &str,
        root: bool,
    ) -> Result<(), OptionError> {
        let properties = node.get("properties").and_then(Value::as_object);
        let additional = node.get("additionalProperties");
        // A struct (or the table itself) is closed unless it says otherwise.
        let closed = additional.is_none() && (properties.is_some() || root)
            || additional == Some(&Value::Bool(false));
        let child = |key: &str| {
            if path.is_empty() {
                key.to_owned()
            } else {
                format!("{path}.{key}")
            }
        };
        for (key, item) in map {
            match properties.and_then(|properties| properties.get(key)) {
                Some(property) => self.check(property, item, &child(key), false)?,
                None if closed => {
                    let known: Vec<&str> = properties
                        .map(|properties| properties.keys().map(String::as_str).collect())
                        .unwrap_or_default();
                    return Err(OptionError {
                        path: child(key),
                        problem: unknown_key_problem(key, &known),
                    });
                }
                None => {
                    if let Some(additional) = additional {
                        self.check(additional, item, &child(key), false)?;
                    }
                }
            }
        }
        for required in node
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            if !map.contains_key(required) {
                return Err(OptionError {
                    path: child(required),
                    problem: "is required".to_owned(),
                });
            }
        }
        Ok(())
    }
}

fn unknown_key_problem(key: &str, known: &[&str]) -> String {
    if known.is_empty() {
        return "unknown option: this plugin takes no options".to_owned();
    }
    let mut known = known.to_vec();
    known.sort_unstable();
    let suggestion = known
        .iter()
        .map(|name| (edit_distance(key, name), *name))
        .filter(|(distance, name)| *distance <= (name.len() / 3).max(2))
        .min()
        .map(|(_, name)| format!(" (did you mean `{name}`?)"))
        .unwrap_or_default();
    format!(
        "unknown option{suggestion}; the options are: {}",
        known.join(", ")
    )
}

/// Levenshtein distance, for "did you mean".
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != *cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

fn type_matches(types: &Value, value: &Value) -> bool {
    match types {
        Value::String(name) => is_of_type(name, value),
        Value::Array(names) => names
            .iter()
            .filter_map(Value::as_str)
            .any(|name| is_of_type(name, value)),
        _ => true,
    }
}

fn is_of_type(name: &str, value: &Value) -> bool {
    match name {
        "null" => value.is_null(),
        "boolean" => value.is_boolean(),
        "string" => value.is_string(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        "number" => value.is_number(),
        "integer" => {
            value.is_i64() || value.is_u64() || value.as_f64().is_some_and(|n| n.fract() == 0.0)
        }
        _ => true,
    }
}

/// "an integer", "a string or null".
pub(super) fn expected_types(types: &Value) -> String {
    let names: Vec<&str> = match types {
        Value::String(name) => vec![name.as_str()],
        Value::Array(names) => names.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    let with_article: Vec<String> = names
        .iter()
        .map(|name| match *name {
            "integer" | "array" | "object" => format!("an {}", type_word(name)),
            "null" => "null".to_owned(),
            other => format!("a {}", type_word(other)),
        })
        .collect();
    with_article.join(" or ")
}

/// Options are written in TOML, so an object is a table.
pub(super) fn type_word(name: &str) -> &str {
    match name {
        "object" => "table",
        "array" => "array",
        other => other,
    }
}

/// "the string \"abc\"", "the integer 5", "a table".
fn kind_of(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(flag) => format!("the boolean {flag}"),
        Value::Number(number) if number.is_f64() => format!("the number {number}"),
        Value::Number(number) => format!("the integer {number}"),
        Value::String(text) if text.chars().count() > 40 => {
            format!("a string of {} characters", text.chars().count())
        }
        Value::String(text) => format!("the string {text:?}"),
        Value::Array(_) => "an array".to_owned(),
        Value::Object(_) => "a table".to_owned(),
    }
}

/// Number bounds; `None` when the number is within them.
fn check_bounds(node: &Value, number: &serde_json::Number) -> Option<String> {
    let bound = |keyword: &str| node.get(keyword).filter(|bound| bound.is_number());
    let value = number.as_f64().unwrap_or(f64::NAN);
    let below = |bound: &Value| value < bound.as_f64().unwrap_or(f64::NEG_INFINITY);
    let above = |bound: &Value| value > bound.as_f64().unwrap_or(f64::INFINITY);
    let at = |bound: &Value| Some(value) == bound.as_f64();
    if let Some(min) = bound("minimum").filter(|min| below(min)) {
        return Some(format!("must be at least {min}, got {number}"));
    }
    if let Some(max) = bound("maximum").filter(|max| above(max)) {
        return Some(format!("must be at most {max}, got {number}"));
    }
    if let Some(min) = bound("exclusiveMinimum").filter(|min| below(min) || at(min)) {
        return Some(format!("must be more than {min}, got {number}"));
    }
    if let Some(max) = bound("exclusiveMaximum").filter(|max| above(max) || at(max)) {
        return Some(format!("must be less than {max}, got {number}"));
    }
    None
}

fn check_length(node: &Value, length: f64, min: &str, max: &str, unit: &str) -> Option<String> {
    let bound = |keyword: &str| node.get(keyword).and_then(Value::as_f64);
    if let Some(min) = bound(min).filter(|min| length < *min) {
        return Some(format!("must have at least {min} {unit}, got {length}"));
    }
    if let Some(max) = bound(max).filter(|max| length > *max) {
        return Some(format!("must have at most {max} {unit}, got {length}"));
    }
    None
}
