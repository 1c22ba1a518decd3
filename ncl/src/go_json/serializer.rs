//! A serde `Serializer` that writes JSON the way Go's `encoding/json` marshals.
//!
//! Leaf values (strings, integers, finite floats) are written by `serde_json` with
//! [`GoFormatter`]. This layer adds what a formatter cannot see:
//! - NaN and infinite floats are an error, as in Go, where `serde_json` writes `null`
//!   without consulting the formatter;
//! - map entries are written sorted by key string, as Go sorts map keys;
//! - an embedded `serde_json::value::RawValue` is compacted and HTML-escaped, as Go
//!   embeds a `json.RawMessage`.

use std::cmp::Ordering;
use std::fmt::{self, Display};
use std::ops::Range;

use serde::de::{self, MapAccess, Visitor};
use serde::ser::{self, Impossible, Serialize};
use serde_json::Error;
use serde_json::value::RawValue;

use super::escape::write_str;
use super::{GoFormatter, compact};

/// Struct name that `serde_json::value::RawValue` serializes under (serde_json 1.x).
const RAW_VALUE_TOKEN: &str = "$serde_json::private::RawValue";
/// Struct name that `serde_json::Number` serializes under when serde_json's
/// `arbitrary_precision` feature is enabled.
const NUMBER_TOKEN: &str = "$serde_json::private::Number";

/// Writes one value as Go-compatible JSON to the end of a byte vector.
pub(crate) struct GoSerializer<'a> {
    out: &'a mut Vec<u8>,
}

impl<'a> GoSerializer<'a> {
    pub(crate) fn new(out: &'a mut Vec<u8>) -> Self {
        Self { out }
    }
}

/// Returns a `serde_json` serializer with Go formatting that appends to `out`.
fn leaf(out: &mut Vec<u8>) -> serde_json::Serializer<&mut Vec<u8>, GoFormatter> {
    serde_json::Serializer::with_formatter(out, GoFormatter)
}

fn non_finite(value: f64) -> Error {
    let name = if value.is_nan() {
        "NaN"
    } else if value > 0.0 {
        "+Inf"
    } else {
        "-Inf"
    };
    ser::Error::custom(format_args!(
        "unsupported float value {name}: JSON has no representation for NaN or infinity"
    ))
}

fn invalid_key() -> Error {
    ser::Error::custom("map key must be a string, an integer, a bool, a float or a unit variant")
}

/// Appends `"variant":` after an opening brace, for the externally tagged variants.
fn begin_variant(out: &mut Vec<u8>, variant: &'static str) -> Result<(), Error> {
    out.push(b'{');
    write_str(out, variant);
    out.push(b':');
    Ok(())
}

macro_rules! delegate_to_leaf {
    ($($method:ident($type:ty)),* $(,)?) => {
        $(
            fn $method(self, value: $type) -> Result<(), Error> {
                ser::Serializer::$method(&mut leaf(self.out), value)
            }
        )*
    };
}

