//! Communication identifiers and their raw ids, as the official common
//! libraries define them.
//!
//! | kind | raw id |
//! |---|---|
//! | communication user | the id itself (`8:acs:…`, `8:spool:…`, …) |
//! | phone number | `4:` + the number as given |
//! | Microsoft Teams user | `8:orgid:` / `8:dod:` / `8:gcch:` + user id; anonymous: `8:teamsvisitor:` + id |
//! | Microsoft Teams app | `28:orgid:` / `28:dod:` / `28:gcch:` + app id |
//! | Teams extension user | `8:acs:` / `8:dod-acs:` / `8:gcch-acs:` + `resource_tenant_user` |
//! | unknown | anything else, kept as is |

use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

/// The cloud a Teams identity lives in.
///
/// # Examples
///
/// ```
/// use acs_identity::{CommunicationCloudEnvironment, CommunicationIdentifier};
///
/// let CommunicationIdentifier::MicrosoftTeamsApp(app) = CommunicationIdentifier::from_raw_id("28:dod:bot-id") else { panic!() };
/// assert_eq!(app.cloud(), CommunicationCloudEnvironment::Dod);
/// assert_eq!(CommunicationCloudEnvironment::default().to_string(), "public");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum CommunicationCloudEnvironment {
    /// The public cloud.
    #[default]
    Public,
    /// US Department of Defense.
    Dod,
    /// US Government Community Cloud High.
    Gcch,
}

impl fmt::Display for CommunicationCloudEnvironment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Public => "public",
            Self::Dod => "dod",
            Self::Gcch => "gcch",
        })
    }
}

/// Any identity the Communication Services APIs name.
///
/// Parsing never fails: an id of no known shape is
/// [`Unknown`](Self::Unknown). [`raw_id`](Self::raw_id) gives back exactly
/// the string that was parsed; equality, hashing, `Display` and serde all
/// use the raw id.
///
/// # Examples
///
/// ```
/// use acs_identity::{CommunicationIdentifier, CommunicationCloudEnvironment};
///
/// let id = CommunicationIdentifier::from_raw_id("8:gcch:45ab2481-1c1c-4005-be24-0ffb879b1130");
/// match &id {
///     CommunicationIdentifier::MicrosoftTeamsUser(user) => {
///         assert_eq!(user.user_id(), "45ab2481-1c1c-4005-be24-0ffb879b1130");
///         assert_eq!(user.cloud(), CommunicationCloudEnvironment::Gcch);
///     }
///     other => panic!("{other:?}"),
/// }
/// assert_eq!(id.raw_id(), "8:gcch:45ab2481-1c1c-4005-be24-0ffb879b1130");
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum CommunicationIdentifier {
    /// A Communication Services user.
    CommunicationUser(CommunicationUserIdentifier),
    /// A phone number.
    PhoneNumber(PhoneNumberIdentifier),
    /// A Microsoft Teams user.
    MicrosoftTeamsUser(MicrosoftTeamsUserIdentifier),
    /// A Microsoft Teams app (bot).
    MicrosoftTeamsApp(MicrosoftTeamsAppIdentifier),
    /// A Teams Phone extension user.
    TeamsExtensionUser(TeamsExtensionUserIdentifier),
    /// An id of no known shape.
    Unknown(String),
}

