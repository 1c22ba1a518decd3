//! Message metadata: string keys mapped to string values.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Range;
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
//
// Storage: every key and value lives in one `String`, and a `Vec` of spans, sorted by
// key, indexes it. A message's metadata therefore costs two allocations however many
// keys it has, which matters on the receive path where every message brings its own.
// Replaced and removed text stays in the buffer as garbage until it outweighs the live
// text, when the buffer is rebuilt.
#[derive(Clone, Default)]
pub struct Metadata {
    text: String,
    entries: Vec<Entry>,
    garbage: usize,
}

/// Position of one key and its value in the text buffer.
#[derive(Clone, Debug)]
struct Entry {
    key: Range<usize>,
    value: Range<usize>,
}

impl Metadata {
    /// Creates empty metadata.
    pub fn new() -> Self {
        Self::default()
    }

    /// Creates empty metadata with room for `entries` entries totalling `bytes` bytes of
    /// keys and values.
    pub fn with_capacity(entries: usize, bytes: usize) -> Self {
        Self {
            text: String::with_capacity(bytes),
            entries: Vec::with_capacity(entries),
            garbage: 0,
        }
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
        let index = self.position(key)?;
        Some(&self.text[self.entries[index].value.clone()])
    }

    /// Returns `true` when `key` has a value.
    pub fn contains_key(&self, key: &str) -> bool {
        self.position(key).is_some()
    }

    /// Returns the index of `key`'s entry.
    fn position(&self, key: &str) -> Option<usize> {
        // A message carries about five entries. Comparing lengths first, in order, skips
        // most byte comparisons and beats a binary search at that size.
        const LINEAR_MAX: usize = 8;
        if self.entries.len() > LINEAR_MAX {
            return self.find(key).ok();
        }
        let (key, text) = (key.as_bytes(), self.text.as_bytes());
        self.entries
            .iter()
            .position(|entry| entry.key.len() == key.len() && text[entry.key.clone()] == *key)
    }

    /// Stores `value` under `key` and returns the value it replaced.
    pub fn insert(&mut self, key: impl AsRef<str>, value: impl AsRef<str>) -> Option<String> {
        let (key, value) = (key.as_ref(), value.as_ref());
        match self.find(key) {
            Ok(index) => {
                let old = self.text[self.entries[index].value.clone()].to_owned();
                self.replace_value(index, value);
                Some(old)
            }
            Err(index) => {
                self.insert_at(index, key, value);
                None
            }
        }
    }

    /// Stores `value` under `key`, like [`Metadata::insert`] without returning the old
    /// value, which saves copying it.
    pub fn set(&mut self, key: &str, value: &str) {
        match self.find(key) {
            Ok(index) => self.replace_value(index, value),
            Err(index) => self.insert_at(index, key, value),
        }
    }

    /// Removes `key` and returns its value.
    pub fn remove(&mut self, key: &str) -> Option<String> {
        let index = self.find(key).ok()?;
        let entry = self.entries.remove(index);
        let value = self.text[entry.value.clone()].to_owned();
        self.garbage += entry.key.len() + entry.value.len();
        self.compact_if_wasteful();
        Some(value)
    }

