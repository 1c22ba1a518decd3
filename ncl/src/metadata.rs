//! Message metadata: string keys mapped to string values.

use std::collections::BTreeMap;
use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

/// Well-known metadata keys, spelled as Bacalhau's Go NCL spells them.
pub mod keys {
    /// Unique identifier of a message, set by the publisher unless already present.
    pub const MESSAGE_ID: &str = "MessageID";
    /// Wire name of the payload type (the legacy spelling, written by every version).
    pub const TYPE: &str = "Type";
    /// Name of the publisher that sent the message.
    pub const SOURCE: &str = "Source";
    /// Time the event happened, as Unix nanoseconds written in decimal.
    pub const EVENT_TIME: &str = "EventTime";
    /// Encoding of the payload bytes inside the envelope; `json` is the only one defined.
    pub const PAYLOAD_ENCODING: &str = "PayloadEncoding";
    /// Newer spelling of [`TYPE`], written by Bacalhau's current `envelope` package.
    pub const BACALHAU_TYPE: &str = "Bacalhau-Type";
    /// Newer spelling of [`PAYLOAD_ENCODING`], written by Bacalhau's current `envelope`
    /// package.
    pub const BACALHAU_PAYLOAD_ENCODING: &str = "Bacalhau-PayloadEncoding";
}

/// A map from string keys to string values, iterated in bytewise key order.
///
/// Metadata travels beside the payload in every envelope. The publisher stamps the
/// well-known keys in [`keys`]; applications may add their own. Keys are compared as
/// bytes, which is also the order in which they are serialized, so the same metadata
/// always produces the same envelope bytes.
///
/// # Reading the type and encoding
///
/// Bacalhau's current Go code writes the type under both [`keys::BACALHAU_TYPE`] and
/// [`keys::TYPE`] (and likewise for the payload encoding); older code writes only the
/// legacy key. [`Metadata::message_type`] and [`Metadata::payload_encoding`] read the
/// newer key first and fall back to the legacy one, which is the rule Go's
/// `Metadata.Get` follows. When both are present and disagree, the newer key wins.
///
/// # Examples
///
/// ```
/// use ncl::Metadata;
///
/// let mut metadata = Metadata::new();
/// metadata.insert("Region", "eu-west");
/// metadata.set_i64("Attempt", 3);
///
/// assert_eq!(metadata.get("Region"), Some("eu-west"));
/// assert_eq!(metadata.get_i64("Attempt"), Some(Ok(3)));
/// ```
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Metadata {
    entries: BTreeMap<String, String>,
}

impl Metadata {
    /// Creates empty metadata.
    pub fn new() -> Self {
        Self::default()
    }