impl<'a> ser::Serializer for GoSerializer<'a> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = SeqWriter<'a>;
    type SerializeTuple = SeqWriter<'a>;
    type SerializeTupleStruct = SeqWriter<'a>;
    type SerializeTupleVariant = SeqWriter<'a>;
    type SerializeMap = MapWriter<'a>;
    type SerializeStruct = StructWriter<'a>;
    type SerializeStructVariant = StructWriter<'a>;

    delegate_to_leaf!(
        serialize_bool(bool),
        serialize_i8(i8),
        serialize_i16(i16),
        serialize_i32(i32),
        serialize_i64(i64),
        serialize_i128(i128),
        serialize_u8(u8),
        serialize_u16(u16),
        serialize_u32(u32),
        serialize_u64(u64),
        serialize_u128(u128),
        serialize_bytes(&[u8]),
    );

    fn serialize_char(self, value: char) -> Result<(), Error> {
        write_str(self.out, value.encode_utf8(&mut [0; 4]));
        Ok(())
    }

    fn serialize_str(self, value: &str) -> Result<(), Error> {
        write_str(self.out, value);
        Ok(())
    }

    fn serialize_f32(self, value: f32) -> Result<(), Error> {
        if !value.is_finite() {
            return Err(non_finite(f64::from(value)));
        }
        ser::Serializer::serialize_f32(&mut leaf(self.out), value)
    }

    fn serialize_f64(self, value: f64) -> Result<(), Error> {
        if !value.is_finite() {
            return Err(non_finite(value));
        }
        ser::Serializer::serialize_f64(&mut leaf(self.out), value)
    }

    fn serialize_none(self) -> Result<(), Error> {
        self.serialize_unit()
    }

    fn serialize_some<T: ?Sized + Serialize>(self, value: &T) -> Result<(), Error> {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<(), Error> {
        self.out.extend_from_slice(b"null");
        Ok(())
    }

    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), Error> {
        self.serialize_unit()
    }

    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<(), Error> {
        self.serialize_str(variant)
    }

    fn serialize_newtype_struct<T: ?Sized + Serialize>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        begin_variant(self.out, variant)?;
        value.serialize(GoSerializer::new(&mut *self.out))?;
        self.out.push(b'}');
        Ok(())
    }

    fn serialize_seq(self, _len: Option<usize>) -> Result<SeqWriter<'a>, Error> {
        Ok(SeqWriter::new(self.out, false))
    }

    fn serialize_tuple(self, len: usize) -> Result<SeqWriter<'a>, Error> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        len: usize,
    ) -> Result<SeqWriter<'a>, Error> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<SeqWriter<'a>, Error> {
        begin_variant(self.out, variant)?;
        Ok(SeqWriter::new(self.out, true))
    }

    fn serialize_map(self, len: Option<usize>) -> Result<MapWriter<'a>, Error> {
        self.out.push(b'{');
        let start = self.out.len();
        Ok(MapWriter {
            out: self.out,
            start,
            // A map of unknown length is most likely a struct with `#[serde(flatten)]`,
            // whose fields Go would write in declaration order, so only maps that
            // announce their length are sorted.
            sort: len.is_some(),
            previous_key: None,
            out_of_order: false,
        })
    }

    fn serialize_struct(self, name: &'static str, _len: usize) -> Result<StructWriter<'a>, Error> {
        let kind = match name {
            RAW_VALUE_TOKEN => StructKind::RawValue,
            NUMBER_TOKEN => StructKind::Number,
            _ => {
                self.out.push(b'{');
                StructKind::Object
            }
        };
        Ok(StructWriter {
            out: self.out,
            kind,
            first: true,
            close_variant: false,
        })
    }

    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<StructWriter<'a>, Error> {
        begin_variant(self.out, variant)?;
        self.out.push(b'{');
        Ok(StructWriter {
            out: self.out,
            kind: StructKind::Object,
            first: true,
            close_variant: true,
        })
    }

    fn collect_str<T: ?Sized + Display>(self, value: &T) -> Result<(), Error> {
        ser::Serializer::collect_str(&mut leaf(self.out), value)
    }
}

/// Writes the elements of a sequence, tuple or tuple variant.
pub(crate) struct SeqWriter<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
    close_variant: bool,
}

impl<'a> SeqWriter<'a> {
    fn new(out: &'a mut Vec<u8>, close_variant: bool) -> Self {
        out.push(b'[');
        Self {
            out,
            first: true,
            close_variant,
        }
    }

    fn element<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), Error> {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        value.serialize(GoSerializer::new(&mut *self.out))
    }

    fn finish(self) -> Result<(), Error> {
        self.out.push(b']');
        if self.close_variant {
            self.out.push(b'}');
        }
        Ok(())
    }
}

impl ser::SerializeSeq for SeqWriter<'_> {
    type Ok = ();
    type Error = Error;

    fn serialize_element<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), Error> {
        self.element(value)
    }

    fn end(self) -> Result<(), Error> {
        self.finish()
    }
}

impl ser::SerializeTuple for SeqWriter<'_> {
    type Ok = ();
    type Error = Error;

    fn serialize_element<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), Error> {
        self.element(value)
    }

    fn end(self) -> Result<(), Error> {
        self.finish()
    }
}

impl ser::SerializeTupleStruct for SeqWriter<'_> {
    type Ok = ();
    type Error = Error;

    fn serialize_field<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), Error> {
        self.element(value)
    }

    fn end(self) -> Result<(), Error> {
        self.finish()
    }
}

impl ser::SerializeTupleVariant for SeqWriter<'_> {
    type Ok = ();
    type Error = Error;

    fn serialize_field<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), Error> {
        self.element(value)
    }

    fn end(self) -> Result<(), Error> {
        self.finish()
    }
}

/// Writes map entries, then sorts them by key if they arrived out of order.
///
/// Entries are written straight to the output. Each key is compared with the previous
/// one as it is written, so a map that iterates in key order (a `BTreeMap` with string
/// keys, [`Metadata`](crate::Metadata)) costs no extra work. Only when a key sorts
/// before its predecessor does [`MapWriter::end`] re-read the entries and rewrite them
/// in order.
pub(crate) struct MapWriter<'a> {
    out: &'a mut Vec<u8>,
    /// Offset of the first byte after `{`.
    start: usize,
    sort: bool,
    /// Position in `out` of the previous key, quotes included.
    previous_key: Option<Range<usize>>,
    out_of_order: bool,
}

