//! The fast path of the version 1 decoder, for bodies in the shape Go and NCL write:
//! `{"metadata":{"Key":"value",...},"payload":<JSON value>}`.
//!
//! It reads metadata strings with a word-at-a-time scan and copies them into one buffer
//! whose UTF-8 is checked once. It accepts a subset of what the serde path accepts and
//! returns the same result for it. On anything else (escapes in metadata strings, other
//! or repeated body keys, `null` metadata, malformed input) it returns `None`. The serde
//! path then decodes the body, so errors and unusual layouts keep their exact handling.

use bytes::Bytes;
use serde_json::value::RawValue;

use super::value;
use crate::RawMessage;
use crate::metadata::MetadataBuilder;

/// `0x01` in every byte of a word.
const ONES: u64 = 0x0101_0101_0101_0101;
/// `0x80` in every byte of a word.
const HIGHS: u64 = ONES * 0x80;

/// Decodes `body`, a part of `data`, or returns `None` to leave it to the serde path.
pub(super) fn decode(data: &Bytes, body: &[u8]) -> Option<RawMessage> {
    let mut scanner = Scanner { bytes: body, at: 0 };
    scanner.skip_whitespace();
    scanner.expect(b'{')?;
    let mut metadata = None;
    let mut payload = None;
    loop {
        scanner.skip_whitespace();
        scanner.expect(b'"')?;
        let key = scanner.ascii_string()?;
        scanner.skip_whitespace();
        scanner.expect(b':')?;
        scanner.skip_whitespace();
        // The serde path handles a repeated key (merge or replace) and other keys.
        if key.eq_ignore_ascii_case(b"metadata") && metadata.is_none() {
            metadata = Some(scanner.metadata()?);
        } else if key.eq_ignore_ascii_case(b"payload") && payload.is_none() {
            payload = Some(scanner.raw_value()?);
        } else {
            return None;
        }
        scanner.skip_whitespace();
        match scanner.next()? {
            b',' => {}
            b'}' => break,
            _ => return None,
        }
    }
    scanner.skip_whitespace();
    if scanner.at != body.len() {
        return None;
    }
    Some(RawMessage {
        metadata: metadata?,
        payload: data.slice_ref(payload?),
    })
}

/// A cursor over the body.
struct Scanner<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Scanner<'a> {
    fn next(&mut self) -> Option<u8> {
        let byte = *self.bytes.get(self.at)?;
        self.at += 1;
        Some(byte)
    }

    fn expect(&mut self, byte: u8) -> Option<()> {
        (self.next()? == byte).then_some(())
    }

    /// Skips the four whitespace bytes JSON allows between tokens.
    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\n' | b'\t' | b'\r') = self.bytes.get(self.at) {
            self.at += 1;
        }
    }

    /// Reads the rest of a string whose opening quote was consumed. Returns its bytes and
    /// whether any byte is not ASCII, or `None` for an escape or a control character.
    fn string(&mut self) -> Option<(&'a [u8], bool)> {
        let start = self.at;
        let mut non_ascii = false;
        loop {
            let stop = next_string_stop(self.bytes, self.at)?;
            match self.bytes[stop] {
                b'"' => {
                    self.at = stop + 1;
                    return Some((&self.bytes[start..stop], non_ascii));
                }
                0x80.. => {
                    non_ascii = true;
                    self.at = stop + 1;
                }
                // A backslash or a control character.
                _ => return None,
            }
        }
    }

    /// Reads a string that is pure ASCII, as every key the body may contain is.
    fn ascii_string(&mut self) -> Option<&'a [u8]> {
        match self.string()? {
            (text, false) => Some(text),
            (_, true) => None,
        }
    }

    /// Reads a string and checks that it is UTF-8.
    fn utf8_string(&mut self) -> Option<&'a [u8]> {
        let (text, non_ascii) = self.string()?;
        if non_ascii {
            std::str::from_utf8(text).ok()?;
        }
        Some(text)
    }

    /// Reads the metadata object, from its `{`, into metadata.
    fn metadata(&mut self) -> Option<crate::Metadata> {
        self.expect(b'{')?;
        // Five entries of 10 to 40 bytes each is what publishers stamp.
        let mut builder = MetadataBuilder::with_capacity(8, 256);
        self.skip_whitespace();
        if self.bytes.get(self.at) == Some(&b'}') {
            self.at += 1;
            return builder.finish();
        }
        loop {
            self.skip_whitespace();
            self.expect(b'"')?;
            let key = self.utf8_string()?;
            self.skip_whitespace();
            self.expect(b':')?;
            self.skip_whitespace();
            self.expect(b'"')?;
            let value = self.utf8_string()?;
            builder.push(key, value);
            self.skip_whitespace();
            match self.next()? {
                b',' => {}
                b'}' => return builder.finish(),
                _ => return None,
            }
        }
    }

    /// Reads one JSON value as serde_json's `RawValue` reads it (same checks, including
    /// UTF-8), and returns its text.
    fn raw_value(&mut self) -> Option<&'a [u8]> {
        if let Some(end) = value::skip_value(self.bytes, self.at) {
            let text = &self.bytes[self.at..end];
            self.at = end;
            return Some(text);
        }
        // Nesting deeper than `skip_value` tracks; serde_json has no limit here.
        let rest = &self.bytes[self.at..];
        let mut deserializer = serde_json::Deserializer::from_slice(rest);
        let raw: &RawValue = serde::Deserialize::deserialize(&mut deserializer).ok()?;
        let text = raw.get().as_bytes();
        // The raw text is a part of `rest`; its end is where the scan resumes.
        let end = text.as_ptr() as usize - rest.as_ptr() as usize + text.len();
        self.at += end;
        Some(text)
    }
}

