//! The route table: one row per operation of the service, with its method,
//! path pattern, how it authenticates and its handler.
//!
//! Which api-versions have an operation is not written here: the gate asks
//! the list `cargo xtask regen` derives from `spec/`
//! ([`acs_identity_raw::API_VERSIONS`]), by the operation's name, which is
//! the generated client's method name.

use hyper::Method;
use percent_encoding::percent_decode_str;

use crate::handlers::{self, Handler, entra, identities, teams};

/// How an operation authenticates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// The access key (HMAC), or a verified management bearer token.
    Resource,
    /// The user's own Entra ID token, as the bearer token.
    UserToken,
}

/// One operation.
pub struct Route {
    /// The generated client's method name (`create_identity`, …).
    pub operation: &'static str,
    pub method: Method,
    /// Segments separated by `/`; `{name}` matches any one segment.
    pub path: &'static str,
    pub auth: Auth,
    pub handler: Handler,
}

const fn row(
    operation: &'static str,
    method: Method,
    path: &'static str,
    auth: Auth,
    handler: Handler,
) -> Route {
    Route {
        operation,
        method,
        path,
        auth,
        handler,
    }
}

use Auth::{Resource, UserToken};

/// Every operation of the service.
#[rustfmt::skip]
pub static ROUTES: [Route; 16] = [
    row("create_identity", Method::POST, "/identities", Resource, identities::create),
    row("get_identity", Method::GET, "/identities/{id}", Resource, identities::get),
    row("delete_identity", Method::DELETE, "/identities/{id}", Resource, identities::delete),
    row("issue_access_token", Method::POST, "/identities/{id}/:issueAccessToken", Resource, identities::issue_token),
    row("revoke_access_tokens", Method::POST, "/identities/{id}/:revokeAccessTokens", Resource, identities::revoke_tokens),
    row("exchange_teams_user_access_token", Method::POST, "/teamsUser/:exchangeAccessToken", Resource, teams::exchange_teams_user),
    row("exchange_teams_extension_access_token", Method::POST, "/access/teamsExtension/:exchangeAccessToken", UserToken, teams::exchange_extension),
    row("get_teams_extension_assignment", Method::GET, "/access/teamsExtension/tenants/{tenantId}/assignments/{objectId}", Resource, teams::get_assignment),
    row("upsert_teams_extension_assignment", Method::PUT, "/access/teamsExtension/tenants/{tenantId}/assignments/{objectId}", Resource, teams::upsert_assignment),
    row("delete_teams_extension_assignment", Method::DELETE, "/access/teamsExtension/tenants/{tenantId}/assignments/{objectId}", Resource, teams::delete_assignment),
    row("exchange_entra_access_token", Method::POST, "/access/entra/:exchangeAccessToken", UserToken, entra::exchange),
    row("list_entra_assignments", Method::GET, "/access/entra/assignments", Resource, entra::list),
    row("update_entra_assignments", Method::PATCH, "/access/entra/assignments", Resource, entra::update),
    row("get_entra_assignment", Method::GET, "/access/entra/assignments/{objectId}", Resource, entra::get),
    row("upsert_entra_assignment", Method::PUT, "/access/entra/assignments/{objectId}", Resource, entra::upsert),
    row("delete_entra_assignment", Method::DELETE, "/access/entra/assignments/{objectId}", Resource, entra::delete),
];

/// Why no route matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Miss {
    /// No operation has this path: 404.
    NotFound,
    /// Operations have this path, with other methods: 405.
    MethodNotAllowed,
}

/// The route for `method` and `path` (still percent-encoded), with the
/// decoded path parameters in the pattern's order.
pub fn find(method: &Method, path: &str) -> Result<(&'static Route, handlers::Params), Miss> {
    let segments: Vec<&str> = split(path).collect();
    let mut other_method = false;
    for route in &ROUTES {
        if let Some(params) = matches(route.path, &segments) {
            if route.method == method {
                return Ok((route, params));
            }
            other_method = true;
        }
    }
    Err(if other_method {
        Miss::MethodNotAllowed
    } else {
        Miss::NotFound
    })
}

fn split(path: &str) -> impl Iterator<Item = &str> {
    path.split('/').filter(|s| !s.is_empty())
}

fn matches(pattern: &str, segments: &[&str]) -> Option<handlers::Params> {
    let mut params = handlers::Params::new();
    let mut given = segments.iter();
    for expected in split(pattern) {
        let segment = given.next()?;
        if expected.starts_with('{') {
            params.push(percent_decode_str(segment).decode_utf8_lossy().into_owned());
        } else if expected != *segment {
            return None;
        }
    }
    given.next().is_none().then_some(params)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_actions_and_encoded_ids() {
        let (route, params) =
            find(&Method::POST, "/identities/8%3Aacs%3Aabc/:issueAccessToken").unwrap();
        assert_eq!(route.operation, "issue_access_token");
        assert_eq!(params, ["8:acs:abc"]);
        let (route, params) =
            find(&Method::POST, "/identities/8:acs:abc/:revokeAccessTokens").unwrap();
        assert_eq!(
            (route.operation, params[0].as_str()),
            ("revoke_access_tokens", "8:acs:abc")
        );
        let (route, params) = find(
            &Method::PUT,
            "/access/teamsExtension/tenants/t/assignments/o",
        )
        .unwrap();
        assert_eq!(route.operation, "upsert_teams_extension_assignment");
        assert_eq!(params, ["t", "o"]);
    }

    #[test]
    fn misses_say_whether_the_path_exists() {
        assert_eq!(
            find(&Method::PUT, "/identities").err(),
            Some(Miss::MethodNotAllowed)
        );
        assert_eq!(find(&Method::GET, "/nothing").err(), Some(Miss::NotFound));
        assert_eq!(
            find(&Method::GET, "/identities/x/:issueAccessToken").err(),
            Some(Miss::MethodNotAllowed)
        );
        assert_eq!(
            find(&Method::GET, "/identities/x/y/z").err(),
            Some(Miss::NotFound)
        );
        assert_eq!(find(&Method::POST, "/").err(), Some(Miss::NotFound));
    }

    #[test]
    fn every_operation_of_the_preview_has_one_row() {
        let preview = acs_identity_raw::API_VERSIONS
            .iter()
            .find(|v| v.preview)
            .expect("a preview version");
        let mut names: Vec<&str> = ROUTES.iter().map(|r| r.operation).collect();
        names.sort_unstable();
        assert_eq!(names, preview.operations);
    }
}