impl ser::SerializeMap for MapWriter<'_> {
    type Ok = ();
    type Error = Error;

    fn serialize_key<T: ?Sized + Serialize>(&mut self, key: &T) -> Result<(), Error> {
        if self.out.len() > self.start {
            self.out.push(b',');
        }
        let key_start = self.out.len();
        key.serialize(KeySerializer {
            out: &mut *self.out,
        })?;
        let key_range = key_start..self.out.len();
        if self.sort && !self.out_of_order {
            if let Some(previous) = &self.previous_key {
                let ordering =
                    compare_keys(&self.out[key_range.clone()], &self.out[previous.clone()]);
                self.out_of_order = ordering == Ordering::Less;
            }
            self.previous_key = Some(key_range);
        }
        self.out.push(b':');
        Ok(())
    }

    fn serialize_value<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), Error> {
        value.serialize(GoSerializer::new(&mut *self.out))
    }

    fn end(self) -> Result<(), Error> {
        if self.out_of_order {
            sort_entries(self.out, self.start)?;
        }
        self.out.push(b'}');
        Ok(())
    }
}

/// Compares two written keys (quoted JSON strings) by the strings they encode.
///
/// Without escapes the written bytes between the quotes are the key's UTF-8 bytes, so
/// they compare as Go compares key strings. With an escape, the written order can
/// differ from the string order, so both keys are decoded first.
fn compare_keys(a: &[u8], b: &[u8]) -> Ordering {
    if !a.contains(&b'\\') && !b.contains(&b'\\') {
        // Both start and end with `"`, which KeySerializer always writes.
        return a[1..a.len() - 1].cmp(&b[1..b.len() - 1]);
    }
    match (
        serde_json::from_slice::<String>(a),
        serde_json::from_slice::<String>(b),
    ) {
        (Ok(a), Ok(b)) => a.cmp(&b),
        _ => Ordering::Equal,
    }
}

/// Rewrites the entries written after `start` (just after the `{`) in key order.
fn sort_entries(out: &mut Vec<u8>, start: usize) -> Result<(), Error> {
    let mut text = Vec::with_capacity(out.len() - start + 2);
    text.push(b'{');
    text.extend_from_slice(&out[start..]);
    text.push(b'}');

    let mut entries = {
        let mut deserializer = serde_json::Deserializer::from_slice(&text);
        de::Deserializer::deserialize_map(&mut deserializer, EntryVisitor { text: &text })?
    };
    // Stable, so entries with equal keys keep their order.
    entries.sort_by(|a, b| a.0.cmp(&b.0));

    out.truncate(start);
    for (index, (_, range)) in entries.iter().enumerate() {
        if index > 0 {
            out.push(b',');
        }
        out.extend_from_slice(&text[range.clone()]);
    }
    Ok(())
}

/// Reads a written object into (decoded key, byte range of the whole entry) pairs.
struct EntryVisitor<'t> {
    text: &'t [u8],
}

impl<'de> Visitor<'de> for EntryVisitor<'_> {
    type Value = Vec<(String, Range<usize>)>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let base = self.text.as_ptr() as usize;
        let mut entries = Vec::new();
        // The first entry starts after `{`, each later one after the previous entry's `,`.
        let mut entry_start = 1;
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value::<&RawValue>()?;
            let value_end = value.get().as_ptr() as usize - base + value.get().len();
            entries.push((key, entry_start..value_end));
            entry_start = value_end + 1;
        }
        Ok(entries)
    }
}

/// Writes a struct's fields, or the text of a `RawValue` or arbitrary-precision number.
pub(crate) struct StructWriter<'a> {
    out: &'a mut Vec<u8>,
    kind: StructKind,
    first: bool,
    close_variant: bool,
}

enum StructKind {
    Object,
    RawValue,
    Number,
}

impl StructWriter<'_> {
    fn field<T: ?Sized + Serialize>(&mut self, key: &'static str, value: &T) -> Result<(), Error> {
        match self.kind {
            StructKind::Object => {
                if !self.first {
                    self.out.push(b',');
                }
                self.first = false;
                write_str(self.out, key);
                self.out.push(b':');
                value.serialize(GoSerializer::new(&mut *self.out))
            }
            StructKind::RawValue => {
                let text = captured_text(value)?;
                compact(text.as_bytes(), self.out)
            }
            StructKind::Number => {
                let text = captured_text(value)?;
                self.out.extend_from_slice(text.as_bytes());
                Ok(())
            }
        }
    }

    fn finish(self) -> Result<(), Error> {
        if let StructKind::Object = self.kind {
            self.out.push(b'}');
        }
        if self.close_variant {
            self.out.push(b'}');
        }
        Ok(())
    }
}

