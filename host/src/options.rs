//! `--option key=value` on the command line, typed like TOML.

/// Parses `key=value`. The value is read as a TOML value (`5`, `true`, `"text"`,
/// `["a", "b"]`); anything that is not valid TOML is taken as a plain string, so
/// `agent=my_agents.support:SupportAgent` needs no quotes.
pub fn parse_option(text: &str) -> Result<(String, serde_json::Value), String> {
    let (key, value) = text
        .split_once('=')
        .ok_or_else(|| format!("option {text:?}: expected key=value"))?;
    let key = key.trim();
    if key.is_empty() {
        return Err(format!("option {text:?}: the key is empty"));
    }
    let value = value.trim();
    let parsed = toml::from_str::<toml::Table>(&format!("value = {value}"))
        .ok()
        .and_then(|mut table| table.remove("value"))
        .and_then(|value| serde_json::to_value(value).ok())
        .unwrap_or_else(|| serde_json::Value::String(value.to_owned()));
    Ok((key.to_owned(), parsed))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn values_are_typed() {
        assert_eq!(parse_option("a=5").unwrap(), ("a".into(), json!(5)));
        assert_eq!(parse_option("a = true").unwrap(), ("a".into(), json!(true)));
        assert_eq!(
            parse_option("a=\"x y\"").unwrap(),
            ("a".into(), json!("x y"))
        );
        assert_eq!(
            parse_option("a=[\"p\", \"q\"]").unwrap().1,
            json!(["p", "q"])
        );
        assert_eq!(
            parse_option("agent=my_agents.support:SupportAgent")
                .unwrap()
                .1,
            json!("my_agents.support:SupportAgent")
        );
        assert_eq!(parse_option("a=").unwrap().1, json!(""));
    }

    #[test]
    fn malformed_options_are_refused() {
        assert!(parse_option("novalue").is_err());
        assert!(parse_option("=5").is_err());
    }
}