    /// Returns the number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Returns `true` when there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Returns the value stored under `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries.get(key).map(String::as_str)
    }

    /// Returns `true` when `key` has a value.
    pub fn contains_key(&self, key: &str) -> bool {
        self.entries.contains_key(key)
    }

    /// Stores `value` under `key` and returns the value it replaced.
    pub fn insert(&mut self, key: impl Into<String>, value: impl Into<String>) -> Option<String> {
        self.entries.insert(key.into(), value.into())
    }

    /// Removes `key` and returns its value.
    pub fn remove(&mut self, key: &str) -> Option<String> {
        self.entries.remove(key)
    }

    /// Iterates over the entries in bytewise key order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, &str)> + '_ {
        self.entries.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Parses the value under `key` as a decimal `i64`.
    ///
    /// Returns `None` when the key is absent and `Some(Err(_))` when its value is not
    /// a decimal integer.
    pub fn get_i64(&self, key: &str) -> Option<Result<i64, std::num::ParseIntError>> {
        self.get(key).map(str::parse)
    }

    /// Stores `value` under `key` as a decimal string.
    pub fn set_i64(&mut self, key: impl Into<String>, value: i64) {
        self.insert(key, value.to_string());
    }

    /// Parses the value under `key` as a decimal `u64`.
    pub fn get_u64(&self, key: &str) -> Option<Result<u64, std::num::ParseIntError>> {
        self.get(key).map(str::parse)
    }

    /// Stores `value` under `key` as a decimal string.
    pub fn set_u64(&mut self, key: impl Into<String>, value: u64) {
        self.insert(key, value.to_string());
    }

    /// Returns the message id ([`keys::MESSAGE_ID`]).
    pub fn message_id(&self) -> Option<&str> {
        self.get(keys::MESSAGE_ID)
    }

    /// Returns the publisher name ([`keys::SOURCE`]).
    pub fn source(&self) -> Option<&str> {
        self.get(keys::SOURCE)
    }

    /// Returns the payload's wire type name.
    ///
    /// Reads [`keys::BACALHAU_TYPE`] first and falls back to [`keys::TYPE`].
    pub fn message_type(&self) -> Option<&str> {
        self.get(keys::BACALHAU_TYPE)
            .or_else(|| self.get(keys::TYPE))
    }

    /// Returns the payload encoding.
    ///
    /// Reads [`keys::BACALHAU_PAYLOAD_ENCODING`] first and falls back to
    /// [`keys::PAYLOAD_ENCODING`].
    pub fn payload_encoding(&self) -> Option<&str> {
        self.get(keys::BACALHAU_PAYLOAD_ENCODING)
            .or_else(|| self.get(keys::PAYLOAD_ENCODING))
    }

    /// Returns the event time ([`keys::EVENT_TIME`]) as Unix nanoseconds.
    ///
    /// Returns `None` when the key is absent and `Some(Err(_))` when its value is not
    /// a decimal integer.
    pub fn event_time_nanos(&self) -> Option<Result<i64, std::num::ParseIntError>> {
        self.get_i64(keys::EVENT_TIME)
    }

    /// Returns the event time ([`keys::EVENT_TIME`]) as a [`SystemTime`].
    ///
    /// Returns `None` when the key is absent or its value is not a decimal integer.
    pub fn event_time(&self) -> Option<SystemTime> {
        let nanos = self.event_time_nanos()?.ok()?;
        let offset = std::time::Duration::from_nanos(nanos.unsigned_abs());
        if nanos >= 0 {
            UNIX_EPOCH.checked_add(offset)
        } else {
            UNIX_EPOCH.checked_sub(offset)
        }
    }

    /// Stores `time` under [`keys::EVENT_TIME`] as Unix nanoseconds.
    ///
    /// Times outside the range of an `i64` of nanoseconds (before 1677 or after 2262)
    /// are clamped to that range.
    pub fn set_event_time(&mut self, time: SystemTime) {
        self.set_i64(keys::EVENT_TIME, unix_nanos(time));
    }

    /// Stores the payload's wire type name under [`keys::TYPE`], and under
    /// [`keys::BACALHAU_TYPE`] too when `generation` is [`KeyGeneration::Current`].
    pub fn set_message_type(&mut self, name: &str, generation: KeyGeneration) {
        if generation == KeyGeneration::Current {
            self.insert(keys::BACALHAU_TYPE, name);
        }
        self.insert(keys::TYPE, name);
    }

    /// Stores the payload encoding under [`keys::PAYLOAD_ENCODING`], and under
    /// [`keys::BACALHAU_PAYLOAD_ENCODING`] too when `generation` is
    /// [`KeyGeneration::Current`].
    pub fn set_payload_encoding(&mut self, encoding: &str, generation: KeyGeneration) {
        if generation == KeyGeneration::Current {
            self.insert(keys::BACALHAU_PAYLOAD_ENCODING, encoding);
        }
        self.insert(keys::PAYLOAD_ENCODING, encoding);
    }
}

/// Which spellings of the type and encoding keys a writer emits.
///
/// Readers accept both generations whatever this is set to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum KeyGeneration {
    /// Writes only `Type` and `PayloadEncoding`, as Bacalhau's first NCL does.
    #[default]
    Legacy,
    /// Writes `Bacalhau-Type` and `Bacalhau-PayloadEncoding` beside the legacy keys, as
    /// Bacalhau's current `envelope` package does.
    Current,
}

/// Converts `time` to Unix nanoseconds, clamped to the range of an `i64`.
pub(crate) fn unix_nanos(time: SystemTime) -> i64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_nanos()).unwrap_or(i64::MAX),
        Err(before) => i64::try_from(before.duration().as_nanos())
            .map(|n| -n)
            .unwrap_or(i64::MIN),
    }
}

impl fmt::Debug for Metadata {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for Metadata {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let entries = iter
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        Self { entries }
    }
}

impl<K: Into<String>, V: Into<String>> Extend<(K, V)> for Metadata {
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, iter: I) {
        for (k, v) in iter {
            self.insert(k, v);
        }
    }
}

impl<'a> IntoIterator for &'a Metadata {
    type Item = (&'a str, &'a str);
    type IntoIter = std::iter::Map<
        std::collections::btree_map::Iter<'a, String, String>,
        fn((&'a String, &'a String)) -> (&'a str, &'a str),
    >;

    fn into_iter(self) -> Self::IntoIter {
        self.entries.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

impl IntoIterator for Metadata {
    type Item = (String, String);
    type IntoIter = std::collections::btree_map::IntoIter<String, String>;

    fn into_iter(self) -> Self::IntoIter {
        self.entries.into_iter()
    }
}

impl serde::Serialize for Metadata {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.iter())
    }
}

