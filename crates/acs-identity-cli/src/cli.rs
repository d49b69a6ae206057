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
    /// The resource's connection string (`endpoint=https://…;accesskey=…`);
    /// else COMMUNICATION_SERVICES_CONNECTION_STRING.
    #[arg(
        long,
        env = "ACS_CONNECTION_STRING",
        global = true,
        hide_env_values = true
    )]
    pub connection_string: Option<String>,

    /// How to authenticate: `key` (the connection string's access key) or
    /// `entra` (Entra ID, through the `az` or `azd` login of this machine).
    #[arg(long, global = true, value_enum, default_value_t = Auth::Key)]
    pub auth: Auth,

    /// The resource's endpoint, for `--auth entra` (default: the endpoint of
    /// the connection string).
    #[arg(long, global = true, env = "ACS_ENDPOINT", value_name = "URL")]
    pub endpoint: Option<String>,

    /// The api-version to send (default: 2025-06-30; 2025-03-02-preview for
    /// preview-only commands).
    #[arg(long, global = true, value_name = "VERSION")]
    pub api_version: Option<String>,

    /// Send the access key's signatures over plain http to a host other than
    /// this machine (refused by default: anyone on the path could read the
    /// tokens and replay the requests).
    #[arg(long, global = true)]
    pub allow_insecure_http: bool,

    /// Output format (default: json when stdout is not a terminal, else table).
    #[arg(long, global = true, value_enum)]
    pub output: Option<Output>,

    /// Log requests to stderr (secrets are never shown).
    #[arg(long, short, global = true)]
    pub verbose: bool,

    #[command(subcommand)]
    pub command: Command,
}

/// How requests are authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Auth {
    /// HMAC with the connection string's access key.
    Key,
    /// Entra ID tokens from the developer credential (`az login`, `azd auth login`).
    Entra,
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
    #[command(
        after_help = "Examples:\n  acs-identity emulator                          # the well-known connection string, port 10700\n  acs-identity emulator --port 0 --access-key random\n  acs-identity emulator --data state.db --tls    # https, certificate kept beside state.db\n  acs-identity emulator --faults '503x2'"
    )]
    Emulator(EmulatorArgs),
    /// Print a shell completion script.
    #[command(
        after_help = "Examples:\n  acs-identity completions bash > ~/.local/share/bash-completion/completions/acs-identity\n  acs-identity completions zsh > \"${fpath[1]}/_acs-identity\"\n  acs-identity completions fish > ~/.config/fish/completions/acs-identity.fish\n  acs-identity completions powershell >> $PROFILE"
    )]
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user, optionally with an access token.
    #[command(
        after_help = "Examples:\n  acs-identity user create\n  acs-identity user create --scopes chat,voip --expires-in-minutes 60\n  acs-identity user create --custom-id alice@contoso.com --scopes chat"
    )]
    Create {
        /// Also issue a token with these scopes (comma-separated: chat, voip,
        /// chat.join, chat.join.limited, voip.join).
        #[arg(long, value_delimiter = ',')]
        scopes: Vec<String>,
        /// Token lifetime in minutes (60 to 1440; default 1440).
        #[arg(long, value_name = "N", requires = "scopes", value_parser = clap::value_parser!(u32).range(60..=1440))]
        expires_in_minutes: Option<u32>,
        /// Link the user to your own id; the same id always gives the same
        /// user (preview).
        #[arg(long, value_name = "ID")]
        custom_id: Option<String>,
    },
    /// Show a user: its custom id and when it last got a token (preview).
    #[command(after_help = "Examples:\n  acs-identity user get 8:acs:...")]
    Get {
        /// The user id (`8:acs:…`).
        id: String,
    },
    /// Delete a user, its data and its tokens.
    #[command(after_help = "Examples:\n  acs-identity user delete 8:acs:...")]
    Delete {
        /// The user id (`8:acs:…`).
        id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Issue an access token for a user.
    #[command(
        after_help = "Examples:\n  acs-identity token issue 8:acs:... --scopes chat,voip\n  acs-identity token issue 8:acs:... --scopes voip.join --expires-in-minutes 60"
    )]
    Issue {
        /// The user id (`8:acs:…`).
        id: String,
        /// Scopes, comma-separated (chat, voip, chat.join, chat.join.limited, voip.join).
        #[arg(long, value_delimiter = ',', required = true)]
        scopes: Vec<String>,
        /// Lifetime in minutes (60 to 1440; default 1440).
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(60..=1440))]
        expires_in_minutes: Option<u32>,
    },
    /// Revoke every token issued to a user so far.
    #[command(after_help = "Examples:\n  acs-identity token revoke 8:acs:...")]
    Revoke {
        /// The user id (`8:acs:…`).
        id: String,
    },
    /// Exchange a Teams user's Entra ID token for an ACS token.
    #[command(
        after_help = "Examples:\n  acs-identity token exchange-teams --token-file teams-token.txt --app-id <app id> --user-id <object id>\n  msal-get-token | acs-identity token exchange-teams --teams-token - --app-id <app id> --user-id <object id>"
    )]
    ExchangeTeams {
        /// The Teams user's Entra ID access token, or `-` to read it from
        /// stdin (keeps it out of `ps` and the shell's history).
        #[arg(
            long,
            value_name = "TOKEN",
            required_unless_present = "token_file",
            conflicts_with = "token_file"
        )]
        teams_token: Option<String>,
        /// Read the token from this file.
        #[arg(long, value_name = "PATH")]
        token_file: Option<PathBuf>,
        /// The Entra application (client) id the token was issued to.
        #[arg(long, value_name = "ID")]
        app_id: String,
        /// The Teams user's Entra object id.
        #[arg(long, value_name = "ID")]
        user_id: String,
    },
    /// Exchange an Entra ID user's token for an ACS identity and token (preview).
    #[command(
        after_help = "Examples:\n  acs-identity token exchange-entra --token-file entra-token.txt\n  get-token | acs-identity token exchange-entra --entra-token -"
    )]
    ExchangeEntra(EntraTokenInput),
    /// Exchange a Teams Phone extension user's Entra ID token for an ACS identity and token.
    #[command(
        after_help = "Examples:\n  acs-identity token exchange-teams-extension --token-file entra-token.txt"
    )]
    ExchangeTeamsExtension(EntraTokenInput),
}