    /// Iterates over the entries in bytewise key order.
    pub fn iter(&self) -> Iter<'_> {
        Iter {
            text: &self.text,
            entries: self.entries.iter(),
        }
    }

    /// Finds `key`: `Ok(index)` of its entry, or `Err(index)` where it would go.
    fn find(&self, key: &str) -> Result<usize, usize> {
        find_key(self.text.as_bytes(), &self.entries, key.as_bytes())
    }

    fn append(&mut self, text: &str) -> Range<usize> {
        let start = self.text.len();
        self.text.push_str(text);
        start..self.text.len()
    }

    fn insert_at(&mut self, index: usize, key: &str, value: &str) {
        let key = self.append(key);
        let value = self.append(value);
        self.entries.insert(index, Entry { key, value });
    }

    fn replace_value(&mut self, index: usize, value: &str) {
        let old = self.entries[index].value.clone();
        if old.len() == value.len() {
            self.text.replace_range(old, value);
            return;
        }
        self.garbage += old.len();
        self.entries[index].value = self.append(value);
        self.compact_if_wasteful();
    }

    /// Rebuilds the text buffer when garbage is over half of it.
    fn compact_if_wasteful(&mut self) {
        if self.garbage < 256 || self.garbage * 2 < self.text.len() {
            return;
        }
        let live = self.text.len() - self.garbage;
        let mut compacted = Self::with_capacity(self.entries.len(), live);
        for (key, value) in self.iter() {
            let key = compacted.append(key);
            let value = compacted.append(value);
            compacted.entries.push(Entry { key, value });
        }
        *self = compacted;
    }

    /// Parses the value under `key` as a decimal `i64`.
    ///
    /// Returns `None` when the key is absent and `Some(Err(_))` when its value is not
    /// a decimal integer.
    pub fn get_i64(&self, key: &str) -> Option<Result<i64, std::num::ParseIntError>> {
        self.get(key).map(str::parse)
    }

    /// Stores `value` under `key` as a decimal string.
    pub fn set_i64(&mut self, key: &str, value: i64) {
        self.set(key, itoa::Buffer::new().format(value));
    }

    /// Parses the value under `key` as a decimal `u64`.
    pub fn get_u64(&self, key: &str) -> Option<Result<u64, std::num::ParseIntError>> {
        self.get(key).map(str::parse)
    }

    /// Stores `value` under `key` as a decimal string.
    pub fn set_u64(&mut self, key: &str, value: u64) {
        self.set(key, itoa::Buffer::new().format(value));
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
            self.set(keys::BACALHAU_TYPE, name);
        }
        self.set(keys::TYPE, name);
    }

    /// Stores the payload encoding under [`keys::PAYLOAD_ENCODING`], and under
    /// [`keys::BACALHAU_PAYLOAD_ENCODING`] too when `generation` is
    /// [`KeyGeneration::Current`].
    pub fn set_payload_encoding(&mut self, encoding: &str, generation: KeyGeneration) {
        if generation == KeyGeneration::Current {
            self.set(keys::BACALHAU_PAYLOAD_ENCODING, encoding);
        }
        self.set(keys::PAYLOAD_ENCODING, encoding);
    }
}

/// Finds `key` among `entries`, whose keys are ranges of `text` sorted bytewise:
/// `Ok(index)` of its entry, or `Err(index)` where it would go.
fn find_key(text: &[u8], entries: &[Entry], key: &[u8]) -> Result<usize, usize> {
    // Keys usually arrive sorted (Go and NCL writers sort them), so a key past the last
    // one is placed without a search.
    match entries.last() {
        None => return Err(0),
        Some(last) if compare_keys(&text[last.key.clone()], key).is_lt() => {
            return Err(entries.len());
        }
        Some(_) => {}
    }
    entries.binary_search_by(|entry| compare_keys(&text[entry.key.clone()], key))
}

/// Compares two keys bytewise. The well-known keys differ in their first byte, which is
/// compared inline before the general comparison (a `memcmp` call).
#[inline]
fn compare_keys(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    match (a.first(), b.first()) {
        (Some(x), Some(y)) if x != y => x.cmp(y),
        _ => a.cmp(b),
    }
}

/// Metadata under construction from raw bytes. Decoders append keys and values as bytes,
/// and [`MetadataBuilder::finish`] turns the text into a `String` with one UTF-8 check.
pub(crate) struct MetadataBuilder {
    text: Vec<u8>,
    entries: Vec<Entry>,
    garbage: usize,
}

impl MetadataBuilder {
    /// Creates a builder with room for `entries` entries totalling `bytes` bytes.
    pub(crate) fn with_capacity(entries: usize, bytes: usize) -> Self {
        Self {
            text: Vec::with_capacity(bytes),
            entries: Vec::with_capacity(entries),
            garbage: 0,
        }
    }

