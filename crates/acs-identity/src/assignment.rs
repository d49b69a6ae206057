//! Access assignments: who may exchange an Entra token for an ACS token.

use std::fmt;
use std::str::FromStr;

/// Declares an open enum with known wire values and an `Other` case.
macro_rules! open_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $wire:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
            /// A value this version of the crate does not know.
            Other(String),
        }

        impl $name {
            /// The wire value.
            ///
            /// # Examples
            ///
            /// ```
            /// use acs_identity::{EntraPrincipalType, TeamsExtensionPrincipalType};
            ///
            /// assert_eq!(TeamsExtensionPrincipalType::ResourceAccount.as_str(), "resourceAccount");
            /// assert_eq!(EntraPrincipalType::Group.as_str(), "group");
            /// assert_eq!(EntraPrincipalType::Other("app".into()).as_str(), "app");
            /// ```
            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$variant => $wire,)+
                    $name::Other(s) => s,
                }
            }
        }

        impl FromStr for $name {
            type Err = std::convert::Infallible;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Ok(match s {
                    $($wire => $name::$variant,)+
                    other => $name::Other(other.to_string()),
                })
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

open_enum! {
    /// Who a Teams Phone extension assignment is for.
    ///
    /// # Examples
    ///
    /// ```
    /// use acs_identity::TeamsExtensionPrincipalType;
    /// assert_eq!("resourceAccount".parse::<TeamsExtensionPrincipalType>().unwrap(), TeamsExtensionPrincipalType::ResourceAccount);
    /// ```
    TeamsExtensionPrincipalType {
        /// A Teams resource account.
        ResourceAccount = "resourceAccount",
        /// A Teams user.
        User = "user",
    }
}

open_enum! {
    /// Who an Entra assignment is for.
    ///
    /// # Examples
    ///
    /// ```
    /// use acs_identity::EntraPrincipalType;
    /// assert_eq!(EntraPrincipalType::Tenant.to_string(), "tenant");
    /// ```
    EntraPrincipalType {
        /// One Entra user.
        User = "user",
        /// The members of an Entra group.
        Group = "group",
        /// Every user of a tenant.
        Tenant = "tenant",
    }
}

/// A Teams Phone extension assignment: an Entra object of a tenant, and the
/// client applications through which it may exchange tokens.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let emulator = acs_identity_emulator::Emulator::builder().start().await?;
/// # let client = acs_identity::CommunicationIdentityClient::from_connection_string(&emulator.connection_string())?;
/// use acs_identity::TeamsExtensionPrincipalType;
///
/// client
///     .upsert_teams_extension_assignment("tenant-id", "user-oid", TeamsExtensionPrincipalType::User, ["app-id"])
///     .await?;
/// let assignment = client.get_teams_extension_assignment("tenant-id", "user-oid").await?;
/// assert_eq!(assignment.principal_type, TeamsExtensionPrincipalType::User);
/// assert_eq!(assignment.client_ids, ["app-id"]);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TeamsExtensionAssignment {
    /// The tenant.
    pub tenant_id: String,
    /// The Entra object id.
    pub object_id: String,
    /// What kind of principal it is.
    pub principal_type: TeamsExtensionPrincipalType,
    /// Client application ids allowed to exchange tokens.
    pub client_ids: Vec<String>,
}

/// An Entra assignment.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let emulator = acs_identity_emulator::Emulator::builder().start().await?;
/// # let client = acs_identity::preview::CommunicationIdentityClient::from_connection_string(&emulator.connection_string())?;
/// use acs_identity::{EntraAssignmentSpec, EntraPrincipalType};
///
/// let spec = EntraAssignmentSpec::new("tenant-id", EntraPrincipalType::Group, ["app-id"]);
/// client.upsert_entra_assignment("group-oid", spec).await?;
/// let assignment = client.get_entra_assignment("group-oid").await?;
/// assert_eq!((assignment.object_id.as_str(), assignment.tenant_id.as_str()), ("group-oid", "tenant-id"));
/// assert_eq!(assignment.principal_type, EntraPrincipalType::Group);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct EntraAssignment {
    /// The Entra object id (user, group or tenant).
    pub object_id: String,
    /// The tenant.
    pub tenant_id: String,
    /// What kind of principal it is.
    pub principal_type: EntraPrincipalType,
    /// Client application ids allowed to exchange tokens.
    pub client_ids: Vec<String>,
}

/// The value of an Entra assignment as written by upsert or bulk update.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let emulator = acs_identity_emulator::Emulator::builder().start().await?;
/// # let client = acs_identity::preview::CommunicationIdentityClient::from_connection_string(&emulator.connection_string())?;
/// use acs_identity::{EntraAssignmentSpec, EntraPrincipalType};
///
/// // Every user of tenant `tenant-id` may exchange tokens through `app-id`.
/// let spec = EntraAssignmentSpec::new("tenant-id", EntraPrincipalType::Tenant, ["app-id"]);
/// let stored = client.upsert_entra_assignment("tenant-id", spec).await?;
/// assert_eq!(stored.value.client_ids, ["app-id"]);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct EntraAssignmentSpec {
    /// The tenant.
    pub tenant_id: String,
    /// What kind of principal it is.
    pub principal_type: EntraPrincipalType,
    /// Client application ids allowed to exchange tokens.
    pub client_ids: Vec<String>,
}

impl EntraAssignmentSpec {
    /// An assignment value.
    ///
    /// # Examples
    ///
    /// ```
    /// use acs_identity::{EntraAssignmentSpec, EntraPrincipalType};
    ///
    /// let spec = EntraAssignmentSpec::new("tenant-id", EntraPrincipalType::User, ["app-id", "other-app"]);
    /// assert_eq!(spec.client_ids, ["app-id", "other-app"]);
    /// ```
    pub fn new(
        tenant_id: impl Into<String>,
        principal_type: EntraPrincipalType,
        client_ids: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        Self {
            tenant_id: tenant_id.into(),
            principal_type,
            client_ids: client_ids.into_iter().map(Into::into).collect(),
        }
    }
}

/// A write that either created something or replaced it.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let emulator = acs_identity_emulator::Emulator::builder().start().await?;
/// # let client = acs_identity::CommunicationIdentityClient::from_connection_string(&emulator.connection_string())?;
/// use acs_identity::TeamsExtensionPrincipalType::ResourceAccount;
///
/// let first = client.upsert_teams_extension_assignment("tenant-id", "account-oid", ResourceAccount, ["app-id"]).await?;
/// assert!(first.created);
/// let second = client.upsert_teams_extension_assignment("tenant-id", "account-oid", ResourceAccount, ["app-2"]).await?;
/// assert!(!second.created);
/// assert_eq!(second.value.client_ids, ["app-2"]);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Upserted<T> {
    /// What the service stored.
    pub value: T,
    /// True when it did not exist before (201), false when replaced (200).
    pub created: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn principal_types_round_trip_and_stay_open() {
        for (wire, known) in [
            ("resourceAccount", true),
            ("user", true),
            ("teamsResourceAccount", false),
        ] {
            let t: TeamsExtensionPrincipalType = wire.parse().unwrap();
            assert_eq!(t.to_string(), wire);
            assert_eq!(matches!(t, TeamsExtensionPrincipalType::Other(_)), !known);
        }
        for wire in ["user", "group", "tenant", "app"] {
            assert_eq!(wire.parse::<EntraPrincipalType>().unwrap().as_str(), wire);
        }
    }
}