impl CommunicationIdentifier {
    /// Parses a raw id. Never fails; see the type's docs.
    ///
    /// # Examples
    ///
    /// ```
    /// use acs_identity::CommunicationIdentifier;
    ///
    /// let id = CommunicationIdentifier::from_raw_id("4:+14255550121");
    /// assert!(matches!(id, CommunicationIdentifier::PhoneNumber(_)));
    /// let id = CommunicationIdentifier::from_raw_id("something else");
    /// assert_eq!(id, CommunicationIdentifier::Unknown("something else".into()));
    /// ```
    pub fn from_raw_id(raw: &str) -> Self {
        if let Some(number) = raw.strip_prefix("4:") {
            return Self::PhoneNumber(PhoneNumberIdentifier::new(number));
        }
        let segments: Vec<&str> = raw.split(':').collect();
        let [kind, prefix, suffix] = segments[..] else {
            return Self::Unknown(raw.to_string());
        };
        use CommunicationCloudEnvironment::*;
        let teams_user = |anonymous, cloud| {
            Self::MicrosoftTeamsUser(MicrosoftTeamsUserIdentifier {
                user_id: suffix.into(),
                anonymous,
                cloud,
            })
        };
        match (kind, prefix) {
            ("8", "teamsvisitor") => teams_user(true, Public),
            ("8", "orgid") => teams_user(false, Public),
            ("8", "dod") => teams_user(false, Dod),
            ("8", "gcch") => teams_user(false, Gcch),
            ("8", "acs" | "dod-acs" | "gcch-acs") => {
                let cloud = match prefix {
                    "dod-acs" => Dod,
                    "gcch-acs" => Gcch,
                    _ => Public,
                };
                let parts: Vec<&str> = suffix.split('_').collect();
                match parts[..] {
                    [resource, tenant, user] => {
                        Self::TeamsExtensionUser(TeamsExtensionUserIdentifier {
                            resource_id: resource.into(),
                            tenant_id: tenant.into(),
                            user_id: user.into(),
                            cloud,
                        })
                    }
                    _ => Self::CommunicationUser(CommunicationUserIdentifier(raw.into())),
                }
            }
            ("8", "spool") => Self::CommunicationUser(CommunicationUserIdentifier(raw.into())),
            ("28", "orgid" | "dod" | "gcch") => {
                Self::MicrosoftTeamsApp(MicrosoftTeamsAppIdentifier {
                    app_id: suffix.into(),
                    cloud: match prefix {
                        "dod" => Dod,
                        "gcch" => Gcch,
                        _ => Public,
                    },
                })
            }
            _ => Self::Unknown(raw.to_string()),
        }
    }

    /// The raw id.
    ///
    /// # Examples
    ///
    /// ```
    /// use acs_identity::{CommunicationIdentifier, PhoneNumberIdentifier};
    ///
    /// let id = CommunicationIdentifier::PhoneNumber(PhoneNumberIdentifier::new("+14255550121"));
    /// assert_eq!(id.raw_id(), "4:+14255550121");
    /// assert_eq!(CommunicationIdentifier::from_raw_id(&id.raw_id()), id);
    /// ```
    pub fn raw_id(&self) -> String {
        match self {
            Self::CommunicationUser(u) => u.0.clone(),
            Self::PhoneNumber(p) => format!("4:{}", p.phone_number),
            Self::MicrosoftTeamsUser(u) => {
                let prefix = match (u.anonymous, u.cloud) {
                    (true, _) => "8:teamsvisitor:",
                    (false, CommunicationCloudEnvironment::Public) => "8:orgid:",
                    (false, CommunicationCloudEnvironment::Dod) => "8:dod:",
                    (false, CommunicationCloudEnvironment::Gcch) => "8:gcch:",
                };
                format!("{prefix}{}", u.user_id)
            }
            Self::MicrosoftTeamsApp(a) => {
                let prefix = match a.cloud {
                    CommunicationCloudEnvironment::Public => "28:orgid:",
                    CommunicationCloudEnvironment::Dod => "28:dod:",
                    CommunicationCloudEnvironment::Gcch => "28:gcch:",
                };
                format!("{prefix}{}", a.app_id)
            }
            Self::TeamsExtensionUser(t) => t.raw_id(),
            Self::Unknown(raw) => raw.clone(),
        }
    }
}

impl PartialEq for CommunicationIdentifier {
    fn eq(&self, other: &Self) -> bool {
        self.raw_id() == other.raw_id()
    }
}

impl Eq for CommunicationIdentifier {}

impl Hash for CommunicationIdentifier {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.raw_id().hash(state);
    }
}

impl fmt::Display for CommunicationIdentifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw_id())
    }
}

impl FromStr for CommunicationIdentifier {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self::from_raw_id(s))
    }
}

impl From<CommunicationUserIdentifier> for CommunicationIdentifier {
    /// Parses the id, so a Teams Phone extension user's id
    /// (`8:acs:<resource>_<tenant>_<user>`) becomes that kind.
    fn from(u: CommunicationUserIdentifier) -> Self {
        CommunicationIdentifier::from_raw_id(&u.0)
    }
}

impl serde::Serialize for CommunicationIdentifier {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.raw_id())
    }
}

impl<'de> serde::Deserialize<'de> for CommunicationIdentifier {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Self::from_raw_id(&String::deserialize(d)?))
    }
}