impl<'de> serde::Deserialize<'de> for Metadata {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MetadataVisitor;

        impl<'de> serde::de::Visitor<'de> for MetadataVisitor {
            type Value = Metadata;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of strings to strings")
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Metadata, A::Error> {
                let mut metadata = Metadata::new();
                // A repeated key keeps its last value, as Go's encoding/json does.
                while let Some((key, value)) = map.next_entry::<String, String>()? {
                    metadata.insert(key, value);
                }
                Ok(metadata)
            }
        }

        deserializer.deserialize_map(MetadataVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iteration_is_bytewise_sorted() {
        let metadata: Metadata = [("b", "1"), ("B", "2"), ("a", "3"), ("é", "4"), ("Z", "5")]
            .into_iter()
            .collect();
        let keys: Vec<&str> = metadata.iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["B", "Z", "a", "b", "é"]);
    }

    #[test]
    fn integers_round_trip() {
        let mut metadata = Metadata::new();
        metadata.set_i64("n", -42);
        metadata.set_u64("u", u64::MAX);
        assert_eq!(metadata.get("n"), Some("-42"));
        assert_eq!(metadata.get_i64("n"), Some(Ok(-42)));
        assert_eq!(metadata.get_u64("u"), Some(Ok(u64::MAX)));
        assert_eq!(metadata.get_i64("missing"), None);
    }

    #[test]
    fn non_numeric_value_is_parse_error() {
        let mut metadata = Metadata::new();
        metadata.insert("n", "12a");
        assert!(matches!(metadata.get_i64("n"), Some(Err(_))));
    }

    #[test]
    fn event_time_is_decimal_unix_nanos() {
        let time = UNIX_EPOCH + std::time::Duration::from_nanos(1_719_835_200_123_456_789);
        let mut metadata = Metadata::new();
        metadata.set_event_time(time);
        assert_eq!(metadata.get(keys::EVENT_TIME), Some("1719835200123456789"));
        assert_eq!(metadata.event_time(), Some(time));
    }

    #[test]
    fn event_time_before_epoch_is_negative() {
        let time = UNIX_EPOCH - std::time::Duration::from_secs(1);
        let mut metadata = Metadata::new();
        metadata.set_event_time(time);
        assert_eq!(metadata.get(keys::EVENT_TIME), Some("-1000000000"));
        assert_eq!(metadata.event_time(), Some(time));
    }

    #[test]
    fn type_reads_legacy_key() {
        let metadata: Metadata = [(keys::TYPE, "Job")].into_iter().collect();
        assert_eq!(metadata.message_type(), Some("Job"));
    }

    #[test]
    fn newer_type_key_wins_on_disagreement() {
        let metadata: Metadata = [(keys::TYPE, "Old"), (keys::BACALHAU_TYPE, "New")]
            .into_iter()
            .collect();
        assert_eq!(metadata.message_type(), Some("New"));
    }

    #[test]
    fn newer_encoding_key_wins_on_disagreement() {
        let metadata: Metadata = [
            (keys::PAYLOAD_ENCODING, "json"),
            (keys::BACALHAU_PAYLOAD_ENCODING, "cbor"),
        ]
        .into_iter()
        .collect();
        assert_eq!(metadata.payload_encoding(), Some("cbor"));
    }

    #[test]
    fn current_generation_writes_both_spellings() {
        let mut metadata = Metadata::new();
        metadata.set_message_type("Job", KeyGeneration::Current);
        metadata.set_payload_encoding("json", KeyGeneration::Current);
        assert_eq!(metadata.get(keys::TYPE), Some("Job"));
        assert_eq!(metadata.get(keys::BACALHAU_TYPE), Some("Job"));
        assert_eq!(metadata.get(keys::PAYLOAD_ENCODING), Some("json"));
        assert_eq!(metadata.get(keys::BACALHAU_PAYLOAD_ENCODING), Some("json"));
    }

    #[test]
    fn legacy_generation_writes_legacy_keys_only() {
        let mut metadata = Metadata::new();
        metadata.set_message_type("Job", KeyGeneration::Legacy);
        assert_eq!(metadata.get(keys::TYPE), Some("Job"));
        assert!(!metadata.contains_key(keys::BACALHAU_TYPE));
    }

    #[test]
    fn duplicate_json_keys_keep_last_value() {
        let metadata: Metadata = serde_json::from_str(r#"{"a":"1","a":"2"}"#).unwrap();
        assert_eq!(metadata.get("a"), Some("2"));
        assert_eq!(metadata.len(), 1);
    }
}
