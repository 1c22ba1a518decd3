//! Finding the end of one JSON value while checking its syntax, as serde_json's
//! `RawValue` checks it: RFC 8259 grammar, no control characters in strings, valid
//! escapes (any four hex digits after `\u`), and UTF-8.
//!
//! [`skip_value`] returns `None` for invalid input and for input it leaves to serde_json
//! (nesting deeper than 64), so the caller falls back to `RawValue`, which reports the
//! error.

use super::scan::next_string_stop;

/// Deepest nesting of arrays and objects tracked; one bit per level in a `u64`.
const MAX_DEPTH: u32 = 64;

/// Returns the index just past the JSON value that starts at `at` (no whitespace
/// before it), or `None`.
pub(super) fn skip_value(bytes: &[u8], mut at: usize) -> Option<usize> {
    // Bit `i` is set when the container at depth `i + 1` is an object.
    let mut objects: u64 = 0;
    let mut depth: u32 = 0;
    loop {
        // A value starts at `at`.
        match *bytes.get(at)? {
            b'{' | b'[' if depth == MAX_DEPTH => return None,
            b'{' => {
                objects |= 1 << depth;
                depth += 1;
                at = skip_whitespace(bytes, at + 1);
                if bytes.get(at) == Some(&b'}') {
                    at += 1;
                    depth -= 1;
                } else {
                    at = skip_key(bytes, at)?;
                    continue;
                }
            }
            b'[' => {
                objects &= !(1 << depth);
                depth += 1;
                at = skip_whitespace(bytes, at + 1);
                if bytes.get(at) == Some(&b']') {
                    at += 1;
                    depth -= 1;
                } else {
                    continue;
                }
            }
            b'"' => at = skip_string(bytes, at + 1)?,
            b'-' | b'0'..=b'9' => at = skip_number(bytes, at)?,
            b't' => at = skip_literal(bytes, at, b"true")?,
            b'f' => at = skip_literal(bytes, at, b"false")?,
            b'n' => at = skip_literal(bytes, at, b"null")?,
            _ => return None,
        }
        // A value ended at `at`: close containers until one continues.
        loop {
            if depth == 0 {
                return Some(at);
            }
            at = skip_whitespace(bytes, at);
            let in_object = objects & (1 << (depth - 1)) != 0;
            match (*bytes.get(at)?, in_object) {
                (b',', true) => {
                    at = skip_key(bytes, skip_whitespace(bytes, at + 1))?;
                    break;
                }
                (b',', false) => {
                    at = skip_whitespace(bytes, at + 1);
                    break;
                }
                (b'}', true) | (b']', false) => {
                    at += 1;
                    depth -= 1;
                }
                _ => return None,
            }
        }
    }
}

/// Skips `"key"`, whitespace, `:` and whitespace; returns where the value starts.
fn skip_key(bytes: &[u8], at: usize) -> Option<usize> {
    if bytes.get(at) != Some(&b'"') {
        return None;
    }
    let at = skip_whitespace(bytes, skip_string(bytes, at + 1)?);
    if bytes.get(at) != Some(&b':') {
        return None;
    }
    Some(skip_whitespace(bytes, at + 1))
}

fn skip_whitespace(bytes: &[u8], mut at: usize) -> usize {
    while let Some(b' ' | b'\n' | b'\t' | b'\r') = bytes.get(at) {
        at += 1;
    }
    at
}

/// Skips the rest of a string whose opening quote is before `start`.
fn skip_string(bytes: &[u8], start: usize) -> Option<usize> {
    let mut at = start;
    let mut non_ascii = false;
    loop {
        let stop = next_string_stop(bytes, at)?;
        match bytes[stop] {
            b'"' => {
                if non_ascii {
                    std::str::from_utf8(&bytes[start..stop]).ok()?;
                }
                return Some(stop + 1);
            }
            b'\\' => {
                at = match *bytes.get(stop + 1)? {
                    b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => stop + 2,
                    b'u' => {
                        let digits = bytes.get(stop + 2..stop + 6)?;
                        if !digits.iter().all(u8::is_ascii_hexdigit) {
                            return None;
                        }
                        stop + 6
                    }
                    _ => return None,
                };
            }
            0x80.. => {
                non_ascii = true;
                at = stop + 1;
            }
            // A control character.
            _ => return None,
        }
    }
}

