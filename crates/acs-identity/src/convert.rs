//! From the generated types to this crate's.

use acs_identity_raw as raw;

use crate::assignment::{EntraAssignment, TeamsExtensionAssignment};
use crate::error::{DecodeError, Error, ErrorDetail};
use crate::identifier::CommunicationUserIdentifier;
use crate::pipeline::Call;
use crate::token::{AccessToken, CommunicationUserAndToken};

/// The parts of a generated error body.
pub(crate) trait ErrorBody {
    fn into_parts(self) -> (String, String, Option<String>, Vec<ErrorDetail>);
}

macro_rules! conversions {
    ($m:ident) => {
        impl ErrorBody for raw::$m::types::CommunicationErrorResponse {
            fn into_parts(self) -> (String, String, Option<String>, Vec<ErrorDetail>) {
                let e = self.error;
                let details = e
                    .details
                    .into_iter()
                    .map(|d| ErrorDetail {
                        code: d.code,
                        message: d.message,
                        target: d.target,
                    })
                    .collect();
                (e.code, e.message, e.target, details)
            }
        }

        impl From<raw::$m::types::CommunicationIdentityAccessToken> for AccessToken {
            fn from(t: raw::$m::types::CommunicationIdentityAccessToken) -> Self {
                AccessToken::new(t.token, t.expires_on)
            }
        }

        impl From<raw::$m::types::TeamsExtensionAssignmentResponse> for TeamsExtensionAssignment {
            fn from(a: raw::$m::types::TeamsExtensionAssignmentResponse) -> Self {
                TeamsExtensionAssignment {
                    tenant_id: a.tenant_id,
                    object_id: a.object_id,
                    principal_type: a
                        .principal_type
                        .0
                        .parse()
                        .unwrap_or_else(|never| match never {}),
                    client_ids: a.client_ids,
                }
            }
        }
    };
}

conversions!(v2025_06_30);
conversions!(v2025_03_02_preview);

impl From<raw::v2025_03_02_preview::types::EntraAssignment> for EntraAssignment {
    fn from(a: raw::v2025_03_02_preview::types::EntraAssignment) -> Self {
        EntraAssignment {
            object_id: a.object_id,
            tenant_id: a.tenant_id,
            principal_type: a
                .principal_type
                .0
                .parse()
                .unwrap_or_else(|never| match never {}),
            client_ids: a.client_ids,
        }
    }
}

/// A created or exchanged user and its token, if the answer has one.
pub(crate) fn user_and_token(
    id: String,
    token: Option<impl Into<AccessToken>>,
) -> (CommunicationUserIdentifier, Option<AccessToken>) {
    (
        CommunicationUserIdentifier::from_service(id),
        token.map(Into::into),
    )
}

/// A user and token, where the operation promises a token.
pub(crate) fn require_token(
    user: CommunicationUserIdentifier,
    token: Option<AccessToken>,
    status: u16,
    call: &Call,
) -> crate::Result<CommunicationUserAndToken> {
    match token {
        Some(access_token) => Ok(CommunicationUserAndToken { user, access_token }),
        None => {
            let (ms_cv, x_azure_ref) = call.correlation();
            Err(Error::Decode(Box::new(DecodeError {
                status: Some(status),
                reason: "the response has no `accessToken`".into(),
                snippet: String::new(),
                request_id: Some(call.request_id.clone()),
                ms_cv,
                x_azure_ref,
            })))
        }
    }
}
