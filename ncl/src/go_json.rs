//! JSON output byte-identical to Go's `encoding/json`, built on `serde_json`.
//!
//! Bacalhau's Go NCL marshals with `encoding/json`, which differs from `serde_json`'s
//! default output in string escaping, float formatting, map key order and the handling
//! of NaN and infinity. [`to_vec`] closes those gaps so that the same message produces
//! the same envelope bytes, and so the same CRC, on both sides:
//!
//! | value | Go and [`to_vec`] | `serde_json::to_vec` |
//! | --- | --- | --- |
//! | `"<&>"` | `"\u003c\u0026\u003e"` | `"<&>"` |
//! | `"\u{8}"` | `"\u0008"` | `"\b"` |
//! | `1e21_f64` | `1e+21` | `1e21` |
//! | `f64::NAN` | error | `null` |
//! | `HashMap` | keys sorted as strings | iteration order |
//!
//! A Rust `String` is always valid UTF-8, so Go's replacement of invalid UTF-8 bytes by
//! `\ufffd` has no counterpart: a `U+FFFD` character is written as its UTF-8 bytes, as
//! Go writes a valid `U+FFFD`.

mod escape;
mod serializer;

use std::io;

use serde::Serialize;
use serde_json::ser::{CharEscape, Formatter};

pub(crate) use escape::write_str;
use serializer::GoSerializer;

/// A `serde_json` formatter that writes compact JSON the way Go's `encoding/json` does.
///
/// Differences from `serde_json::ser::CompactFormatter`:
/// - `<`, `>` and `&` are written as `\u003c`, `\u003e` and `\u0026`, and U+2028 and
///   U+2029 as `\u2028` and `\u2029` (Go's HTML-safe escaping);
/// - backspace and form feed are written as `\u0008` and `\u000c`;
/// - floats use Go's layout: plain decimal for magnitudes in `[1e-6, 1e21)`, exponent
///   form with an explicit sign outside it (`1e+21`, `1e-7`).
#[derive(Clone, Copy, Debug, Default)]
pub struct GoFormatter;

impl Formatter for GoFormatter {
    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let bytes = fragment.as_bytes();
        let mut start = 0;
        // Most strings need none of these escapes; memchr finds that out with SIMD.
        while let Some(offset) = next_html_special(&bytes[start..]) {
            let i = start + offset;
            let (escape, len): (&[u8], usize) = match bytes[i] {
                b'<' => (b"\\u003c", 1),
                b'>' => (b"\\u003e", 1),
                b'&' => (b"\\u0026", 1),
                // U+2028 and U+2029 are E2 80 A8 and E2 80 A9 in UTF-8.
                _ if bytes[i..].starts_with(&[0xE2, 0x80, 0xA8]) => (b"\\u2028", 3),
                _ if bytes[i..].starts_with(&[0xE2, 0x80, 0xA9]) => (b"\\u2029", 3),
                // Another character whose UTF-8 form starts with E2: no escape.
                _ => {
                    writer.write_all(&bytes[start..=i])?;
                    start = i + 1;
                    continue;
                }
            };
            writer.write_all(&bytes[start..i])?;
            writer.write_all(escape)?;
            start = i + len;
        }
        writer.write_all(&bytes[start..])
    }

    fn write_char_escape<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        char_escape: CharEscape,
    ) -> io::Result<()> {
        match char_escape {
            CharEscape::Backspace => writer.write_all(b"\\u0008"),
            CharEscape::FormFeed => writer.write_all(b"\\u000c"),
            other => serde_json::ser::CompactFormatter.write_char_escape(writer, other),
        }
    }

    fn write_f64<W: ?Sized + io::Write>(&mut self, writer: &mut W, value: f64) -> io::Result<()> {
        let abs = value.abs();
        if abs == 0.0 || (1e-6..1e21).contains(&abs) {
            write!(writer, "{value}")
        } else {
            write_exponent(writer, format_args!("{value:e}"))
        }
    }

    fn write_f32<W: ?Sized + io::Write>(&mut self, writer: &mut W, value: f32) -> io::Result<()> {
        let abs = value.abs();
        if abs == 0.0 || (1e-6..1e21).contains(&abs) {
            write!(writer, "{value}")
        } else {
            write_exponent(writer, format_args!("{value:e}"))
        }
    }
}