/// Serde for the identifiers of one kind: the raw id string, read back
/// through [`CommunicationIdentifier::from_raw_id`]; an id of another kind
/// is refused.
macro_rules! serde_as_raw_id {
    ($($ty:ident => $variant:ident, $what:literal;)+) => {$(
        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&CommunicationIdentifier::$variant(self.clone()).raw_id())
            }
        }

        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let raw = String::deserialize(d)?;
                match CommunicationIdentifier::from_raw_id(&raw) {
                    CommunicationIdentifier::$variant(id) => Ok(id),
                    _ => Err(serde::de::Error::custom(format!(
                        "`{raw}` is not the raw id of {}",
                        $what
                    ))),
                }
            }
        }
    )+};
}

serde_as_raw_id! {
    PhoneNumberIdentifier => PhoneNumber, "a phone number";
    MicrosoftTeamsUserIdentifier => MicrosoftTeamsUser, "a Microsoft Teams user";
    MicrosoftTeamsAppIdentifier => MicrosoftTeamsApp, "a Microsoft Teams app";
    TeamsExtensionUserIdentifier => TeamsExtensionUser, "a Teams Phone extension user";
}

/// A Communication Services user id, as this API returns it
/// (`8:acs:<resource>_<guid>`).
///
/// # Examples
///
/// ```
/// use acs_identity::CommunicationUserIdentifier;
///
/// let user: CommunicationUserIdentifier = "8:acs:2dee53b4-368b-45b4-ab52-8493fb117652_00000005-14a2-493b-8a72-5a3a0d000081".parse()?;
/// assert!(user.id().starts_with("8:acs:"));
/// # Ok::<(), acs_identity::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CommunicationUserIdentifier(String);

impl CommunicationUserIdentifier {
    /// Wraps a user id.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`](crate::Error::InvalidArgument) for an
    /// empty id or one with white space or `/`, `?`, `#` (which could not
    /// name a user in a URL path).
    ///
    /// # Examples
    ///
    /// ```
    /// use acs_identity::CommunicationUserIdentifier;
    ///
    /// let user = CommunicationUserIdentifier::new("8:acs:resource_00000005-14a2-493b-8a72-5a3a0d000081")?;
    /// assert_eq!(user.to_string(), "8:acs:resource_00000005-14a2-493b-8a72-5a3a0d000081");
    /// assert!(CommunicationUserIdentifier::new("8:acs:a/../b").is_err());
    /// # Ok::<(), acs_identity::Error>(())
    /// ```
    pub fn new(id: impl Into<String>) -> crate::Result<Self> {
        let id = id.into();
        if id.is_empty() {
            return Err(crate::Error::invalid("user", "the id is empty"));
        }
        if id
            .contains(|c: char| c.is_whitespace() || c.is_control() || matches!(c, '/' | '?' | '#'))
        {
            return Err(crate::Error::invalid(
                "user",
                "the id contains white space, `/`, `?` or `#`",
            ));
        }
        Ok(Self(id))
    }

    /// The id.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let emulator = acs_identity_emulator::Emulator::builder().start().await?;
    /// # let client = acs_identity::CommunicationIdentityClient::from_connection_string(&emulator.connection_string())?;
    /// let user = client.create_user().await?;
    /// assert!(user.id().starts_with("8:acs:"));
    /// # Ok(())
    /// # }
    /// ```
    pub fn id(&self) -> &str {
        &self.0
    }

    /// Converts into the general identifier, by parsing the id: a Teams Phone
    /// extension user's id (`8:acs:<resource>_<tenant>_<user>`) becomes
    /// [`CommunicationIdentifier::TeamsExtensionUser`].
    ///
    /// # Examples
    ///
    /// ```
    /// use acs_identity::{CommunicationIdentifier, CommunicationUserIdentifier};
    ///
    /// let user = CommunicationUserIdentifier::new("8:acs:resource_user")?;
    /// let id = user.clone().into_identifier();
    /// assert_eq!(id, CommunicationIdentifier::CommunicationUser(user));
    /// # Ok::<(), acs_identity::Error>(())
    /// ```
    pub fn into_identifier(self) -> CommunicationIdentifier {
        self.into()
    }

    pub(crate) fn from_service(id: String) -> Self {
        Self(id)
    }
}

