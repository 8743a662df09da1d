//! Random JSON request bodies for the property tests that hold the typed request
//! readers to their `Value` twins: objects of the fields a reader knows, with values
//! of the expected types and now and then of others, keys given twice, arrays where
//! objects belong.

use crate::errors::ApiError;
use crate::translate::Request;
use proptest::prelude::*;
use serde_json::Value;

/// A request read both ways, as text to compare: from its bytes by `typed` (which
/// reads typed when it can) and by `general` through a `Value` tree.
pub fn both_ways(
    body: &str,
    typed: fn(&[u8]) -> Result<Request, ApiError>,
    general: fn(&Value) -> Result<Request, ApiError>,
) -> (String, String) {
    let value: Value = serde_json::from_str(body).expect("JSON");
    let show = |r: Result<Request, ApiError>| match r {
        Ok(request) => format!("{request:?}"),
        Err(e) => format!("error: {}", e.message),
    };
    (show(typed(body.as_bytes())), show(general(&value)))
}

/// One of `fitting` values, now and then one of the `odd` ones.
pub fn pick(fitting: Vec<&'static str>, odd: Vec<&'static str>) -> BoxedStrategy<String> {
    let fitting = prop::sample::select(fitting).prop_map(str::to_string);
    if odd.is_empty() {
        return fitting.boxed();
    }
    let odd = prop::sample::select(odd).prop_map(str::to_string);
    prop_oneof![30 => fitting, 1 => odd].boxed()
}

/// An object of some of `keys` (their values picked by `value`, or by `nested` for the
/// keys it lists), one key perhaps twice, and now and then its values alone, as an
/// array where the object belongs.
pub fn object(
    keys: &'static [&'static str],
    nested: Vec<(&'static str, BoxedStrategy<String>)>,
    value: fn(&'static str) -> BoxedStrategy<String>,
) -> BoxedStrategy<String> {
    let plain: Vec<BoxedStrategy<Option<String>>> = keys
        .iter()
        .map(|key| {
            prop::option::weighted(0.6, value(key))
                .prop_map(move |v| v.map(|v| format!("\"{key}\":{v}")))
                .boxed()
        })
        .collect();
    let nested: Vec<BoxedStrategy<Option<String>>> = nested
        .into_iter()
        .map(|(key, strategy)| {
            prop::option::weighted(0.7, strategy)
                .prop_map(move |v| v.map(|v| format!("\"{key}\":{v}")))
                .boxed()
        })
        .collect();
    (plain, nested, prop::option::weighted(0.03, 0..16usize))
        .prop_map(|(plain, nested, repeat)| {
            let mut fields: Vec<String> = plain.into_iter().chain(nested).flatten().collect();
            if let Some(i) = repeat.filter(|_| !fields.is_empty()) {
                fields.push(fields[i % fields.len()].clone());
            }
            // Now and then the values alone, as an array where the object belongs.
            if repeat == Some(15) {
                let values: Vec<&str> = fields
                    .iter()
                    .filter_map(|f| f.split_once(':').map(|(_, v)| v))
                    .collect();
                return format!("[{}]", values.join(","));
            }
            format!("{{{}}}", fields.join(","))
        })
        .boxed()
}

/// An array of up to three `item`s, or now and then `null` or `odd`.
pub fn array(item: BoxedStrategy<String>, odd: &'static str) -> BoxedStrategy<String> {
    prop_oneof![
        30 => prop::collection::vec(item, 0..4).prop_map(|items| format!("[{}]", items.join(","))),
        3 => Just("null".to_string()),
        1 => Just(odd.to_string()),
    ]
    .boxed()
}
