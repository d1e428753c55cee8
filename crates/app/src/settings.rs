//! Configuration: defaults, then an optional TOML file (`--config`, or `tariff.toml` in
//! the working directory), then `TARIFF_<SECTION>__<KEY>` environment variables, then the
//! plain names the contract fixes (`DATABASE_URL`, `COMPANY_NAME`, `INVOICE_*`).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use config::{Config, Environment, File, FileFormat};
use serde::Deserialize;

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub log: LogSettings,
    pub invoice: InvoiceSettings,
    pub billing: BillingSettings,
    pub auth: AuthSettings,
    pub webhooks: WebhookSettings,
    pub payments: PaymentSettings,
    pub api: ApiSettings,
    /// Country code (ISO 3166-1 alpha-2), `EU` or `*` to a percentage, e.g. `DE = "19"`.
    pub tax: BTreeMap<String, String>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    pub bind: SocketAddr,
    pub workers: usize,
    /// Absolute base URL clients use; starts every pagination link (`links`, `meta.path`).
    pub public_url: String,
    pub client_request_timeout_secs: u64,
    pub keep_alive_secs: u64,
    pub shutdown_timeout_secs: u64,
    /// Origins allowed by CORS; empty means CORS is off.
    pub cors_allowed_origins: Vec<String>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    pub url: String,
    pub max_connections: u32,
    pub acquire_timeout_ms: u64,
    pub sqlite_busy_timeout_ms: u64,
    /// `full` (fsync every commit; survives power loss) or `normal` (survives a crash
    /// of the process, may lose the last commits on power loss).
    pub sqlite_synchronous: SqliteSynchronous,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SqliteSynchronous {
    Full,
    Normal,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    /// `text` for terminals, `json` for log shippers.
    pub format: LogFormat,
    /// Used when `RUST_LOG` is not set.
    pub level: String,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InvoiceSettings {
    pub company_name: String,
    pub issued_from_name: String,
    pub issued_from_address: String,
    pub logo_path: Option<String>,
    /// A TrueType font for characters the bundled Liberation Sans lacks (CJK...), used
    /// glyph by glyph and subset into each PDF that needs it. Read once at start-up.
    pub font_path: Option<String>,
    /// `{year}` and `{seq:06}` (or `{seq}`) are replaced.
    pub number_format: String,
    /// The credit notes' own series, written the same way (`CN-{year}-{seq:06}`).
    pub credit_note_format: String,
    pub footer: String,
    pub due_days: u32,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BillingSettings {
    pub sweep_interval_secs: u64,
    pub pending_ttl_days: u32,
    pub renewal_lead_days: u32,
    /// A renewal is charged off-session this many days before the period it renews ends.
    pub charge_days_before: u32,
    /// A declined renewal charge is tried again on these days, counted from the first
    /// attempt (strictly increasing, each at least 1).
    pub retry_days: Vec<u32>,
    /// An order whose period ended with its renewal unpaid stays active (past due) for
    /// this many days; 0 expires it at its period end.
    pub grace_days: u32,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSettings {
    pub session_ttl_hours: u32,
    /// A finer session lifetime in seconds; when set it replaces `session_ttl_hours`.
    pub session_ttl_secs: Option<u64>,
    /// Adds `Secure` to the session cookie; turn on behind HTTPS.
    pub cookie_secure: bool,
    /// Login attempts allowed per minute for one email and, separately, for one client
    /// address (per instance); 0 turns the limit off.
    pub login_attempts_per_minute: u32,
    /// Take the client address from `Forwarded`/`X-Forwarded-For`: only behind a
    /// reverse proxy that sets them, or clients could pick their own address.
    pub trust_forwarded_for: bool,
    /// How long a resolved credential is reused without a database look-up (0 = never).
    /// Revocations on another instance take effect within this time; on the same
    /// instance at once.
    pub credential_cache_ms: u64,
    pub panel: PanelAuthSettings,
}

/// How the API speaks (CONTRACT.md part two, "Profiles").
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiSettings {
    /// `seed` (the seed document exactly) or `eclipanel` (what the real EcliPanel
    /// frontend reads). Read once at start-up.
    pub profile: ApiProfile,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ApiProfile {
    Seed,
    Eclipanel,
}

impl ApiProfile {
    pub fn to_http(self) -> tariff_http_api::profile::Profile {
        match self {
            ApiProfile::Seed => tariff_http_api::profile::Profile::Seed,
            ApiProfile::Eclipanel => tariff_http_api::profile::Profile::Eclipanel,
        }
    }
}

/// Panel sign-in (`auth.panel.*`): on when `session_url` is set.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PanelAuthSettings {
    /// The panel's session endpoint; Tariff forwards the panel's cookie there.
    pub session_url: Option<String>,
    /// The panel's session cookie name.
    pub cookie: String,
    /// JSON pointers into the panel's answer.
    pub id_pointer: String,
    pub email_pointer: String,
    pub role_pointer: String,
    /// Panel roles that act as Tariff administrators.
    pub admin_roles: Vec<String>,
    /// How long a successful answer is reused (only successes are cached).
    pub cache_ms: u64,
    /// How long the panel may take to answer.
    pub timeout_ms: u64,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSettings {
    /// How long one delivery attempt may take, connection to the end of the answer.
    pub timeout_ms: u64,
    /// The delays between attempts, e.g. `5s,30s,2m`: n delays give n + 1 attempts.
    pub retry_delays: String,
    /// The base64 of 32 bytes that seals the endpoints' signing secrets (AES-256-GCM).
    /// Unset: a key generated at first start and kept in the database.
    #[serde(default)]
    pub encryption_key: Option<RedactedText>,
}

/// A setting that must never be printed: `Debug` shows only whether it is set.
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct RedactedText(String);

impl RedactedText {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for RedactedText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RedactedText(..)")
    }
}

/// A secret read from configuration: its `Debug` never prints it, so settings can be
/// logged whole.
#[derive(Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct SecretSetting(String);

impl SecretSetting {
    /// The secret, for the one place that hands it to its adapter.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_set(&self) -> bool {
        !self.0.trim().is_empty()
    }
}

impl std::fmt::Debug for SecretSetting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.is_set() {
            "[redacted]"
        } else {
            "[unset]"
        })
    }
}

