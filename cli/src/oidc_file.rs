//! The `connector serve --oidc FILE` file (TOML): the issuers whose access tokens the API accepts
//! (`[[issuer]]`) and what the console and the portal sign in with (`[console]`, `[portal]`,
//! copied into `/config.json`).

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context as _, bail};
use connector_app::http::oidc::IssuerSettings;
use serde::{Deserialize, Serialize};

/// The whole file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcFile {
    /// Issuers whose tokens the API accepts (one or more).
    pub issuer: Vec<IssuerSettings>,
    /// The console's sign-in (staff and administrators).
    #[serde(default)]
    pub console: Option<PageClient>,
    /// The portal's sign-in (patients).
    #[serde(default)]
    pub portal: Option<PageClient>,
}

/// One page's OIDC client, as `/config.json` gives it to the page.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PageClient {
    /// The OIDC issuer the page signs in with (discovery at `/.well-known/openid-configuration`).
    pub authority: String,
    /// The page's (public) client id.
    pub client_id: String,
    /// The scopes asked for.
    pub scope: String,
    /// RFC 8707 resource indicator, for providers that issue JWT access tokens only for one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    /// The sign-out URL when discovery names none (Cognito).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_session_endpoint: Option<String>,
    /// Extra query parameters on sign-out (Cognito's `client_id`, `logout_uri`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logout_query: Option<BTreeMap<String, String>>,
}

impl OidcFile {
    /// Reads and checks the file at `path`.
    pub fn read(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the OIDC file {}", path.display()))?;
        Self::parse(&text).with_context(|| format!("the OIDC file {}", path.display()))
    }

    /// Parses and checks a file's contents.
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let file: Self = toml::from_str(text)?;
        if file.issuer.is_empty() {
            bail!("name at least one [[issuer]]");
        }
        for issuer in &file.issuer {
            origin(&issuer.issuer).context("issuer must be an http(s) URL")?;
            if issuer.audiences.iter().all(|a| a.trim().is_empty()) {
                bail!("issuer {}: audiences must name at least one", issuer.issuer);
            }
        }
        for (name, page) in file.pages() {
            origin(&page.authority)
                .with_context(|| format!("[{name}] authority must be an http(s) URL"))?;
            if let Some(url) = &page.end_session_endpoint {
                origin(url).with_context(|| {
                    format!("[{name}] end_session_endpoint must be an http(s) URL")
                })?;
            }
            if page.client_id.trim().is_empty() {
                bail!("[{name}] client_id is empty");
            }
        }
        Ok(file)
    }

    /// The pages' clients that are configured, with their table names.
    pub fn pages(&self) -> impl Iterator<Item = (&'static str, &PageClient)> {
        [("console", &self.console), ("portal", &self.portal)]
            .into_iter()
            .filter_map(|(name, page)| page.as_ref().map(|p| (name, p)))
    }

    /// The `/config.json` of `--oidc` (the pages call the API on their own origin).
    pub fn config_json(&self) -> serde_json::Value {
        let mut config = serde_json::json!({ "auth": "oidc", "api": "" });
        for (name, page) in self.pages() {
            config[name] = serde_json::to_value(page).unwrap_or_default();
        }
        config
    }
}

impl OidcFile {
    /// The origins the pages talk to from the browser: each authority's, and those of the
    /// token, userinfo, revocation and end-session endpoints its discovery document names
    /// (fetched now). When discovery fails the authority's origin alone is kept, with a warning:
    /// the server starts all the same.
    pub async fn connect_origins(&self, http: &reqwest::Client) -> Vec<String> {
        let mut origins = Vec::new();
        for (name, page) in self.pages() {
            origins.extend(origin(&page.authority).ok());
            origins.extend(
                page.end_session_endpoint
                    .iter()
                    .filter_map(|u| origin(u).ok()),
            );
            match connector_app::http::oidc::discover(http, &page.authority).await {
                Ok(document) => {
                    origins.extend(document.browser_endpoints().filter_map(|u| origin(u).ok()));
                }
                Err(error) => tracing::warn!(
                    page = name,
                    authority = %page.authority,
                    error = %error,
                    "cannot read the identity provider's discovery document; the pages may reach only its authority's origin"
                ),
            }
        }
        origins.sort();
        origins.dedup();
        origins
    }
}

/// `scheme://host[:port]` of an http(s) URL.
pub fn origin(url: &str) -> anyhow::Result<String> {
    let parsed = reqwest::Url::parse(url)?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
        bail!("{url} is not an http(s) URL");
    }
    Ok(parsed.origin().ascii_serialization())
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"
[[issuer]]
issuer = "http://127.0.0.1:4010"
audiences = ["connector-api"]

[console]
authority = "http://127.0.0.1:4010"
client_id = "connector-console"
scope = "openid offline_access"
resource = "connector-api"

[portal]
authority = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_abc"
client_id = "portal"
scope = "openid"
end_session_endpoint = "https://clinic.auth.eu-west-1.amazoncognito.com/logout"
logout_query = { client_id = "portal", logout_uri = "https://clinic.example/portal/" }
"#;

    #[test]
    fn the_contract_example_reads_and_becomes_config_json() {
        let file = OidcFile::parse(EXAMPLE).unwrap();
        assert_eq!(file.issuer[0].audiences, ["connector-api"]);
        let config = file.config_json();
        assert_eq!(config["auth"], "oidc");
        assert_eq!(config["console"]["resource"], "connector-api");
        assert_eq!(
            config["portal"]["logout_query"]["logout_uri"],
            "https://clinic.example/portal/"
        );
        assert!(config["portal"].get("resource").is_none());
    }

    #[test]
    fn mistakes_are_named() {
        let no_issuer = OidcFile::parse("issuer = []\n").unwrap_err();
        assert!(format!("{no_issuer:#}").contains("[[issuer]]"));
        let typo = OidcFile::parse("[[issuer]]\nissuer = \"https://a\"\naudience = [\"x\"]\n")
            .unwrap_err();
        assert!(format!("{typo:#}").contains("audience"), "{typo:#}");
        let not_url =
            OidcFile::parse("[[issuer]]\nissuer = \"idp\"\naudiences = [\"x\"]\n").unwrap_err();
        assert!(format!("{not_url:#}").contains("http(s) URL"));
    }

    #[test]
    fn origins_drop_paths() {
        assert_eq!(
            origin("https://idp.example/realms/clinic").unwrap(),
            "https://idp.example"
        );
        assert_eq!(
            origin("http://127.0.0.1:4010").unwrap(),
            "http://127.0.0.1:4010"
        );
        assert!(origin("javascript:alert(1)").is_err());
    }
}
