//! OIDC access tokens verified by the connector itself (`connector serve --oidc`): the token's
//! `iss` picks one of the configured issuers, whose signing keys come from its discovery
//! document and are cached ([`keys`]); signature and claims are checked by the `jsonwebtoken`
//! crate ([`verifier`]); the claims become an [`Actor`](connector_domain::Actor) as on the
//! Lambda functions ([`super::claims`]).

pub mod discovery;
pub mod keys;
pub mod verifier;

pub use discovery::{Discovery, FetchError, discover, http_client};
pub use verifier::{IssuerSettings, OidcVerifier};