/// Returns the offset of the first byte that may need an HTML-safe escape: `<`, `>`,
/// `&`, or 0xE2, the first byte of U+2028 and U+2029.
fn next_html_special(bytes: &[u8]) -> Option<usize> {
    // Metadata keys and values are short, where a plain loop beats memchr's set-up.
    const SHORT: usize = 32;
    if bytes.len() < SHORT {
        return bytes
            .iter()
            .position(|&b| matches!(b, b'<' | b'>' | b'&' | 0xE2));
    }
    let html = memchr::memchr3(b'<', b'>', b'&', bytes);
    let limit = html.unwrap_or(bytes.len());
    match memchr::memchr(0xE2, &bytes[..limit]) {
        Some(e2) => Some(e2),
        None => html,
    }
}

/// Writes Rust's `{:e}` output (`1e21`, `1.5e-7`) in Go's layout (`1e+21`, `1.5e-7`).
fn write_exponent<W: ?Sized + io::Write>(
    writer: &mut W,
    formatted: std::fmt::Arguments<'_>,
) -> io::Result<()> {
    let mut buffer = [0_u8; 40];
    let mut cursor = io::Cursor::new(&mut buffer[..]);
    io::Write::write_fmt(&mut cursor, formatted)?;
    let len = usize::try_from(cursor.position()).unwrap_or(0);
    let text = &buffer[..len];
    match text.iter().position(|&b| b == b'e') {
        Some(e) if text.get(e + 1) != Some(&b'-') => {
            writer.write_all(&text[..=e])?;
            writer.write_all(b"+")?;
            writer.write_all(&text[e + 1..])
        }
        _ => writer.write_all(text),
    }
}

/// Serializes `value` as Go-compatible JSON, appending to `out`.
///
/// On error, `out` contains a partial value after its original contents.
pub(crate) fn to_writer<T: Serialize + ?Sized>(
    out: &mut Vec<u8>,
    value: &T,
) -> Result<(), serde_json::Error> {
    value.serialize(GoSerializer::new(out))
}

/// Serializes `value` as Go-compatible JSON.
///
/// Besides [`GoFormatter`]'s escaping and float layout, map entries are written sorted
/// by their key string (integer keys by their decimal form, so `10` sorts before `9`),
/// as Go writes maps. Maps that do not announce their length, which is how serde writes
/// a struct with `#[serde(flatten)]`, keep their order. An embedded
/// `serde_json::value::RawValue` is compacted and HTML-escaped, as Go embeds a
/// `json.RawMessage`.
///
/// # Errors
///
/// Returns an error, as Go's `json.Marshal` does, for a NaN or infinite `f32` or
/// `f64`, and for a map key that is not a string, number, bool or unit variant. Errors
/// from `value`'s own `Serialize` implementation are returned as they are.
///
/// # Examples
///
/// ```
/// let json = ncl::go_json::to_vec(&"<b>&</b>").unwrap();
/// assert_eq!(json, br#""\u003cb\u003e\u0026\u003c/b\u003e""#);
/// ```
pub fn to_vec<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, serde_json::Error> {
    let mut out = Vec::with_capacity(128);
    to_writer(&mut out, value)?;
    Ok(out)
}