/// Payments through a gateway (`payments.*`): off while `stripe.secret_key` is empty.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaymentSettings {
    /// Where the gateway sends the buyer after paying; Stripe replaces
    /// `{CHECKOUT_SESSION_ID}` in it.
    pub success_url: String,
    /// Where the gateway sends the buyer who gives up.
    pub cancel_url: String,
    pub stripe: StripeSettings,
}

/// Stripe (`payments.stripe.*`).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StripeSettings {
    /// The secret API key (`sk_live_...`, `sk_test_...`, or a restricted `rk_` key);
    /// empty turns payments off.
    pub secret_key: SecretSetting,
    /// The webhook endpoint's signing secret (`whsec_...`).
    pub webhook_secret: SecretSetting,
    /// Stripe's API base URL (tests point it at a local fake).
    pub api_base: String,
}

impl PaymentSettings {
    /// Whether payments are on.
    pub fn enabled(&self) -> bool {
        self.stripe.secret_key.is_set()
    }
}

/// The longest attempt time accepted: a delivery's lease outlasts it.
const MAX_WEBHOOK_TIMEOUT_MS: u64 = 5 * 60 * 1000;

impl WebhookSettings {
    /// The parsed retry schedule (checked at load).
    pub fn retry_schedule(
        &self,
    ) -> Result<tariff_domain::webhooks::RetrySchedule, tariff_domain::webhooks::RetryScheduleError>
    {
        self.retry_delays.parse()
    }

    pub fn timeout(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.timeout_ms)
    }

    /// The configured sealing key; `None` when unset or blank (checked at load).
    pub fn sealing_key(
        &self,
    ) -> Result<Option<tariff_persistence::SealingKey>, tariff_persistence::InvalidSealingKey> {
        self.encryption_key
            .as_ref()
            .map(RedactedText::expose)
            .filter(|text| !text.trim().is_empty())
            .map(tariff_persistence::SealingKey::from_base64)
            .transpose()
    }
}

