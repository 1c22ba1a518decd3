//! A JSON value whose objects keep their insertion order, and its pretty printer.
//!
//! The renderers build documents with a fixed key order: `$schema` first, then `title`,
//! `type`, `properties` and so on. The output must not depend on the features that other
//! crates in the build enable on `serde_json`, because `preserve_order` changes its map
//! order. So the documents are built and printed here.

use std::fmt::Write;

/// A JSON value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Json {
    Null,
    Bool(bool),
    /// Integers only, because the documents contain no fractional numbers.
    Int(i128),
    String(String),
    Array(Vec<Json>),
    Object(Object),
}

/// A JSON object with keys in insertion order.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Object {
    entries: Vec<(String, Json)>,
}

impl Object {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Sets `key` to `value`, replacing an earlier value in place.
    pub(crate) fn insert(&mut self, key: impl Into<String>, value: impl Into<Json>) {
        let key = key.into();
        let value = value.into();
        match self
            .entries
            .iter_mut()
            .find(|(existing, _)| *existing == key)
        {
            Some((_, slot)) => *slot = value,
            None => self.entries.push((key, value)),
        }
    }

    /// Returns `self` with `key` set, for building objects in one expression.
    pub(crate) fn with(mut self, key: impl Into<String>, value: impl Into<Json>) -> Self {
        self.insert(key, value);
        self
    }

    pub(crate) fn get(&self, key: &str) -> Option<&Json> {
        self.entries
            .iter()
            .find(|(existing, _)| existing == key)
            .map(|(_, value)| value)
    }

    pub(crate) fn get_mut(&mut self, key: &str) -> Option<&mut Json> {
        self.entries
            .iter_mut()
            .find(|(existing, _)| existing == key)
            .map(|(_, value)| value)
    }

    /// Appends the entries of `other`, replacing values of keys already present.
    pub(crate) fn extend(&mut self, other: Object) {
        for (key, value) in other.entries {
            self.insert(key, value);
        }
    }

    pub(crate) fn remove(&mut self, key: &str) -> Option<Json> {
        let position = self
            .entries
            .iter()
            .position(|(existing, _)| existing == key)?;
        Some(self.entries.remove(position).1)
    }

    pub(crate) fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl From<Object> for Json {
    fn from(object: Object) -> Self {
        Self::Object(object)
    }
}

impl From<&str> for Json {
    fn from(text: &str) -> Self {
        Self::String(text.to_owned())
    }
}

impl From<String> for Json {
    fn from(text: String) -> Self {
        Self::String(text)
    }
}

impl From<bool> for Json {
    fn from(value: bool) -> Self {
        Self::Bool(value)
    }
}

impl From<i128> for Json {
    fn from(value: i128) -> Self {
        Self::Int(value)
    }
}

impl From<u64> for Json {
    fn from(value: u64) -> Self {
        Self::Int(value.into())
    }
}

impl From<usize> for Json {
    fn from(value: usize) -> Self {
        // A usize is at most 64 bits on every supported target.
        Self::Int(value as i128)
    }
}

impl From<Vec<Json>> for Json {
    fn from(items: Vec<Json>) -> Self {
        Self::Array(items)
    }
}

impl Json {
    /// Returns the array of strings `items`.
    pub(crate) fn strings<S: AsRef<str>>(items: impl IntoIterator<Item = S>) -> Self {
        Self::Array(
            items
                .into_iter()
                .map(|item| Self::String(item.as_ref().to_owned()))
                .collect(),
        )
    }

    /// Prints the value with two-space indentation and a final newline.
    pub(crate) fn to_pretty(&self) -> String {
        let mut out = String::new();
        self.write(&mut out, 0);
        out.push('\n');
        out
    }

    fn write(&self, out: &mut String, indent: usize) {
        match self {
            Self::Null => out.push_str("null"),
            Self::Bool(value) => out.push_str(if *value { "true" } else { "false" }),
            Self::Int(value) => {
                let _ = write!(out, "{value}");
            }
            Self::String(text) => write_string(out, text),
            Self::Array(items) if items.is_empty() => out.push_str("[]"),
            Self::Array(items) => {
                out.push('[');
                for (position, item) in items.iter().enumerate() {
                    if position > 0 {
                        out.push(',');
                    }
                    newline(out, indent + 1);
                    item.write(out, indent + 1);
                }
                newline(out, indent);
                out.push(']');
            }
            Self::Object(object) if object.is_empty() => out.push_str("{}"),
            Self::Object(object) => {
                out.push('{');
                for (position, (key, value)) in object.entries.iter().enumerate() {
                    if position > 0 {
                        out.push(',');
                    }
                    newline(out, indent + 1);
                    write_string(out, key);
                    out.push_str(": ");
                    value.write(out, indent + 1);
                }
                newline(out, indent);
                out.push('}');
            }
        }
    }
}

fn newline(out: &mut String, indent: usize) {
    out.push('\n');
    for _ in 0..indent {
        out.push_str("  ");
    }
}

/// Writes `text` as a JSON string, escaping `"`, `\` and control characters.
fn write_string(out: &mut String, text: &str) {
    out.push('"');
    for ch in text.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            ch if u32::from(ch) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(ch));
            }
            ch => out.push(ch),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_keep_insertion_order() {
        let object = Object::new()
            .with("z", 1_u64)
            .with("a", Json::Array(vec![Json::Null, true.into()]))
            .with("m", Object::new())
            .with("z", 2_u64);
        let expected = "{\n  \"z\": 2,\n  \"a\": [\n    null,\n    true\n  ],\n  \"m\": {}\n}\n";
        assert_eq!(Json::from(object).to_pretty(), expected);
    }

    #[test]
    fn strings_are_escaped() {
        let text = Json::from("a \"quote\" \\ tab\t line\n bell\u{7} é");
        assert_eq!(
            text.to_pretty(),
            "\"a \\\"quote\\\" \\\\ tab\\t line\\n bell\\u0007 é\"\n"
        );
    }

    #[test]
    fn large_integers_are_exact() {
        let object = Object::new()
            .with("max", i128::from(u64::MAX))
            .with("min", i128::from(i64::MIN));
        assert_eq!(
            Json::from(object).to_pretty(),
            "{\n  \"max\": 18446744073709551615,\n  \"min\": -9223372036854775808\n}\n"
        );
    }
}
