//! Text helpers shared by the subcommands: hex, error kind names, times, previews.

use std::io::Read;

use ncl::EnvelopeError;

use crate::CliError;

/// Reads all of standard input.
pub(crate) fn read_stdin() -> Result<Vec<u8>, CliError> {
    let mut input = Vec::new();
    std::io::stdin().read_to_end(&mut input).map_err(|error| {
        CliError::new("io", format_args!("failed to read standard input: {error}"))
    })?;
    Ok(input)
}

/// Decodes hexadecimal text; ASCII whitespace anywhere in it is ignored.
pub(crate) fn from_hex(text: &[u8]) -> Result<Vec<u8>, CliError> {
    let digits: Vec<u8> = text
        .iter()
        .copied()
        .filter(|byte| !byte.is_ascii_whitespace())
        .collect();
    if !digits.len().is_multiple_of(2) {
        return Err(CliError::new(
            "invalid_hex",
            format_args!(
                "odd number of hex digits ({}); each byte takes two",
                digits.len()
            ),
        ));
    }
    digits
        .chunks_exact(2)
        .enumerate()
        .map(
            |(index, pair)| match (hex_value(pair[0]), hex_value(pair[1])) {
                (Some(high), Some(low)) => Ok(high << 4 | low),
                _ => Err(CliError::new(
                    "invalid_hex",
                    format_args!(
                        "invalid hex digits {:?} at byte {index}",
                        String::from_utf8_lossy(pair)
                    ),
                )),
            },
        )
        .collect()
}

fn hex_value(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

/// Encodes bytes as lowercase hexadecimal text.
pub(crate) fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        text.push(char::from(DIGITS[usize::from(byte >> 4)]));
        text.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    text
}

/// Returns the snake_case name of an envelope error's kind.
pub(crate) fn envelope_error_kind(error: &EnvelopeError) -> &'static str {
    match error {
        EnvelopeError::TooShort { .. } => "too_short",
        EnvelopeError::UnsupportedVersion { .. } => "unsupported_version",
        EnvelopeError::CrcMismatch { .. } => "crc_mismatch",
        EnvelopeError::MalformedBody { .. } => "malformed_body",
        EnvelopeError::InvalidJsonPayload { .. } => "invalid_json_payload",
        _ => "invalid_envelope",
    }
}

/// Formats Unix nanoseconds as an RFC 3339 UTC time with nanoseconds, for example
/// `2024-07-01T12:00:00.123456789Z`.
pub(crate) fn format_unix_nanos(nanos: i64) -> String {
    let seconds = nanos.div_euclid(1_000_000_000);
    let fraction = nanos.rem_euclid(1_000_000_000);
    let days = seconds.div_euclid(86_400);
    let second_of_day = seconds.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{fraction:09}Z",
        second_of_day / 3600,
        second_of_day / 60 % 60,
        second_of_day % 60
    )
}

/// Converts days since 1970-01-01 to a proleptic Gregorian (year, month, day), by
/// Howard Hinnant's `civil_from_days` algorithm.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Returns `text` cut to `max_chars` characters, with `…` appended when cut.
pub(crate) fn truncate(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips_and_ignores_whitespace() {
        assert_eq!(from_hex(b" 01ff\n0A ").unwrap(), [0x01, 0xff, 0x0a]);
        assert_eq!(to_hex(&[0x01, 0xff, 0x0a]), "01ff0a");
    }

    #[test]
    fn hex_rejects_odd_length_and_bad_digits() {
        assert_eq!(from_hex(b"abc").unwrap_err().kind, "invalid_hex");
        assert_eq!(from_hex(b"zz").unwrap_err().kind, "invalid_hex");
    }

    #[test]
    fn unix_nanos_format_as_rfc3339() {
        assert_eq!(
            format_unix_nanos(1_719_835_200_123_456_789),
            "2024-07-01T12:00:00.123456789Z"
        );
        assert_eq!(format_unix_nanos(0), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(format_unix_nanos(-1), "1969-12-31T23:59:59.999999999Z");
        assert_eq!(
            format_unix_nanos(951_782_400_000_000_000),
            "2000-02-29T00:00:00.000000000Z"
        );
    }

    #[test]
    fn truncate_counts_characters() {
        assert_eq!(truncate("🦀🦀🦀", 2), "🦀🦀…");
        assert_eq!(truncate("abc", 3), "abc");
    }
}