/// An Entra ID user's token: on the command line, from stdin or from a file.
#[derive(Debug, Args)]
pub struct EntraTokenInput {
    /// The user's Entra ID access token, or `-` to read it from stdin
    /// (keeps it out of `ps` and the shell's history).
    #[arg(
        long,
        value_name = "TOKEN",
        required_unless_present = "token_file",
        conflicts_with = "token_file"
    )]
    pub entra_token: Option<String>,
    /// Read the token from this file.
    #[arg(long, value_name = "PATH")]
    pub token_file: Option<PathBuf>,
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
    #[command(
        after_help = "Examples:\n  acs-identity assignment teams-extension get --tenant-id <tenant> --object-id <object>"
    )]
    Get(TenantObject),
    /// Create or replace an assignment.
    #[command(
        after_help = "Examples:\n  acs-identity assignment teams-extension set --tenant-id <tenant> --object-id <object> --principal-type user --client-ids <app id>"
    )]
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
    #[command(
        after_help = "Examples:\n  acs-identity assignment teams-extension delete --tenant-id <tenant> --object-id <object>"
    )]
    Delete(TenantObject),
}

#[derive(Debug, Subcommand)]
pub enum EntraCommand {
    /// List every assignment (all pages).
    #[command(after_help = "Examples:\n  acs-identity assignment entra list --output table")]
    List,
    /// Show the assignment of an object.
    #[command(after_help = "Examples:\n  acs-identity assignment entra get --object-id <object>")]
    Get {
        /// The Entra object id (user, group or tenant).
        #[arg(long, value_name = "ID")]
        object_id: String,
    },
    /// Create or replace the assignment of an object.
    #[command(
        after_help = "Examples:\n  acs-identity assignment entra set --object-id <group> --tenant-id <tenant> --principal-type group --client-ids <app id>"
    )]
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
    #[command(
        after_help = "Examples:\n  acs-identity assignment entra delete --object-id <object>"
    )]
    Delete {
        /// The Entra object id.
        #[arg(long, value_name = "ID")]
        object_id: String,
    },
    /// Change several assignments at once: a JSON object keyed by object id,
    /// each value an assignment (`{"tenantId","principalType","clientIds"}`)
    /// or null to remove it.
    #[command(
        after_help = "Examples:\n  acs-identity assignment entra update --changes '{\"<object>\": null}'\n  acs-identity assignment entra update --changes @changes.json"
    )]
    Update {
        /// The changes as JSON, or `@FILE` to read them from a file.
        #[arg(long, value_name = "JSON")]
        changes: String,
    },
}

#[derive(Debug, Args)]
pub struct EmulatorArgs {
    /// Port to listen on (0: any free port). The default is the well-known
    /// development port, so the connection string is always the same.
    #[arg(long, default_value_t = acs_identity_emulator::WELL_KNOWN_PORT)]
    pub port: u16,
    /// Address or name to listen on instead of 127.0.0.1 (a container,
    /// other machines on the LAN); the emulator then answers this Host name
    /// too. Not loopback: a warning, anyone who can reach it may use it.
    #[arg(long, value_name = "ADDR")]
    pub host: Option<String>,
    /// The access key (base64), or `random` for a new one. Default: the
    /// well-known development key, or the key kept in `--data` by an
    /// earlier start.
    #[arg(long, value_name = "KEY")]
    pub access_key: Option<String>,
    /// Keep state (and the key, and with --tls the certificate) in this
    /// SQLite file, surviving restarts and crashes.
    #[arg(long, value_name = "PATH")]
    pub data: Option<PathBuf>,
    /// Serve https: with a certificate generated on first start (kept beside
    /// --data, else made anew) or the one given with --tls-cert/--tls-key.
    /// Where it is goes to stderr, for clients to trust.
    #[arg(long)]
    pub tls: bool,
    /// The certificate chain (PEM) to serve with --tls.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The private key (PEM) of --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
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
    /// No request log on stderr (it prints one line per request: time,
    /// method, path, api-version, status, milliseconds and, for a refusal,
    /// why). `RUST_LOG` filters it as any other target
    /// (`acs_identity_emulator::requests`).
    #[arg(long, short = 'q')]
    pub quiet: bool,
}
