//! Typed field access on decoded JSON for importers: each getter names the field in its error.
//!
//! In: a JSON object (or value) and a field name. Out: the field as a Rust type, `None` when it
//! is missing or null, or an error message like ``field `resolved`: expected a boolean, found
//! string`` that the caller prefixes with where it looked.

use super::json_type;
use serde_json::{Map, Value};

pub type Object = Map<String, Value>;

/// The error for a field of the wrong type.
pub fn wrong_type(key: &str, expected: &str, found: &Value) -> String {
    format!("field `{key}`: expected {expected}, found {}", json_type(found))
}

/// The error for a missing required field.
pub fn missing(key: &str) -> String {
    format!("missing field `{key}`")
}

/// The value as an object, or an error saying what `what` should have been.
pub fn as_object<'a>(value: &'a Value, what: &str) -> Result<&'a Object, String> {
    value.as_object().ok_or_else(|| format!("{what}: expected an object, found {}", json_type(value)))
}

/// A field that is present and not null.
fn present<'a>(obj: &'a Object, key: &str) -> Option<&'a Value> {
    obj.get(key).filter(|v| !v.is_null())
}

/// An optional string field.
pub fn opt_str<'a>(obj: &'a Object, key: &str) -> Result<Option<&'a str>, String> {
    match present(obj, key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(wrong_type(key, "a string", other)),
    }
}

/// A required string field.
pub fn req_str<'a>(obj: &'a Object, key: &str) -> Result<&'a str, String> {
    opt_str(obj, key)?.ok_or_else(|| missing(key))
}

/// An optional boolean field.
pub fn opt_bool(obj: &Object, key: &str) -> Result<Option<bool>, String> {
    match present(obj, key) {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(other) => Err(wrong_type(key, "a boolean", other)),
    }
}

/// An optional array field.
pub fn opt_array<'a>(obj: &'a Object, key: &str) -> Result<Option<&'a Vec<Value>>, String> {
    match present(obj, key) {
        None => Ok(None),
        Some(Value::Array(a)) => Ok(Some(a)),
        Some(other) => Err(wrong_type(key, "an array", other)),
    }
}

/// An optional object field.
pub fn opt_object<'a>(obj: &'a Object, key: &str) -> Result<Option<&'a Object>, String> {
    match present(obj, key) {
        None => Ok(None),
        Some(Value::Object(o)) => Ok(Some(o)),
        Some(other) => Err(wrong_type(key, "an object", other)),
    }
}

/// An optional number field as `f64`.
pub fn opt_f64(obj: &Object, key: &str) -> Result<Option<f64>, String> {
    match present(obj, key) {
        None => Ok(None),
        Some(Value::Number(n)) => Ok(n.as_f64()),
        Some(other) => Err(wrong_type(key, "a number", other)),
    }
}

/// An optional field holding a list of strings (missing or null: empty).
pub fn string_list(obj: &Object, key: &str) -> Result<Vec<String>, String> {
    let Some(items) = opt_array(obj, key)? else { return Ok(Vec::new()) };
    items
        .iter()
        .enumerate()
        .map(|(i, v)| match v {
            Value::String(s) => Ok(s.clone()),
            other => Err(format!("field `{key}[{i}]`: expected a string, found {}", json_type(other))),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Object {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn getters_name_the_field() {
        let o = obj(json!({"s": "x", "n": 1, "b": true, "l": ["a", 2], "z": null}));
        assert_eq!(opt_str(&o, "s"), Ok(Some("x")));
        assert_eq!(opt_str(&o, "z"), Ok(None));
        assert_eq!(opt_str(&o, "n"), Err("field `n`: expected a string, found number".to_string()));
        assert_eq!(req_str(&o, "q"), Err("missing field `q`".to_string()));
        assert_eq!(opt_bool(&o, "b"), Ok(Some(true)));
        assert_eq!(opt_f64(&o, "n"), Ok(Some(1.0)));
        assert_eq!(string_list(&o, "l"), Err("field `l[1]`: expected a string, found number".to_string()));
        assert_eq!(string_list(&o, "missing"), Ok(vec![]));
        assert!(opt_object(&o, "s").is_err());
    }
}