/// Returns the index of the first byte at or after `from` that ends the plain run of a
/// JSON string: `"`, `\`, a control character or a non-ASCII byte.
#[inline]
pub(super) fn next_string_stop(bytes: &[u8], mut from: usize) -> Option<usize> {
    while let Some(chunk) = bytes.get(from..from + 8) {
        let mut word = [0; 8];
        word.copy_from_slice(chunk);
        let flags = string_stops(u64::from_le_bytes(word));
        if flags != 0 {
            return Some(from + (flags.trailing_zeros() / 8) as usize);
        }
        from += 8;
    }
    // Fewer than eight bytes remain.
    bytes[from..]
        .iter()
        .position(|&b| STRING_STOP[usize::from(b)])
        .map(|offset| from + offset)
}

/// The bytes that [`string_stops`] flags, as a table.
static STRING_STOP: [bool; 256] = {
    let mut table = [false; 256];
    let mut byte = 0;
    while byte < 256 {
        table[byte] =
            byte < 0x20 || byte >= 0x80 || byte == b'"' as usize || byte == b'\\' as usize;
        byte += 1;
    }
    table
};

/// Returns a word whose lowest set bit marks the first byte of `word` (in memory order)
/// that is `"`, `\`, a control character or non-ASCII, or zero when there is none.
#[inline]
fn string_stops(word: u64) -> u64 {
    let zero_byte = |v: u64| v.wrapping_sub(ONES) & !v & HIGHS;
    // Each test can flag bytes after a real match but never before one, so the lowest
    // flag is exact.
    // A byte below 0x20 wraps to a set high bit; a non-ASCII byte has it already.
    ((word.wrapping_sub(ONES * 0x20) | word) & HIGHS)
        | zero_byte(word ^ (ONES * u64::from(b'"')))
        | zero_byte(word ^ (ONES * u64::from(b'\\')))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Checks that the fast path, when it accepts `body`, agrees with the serde path.
    fn agrees(body: &[u8]) -> bool {
        let data = Bytes::copy_from_slice(body);
        let Some(fast) = decode(&data, &data) else {
            return false;
        };
        match super::super::decode_with_serde(&data, &data) {
            Ok(slow) => assert_eq!(fast, slow, "{:?}", String::from_utf8_lossy(body)),
            Err(error) => panic!(
                "fast path accepted what serde rejects ({error}): {:?}",
                String::from_utf8_lossy(body)
            ),
        }
        true
    }

    const GO_BODY: &str = r#"{"metadata":{"EventTime":"1719835200123456789","MessageID":"7b0e4b5e-4f51-4d0a-9d7e-2f0c0d1a2b3c","PayloadEncoding":"json","Source":"node-1","Type":"Blob"},"payload":{"data":"xxxx","seq":1234567}}"#;

    #[test]
    fn go_layout_takes_fast_path() {
        assert!(agrees(GO_BODY.as_bytes()));
        assert!(agrees(b" { \"metadata\" : { } , \"payload\" : null } "));
        assert!(agrees(
            b"{\"PAYLOAD\":[1,2],\"Metadata\":{\"b\":\"\xc3\xa9\",\"a\":\"1\",\"a\":\"22\"}}"
        ));
    }

    #[test]
    fn unusual_layouts_fall_back() {
        let bodies: [&[u8]; 8] = [
            br#"{"metadata":null,"payload":1}"#,
            br#"{"metadata":{"a":"\u0041"},"payload":1}"#,
            br#"{"metadata":{},"metadata":{},"payload":1}"#,
            br#"{"metadata":{},"payload":1,"payload":2}"#,
            br#"{"metadata":{},"payload":1,"other":2}"#,
            br#"{"metadata":{}}"#,
            br#"{"payload":1}"#,
            br#"{"metadata":{"a":1},"payload":1}"#,
        ];
        for body in bodies {
            assert!(!agrees(body), "{:?}", String::from_utf8_lossy(body));
        }
    }

    #[test]
    fn mutated_bodies_never_disagree() {
        // Every single-byte replacement, insertion and truncation of a Go body, with
        // bytes that matter to JSON and UTF-8.
        let base = GO_BODY.as_bytes();
        let replacements = [
            b'"', b'\\', b'{', b'}', b',', b':', b' ', b'\n', 0x00, 0x1f, 0x7f, 0x80, 0xc3, 0xe2,
            0xff, b'a', b'0',
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
        }
        // Replacing a filler byte by another plain byte keeps the fast path.
        assert!(
            accepted > 100,
            "only {accepted} mutations took the fast path"
        );
    }

    #[test]
    fn string_stops_flag_only_stop_bytes() {
        for byte in 0..=255_u8 {
            let word = u64::from_le_bytes([b'a', b'a', b'a', byte, b'a', b'a', b'a', b'a']);
            let flags = string_stops(word);
            if STRING_STOP[usize::from(byte)] {
                assert_eq!(flags.trailing_zeros(), 3 * 8 + 7, "byte 0x{byte:02x}");
            } else {
                assert_eq!(flags, 0, "byte 0x{byte:02x}");
            }
        }
    }

    #[test]
    fn split_character_across_key_and_value_is_rejected() {
        // "a" + E2 as the key and 80 A8 as the value: the concatenation would be valid.
        let body = b"{\"metadata\":{\"a\xe2\":\"\x80\xa8\"},\"payload\":1}";
        assert!(!agrees(body));
        let data = Bytes::copy_from_slice(body);
        assert!(super::super::decode_with_serde(&data, &data).is_err());
    }
}