/// Returns the string that a `RawValue` or `Number` hands to its one field.
fn captured_text<T: ?Sized + Serialize>(value: &T) -> Result<String, Error> {
    match serde_json::to_value(value)? {
        serde_json::Value::String(text) => Ok(text),
        _ => Err(ser::Error::custom(
            "serde_json raw value did not serialize as a string",
        )),
    }
}

impl ser::SerializeStruct for StructWriter<'_> {
    type Ok = ();
    type Error = Error;

    fn serialize_field<T: ?Sized + Serialize>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        self.field(key, value)
    }

    fn end(self) -> Result<(), Error> {
        self.finish()
    }
}

impl ser::SerializeStructVariant for StructWriter<'_> {
    type Ok = ();
    type Error = Error;

    fn serialize_field<T: ?Sized + Serialize>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        self.field(key, value)
    }

    fn end(self) -> Result<(), Error> {
        self.finish()
    }
}

/// Writes a map key as a JSON string: strings as they are, numbers and bools in
/// decimal or literal form inside quotes, as Go writes integer map keys.
struct KeySerializer<'a> {
    out: &'a mut Vec<u8>,
}

impl KeySerializer<'_> {
    fn quoted(self, write: impl FnOnce(&mut Vec<u8>) -> Result<(), Error>) -> Result<(), Error> {
        self.out.push(b'"');
        write(self.out)?;
        self.out.push(b'"');
        Ok(())
    }
}

macro_rules! quoted_key {
    ($($method:ident($type:ty)),* $(,)?) => {
        $(
            fn $method(self, value: $type) -> Result<(), Error> {
                self.quoted(|out| ser::Serializer::$method(GoSerializer::new(out), value))
            }
        )*
    };
}

impl ser::Serializer for KeySerializer<'_> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Impossible<(), Error>;
    type SerializeTuple = Impossible<(), Error>;
    type SerializeTupleStruct = Impossible<(), Error>;
    type SerializeTupleVariant = Impossible<(), Error>;
    type SerializeMap = Impossible<(), Error>;
    type SerializeStruct = Impossible<(), Error>;
    type SerializeStructVariant = Impossible<(), Error>;

    quoted_key!(
        serialize_bool(bool),
        serialize_i8(i8),
        serialize_i16(i16),
        serialize_i32(i32),
        serialize_i64(i64),
        serialize_i128(i128),
        serialize_u8(u8),
        serialize_u16(u16),
        serialize_u32(u32),
        serialize_u64(u64),
        serialize_u128(u128),
        serialize_f32(f32),
        serialize_f64(f64),
    );

    fn serialize_char(self, value: char) -> Result<(), Error> {
        write_str(self.out, value.encode_utf8(&mut [0; 4]));
        Ok(())
    }

    fn serialize_str(self, value: &str) -> Result<(), Error> {
        write_str(self.out, value);
        Ok(())
    }

    fn serialize_bytes(self, _value: &[u8]) -> Result<(), Error> {
        Err(invalid_key())
    }

    fn serialize_none(self) -> Result<(), Error> {
        Err(invalid_key())
    }

    fn serialize_some<T: ?Sized + Serialize>(self, _value: &T) -> Result<(), Error> {
        Err(invalid_key())
    }

    fn serialize_unit(self) -> Result<(), Error> {
        Err(invalid_key())
    }

    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), Error> {
        Err(invalid_key())
    }

    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<(), Error> {
        self.serialize_str(variant)
    }

    fn serialize_newtype_struct<T: ?Sized + Serialize>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _value: &T,
    ) -> Result<(), Error> {
        Err(invalid_key())
    }

    fn serialize_seq(self, _len: Option<usize>) -> Result<Self::SerializeSeq, Error> {
        Err(invalid_key())
    }

    fn serialize_tuple(self, _len: usize) -> Result<Self::SerializeTuple, Error> {
        Err(invalid_key())
    }

    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleStruct, Error> {
        Err(invalid_key())
    }

    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleVariant, Error> {
        Err(invalid_key())
    }

    fn serialize_map(self, _len: Option<usize>) -> Result<Self::SerializeMap, Error> {
        Err(invalid_key())
    }

    fn serialize_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStruct, Error> {
        Err(invalid_key())
    }

    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStructVariant, Error> {
        Err(invalid_key())
    }

    fn collect_str<T: ?Sized + Display>(self, value: &T) -> Result<(), Error> {
        ser::Serializer::collect_str(&mut leaf(self.out), value)
    }
}
