//! Query string parameters.

use percent_encoding::percent_decode_str;

/// The decoded value of the first parameter called `name` in `query`.
pub fn param(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (percent_decode_str(k).decode_utf8_lossy() == name)
            .then(|| percent_decode_str(v).decode_utf8_lossy().into_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_decoded() {
        assert_eq!(
            param("a=1&api-version=2025-06-30", "api-version").as_deref(),
            Some("2025-06-30")
        );
        assert_eq!(
            param("skipToken=a%2Fb", "skipToken").as_deref(),
            Some("a/b")
        );
        assert_eq!(param("", "api-version"), None);
        assert_eq!(param("flag&x=1", "flag").as_deref(), Some(""));
    }
}
