//! JSON output byte-identical to Go's `encoding/json`, built on `serde_json`.
//!
//! Bacalhau's Go NCL marshals with `encoding/json`, which differs from `serde_json`'s
//! default output in string escaping and float formatting. [`GoFormatter`] closes those
//! gaps so that the same message produces the same envelope bytes, and so the same CRC,
//! on both sides.

use std::io;

use serde::Serialize;
use serde_json::ser::{CharEscape, Formatter};

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
        let mut i = 0;
        while i < bytes.len() {
            let escape: &[u8] = match bytes[i] {
                b'<' => b"\\u003c",
                b'>' => b"\\u003e",
                b'&' => b"\\u0026",
                // U+2028 and U+2029 are E2 80 A8 and E2 80 A9 in UTF-8.
                0xE2 if bytes.get(i + 1) == Some(&0x80) && bytes.get(i + 2) == Some(&0xA8) => {
                    b"\\u2028"
                }
                0xE2 if bytes.get(i + 1) == Some(&0x80) && bytes.get(i + 2) == Some(&0xA9) => {
                    b"\\u2029"
                }
                _ => {
                    i += 1;
                    continue;
                }
            };
            writer.write_all(&bytes[start..i])?;
            writer.write_all(escape)?;
            i += if escape[2] == b'2' { 3 } else { 1 };
            start = i;
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
pub(crate) fn to_writer<T: Serialize + ?Sized>(
    out: &mut Vec<u8>,
    value: &T,
) -> Result<(), serde_json::Error> {
    let mut serializer = serde_json::Serializer::with_formatter(out, GoFormatter);
    value.serialize(&mut serializer)
}

/// Serializes `value` as Go-compatible JSON.
///
/// # Errors
///
/// Returns the `serde_json` error when `value`'s `Serialize` implementation fails,
/// for example on a map with non-string keys.
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
    serde_json::from_slice::<serde::de::IgnoredAny>(input)?;
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
        compact(b" { \"a\" : [ 1 , 2.50 ] , \"b\" : \"<\\\" >\" } ", &mut out).unwrap();
        assert_eq!(out, br#"{"a":[1,2.50],"b":"\u003c\" \u003e"}"#);
    }

    #[test]
    fn compact_rejects_invalid_json() {
        let mut out = Vec::new();
        assert!(compact(b"not json", &mut out).is_err());
        assert!(compact(b"", &mut out).is_err());
        assert!(compact(b"{} {}", &mut out).is_err());
    }
}