impl fmt::Display for CommunicationUserIdentifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for CommunicationUserIdentifier {
    type Err = crate::Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl AsRef<str> for CommunicationUserIdentifier {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl serde::Serialize for CommunicationUserIdentifier {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for CommunicationUserIdentifier {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Self::new(String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// A phone number identity.
///
/// # Examples
///
/// ```
/// use acs_identity::{CommunicationIdentifier, PhoneNumberIdentifier};
///
/// let phone = PhoneNumberIdentifier::new("+14255550121");
/// assert_eq!(CommunicationIdentifier::PhoneNumber(phone).raw_id(), "4:+14255550121");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PhoneNumberIdentifier {
    phone_number: String,
}

impl PhoneNumberIdentifier {
    /// A phone number, kept exactly as given (E.164 with `+` is usual).
    ///
    /// # Examples
    ///
    /// ```
    /// use acs_identity::PhoneNumberIdentifier;
    ///
    /// let phone = PhoneNumberIdentifier::new("+14255550121");
    /// assert_eq!(phone.phone_number(), "+14255550121");
    /// ```
    pub fn new(phone_number: impl Into<String>) -> Self {
        Self {
            phone_number: phone_number.into(),
        }
    }

    /// The number as given.
    ///
    /// # Examples
    ///
    /// ```
    /// use acs_identity::CommunicationIdentifier;
    ///
    /// let CommunicationIdentifier::PhoneNumber(phone) = CommunicationIdentifier::from_raw_id("4:+14255550121") else { panic!() };
    /// assert_eq!(phone.phone_number(), "+14255550121");
    /// ```
    pub fn phone_number(&self) -> &str {
        &self.phone_number
    }

    /// True for the anonymous caller (`4:anonymous`).
    ///
    /// # Examples
    ///
    /// ```
    /// use acs_identity::PhoneNumberIdentifier;
    ///
    /// assert!(PhoneNumberIdentifier::new("anonymous").is_anonymous());
    /// assert!(!PhoneNumberIdentifier::new("+14255550121").is_anonymous());
    /// ```
    pub fn is_anonymous(&self) -> bool {
        self.phone_number == "anonymous"
    }

    /// The asserted id: the text after the last `_`, when there is text after it.
    ///
    /// # Examples
    ///
    /// ```
    /// use acs_identity::PhoneNumberIdentifier;
    ///
    /// assert_eq!(PhoneNumberIdentifier::new("+14255550121_123").asserted_id(), Some("123"));
    /// assert_eq!(PhoneNumberIdentifier::new("+14255550121").asserted_id(), None);
    /// ```
    pub fn asserted_id(&self) -> Option<&str> {
        if self.is_anonymous() {
            return None;
        }
        let (_, after) = self.phone_number.rsplit_once('_')?;
        (!after.is_empty()).then_some(after)
    }
}

/// A Microsoft Teams user.
///
/// # Examples
///
/// ```
/// use acs_identity::{CommunicationCloudEnvironment, CommunicationIdentifier, MicrosoftTeamsUserIdentifier};
///
/// let user = MicrosoftTeamsUserIdentifier::new("45ab2481-1c1c-4005-be24-0ffb879b1130", false, CommunicationCloudEnvironment::Public);
/// let id = CommunicationIdentifier::MicrosoftTeamsUser(user);
/// assert_eq!(id.raw_id(), "8:orgid:45ab2481-1c1c-4005-be24-0ffb879b1130");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MicrosoftTeamsUserIdentifier {
    user_id: String,
    anonymous: bool,
    cloud: CommunicationCloudEnvironment,
}

impl MicrosoftTeamsUserIdentifier {
    /// A Teams user by Entra object id.
    ///
    /// # Examples
    ///
    /// ```
    /// use acs_identity::{CommunicationCloudEnvironment, CommunicationIdentifier, MicrosoftTeamsUserIdentifier};
    ///
    /// let visitor = MicrosoftTeamsUserIdentifier::new("visitor-id", true, CommunicationCloudEnvironment::Public);
    /// assert_eq!(CommunicationIdentifier::MicrosoftTeamsUser(visitor).raw_id(), "8:teamsvisitor:visitor-id");
    /// ```
    pub fn new(
        user_id: impl Into<String>,
        anonymous: bool,
        cloud: CommunicationCloudEnvironment,
    ) -> Self {
        Self {
            user_id: user_id.into(),
            anonymous,
            cloud,
        }
    }

    /// The user id.
    ///
    /// # Examples
    ///
    /// ```
    /// use acs_identity::{CommunicationCloudEnvironment::Gcch, MicrosoftTeamsUserIdentifier};
    ///
    /// let user = MicrosoftTeamsUserIdentifier::new("user-oid", false, Gcch);
    /// assert_eq!(user.user_id(), "user-oid");
    /// ```
    pub fn user_id(&self) -> &str {
        &self.user_id
    }

    /// True for an anonymous (visitor) user.
    ///
    /// # Examples
    ///
    /// ```
    /// use acs_identity::CommunicationIdentifier;
    ///
    /// let CommunicationIdentifier::MicrosoftTeamsUser(user) = CommunicationIdentifier::from_raw_id("8:teamsvisitor:abc") else { panic!() };
    /// assert!(user.is_anonymous());
    /// ```
    pub fn is_anonymous(&self) -> bool {
        self.anonymous
    }

    /// The cloud.
    ///
    /// # Examples
    ///
    /// ```
    /// use acs_identity::{CommunicationCloudEnvironment, CommunicationIdentifier};
    ///
    /// let CommunicationIdentifier::MicrosoftTeamsUser(user) = CommunicationIdentifier::from_raw_id("8:dod:abc") else { panic!() };
    /// assert_eq!(user.cloud(), CommunicationCloudEnvironment::Dod);
    /// ```
    pub fn cloud(&self) -> CommunicationCloudEnvironment {
        self.cloud
    }
}

/// A Microsoft Teams app.
///
/// # Examples
///
/// ```
/// use acs_identity::{CommunicationCloudEnvironment, CommunicationIdentifier, MicrosoftTeamsAppIdentifier};
///
/// let bot = MicrosoftTeamsAppIdentifier::new("bot-id", CommunicationCloudEnvironment::Public);
/// assert_eq!(CommunicationIdentifier::MicrosoftTeamsApp(bot).raw_id(), "28:orgid:bot-id");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MicrosoftTeamsAppIdentifier {
    app_id: String,
    cloud: CommunicationCloudEnvironment,
}

impl MicrosoftTeamsAppIdentifier {
    /// A Teams app by id.
    ///
    /// # Examples
    ///
    /// ```
    /// use acs_identity::{CommunicationCloudEnvironment, CommunicationIdentifier, MicrosoftTeamsAppIdentifier};
    ///
    /// let bot = MicrosoftTeamsAppIdentifier::new("bot-id", CommunicationCloudEnvironment::Gcch);
    /// assert_eq!(CommunicationIdentifier::MicrosoftTeamsApp(bot).raw_id(), "28:gcch:bot-id");
    /// ```
    pub fn new(app_id: impl Into<String>, cloud: CommunicationCloudEnvironment) -> Self {
        Self {
            app_id: app_id.into(),
            cloud,
        }
    }

    /// The app id.
    ///
    /// # Examples
    ///
    /// ```
    /// use acs_identity::CommunicationIdentifier;
    ///
    /// let CommunicationIdentifier::MicrosoftTeamsApp(bot) = CommunicationIdentifier::from_raw_id("28:orgid:bot-id") else { panic!() };
    /// assert_eq!(bot.app_id(), "bot-id");
    /// ```
    pub fn app_id(&self) -> &str {
        &self.app_id
    }

    /// The cloud.
    ///
    /// # Examples
    ///
    /// ```
    /// use acs_identity::{CommunicationCloudEnvironment, MicrosoftTeamsAppIdentifier};
    ///
    /// let bot = MicrosoftTeamsAppIdentifier::new("bot-id", CommunicationCloudEnvironment::Dod);
    /// assert_eq!(bot.cloud(), CommunicationCloudEnvironment::Dod);
    /// ```
    pub fn cloud(&self) -> CommunicationCloudEnvironment {
        self.cloud
    }
}

/// A Teams Phone extension user: a Teams user acting through a
/// Communication Services resource.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let emulator = acs_identity_emulator::Emulator::builder().start().await?;
/// # let client = acs_identity::CommunicationIdentityClient::from_connection_string(&emulator.connection_string())?;
/// # use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD as B64};
/// # let claims = serde_json::json!({"aud": "https://auth.msft.communication.azure.com", "scp": "Teams.ManageCalls Teams.ManageChats", "appid": "app-id", "oid": "user-oid", "tid": "tenant-id", "exp": chrono::Utc::now().timestamp() + 3600});
/// # let entra_token = format!("{}.{}.", B64.encode(r#"{"alg":"none"}"#), B64.encode(claims.to_string()));
/// use acs_identity::{CommunicationIdentifier, TeamsExtensionPrincipalType};
///
/// client.upsert_teams_extension_assignment("tenant-id", "user-oid", TeamsExtensionPrincipalType::User, ["app-id"]).await?;
/// let exchanged = client.exchange_teams_extension_token(&entra_token).await?;
/// let id = CommunicationIdentifier::from_raw_id(exchanged.user.id());
/// let CommunicationIdentifier::TeamsExtensionUser(user) = id else { panic!("{id}") };
/// assert_eq!((user.tenant_id(), user.user_id()), ("tenant-id", "user-oid"));
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TeamsExtensionUserIdentifier {
    user_id: String,
    tenant_id: String,
    resource_id: String,
    cloud: CommunicationCloudEnvironment,
}

impl TeamsExtensionUserIdentifier {
    /// The user's object id, tenant id and the resource's id.
    ///
    /// # Examples
    ///
    /// ```
    /// use acs_identity::{CommunicationCloudEnvironment, CommunicationIdentifier, TeamsExtensionUserIdentifier};
    ///
    /// let user = TeamsExtensionUserIdentifier::new("user-oid", "tenant-id", "resource-id", CommunicationCloudEnvironment::Public);
    /// let id = CommunicationIdentifier::TeamsExtensionUser(user);
    /// assert_eq!(id.raw_id(), "8:acs:resource-id_tenant-id_user-oid");
    /// ```
    pub fn new(
        user_id: impl Into<String>,
        tenant_id: impl Into<String>,
        resource_id: impl Into<String>,
        cloud: CommunicationCloudEnvironment,
    ) -> Self {
        Self {
            user_id: user_id.into(),
            tenant_id: tenant_id.into(),
            resource_id: resource_id.into(),
            cloud,
        }
    }

    /// The Entra object id.
    ///
    /// # Examples
    ///
    /// ```
    /// use acs_identity::CommunicationIdentifier;
    ///
    /// let CommunicationIdentifier::TeamsExtensionUser(user) = CommunicationIdentifier::from_raw_id("8:acs:resource-id_tenant-id_user-oid") else { panic!() };
    /// assert_eq!(user.user_id(), "user-oid");
    /// ```
    pub fn user_id(&self) -> &str {
        &self.user_id
    }

    /// The tenant id.
    ///
    /// # Examples
    ///
    /// ```
    /// use acs_identity::CommunicationIdentifier;
    ///
    /// let CommunicationIdentifier::TeamsExtensionUser(user) = CommunicationIdentifier::from_raw_id("8:acs:resource-id_tenant-id_user-oid") else { panic!() };
    /// assert_eq!(user.tenant_id(), "tenant-id");
    /// ```
    pub fn tenant_id(&self) -> &str {
        &self.tenant_id
    }

    /// The Communication Services resource id.
    ///
    /// # Examples
    ///
    /// ```
    /// use acs_identity::CommunicationIdentifier;
    ///
    /// let CommunicationIdentifier::TeamsExtensionUser(user) = CommunicationIdentifier::from_raw_id("8:acs:resource-id_tenant-id_user-oid") else { panic!() };
    /// assert_eq!(user.resource_id(), "resource-id");
    /// ```
    pub fn resource_id(&self) -> &str {
        &self.resource_id
    }

    /// The cloud.
    ///
    /// # Examples
    ///
    /// ```
    /// use acs_identity::{CommunicationCloudEnvironment, CommunicationIdentifier};
    ///
    /// let CommunicationIdentifier::TeamsExtensionUser(user) = CommunicationIdentifier::from_raw_id("8:gcch-acs:resource-id_tenant-id_user-oid") else { panic!() };
    /// assert_eq!(user.cloud(), CommunicationCloudEnvironment::Gcch);
    /// ```
    pub fn cloud(&self) -> CommunicationCloudEnvironment {
        self.cloud
    }

    fn raw_id(&self) -> String {
        let prefix = match self.cloud {
            CommunicationCloudEnvironment::Public => "8:acs:",
            CommunicationCloudEnvironment::Dod => "8:dod-acs:",
            CommunicationCloudEnvironment::Gcch => "8:gcch-acs:",
        };
        format!(
            "{prefix}{}_{}_{}",
            self.resource_id, self.tenant_id, self.user_id
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use CommunicationCloudEnvironment::*;
    use CommunicationIdentifier as I;

    fn kind(id: &I) -> &'static str {
        match id {
            I::CommunicationUser(_) => "user",
            I::PhoneNumber(_) => "phone",
            I::MicrosoftTeamsUser(_) => "teams-user",
            I::MicrosoftTeamsApp(_) => "teams-app",
            I::TeamsExtensionUser(_) => "teams-extension",
            I::Unknown(_) => "unknown",
        }
    }

    #[test]
    fn each_kind_and_cloud_parses_and_round_trips() {
        let table = [
            (
                "8:acs:bbbcbc1e-9f06-482a-b5d8-20e3f26ef0cd_00000005-14a2-493b-8a72-5a3a0d000081",
                "user",
            ),
            (
                "8:gcch-acs:bbbcbc1e-9f06-482a-b5d8-20e3f26ef0cd_00000005",
                "user",
            ),
            ("8:dod-acs:x_y", "user"),
            ("8:spool:bbbcbc1e_1", "user"),
            ("8:acs:resource_tenant_user", "teams-extension"),
            ("8:dod-acs:resource_tenant_user", "teams-extension"),
            ("8:gcch-acs:resource_tenant_user", "teams-extension"),
            ("4:+14255550121", "phone"),
            ("4:14255550121", "phone"),
            ("4:anonymous", "phone"),
            ("4:+112345556789_123", "phone"),
            ("4:", "phone"),
            ("8:orgid:45ab2481-1c1c-4005-be24-0ffb879b1130", "teams-user"),
            ("8:dod:45ab2481", "teams-user"),
            ("8:gcch:45ab2481", "teams-user"),
            ("8:teamsvisitor:45ab2481", "teams-user"),
            ("28:orgid:45ab2481", "teams-app"),
            ("28:dod:45ab2481", "teams-app"),
            ("28:gcch:45ab2481", "teams-app"),
            ("28:gcch-global:45ab2481", "unknown"),
            ("28:45ab2481", "unknown"),
            ("48:45ab2481", "unknown"),
            ("8:gcch-acs:segment4:xyz", "unknown"),
            ("8:acs::1:2:3", "unknown"),
            ("", "unknown"),
            ("plain", "unknown"),
        ];
        for (raw, want) in table {
            let id = I::from_raw_id(raw);
            assert_eq!(kind(&id), want, "{raw}");
            assert_eq!(id.raw_id(), raw, "round trip of {raw}");
            assert_eq!(id.to_string(), raw);
            assert_eq!(raw.parse::<I>().unwrap(), id);
        }
    }

    #[test]
    fn fields_are_read_from_the_raw_id() {
        let I::MicrosoftTeamsUser(u) = I::from_raw_id("8:teamsvisitor:abc") else {
            panic!()
        };
        assert!(u.is_anonymous());
        assert_eq!((u.user_id(), u.cloud()), ("abc", Public));
        let I::MicrosoftTeamsApp(a) = I::from_raw_id("28:dod:app") else {
            panic!()
        };
        assert_eq!((a.app_id(), a.cloud()), ("app", Dod));
        let I::TeamsExtensionUser(t) = I::from_raw_id("8:gcch-acs:res_ten_usr") else {
            panic!()
        };
        assert_eq!(
            (t.resource_id(), t.tenant_id(), t.user_id(), t.cloud()),
            ("res", "ten", "usr", Gcch)
        );
    }

    #[test]
    fn phone_number_asserted_id_and_anonymous() {
        let cases = [
            ("+112345556789_123", Some("123"), false),
            ("_123", Some("123"), false),
            ("+1555_", None, false),
            ("+1555_123_456", Some("456"), false),
            ("14255550121.123", None, false),
            ("anonymous", None, true),
            ("anonymous_123", Some("123"), false),
        ];
        for (number, asserted, anonymous) in cases {
            let p = PhoneNumberIdentifier::new(number);
            assert_eq!(p.asserted_id(), asserted, "{number}");
            assert_eq!(p.is_anonymous(), anonymous, "{number}");
        }
    }

    #[test]
    fn constructed_identifiers_produce_the_documented_raw_ids() {
        let cases = [
            (
                I::MicrosoftTeamsUser(MicrosoftTeamsUserIdentifier::new("u", false, Public)),
                "8:orgid:u",
            ),
            (
                I::MicrosoftTeamsUser(MicrosoftTeamsUserIdentifier::new("u", false, Dod)),
                "8:dod:u",
            ),
            (
                I::MicrosoftTeamsUser(MicrosoftTeamsUserIdentifier::new("u", true, Gcch)),
                "8:teamsvisitor:u",
            ),
            (
                I::MicrosoftTeamsApp(MicrosoftTeamsAppIdentifier::new("a", Gcch)),
                "28:gcch:a",
            ),
            (
                I::TeamsExtensionUser(TeamsExtensionUserIdentifier::new("u", "t", "r", Dod)),
                "8:dod-acs:r_t_u",
            ),
            (
                I::PhoneNumber(PhoneNumberIdentifier::new("+1555")),
                "4:+1555",
            ),
        ];
        for (id, raw) in cases {
            assert_eq!(id.raw_id(), raw);
        }
    }

    #[test]
    fn equality_and_hash_follow_the_raw_id() {
        use std::collections::HashSet;
        let a = I::from_raw_id("8:acs:x_y");
        let b: I = CommunicationUserIdentifier::new("8:acs:x_y")
            .unwrap()
            .into();
        assert_eq!(a, b);
        let set: HashSet<I> = [a, b].into_iter().collect();
        assert_eq!(set.len(), 1);
    }

    #[test]
    fn every_kind_serializes_as_its_raw_id_and_reads_back() {
        for raw in [
            "4:+14255550121",
            "8:orgid:45ab2481-1c1c-4005-be24-0ffb879b1130",
            "8:teamsvisitor:45ab2481-1c1c-4005-be24-0ffb879b1130",
            "8:gcch:45ab2481-1c1c-4005-be24-0ffb879b1130",
            "28:orgid:45ab2481-1c1c-4005-be24-0ffb879b1130",
            "28:dod:45ab2481-1c1c-4005-be24-0ffb879b1130",
            "8:acs:resource-id_tenant-id_user-oid",
            "8:gcch-acs:resource-id_tenant-id_user-oid",
        ] {
            let json = serde_json::to_string(raw).unwrap();
            let id: I = serde_json::from_str(&json).unwrap();
            let again = match &id {
                I::PhoneNumber(p) => {
                    let s = serde_json::to_string(p).unwrap();
                    let back: PhoneNumberIdentifier = serde_json::from_str(&s).unwrap();
                    assert_eq!(&back, p);
                    s
                }
                I::MicrosoftTeamsUser(u) => {
                    let s = serde_json::to_string(u).unwrap();
                    let back: MicrosoftTeamsUserIdentifier = serde_json::from_str(&s).unwrap();
                    assert_eq!(&back, u);
                    s
                }
                I::MicrosoftTeamsApp(a) => {
                    let s = serde_json::to_string(a).unwrap();
                    let back: MicrosoftTeamsAppIdentifier = serde_json::from_str(&s).unwrap();
                    assert_eq!(&back, a);
                    s
                }
                I::TeamsExtensionUser(t) => {
                    let s = serde_json::to_string(t).unwrap();
                    let back: TeamsExtensionUserIdentifier = serde_json::from_str(&s).unwrap();
                    assert_eq!(&back, t);
                    s
                }
                other => panic!("{raw}: {other:?}"),
            };
            assert_eq!(again, json, "{raw}");
        }
        // Another kind's id is refused, not read as this kind.
        let err = serde_json::from_str::<PhoneNumberIdentifier>("\"8:orgid:u\"").unwrap_err();
        assert!(
            err.to_string().contains("not the raw id of a phone number"),
            "{err}"
        );
        assert!(serde_json::from_str::<MicrosoftTeamsAppIdentifier>("\"4:+1\"").is_err());
    }

    #[test]
    fn serde_uses_the_raw_id() {
        let id = I::from_raw_id("8:orgid:u");
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"8:orgid:u\"");
        assert_eq!(serde_json::from_str::<I>("\"8:orgid:u\"").unwrap(), id);
        let user = CommunicationUserIdentifier::new("8:acs:1").unwrap();
        assert_eq!(serde_json::to_string(&user).unwrap(), "\"8:acs:1\"");
        assert!(serde_json::from_str::<CommunicationUserIdentifier>("\"\"").is_err());
    }

    #[test]
    fn user_ids_that_cannot_be_a_path_segment_are_refused() {
        for bad in ["", "8:acs:a b", "a/b", "a?b", "a#b", "a\nb"] {
            assert!(CommunicationUserIdentifier::new(bad).is_err(), "{bad:?}");
        }
    }
}