/// Rewrites valid JSON text as Go's `json.Compact` followed by HTML escaping would:
/// whitespace between tokens removed, `<`, `>`, `&`, U+2028 and U+2029 inside strings
/// escaped, everything else (number literals, key order, other escapes) kept as is.
///
/// This is what Go's `json.Marshal` does to an embedded `json.RawMessage`.
///
/// # Errors
///
/// Returns the parse error when `input` is not exactly one valid JSON value.
pub fn compact(input: &[u8], out: &mut Vec<u8>) -> Result<(), serde_json::Error> {
    // Borrowing a RawValue checks the whole text, including that every string is UTF-8,
    // which IgnoredAny skips; the decoder is as strict, so every envelope written here
    // can be read back.
    serde_json::from_slice::<&serde_json::value::RawValue>(input)?;
    out.reserve(input.len());
    let mut in_string = false;
    let mut escaped = false;
    let mut i = 0;
    while i < input.len() {
        let b = input[i];
        if in_string {
            if escaped {
                escaped = false;
                out.push(b);
            } else {
                match b {
                    b'\\' => {
                        escaped = true;
                        out.push(b);
                    }
                    b'"' => {
                        in_string = false;
                        out.push(b);
                    }
                    b'<' => out.extend_from_slice(b"\\u003c"),
                    b'>' => out.extend_from_slice(b"\\u003e"),
                    b'&' => out.extend_from_slice(b"\\u0026"),
                    0xE2 if input.get(i + 1) == Some(&0x80)
                        && matches!(input.get(i + 2), Some(0xA8 | 0xA9)) =>
                    {
                        let last = if input[i + 2] == 0xA8 { b'8' } else { b'9' };
                        out.extend_from_slice(b"\\u202");
                        out.push(last);
                        i += 2;
                    }
                    _ => out.push(b),
                }
            }
        } else {
            match b {
                b' ' | b'\t' | b'\n' | b'\r' => {}
                b'"' => {
                    in_string = true;
                    out.push(b);
                }
                _ => out.push(b),
            }
        }
        i += 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn go(value: &impl Serialize) -> String {
        String::from_utf8(to_vec(value).unwrap()).unwrap()
    }

    #[test]
    fn html_characters_are_escaped() {
        assert_eq!(go(&"a<b>c&d"), r#""a\u003cb\u003ec\u0026d""#);
    }

    #[test]
    fn line_and_paragraph_separators_are_escaped() {
        assert_eq!(go(&"x\u{2028}y\u{2029}z"), r#""x\u2028y\u2029z""#);
    }

    #[test]
    fn backspace_and_form_feed_use_unicode_escapes() {
        assert_eq!(go(&"\u{8}\u{c}\n\r\t"), r#""\u0008\u000c\n\r\t""#);
    }

    #[test]
    fn floats_follow_go_layout() {
        let cases: [(f64, &str); 9] = [
            (1.0, "1"),
            (0.1, "0.1"),
            (1e20, "100000000000000000000"),
            (1e21, "1e+21"),
            (1.5e-7, "1.5e-7"),
            (0.000001, "0.000001"),
            (-2.5e300, "-2.5e+300"),
            (5e-324, "5e-324"),
            (0.0, "0"),
        ];
        for (value, expected) in cases {
            assert_eq!(go(&value), expected, "formatting {value:?}");
        }
    }

    #[test]
    fn f32_uses_shortest_f32_digits() {
        assert_eq!(go(&0.1_f32), "0.1");
        assert_eq!(go(&1e22_f32), "1e+22");
    }

    #[test]
    fn compact_removes_whitespace_and_escapes_html() {
        let mut out = Vec::new();
        compact(
            b" { \"a\" : [ 1 , 2.50 ] , \"b\" : \"<\\\" >\" } ",
            &mut out,
        )
        .unwrap();
        assert_eq!(out, br#"{"a":[1,2.50],"b":"\u003c\" \u003e"}"#);
    }

    #[test]
    fn non_finite_floats_are_errors() {
        for value in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let error = to_vec(&value).unwrap_err();
            assert!(error.is_data(), "{value}: {error}");
        }
        assert!(to_vec(&f32::NAN).is_err());
        assert!(to_vec(&vec![Some(1.0), Some(f64::INFINITY)]).is_err());
        assert!(to_vec(&Some(f32::NEG_INFINITY)).is_err());
    }

    #[test]
    fn non_finite_error_names_value_as_go_does() {
        let message = to_vec(&f64::NEG_INFINITY).unwrap_err().to_string();
        assert!(message.contains("-Inf"), "{message}");
    }

    #[test]
    fn hash_map_keys_are_sorted() {
        let map: std::collections::HashMap<String, u8> =
            (0..40).map(|i| (format!("k{i}"), i)).collect();
        let mut expected: Vec<String> = map.keys().cloned().collect();
        expected.sort();
        let json = to_vec(&map).unwrap();
        let parsed: serde_json::Map<String, serde_json::Value> =
            serde_json::from_slice(&json).unwrap();
        let keys: Vec<String> = parsed.keys().cloned().collect();
        assert_eq!(keys, expected);
        let text = String::from_utf8(json).unwrap();
        assert!(text.starts_with(r#"{"k0":0,"k1":1,"k10":10,"#), "{text}");
    }

    #[test]
    fn integer_keys_sort_as_strings() {
        let map: std::collections::BTreeMap<i64, &str> = [
            (-1, "neg"),
            (1, "one"),
            (2, "two"),
            (10, "ten"),
            (100, "hundred"),
        ]
        .into_iter()
        .collect();
        assert_eq!(
            go(&map),
            r#"{"-1":"neg","1":"one","10":"ten","100":"hundred","2":"two"}"#
        );
    }

    #[test]
    fn escaped_keys_sort_by_their_string() {
        // Written escaped, `\"` would sort after `#`; as strings, `"` (0x22) sorts
        // before `#` (0x23).
        let map: std::collections::BTreeMap<&str, u8> = [("#", 1), ("\"", 2), ("<", 3), (" ", 4)]
            .into_iter()
            .collect();
        let mut pairs: Vec<(&str, u8)> = map.into_iter().collect();
        pairs.reverse();
        let reversed = ReversedMap(pairs);
        assert_eq!(go(&reversed), r##"{" ":4,"\"":2,"#":1,"\u003c":3}"##);
    }

    #[test]
    fn nested_maps_are_sorted_independently() {
        let inner = ReversedMap(vec![("b", 1), ("a", 2)]);
        let outer = ReversedMap(vec![("y", &inner), ("x", &inner)]);
        assert_eq!(go(&outer), r#"{"x":{"a":2,"b":1},"y":{"a":2,"b":1}}"#);
    }

    #[test]
    fn flattened_struct_keeps_field_order() {
        #[derive(Serialize)]
        struct Inner {
            z: u8,
            a: u8,
        }
        #[derive(Serialize)]
        struct Outer {
            m: u8,
            #[serde(flatten)]
            inner: Inner,
        }
        let value = Outer {
            m: 1,
            inner: Inner { z: 2, a: 3 },
        };
        assert_eq!(go(&value), r#"{"m":1,"z":2,"a":3}"#);
    }

    #[test]
    fn struct_fields_keep_declaration_order() {
        #[derive(Serialize)]
        struct Fields {
            zeta: u8,
            alpha: Option<u8>,
            list: Vec<u8>,
        }
        let value = Fields {
            zeta: 1,
            alpha: None,
            list: vec![],
        };
        assert_eq!(go(&value), r#"{"zeta":1,"alpha":null,"list":[]}"#);
    }

    #[test]
    fn enums_are_externally_tagged() {
        #[derive(Serialize)]
        enum Shape {
            Unit,
            Newtype(u8),
            Tuple(u8, u8),
            Struct { a: u8 },
        }
        assert_eq!(go(&Shape::Unit), r#""Unit""#);
        assert_eq!(go(&Shape::Newtype(1)), r#"{"Newtype":1}"#);
        assert_eq!(go(&Shape::Tuple(1, 2)), r#"{"Tuple":[1,2]}"#);
        assert_eq!(go(&Shape::Struct { a: 1 }), r#"{"Struct":{"a":1}}"#);
    }

    #[test]
    fn raw_value_is_compacted_and_escaped() {
        let raw = serde_json::value::RawValue::from_string(" { \"b\" : \"<>\" } ".into()).unwrap();
        let value = std::collections::BTreeMap::from([("raw", raw)]);
        assert_eq!(go(&value), r#"{"raw":{"b":"\u003c\u003e"}}"#);
    }

    #[test]
    fn non_string_map_key_is_error() {
        let map = std::collections::BTreeMap::from([(vec![1_u8], 1_u8)]);
        assert!(to_vec(&map).is_err());
    }

    /// A map that serializes its entries in the order given, to exercise sorting.
    struct ReversedMap<K, V>(Vec<(K, V)>);

    impl<K: Serialize, V: Serialize> Serialize for ReversedMap<K, V> {
        fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            use serde::ser::SerializeMap;
            let mut map = serializer.serialize_map(Some(self.0.len()))?;
            for (key, value) in &self.0 {
                map.serialize_entry(key, value)?;
            }
            map.end()
        }
    }

    #[test]
    fn compact_rejects_invalid_json() {
        let mut out = Vec::new();
        assert!(compact(b"not json", &mut out).is_err());
        assert!(compact(b"", &mut out).is_err());
        assert!(compact(b"{} {}", &mut out).is_err());
    }
}