impl AuthSettings {
    /// How long a session lasts.
    pub fn session_ttl(&self) -> chrono::TimeDelta {
        match self.session_ttl_secs {
            Some(secs) => {
                chrono::TimeDelta::seconds(i64::try_from(secs).unwrap_or(i64::MAX / 1000))
            }
            None => chrono::TimeDelta::hours(i64::from(self.session_ttl_hours)),
        }
    }
}

const DEFAULTS: &str = r#"
[server]
bind = "127.0.0.1:8080"
workers = 2
public_url = "http://127.0.0.1:8080"
client_request_timeout_secs = 5
keep_alive_secs = 30
shutdown_timeout_secs = 30
cors_allowed_origins = []

[database]
url = "sqlite://tariff.db"
max_connections = 8
acquire_timeout_ms = 2000
sqlite_busy_timeout_ms = 5000
sqlite_synchronous = "normal"

[log]
format = "text"
level = "info"

[invoice]
company_name = "Tariff Hosting"
issued_from_name = "Tariff Hosting"
issued_from_address = ""
number_format = "INV-{year}-{seq:06}"
credit_note_format = "CN-{year}-{seq:06}"
footer = "Thank you for your business."
due_days = 14

[billing]
sweep_interval_secs = 60
pending_ttl_days = 7
renewal_lead_days = 7
charge_days_before = 3
retry_days = [1, 3, 5]
grace_days = 3

[auth]
session_ttl_hours = 336
cookie_secure = false
login_attempts_per_minute = 10
trust_forwarded_for = false
credential_cache_ms = 1000

[webhooks]
timeout_ms = 10000
retry_delays = "5s,30s,2m,10m,30m,1h,3h,6h,12h,24h"

[payments]
success_url = ""
cancel_url = ""

[payments.stripe]
secret_key = ""
webhook_secret = ""
api_base = "https://api.stripe.com"

[auth.panel]
cookie = "token"
id_pointer = "/user/id"
email_pointer = "/user/email"
role_pointer = "/user/role"
admin_roles = ["*", "rootAdmin", "admin"]
cache_ms = 5000
timeout_ms = 2000

[api]
profile = "seed"

[tax]
"#;

/// Plain environment names the contract fixes, and the key each sets.
const PLAIN_ENV: &[(&str, &str)] = &[
    ("DATABASE_URL", "database.url"),
    ("COMPANY_NAME", "invoice.company_name"),
    ("INVOICE_ISSUED_FROM_NAME", "invoice.issued_from_name"),
    ("INVOICE_ISSUED_FROM_ADDRESS", "invoice.issued_from_address"),
    ("INVOICE_LOGO_PATH", "invoice.logo_path"),
];

/// A configuration problem, as one line naming the key.
#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct SettingsError(String);

impl Settings {
    /// Loads the layers. `explicit_file` must exist; `tariff.toml` is optional.
    pub fn load(
        explicit_file: Option<&Path>,
        database_url: Option<&str>,
    ) -> Result<Settings, SettingsError> {
        Self::load_from(explicit_file, database_url, |name| std::env::var(name).ok())
    }

