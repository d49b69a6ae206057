//! Typed JSON request bodies, read with the errors the service gives: 400
//! `BadRequest` for a missing or malformed body, 400 `ValidationError`
//! naming the field for a value of the wrong type.

use serde::de::DeserializeOwned;

use crate::api_error::ApiError;

/// Whether the operation may be sent without a body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presence {
    Required,
    Optional,
}

/// Reads `bytes` as the JSON object `T`. An empty (or all-whitespace) body
/// is `T::default()` when optional.
pub fn read<T: DeserializeOwned + Default>(
    bytes: &[u8],
    presence: Presence,
) -> Result<T, ApiError> {
    let Some(first) = bytes.iter().find(|b| !b.is_ascii_whitespace()) else {
        return match presence {
            Presence::Optional => Ok(T::default()),
            Presence::Required => Err(ApiError::new(
                400,
                "BadRequest",
                "The request body is required.",
            )),
        };
    };
    if *first != b'{' {
        return Err(ApiError::new(
            400,
            "BadRequest",
            "The request body must be a JSON object.",
        ));
    }
    let mut json = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut json).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_data() && path != "." {
            ApiError::validation(&path, format!("{path}: {inner}."))
        } else {
            ApiError::new(
                400,
                "BadRequest",
                format!("The request body is not valid JSON: {inner}."),
            )
        }
    })?;
    json.end().map_err(|e| {
        ApiError::new(
            400,
            "BadRequest",
            format!("The request body is not valid JSON: {e}."),
        )
    })?;
    Ok(value)
}

/// `value` when it is a non-empty string, else the service's validation
/// error for the field `name`.
pub fn required(value: Option<String>, name: &str) -> Result<String, ApiError> {
    value.filter(|s| !s.is_empty()).ok_or_else(|| {
        ApiError::validation(
            name,
            format!("{name} is required and must be a non-empty string."),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Default, serde::Deserialize, PartialEq)]
    #[serde(rename_all = "camelCase")]
    struct Sample {
        custom_id: Option<String>,
        expires_in_minutes: Option<i64>,
    }

    #[test]
    fn empty_bodies_follow_the_operation() {
        assert_eq!(
            read::<Sample>(b"  ", Presence::Optional).unwrap(),
            Sample::default()
        );
        let e = read::<Sample>(b"", Presence::Required).unwrap_err();
        assert_eq!((e.status, e.code), (400, "BadRequest"));
    }

    #[test]
    fn a_wrong_type_names_the_field() {
        let e = read::<Sample>(br#"{"customId": 5}"#, Presence::Required).unwrap_err();
        assert_eq!((e.status, e.code), (400, "ValidationError"));
        assert_eq!(e.target.as_deref(), Some("customId"));
        let e = read::<Sample>(br#"{"expiresInMinutes": 60.5}"#, Presence::Required).unwrap_err();
        assert_eq!(e.target.as_deref(), Some("expiresInMinutes"));
    }

    #[test]
    fn only_objects_and_whole_documents_are_read() {
        for body in [
            &b"[]"[..],
            b"null",
            b"\"x\"",
            b"{",
            b"{} {}",
            b"{\"customId\":\"a\",}",
        ] {
            let e = read::<Sample>(body, Presence::Required).unwrap_err();
            assert_eq!((e.status, e.code), (400, "BadRequest"), "{body:?}");
        }
        let ok: Sample = read(br#"{"customId": "a", "other": [1]}"#, Presence::Required).unwrap();
        assert_eq!(ok.custom_id.as_deref(), Some("a"));
    }
}
