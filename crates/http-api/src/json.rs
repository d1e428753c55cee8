//! The JSON body extractor: actix's `web::Json` (with the 64 KiB limit, the media type
//! check and the error mapping set up in `lib.rs`) plus one rule: the body must be a
//! JSON object. serde alone reads a struct from an array too (`[3, 5]` as
//! `{"planId": 3, "orgId": 5}`), and a body of the wrong type must be a 400.

use std::future::Future;
use std::ops::Deref;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};
use serde::de::{DeserializeOwned, Deserializer, Visitor};
use serde::Deserialize;

use crate::error::{ApiError, ErrorCode};

/// A JSON object body deserialised into `T`.
#[derive(Debug)]
pub struct Json<T>(pub T);

impl<T> Json<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> Deref for Json<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for Json<T> {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = web::Json::<ObjectOnly<T>>::from_request(req, payload);
        Box::pin(async move { body.await.map(|body| Json(body.into_inner().0)) })
    }
}

/// A JSON object body that may also be left out entirely (then `T::default()`), for
/// requests whose every field is optional (`curl -X POST` with no body works).
#[derive(Debug)]
pub struct OptionalJson<T>(pub T);

impl<T> OptionalJson<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T: DeserializeOwned + Default + 'static> FromRequest for OptionalJson<T> {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        // Bytes keeps the 64 KiB payload limit (413 beyond it).
        let body = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            let body = body.await?;
            if body.iter().all(u8::is_ascii_whitespace) {
                return Ok(OptionalJson(T::default()));
            }
            if !is_json {
                return Err(ApiError::new(
                    ErrorCode::UnsupportedMediaType,
                    "Send the body as application/json.",
                )
                .into());
            }
            from_object_slice(&body)
                .map(OptionalJson)
                .map_err(|e| body_error(&e).into())
        })
    }
}

/// The 400 for a body that is not the JSON expected.
pub fn body_error(e: &serde_json::Error) -> ApiError {
    if e.is_data() {
        ApiError::new(
            ErrorCode::ValidationFailed,
            format!("Invalid request body: {e}."),
        )
    } else {
        ApiError::new(ErrorCode::ValidationFailed, format!("Malformed JSON: {e}."))
    }
}

/// Parses bytes that must hold a JSON object (for bodies read by hand).
pub fn from_object_slice<T: DeserializeOwned>(bytes: &[u8]) -> serde_json::Result<T> {
    serde_json::from_slice::<ObjectOnly<T>>(bytes).map(|object| object.0)
}

/// Reads a value that must be a JSON object (for plan files).
pub fn from_object_value<T: DeserializeOwned>(value: serde_json::Value) -> serde_json::Result<T> {
    ObjectOnly::<T>::deserialize(value).map(|object| object.0)
}

/// `T`, read only from a JSON object.
struct ObjectOnly<T>(T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for ObjectOnly<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        T::deserialize(MapOnly(deserializer)).map(ObjectOnly)
    }
}

/// A deserializer that answers every request for a value with a map: a struct (or a
/// map) is then read from `{...}` only, and anything else is an "invalid type" error.
struct MapOnly<D>(D);

impl<'de, D: Deserializer<'de>> Deserializer<'de> for MapOnly<D> {
    type Error = D::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_map(visitor)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_map(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        visitor.visit_newtype_struct(self)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
        byte_buf option unit unit_struct seq tuple tuple_struct map enum identifier
        ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "camelCase")]
    struct Order {
        plan_id: i64,
        #[serde(default)]
        org_id: Option<i64>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Overrides(serde_json::Map<String, serde_json::Value>);

    #[test]
    fn only_objects_are_read() {
        assert_eq!(
            from_object_slice::<Order>(br#"{"planId": 3}"#).unwrap(),
            Order {
                plan_id: 3,
                org_id: None
            }
        );
        // serde_json alone accepts these; a body of the wrong type must be refused.
        assert!(serde_json::from_slice::<Order>(b"[3, 5]").is_ok());
        for bad in [&b"[3, 5]"[..], b"[]", b"null", b"\"text\"", b"3", b"true"] {
            let err = from_object_slice::<Order>(bad).unwrap_err();
            assert!(err.is_data(), "{}: {err}", String::from_utf8_lossy(bad));
        }
        assert!(from_object_value::<Order>(serde_json::json!([3])).is_err());
        assert_eq!(
            from_object_value::<Order>(serde_json::json!({"planId": 3, "orgId": 5})).unwrap(),
            Order {
                plan_id: 3,
                org_id: Some(5)
            }
        );
        let overrides: Overrides = from_object_slice(br#"{"servers": 5}"#).unwrap();
        assert_eq!(overrides.0["servers"], 5);
        assert!(from_object_slice::<Overrides>(b"[1]").is_err());
        // Nested values keep their usual rules.
        assert!(from_object_slice::<Order>(br#"{"planId": "3"}"#).is_err());
    }
}