    /// Stores `value` under `key`; a repeated key keeps its last value, as Go's decoders
    /// (JSON and protobuf) do.
    ///
    /// The caller checks that `key` and `value` are each valid UTF-8, because
    /// [`MetadataBuilder::finish`] checks only the whole text, and a character split
    /// across two pieces would pass that check.
    pub(crate) fn push(&mut self, key: &[u8], value: &[u8]) {
        let start = self.text.len();
        self.text.extend_from_slice(key);
        let middle = self.text.len();
        self.text.extend_from_slice(value);
        let (key, value) = (start..middle, middle..self.text.len());
        match find_key(&self.text, &self.entries, &self.text[key.clone()]) {
            Ok(index) => {
                let old = &self.entries[index].value;
                self.garbage += key.len() + old.len();
                self.entries[index].value = value;
            }
            Err(index) => self.entries.insert(index, Entry { key, value }),
        }
    }

    /// Returns the metadata, or `None` when the text is not UTF-8 or an entry does not
    /// start and end on character boundaries.
    pub(crate) fn finish(self) -> Option<Metadata> {
        let text = String::from_utf8(self.text).ok()?;
        // Slicing off a boundary would panic in `get`, so it is checked even though
        // callers promise valid pieces.
        if !text.is_ascii() {
            let on_boundaries = self.entries.iter().all(|entry| {
                text.is_char_boundary(entry.key.start)
                    && text.is_char_boundary(entry.value.start)
                    && text.is_char_boundary(entry.value.end)
            });
            if !on_boundaries {
                return None;
            }
        }
        Some(Metadata {
            text,
            entries: self.entries,
            garbage: self.garbage,
        })
    }
}

/// Spelling of the type and encoding keys that a writer emits.
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

impl<K: AsRef<str>, V: AsRef<str>> FromIterator<(K, V)> for Metadata {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut metadata = Self::new();
        metadata.extend(iter);
        metadata
    }
}

impl<K: AsRef<str>, V: AsRef<str>> Extend<(K, V)> for Metadata {
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, iter: I) {
        for (k, v) in iter {
            self.set(k.as_ref(), v.as_ref());
        }
    }
}

impl PartialEq for Metadata {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Eq for Metadata {}

impl Hash for Metadata {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_usize(self.len());
        for (key, value) in self {
            key.hash(state);
            value.hash(state);
        }
    }
}

/// Iterator over [`Metadata`] entries in bytewise key order.
#[derive(Clone, Debug)]
pub struct Iter<'a> {
    text: &'a str,
    entries: std::slice::Iter<'a, Entry>,
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a str, &'a str);

    fn next(&mut self) -> Option<Self::Item> {
        let entry = self.entries.next()?;
        Some((
            &self.text[entry.key.clone()],
            &self.text[entry.value.clone()],
        ))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.entries.size_hint()
    }
}

impl ExactSizeIterator for Iter<'_> {}

impl DoubleEndedIterator for Iter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        let entry = self.entries.next_back()?;
        Some((
            &self.text[entry.key.clone()],
            &self.text[entry.value.clone()],
        ))
    }
}

impl IntoIterator for Metadata {
    type Item = (String, String);
    type IntoIter = std::vec::IntoIter<(String, String)>;

    fn into_iter(self) -> Self::IntoIter {
        let pairs: Vec<(String, String)> = self
            .iter()
            .map(|(key, value)| (key.to_owned(), value.to_owned()))
            .collect();
        pairs.into_iter()
    }
}

