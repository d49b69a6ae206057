//! The command line, as clap parses it.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Manage Azure Communication Services identities, access tokens and access
/// assignments, or run a local emulator of the service.
#[derive(Debug, Parser)]
#[command(name = "acs-identity", version, propagate_version = true)]
#[command(
    after_help = "Exit codes: 0 success, 1 the call failed (the service's code and message are on stderr), 2 usage error."
)]
pub struct Cli {
    /// The resource's connection string (`endpoint=https://…;accesskey=…`).
    #[arg(
        long,
        env = "ACS_CONNECTION_STRING",
        global = true,
        hide_env_values = true
    )]
    pub connection_string: Option<String>,

    /// The api-version to send (default: 2025-06-30; 2025-03-02-preview for
    /// preview-only commands).
    #[arg(long, global = true, value_name = "VERSION")]
    pub api_version: Option<String>,

    /// Output format (default: json when stdout is not a terminal, else table).
    #[arg(long, global = true, value_enum)]
    pub output: Option<Output>,

    /// Log requests to stderr (secrets are never shown).
    #[arg(long, short, global = true)]
    pub verbose: bool,

    #[command(subcommand)]
    pub command: Command,
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// JSON with the service's field names.
    Json,
    /// Aligned `field  value` lines.
    Table,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create, read and delete communication users.
    #[command(subcommand)]
    User(UserCommand),
    /// Issue, revoke and exchange access tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Manage Teams Phone extension and Entra access assignments.
    #[command(subcommand)]
    Assignment(AssignmentCommand),
    /// Run a local emulator of the service until interrupted.
    Emulator(EmulatorArgs),
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user, optionally with an access token.
    Create {
        /// Also issue a token with these scopes (comma-separated: chat, voip,
        /// chat.join, chat.join.limited, voip.join).
        #[arg(long, value_delimiter = ',')]
        scopes: Vec<String>,
        /// Token lifetime in minutes (60 to 1440; default 1440).
        #[arg(long, value_name = "N", requires = "scopes")]
        expires_in_minutes: Option<u32>,
        /// Link the user to your own id; the same id always gives the same
        /// user (preview).
        #[arg(long, value_name = "ID")]
        custom_id: Option<String>,
    },
    /// Show a user: its custom id and when it last got a token (preview).
    Get {
        /// The user id (`8:acs:…`).
        id: String,
    },
    /// Delete a user, its data and its tokens.
    Delete {
        /// The user id (`8:acs:…`).
        id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Issue an access token for a user.
    Issue {
        /// The user id (`8:acs:…`).
        id: String,
        /// Scopes, comma-separated (chat, voip, chat.join, chat.join.limited, voip.join).
        #[arg(long, value_delimiter = ',', required = true)]
        scopes: Vec<String>,
        /// Lifetime in minutes (60 to 1440; default 1440).
        #[arg(long, value_name = "N")]
        expires_in_minutes: Option<u32>,
    },
    /// Revoke every token issued to a user so far.
    Revoke {
        /// The user id (`8:acs:…`).
        id: String,
    },
    /// Exchange a Teams user's Entra ID token for an ACS token.
    ExchangeTeams {
        /// The Teams user's Entra ID access token.
        #[arg(long, value_name = "TOKEN")]
        teams_token: String,
        /// The Entra application (client) id the token was issued to.
        #[arg(long, value_name = "ID")]
        app_id: String,
        /// The Teams user's Entra object id.
        #[arg(long, value_name = "ID")]
        user_id: String,
    },
    /// Exchange an Entra ID user's token for an ACS identity and token (preview).
    ExchangeEntra {
        /// The user's Entra ID access token.
        #[arg(long, value_name = "TOKEN")]
        entra_token: String,
    },
    /// Exchange a Teams Phone extension user's Entra ID token for an ACS identity and token.
    ExchangeTeamsExtension {
        /// The user's Entra ID access token.
        #[arg(long, value_name = "TOKEN")]
        entra_token: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum AssignmentCommand {
    /// Teams Phone extension assignments.
    #[command(subcommand)]
    TeamsExtension(TeamsExtensionCommand),
    /// Entra ID assignments (preview).
    #[command(subcommand)]
    Entra(EntraCommand),
}

#[derive(Debug, Args)]
pub struct TenantObject {
    /// The Entra tenant id.
    #[arg(long, value_name = "ID")]
    pub tenant_id: String,
    /// The Entra object id.
    #[arg(long, value_name = "ID")]
    pub object_id: String,
}

#[derive(Debug, Subcommand)]
pub enum TeamsExtensionCommand {
    /// Show an assignment.
    Get(TenantObject),
    /// Create or replace an assignment.
    Set {
        #[command(flatten)]
        target: TenantObject,
        /// resourceAccount or user.
        #[arg(long, value_name = "TYPE")]
        principal_type: String,
        /// Client application ids allowed to exchange tokens, comma-separated.
        #[arg(long, value_delimiter = ',')]
        client_ids: Vec<String>,
    },
    /// Delete an assignment.
    Delete(TenantObject),
}

#[derive(Debug, Subcommand)]
pub enum EntraCommand {
    /// List every assignment (all pages).
    List,
    /// Show the assignment of an object.
    Get {
        /// The Entra object id (user, group or tenant).
        #[arg(long, value_name = "ID")]
        object_id: String,
    },
    /// Create or replace the assignment of an object.
    Set {
        /// The Entra object id (user, group or tenant).
        #[arg(long, value_name = "ID")]
        object_id: String,
        /// The Entra tenant id.
        #[arg(long, value_name = "ID")]
        tenant_id: String,
        /// user, group or tenant.
        #[arg(long, value_name = "TYPE")]
        principal_type: String,
        /// Client application ids allowed to exchange tokens, comma-separated.
        #[arg(long, value_delimiter = ',', required = true)]
        client_ids: Vec<String>,
    },
    /// Delete the assignment of an object.
    Delete {
        /// The Entra object id.
        #[arg(long, value_name = "ID")]
        object_id: String,
    },
    /// Change several assignments at once: a JSON object keyed by object id,
    /// each value an assignment (`{"tenantId","principalType","clientIds"}`)
    /// or null to remove it.
    Update {
        /// The changes as JSON, or `@FILE` to read them from a file.
        #[arg(long, value_name = "JSON")]
        changes: String,
    },
}

#[derive(Debug, Args)]
pub struct EmulatorArgs {
    /// Port on 127.0.0.1 (0: any free port).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// The access key (base64; default: a random one).
    #[arg(long, value_name = "KEY")]
    pub access_key: Option<String>,
    /// Keep state in this SQLite file, surviving restarts and crashes.
    #[arg(long, value_name = "PATH")]
    pub data: Option<PathBuf>,
    /// Faults to inject, e.g. `503x2;latency=100ms` (see the emulator's docs).
    /// A spec that does not parse is a usage error (exit 2).
    #[arg(long, value_name = "SPEC")]
    pub faults: Option<acs_identity_emulator::Faults>,
    /// Entra assignments per page of the list operation.
    #[arg(long, default_value_t = 100, value_name = "N")]
    pub page_size: usize,
    /// Also accept management bearer tokens signed (RS256) by a key of this
    /// JWKS file, besides the emulator's own (see the emulator's docs).
    #[arg(long, value_name = "FILE")]
    pub jwks: Option<PathBuf>,
}
