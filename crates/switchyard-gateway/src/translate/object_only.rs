//! Derived structs read from JSON objects only.
//!
//! `serde_json` fills a derived struct from an array too, field by field in declaration
//! order, so `["user", "hi"]` would read as a message. The readings of `Value` trees
//! that the typed readers must agree with see no fields in an array, and no format
//! sends one where an object belongs: a struct read through these is refused unless its
//! JSON is an object. Also the other `deserialize_with` helpers the typed readers share.

use serde::de::{Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use std::fmt;

/// `T`, read only from a JSON object.
pub struct Object<T>(pub T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Object<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        T::deserialize(MapOnly(d)).map(Object)
    }
}

/// For `#[serde(deserialize_with)]`: an optional struct, read only from an object.
pub fn optional<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<T>, D::Error> {
    Ok(Option::<Object<T>>::deserialize(d)?.map(|Object(t)| t))
}

/// For `#[serde(deserialize_with)]`: a field's value whenever the key is there, `null`
/// included (which `Option` alone would read as absent).
pub fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

/// For `#[serde(deserialize_with)]`: a struct whenever the key is there, read only from
/// an object; `Some(None)` for `null`.
pub fn present_object<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    optional(d).map(Some)
}

/// For `#[serde(deserialize_with)]`: an optional array of structs, each read only from
/// an object.
pub fn optional_list<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Vec<T>>, D::Error> {
    let list = Option::<Vec<Object<T>>>::deserialize(d)?;
    // Collected in place: `Object<T>` has `T`'s layout.
    Ok(list.map(|items| items.into_iter().map(|Object(t)| t).collect()))
}

/// A deserializer that reads a struct only as a map (`serde_json` would take an array).
struct MapOnly<D>(D);

impl<'de, D: Deserializer<'de>> Deserializer<'de> for MapOnly<D> {
    type Error = D::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_any(visitor)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_map(ObjectVisitor(visitor))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
    }
}

/// The struct's own visitor for maps only, so that anything else is refused as "expected
/// a JSON object" (rather than with the name of a type of this crate).
struct ObjectVisitor<V>(V);

impl<'de, V: Visitor<'de>> Visitor<'de> for ObjectVisitor<V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        self.0.visit_map(map)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize, Debug, PartialEq)]
    struct Pair<'a> {
        #[serde(borrow)]
        role: &'a str,
        #[serde(default)]
        count: u64,
    }

    #[test]
    fn a_struct_reads_from_an_object_and_not_from_an_array() {
        let read = |json: &'static str| serde_json::from_str::<Object<Pair>>(json).map(|o| o.0);
        assert_eq!(
            read(r#"{"role":"user","count":2}"#).expect("an object"),
            Pair {
                role: "user",
                count: 2
            }
        );
        assert!(serde_json::from_str::<Pair>(r#"["user",2]"#).is_ok());
        let refused = read(r#"["user",2]"#).map(|_| ()).expect_err("an array");
        assert!(
            refused.to_string().contains("expected a JSON object"),
            "{refused}"
        );
        #[derive(Deserialize)]
        struct Holder<'a> {
            #[serde(borrow, default, deserialize_with = "optional")]
            one: Option<Pair<'a>>,
            #[serde(borrow, default, deserialize_with = "optional_list")]
            many: Option<Vec<Pair<'a>>>,
        }
        let holder: Holder = serde_json::from_str(r#"{"one":null,"many":[{"role":"a"}]}"#)
            .expect("objects and null");
        assert!(holder.one.is_none());
        assert_eq!(holder.many.map(|m| m.len()), Some(1));
        assert!(serde_json::from_str::<Holder>(r#"{"one":["a",1]}"#).is_err());
        assert!(serde_json::from_str::<Holder>(r#"{"many":[["a",1]]}"#).is_err());
    }
}