    /// Same as [`load`](Self::load) with an injectable environment, for tests.
    pub fn load_from(
        explicit_file: Option<&Path>,
        database_url: Option<&str>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Settings, SettingsError> {
        let mut builder = Config::builder().add_source(File::from_str(DEFAULTS, FileFormat::Toml));
        match explicit_file {
            Some(path) => {
                if !path.exists() {
                    return Err(SettingsError(format!(
                        "config file {} does not exist",
                        path.display()
                    )));
                }
                builder =
                    builder.add_source(File::from(PathBuf::from(path)).format(FileFormat::Toml));
            }
            None => {
                builder =
                    builder.add_source(File::new("tariff.toml", FileFormat::Toml).required(false))
            }
        }
        let vars: std::collections::HashMap<String, String> = std::env::vars()
            .filter(|(k, _)| k.starts_with("TARIFF_"))
            .filter_map(|(k, _)| env(&k).map(|v| (k, v)))
            .collect();
        builder = builder.add_source(
            Environment::with_prefix("TARIFF")
                .prefix_separator("_")
                .separator("__")
                .list_separator(",")
                .with_list_parse_key("server.cors_allowed_origins")
                .with_list_parse_key("auth.panel.admin_roles")
                .with_list_parse_key("billing.retry_days")
                .try_parsing(true)
                .source(Some(vars)),
        );
        for (name, key) in PLAIN_ENV {
            if let Some(value) = env(name) {
                builder = builder
                    .set_override(*key, value)
                    .map_err(|e| SettingsError(e.to_string()))?;
            }
        }
        if let Some(url) = database_url {
            builder = builder
                .set_override("database.url", url)
                .map_err(|e| SettingsError(e.to_string()))?;
        }
        let settings: Settings = builder
            .build()
            .and_then(Config::try_deserialize)
            .map_err(|e| SettingsError(one_line(&e.to_string())))?;
        settings.validate()?;
        Ok(settings)
    }

    fn validate(&self) -> Result<(), SettingsError> {
        let bad = |key: &str, why: &str| Err(SettingsError(format!("{key}: {why}")));
        if self.server.workers == 0 {
            return bad("server.workers", "must be at least 1");
        }
        if !(self.server.public_url.starts_with("http://")
            || self.server.public_url.starts_with("https://"))
        {
            return bad("server.public_url", "must start with http:// or https://");
        }
        if self.database.max_connections == 0 {
            return bad("database.max_connections", "must be at least 1");
        }
        if let Err(e) = tariff_persistence::backend_of(&self.database.url) {
            return Err(SettingsError(format!("database.url: {e}")));
        }
        if let Err(e) =
            tariff_domain::orders::InvoiceNumberFormat::parse(&self.invoice.number_format)
        {
            return Err(SettingsError(format!(
                "invoice.number_format: {}",
                e.reason
            )));
        }
        if let Err(e) =
            tariff_domain::orders::InvoiceNumberFormat::parse(&self.invoice.credit_note_format)
        {
            return Err(SettingsError(format!(
                "invoice.credit_note_format: {}",
                e.reason
            )));
        }
        if self.billing.sweep_interval_secs == 0 {
            return bad("billing.sweep_interval_secs", "must be at least 1");
        }
        let retry = &self.billing.retry_days;
        if retry.first() == Some(&0) || retry.windows(2).any(|w| w[0] >= w[1]) {
            return bad(
                "billing.retry_days",
                "must be whole days, each at least 1 and larger than the one before",
            );
        }
        if retry.len() > 30 || retry.last().is_some_and(|d| *d > 366) {
            return bad("billing.retry_days", "at most 30 retries within 366 days");
        }
        if self.billing.charge_days_before > 366 || self.billing.grace_days > 366 {
            return bad(
                "billing.charge_days_before",
                "charge_days_before and grace_days must be at most 366",
            );
        }
        if self.auth.session_ttl_hours == 0 {
            return bad("auth.session_ttl_hours", "must be at least 1");
        }
        if let Some(secs) = self.auth.session_ttl_secs {
            if secs == 0 || secs > 10 * 365 * 24 * 3600 {
                return bad("auth.session_ttl_secs", "must be from 1 second to 10 years");
            }
        }
        if self.webhooks.timeout_ms == 0 || self.webhooks.timeout_ms > MAX_WEBHOOK_TIMEOUT_MS {
            return bad(
                "webhooks.timeout_ms",
                "must be from 1 to 300000 (five minutes)",
            );
        }
        if let Err(e) = self.webhooks.retry_schedule() {
            return Err(SettingsError(format!("webhooks.{e}")));
        }
        if let Err(e) = self.webhooks.sealing_key() {
            return Err(SettingsError(e.to_string()));
        }
        if let Some(url) = &self.auth.panel.session_url {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return bad(
                    "auth.panel.session_url",
                    "must be an http:// or https:// URL",
                );
            }
        }
        if self.auth.panel.timeout_ms == 0 {
            return bad("auth.panel.timeout_ms", "must be at least 1");
        }
        if self.payments.enabled() {
            if !self.payments.stripe.webhook_secret.is_set() {
                return bad(
                    "payments.stripe.webhook_secret",
                    "must be set when payments.stripe.secret_key is",
                );
            }
            let base = self.payments.stripe.api_base.trim();
            if !(base.starts_with("http://") || base.starts_with("https://")) {
                return bad(
                    "payments.stripe.api_base",
                    "must be an http:// or https:// URL",
                );
            }
            if let Err(e) = tariff_domain::payments::ReturnUrls::new(
                self.payments.success_url.trim(),
                self.payments.cancel_url.trim(),
            ) {
                return Err(SettingsError(format!("payments.{e}")));
            }
        }
        if let Err(e) = tariff_domain::orders::TaxRules::parse(&self.tax) {
            return Err(SettingsError(e.to_string()));
        }
        Ok(())
    }
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn load(env: &[(&str, &str)], file: Option<&Path>) -> Result<Settings, SettingsError> {
        let env: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::load_from(file, None, |k| env.get(k).cloned())
    }