impl<'a> IntoIterator for &'a Metadata {
    type Item = (&'a str, &'a str);
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
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
                let mut metadata = Metadata::with_capacity(8, 256);
                // Keys and values are appended straight into the text buffer, whether
                // the input lends them or has to unescape them first.
                while let Some(key) = map.next_key_seed(AppendStr(&mut metadata.text))? {
                    let value = map.next_value_seed(AppendStr(&mut metadata.text))?;
                    match metadata.find(&metadata.text[key.clone()]) {
                        // A repeated key keeps its last value, as Go's encoding/json does.
                        Ok(index) => {
                            let old = &metadata.entries[index].value;
                            metadata.garbage += key.len() + old.len();
                            metadata.entries[index].value = value;
                        }
                        Err(index) => metadata.entries.insert(index, Entry { key, value }),
                    }
                }
                Ok(metadata)
            }
        }

        deserializer.deserialize_map(MetadataVisitor)
    }
}

/// Deserializes a string by appending it to a buffer; yields its range there.
struct AppendStr<'b>(&'b mut String);

impl<'de> serde::de::DeserializeSeed<'de> for AppendStr<'_> {
    type Value = Range<usize>;

    fn deserialize<D: serde::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl serde::de::Visitor<'_> for AppendStr<'_> {
    type Value = Range<usize>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_str<E: serde::de::Error>(self, value: &str) -> Result<Self::Value, E> {
        let start = self.0.len();
        self.0.push_str(value);
        Ok(start..self.0.len())
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
    fn insert_replaces_and_returns_old_value() {
        let mut metadata = Metadata::new();
        assert_eq!(metadata.insert("k", "short"), None);
        assert_eq!(
            metadata.insert("k", "a longer value"),
            Some("short".to_owned())
        );
        assert_eq!(
            metadata.insert("k", "same length..."),
            Some("a longer value".to_owned())
        );
        assert_eq!(metadata.get("k"), Some("same length..."));
        assert_eq!(metadata.len(), 1);
    }

    #[test]
    fn remove_and_reinsert_keep_order() {
        let mut metadata: Metadata = [("c", "3"), ("a", "1"), ("b", "2")].into_iter().collect();
        assert_eq!(metadata.remove("b"), Some("2".to_owned()));
        assert_eq!(metadata.remove("b"), None);
        metadata.insert("b", "two");
        let pairs: Vec<(&str, &str)> = metadata.iter().collect();
        assert_eq!(pairs, [("a", "1"), ("b", "two"), ("c", "3")]);
    }

    #[test]
    fn many_replacements_stay_compact() {
        let mut metadata = Metadata::new();
        metadata.insert("keep", "x");
        for i in 0..10_000 {
            metadata.insert("counter", i.to_string());
        }
        assert_eq!(metadata.get("counter"), Some("9999"));
        assert_eq!(metadata.get("keep"), Some("x"));
        assert!(
            metadata.text.len() < 1024,
            "text grew to {}",
            metadata.text.len()
        );
    }

    #[test]
    fn equality_ignores_insertion_history() {
        let mut a = Metadata::new();
        a.insert("x", "1");
        a.insert("x", "22");
        a.insert("y", "3");
        let b: Metadata = [("y", "3"), ("x", "22")].into_iter().collect();
        assert_eq!(a, b);
    }

    #[test]
    fn escaped_json_strings_are_unescaped() {
        let metadata: Metadata = serde_json::from_str(r#"{"k\u0041":"v\n\u00e9"}"#).unwrap();
        assert_eq!(metadata.get("kA"), Some("v\né"));
    }

    #[test]
    fn unsorted_json_keys_are_sorted() {
        let metadata: Metadata = serde_json::from_str(r#"{"b":"2","c":"3","a":"1"}"#).unwrap();
        let keys: Vec<&str> = metadata.iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["a", "b", "c"]);
    }

    #[test]
    fn duplicate_json_keys_keep_last_value() {
        let metadata: Metadata = serde_json::from_str(r#"{"a":"1","a":"2"}"#).unwrap();
        assert_eq!(metadata.get("a"), Some("2"));
        assert_eq!(metadata.len(), 1);
    }
}