/// Skips `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
fn skip_number(bytes: &[u8], mut at: usize) -> Option<usize> {
    if bytes.get(at) == Some(&b'-') {
        at += 1;
    }
    match *bytes.get(at)? {
        b'0' => {
            at += 1;
            // serde_json rejects a leading zero followed by a digit.
            if bytes.get(at).is_some_and(u8::is_ascii_digit) {
                return None;
            }
        }
        b'1'..=b'9' => at = skip_digits(bytes, at + 1),
        _ => return None,
    }
    if bytes.get(at) == Some(&b'.') {
        at = skip_one_or_more_digits(bytes, at + 1)?;
    }
    if let Some(b'e' | b'E') = bytes.get(at) {
        at += 1;
        if let Some(b'+' | b'-') = bytes.get(at) {
            at += 1;
        }
        at = skip_one_or_more_digits(bytes, at)?;
    }
    Some(at)
}

fn skip_digits(bytes: &[u8], mut at: usize) -> usize {
    while bytes.get(at).is_some_and(u8::is_ascii_digit) {
        at += 1;
    }
    at
}

fn skip_one_or_more_digits(bytes: &[u8], at: usize) -> Option<usize> {
    let end = skip_digits(bytes, at);
    (end > at).then_some(end)
}

fn skip_literal(bytes: &[u8], at: usize, literal: &[u8]) -> Option<usize> {
    let end = at + literal.len();
    (bytes.get(at..end)? == literal).then_some(end)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::value::RawValue;

    /// Returns the end of the value as serde_json's `RawValue` finds it, or `None`.
    fn serde_end(bytes: &[u8]) -> Option<usize> {
        let mut deserializer = serde_json::Deserializer::from_slice(bytes);
        let raw: &RawValue = serde::Deserialize::deserialize(&mut deserializer).ok()?;
        Some(raw.get().as_ptr() as usize - bytes.as_ptr() as usize + raw.get().len())
    }

    /// Checks that `skip_value`, when it accepts `bytes`, ends where serde_json does.
    fn agrees(bytes: &[u8]) -> bool {
        let Some(end) = skip_value(bytes, 0) else {
            return false;
        };
        assert_eq!(
            Some(end),
            serde_end(bytes),
            "{:?}",
            String::from_utf8_lossy(bytes)
        );
        true
    }

    const SAMPLE: &str = r#"{"a":[1,-0.5e+3,0,{"b":null,"c":true},[],{}],"d":"x\"\\\/\b\f\n\r\t\u00e9é€😀","e":false,"f":-12E-1}"#;

    #[test]
    fn valid_values_end_where_serde_ends() {
        for text in [
            SAMPLE,
            "0",
            "-0",
            "1.25",
            "\"\"",
            "[ ]",
            "{ }",
            " [1 , 2 ] x",
            "nullx",
        ] {
            let text = text.trim_start();
            assert!(agrees(text.as_bytes()), "{text}");
        }
    }

    #[test]
    fn invalid_values_are_rejected() {
        for text in [
            "01",
            "-",
            "1.",
            "1e",
            "1e+",
            ".5",
            "[1,]",
            "{\"a\":1,}",
            "{\"a\"}",
            "[1 2]",
            "tru",
            "\"\\x\"",
            "\"\\u12g4\"",
            "\"\u{1}\"",
            "{1:2}",
            "[}",
            "{]",
            "\"abc",
        ] {
            assert_eq!(skip_value(text.as_bytes(), 0), None, "{text}");
            assert_eq!(serde_end(text.as_bytes()), None, "{text}");
        }
    }

    #[test]
    fn deep_nesting_is_left_to_serde() {
        let deep = format!("{}{}", "[".repeat(65), "]".repeat(65));
        assert_eq!(skip_value(deep.as_bytes(), 0), None);
        let shallow = format!("{}{}", "[".repeat(64), "]".repeat(64));
        assert!(agrees(shallow.as_bytes()));
    }

    #[test]
    fn mutated_values_never_disagree() {
        let base = SAMPLE.as_bytes();
        let replacements = [
            b'"', b'\\', b'{', b'}', b'[', b']', b',', b':', b' ', b'-', b'+', b'.', b'e', b'0',
            b'1', b'u', b'a', 0x00, 0x1f, 0x80, 0xc3, 0xe2, 0xff,
        ];
        let mut accepted = 0;
        for at in 0..base.len() {
            for &byte in &replacements {
                let mut replaced = base.to_vec();
                replaced[at] = byte;
                accepted += usize::from(agrees(&replaced));
                let mut inserted = base.to_vec();
                inserted.insert(at, byte);
                accepted += usize::from(agrees(&inserted));
            }
            agrees(&base[..at]);
            agrees(&base[at..]);
        }
        assert!(accepted > 500, "only {accepted} mutations were accepted");
    }
}