    #[test]
    fn defaults_are_usable() {
        let s = load(&[], None).unwrap();
        assert_eq!(s.server.bind.to_string(), "127.0.0.1:8080");
        assert_eq!(s.database.url, "sqlite://tariff.db");
        assert_eq!(s.invoice.number_format, "INV-{year}-{seq:06}");
    }

    #[test]
    fn dunning_defaults_follow_the_contract_and_bad_retry_days_are_refused() {
        let s = load(&[], None).unwrap();
        assert_eq!(s.billing.charge_days_before, 3);
        assert_eq!(s.billing.retry_days, vec![1, 3, 5]);
        assert_eq!(s.billing.grace_days, 3);
        let dir = tempfile_dir();
        let path = dir.join("dunning.toml");
        std::fs::write(
            &path,
            "[billing]\ncharge_days_before = 2\nretry_days = [2, 4]\ngrace_days = 0\n",
        )
        .unwrap();
        let s = load(&[], Some(&path)).unwrap();
        assert_eq!((s.billing.charge_days_before, s.billing.grace_days), (2, 0));
        assert_eq!(s.billing.retry_days, vec![2, 4]);
        for bad in ["[3, 1]", "[0, 2]", "[1, 1]"] {
            std::fs::write(&path, format!("[billing]\nretry_days = {bad}\n")).unwrap();
            let err = load(&[], Some(&path)).unwrap_err().to_string();
            assert!(err.contains("billing.retry_days"), "{bad}: {err}");
        }
    }

    #[test]
    fn plain_names_override_the_file() {
        let dir = tempfile_dir();
        let path = dir.join("t.toml");
        std::fs::write(
            &path,
            "[database]\nurl = \"sqlite://file.db\"\n[invoice]\ncompany_name = \"File Co\"\n",
        )
        .unwrap();
        let s = load(
            &[
                ("DATABASE_URL", "postgres://x@y/z"),
                ("COMPANY_NAME", "Env Co"),
            ],
            Some(&path),
        )
        .unwrap();
        assert_eq!(s.database.url, "postgres://x@y/z");
        assert_eq!(s.invoice.company_name, "Env Co");
        let s = load(&[], Some(&path)).unwrap();
        assert_eq!(s.database.url, "sqlite://file.db");
    }

