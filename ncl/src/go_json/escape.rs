//! Writing JSON strings with Go's escaping, eight bytes at a time.
//!
//! Go's `encoding/json` escapes `"`, `\`, control characters, `<`, `>`, `&`, U+2028 and
//! U+2029. Most strings contain none of them, so the scan tests a whole `u64` word for
//! any byte that may need work and copies clean words unchanged.

/// `0x01` in every byte of a word.
const ONES: u64 = 0x0101_0101_0101_0101;
/// `0x80` in every byte of a word.
const HIGHS: u64 = ONES * 0x80;

/// Returns a word whose lowest set bit marks the first byte of `word` (in memory order)
/// that may need escaping, or zero when no byte does.
///
/// A byte is flagged when it is below 0x20, `"`, `&`, `<`, `>`, `\` or non-ASCII. Each
/// test is the classic "has a zero byte" trick, which can also flag bytes after a real
/// match (the borrow runs upward) but never before one, so the lowest flag is exact.
#[inline]
pub(crate) fn special_bytes(word: u64) -> u64 {
    let zero_byte = |v: u64| v.wrapping_sub(ONES) & !v & HIGHS;
    // A byte below 0x20 wraps to a set high bit; a non-ASCII byte has it already.
    let control_or_non_ascii = (word.wrapping_sub(ONES * 0x20) | word) & HIGHS;
    // `b | 0x04 == 0x26` only for `"` (0x22) and `&` (0x26).
    let quote_or_ampersand = zero_byte((word | (ONES * 0x04)) ^ (ONES * 0x26));
    // `b | 0x02 == 0x3e` only for `<` (0x3c) and `>` (0x3e).
    let angle_bracket = zero_byte((word | (ONES * 0x02)) ^ (ONES * 0x3e));
    let backslash = zero_byte(word ^ (ONES * b'\\' as u64));
    control_or_non_ascii | quote_or_ampersand | angle_bracket | backslash
}

/// Returns the index of the first byte at or after `from` that may need escaping.
#[inline]
fn next_special(bytes: &[u8], mut from: usize) -> Option<usize> {
    while let Some(chunk) = bytes.get(from..from + 8) {
        let mut word = [0; 8];
        word.copy_from_slice(chunk);
        let flags = special_bytes(u64::from_le_bytes(word));
        if flags != 0 {
            return Some(from + (flags.trailing_zeros() / 8) as usize);
        }
        from += 8;
    }
    // Fewer than eight bytes remain.
    bytes[from..]
        .iter()
        .position(|&b| SPECIAL[usize::from(b)])
        .map(|offset| from + offset)
}

/// The bytes that [`special_bytes`] flags, as a table.
static SPECIAL: [bool; 256] = {
    let mut table = [false; 256];
    let mut byte = 0;
    while byte < 256 {
        table[byte] =
            byte < 0x20 || byte >= 0x80 || matches!(byte as u8, b'"' | b'\\' | b'<' | b'>' | b'&');
        byte += 1;
    }
    table
};

/// Appends `value` as a quoted JSON string, escaped as Go's `encoding/json` escapes it
/// with HTML escaping on (the default of `json.Marshal`).
pub(crate) fn write_str(out: &mut Vec<u8>, value: &str) {
    let bytes = value.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    // `copied` is the first byte not yet written out; `at` is where the scan resumes.
    let mut copied = 0;
    let mut at = 0;
    while let Some(i) = next_special(bytes, at) {
        let byte = bytes[i];
        if byte >= 0x80 {
            // Only U+2028 and U+2029 (E2 80 A8 and E2 80 A9) are escaped; other
            // characters are copied as their UTF-8 bytes.
            match bytes.get(i..i + 3) {
                Some([0xE2, 0x80, last @ (0xA8 | 0xA9)]) => {
                    out.extend_from_slice(&bytes[copied..i]);
                    out.extend_from_slice(if *last == 0xA8 {
                        b"\\u2028"
                    } else {
                        b"\\u2029"
                    });
                    copied = i + 3;
                    at = i + 3;
                }
                _ => at = i + 1,
            }
            continue;
        }
        out.extend_from_slice(&bytes[copied..i]);
        write_escape(out, byte);
        copied = i + 1;
        at = i + 1;
    }
    out.extend_from_slice(&bytes[copied..]);
    out.push(b'"');
}

/// Appends the escape Go writes for one ASCII byte that needs one.
fn write_escape(out: &mut Vec<u8>, byte: u8) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let short: &[u8] = match byte {
        b'"' => b"\\\"",
        b'\\' => b"\\\\",
        b'\n' => b"\\n",
        b'\r' => b"\\r",
        b'\t' => b"\\t",
        _ => {
            // Other control characters and `<`, `>`, `&` as `\u00XX`, in lowercase hex.
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(byte >> 4)]);
            out.push(HEX[usize::from(byte & 0xF)]);
            return;
        }
    };
    out.extend_from_slice(short);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(value: &str) -> String {
        let mut out = Vec::new();
        write_str(&mut out, value);
        String::from_utf8(out).unwrap()
    }

    /// Returns what serde_json writes with Go's formatter, the reference output.
    fn reference(value: &str) -> String {
        let mut out = Vec::new();
        let mut serializer =
            serde_json::Serializer::with_formatter(&mut out, super::super::GoFormatter);
        serde::Serialize::serialize(value, &mut serializer).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn escapes_match_go_formatter_for_every_byte_position() {
        let specials = [
            "\"", "\\", "<", ">", "&", "\n", "\r", "\t", "\u{0}", "\u{8}", "\u{c}", "\u{1f}",
            "\u{7f}", "é", "\u{2028}", "\u{2029}", "\u{2027}", "\u{202a}", "€", "😀", "/",
        ];
        for special in specials {
            for before in 0..18 {
                for after in [0, 1, 7, 9] {
                    let value = format!("{}{special}{}", "a".repeat(before), "b".repeat(after));
                    assert_eq!(written(&value), reference(&value), "{value:?}");
                }
            }
        }
    }

    #[test]
    fn chars_match_go_formatter() {
        // Every one- and two-byte character, and the three-byte ones around U+2028.
        for code in (0..0x800_u32).chain(0x2000..0x2100) {
            let Some(c) = char::from_u32(code) else {
                continue;
            };
            let value = format!("xxxxxxx{c}{c}xxxxxxxxx{c}");
            assert_eq!(written(&value), reference(&value), "U+{code:04X}");
        }
    }

    #[test]
    fn flags_only_special_bytes() {
        for byte in 0..=255_u8 {
            let word = u64::from_le_bytes([b'a', b'a', b'a', byte, b'a', b'a', b'a', b'a']);
            let flags = special_bytes(word);
            if SPECIAL[usize::from(byte)] {
                assert_eq!(flags.trailing_zeros(), 3 * 8 + 7, "byte 0x{byte:02x}");
            } else {
                assert_eq!(flags, 0, "byte 0x{byte:02x}");
            }
        }
    }
}