    #[test]
    fn payments_are_off_by_default_and_their_secrets_never_print() {
        let s = load(&[], None).unwrap();
        assert!(!s.payments.enabled());
        assert_eq!(s.payments.stripe.api_base, "https://api.stripe.com");
        let dir = tempfile_dir();
        let path = dir.join("pay.toml");
        std::fs::write(
            &path,
            "[payments]\nsuccess_url = \"https://shop.example/ok\"\ncancel_url = \"https://shop.example/back\"\n[payments.stripe]\nsecret_key = \"sk_test_topsecret\"\nwebhook_secret = \"whsec_alsosecret\"\n",
        )
        .unwrap();
        let s = load(&[], Some(&path)).unwrap();
        assert!(s.payments.enabled());
        assert_eq!(s.payments.stripe.secret_key.expose(), "sk_test_topsecret");
        let printed = format!("{s:?}");
        assert!(!printed.contains("topsecret"), "{printed}");
        assert!(!printed.contains("alsosecret"), "{printed}");
        std::fs::write(
            &path,
            "[payments]\nsuccess_url = \"/ok\"\ncancel_url = \"https://shop.example/back\"\n[payments.stripe]\nsecret_key = \"sk_test_x\"\nwebhook_secret = \"whsec_x\"\n",
        )
        .unwrap();
        let err = load(&[], Some(&path)).unwrap_err().to_string();
        assert!(err.contains("payments.success_url"), "{err}");
        std::fs::write(&path, "[payments.stripe]\nsecret_key = \"sk_test_x\"\n").unwrap();
        let err = load(&[], Some(&path)).unwrap_err().to_string();
        assert!(err.contains("payments.stripe.webhook_secret"), "{err}");
    }

    #[test]
    fn bad_values_name_their_key() {
        let dir = tempfile_dir();
        let path = dir.join("bad.toml");
        std::fs::write(&path, "[server]\nbind = \"not an address\"\n").unwrap();
        let err = load(&[], Some(&path)).unwrap_err().to_string();
        assert!(err.contains("server.bind"), "{err}");
        assert!(!err.contains('\n'));
        std::fs::write(&path, "[tax]\nDE = \"nineteen\"\n").unwrap();
        let err = load(&[], Some(&path)).unwrap_err().to_string();
        assert!(err.contains("tax.DE"), "{err}");
        std::fs::write(&path, "[server]\nwrokers = 3\n").unwrap();
        let err = load(&[], Some(&path)).unwrap_err().to_string();
        assert!(err.contains("wrokers"), "{err}");
        let err = load(&[("DATABASE_URL", "mysql://a/b")], None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("database.url"), "{err}");
    }

    #[test]
    fn profile_and_panel_sign_in_come_from_the_environment() {
        let s = load(&[], None).unwrap();
        assert_eq!(s.api.profile, ApiProfile::Seed);
        assert!(s.auth.panel.session_url.is_none());
        assert_eq!(s.auth.panel.cookie, "token");
        assert_eq!(s.auth.panel.admin_roles, ["*", "rootAdmin", "admin"]);
        assert_eq!(s.auth.panel.cache_ms, 5000);
        let dir = tempfile_dir();
        let path = dir.join("panel.toml");
        std::fs::write(
            &path,
            "[api]\nprofile = \"eclipanel\"\n[auth.panel]\nsession_url = \"http://panel.internal/api/auth/session\"\nadmin_roles = [\"staff\", \"owner\"]\n",
        )
        .unwrap();
        let s = load(&[], Some(&path)).unwrap();
        assert_eq!(s.api.profile, ApiProfile::Eclipanel);
        assert_eq!(
            s.auth.panel.session_url.as_deref(),
            Some("http://panel.internal/api/auth/session")
        );
        assert_eq!(s.auth.panel.admin_roles, ["staff", "owner"]);
        assert_eq!(
            s.auth.panel.cookie, "token",
            "unnamed keys keep their defaults"
        );
        std::fs::write(&path, "[api]\nprofile = \"whmcs\"\n").unwrap();
        let err = load(&[], Some(&path)).unwrap_err().to_string();
        assert!(err.contains("profile"), "{err}");
        std::fs::write(
            &path,
            "[auth.panel]\nsession_url = \"ftp://panel.example/api/auth/session\"\n",
        )
        .unwrap();
        let err = load(&[], Some(&path)).unwrap_err().to_string();
        assert!(err.contains("auth.panel.session_url"), "{err}");
    }

    #[test]
    fn missing_explicit_file_is_an_error() {
        assert!(load(&[], Some(Path::new("/nonexistent/tariff.toml"))).is_err());
    }

    fn tempfile_dir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "tariff-settings-{}-{}",
            std::process::id(),
            rand_suffix()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn rand_suffix() -> u128 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    }
}
