//! HIE Integration Settings (seed 000: "HIE Integration Settings", "Message Defaults", "Next Batch
//! Start Time", "Opt-In By Default", "Consent Expiration", "Custom Description").

use chrono::{DateTime, Days, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::patient::{Email, parse_instant};
use crate::{ValidationError, ValidationErrors};

/// Default for `consent_expire_days`: a year.
pub const DEFAULT_CONSENT_EXPIRE_DAYS: u32 = 365;
/// Largest accepted `consent_expire_days`: ten years.
pub const MAX_CONSENT_EXPIRE_DAYS: u32 = 3650;
/// Default for `safety_lag_seconds`: two minutes.
pub const DEFAULT_SAFETY_LAG_SECONDS: u32 = 120;
/// Largest accepted `safety_lag_seconds`: an hour.
pub const MAX_SAFETY_LAG_SECONDS: u32 = 3600;

fn default_safety_lag_seconds() -> u32 {
    DEFAULT_SAFETY_LAG_SECONDS
}

/// The clinic's HIE settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HieSettings {
    /// Whether the background process sends transitioned appointments.
    pub enabled: bool,
    /// The HIE's (Direct) address that messages go to.
    pub default_to_address: Option<Email>,
    /// The clinic's address that messages come from.
    pub default_from_address: Option<Email>,
    /// Subject of every outgoing message.
    pub default_subject: String,
    /// Body text of every outgoing message.
    pub default_body: String,
    /// The collector's watermark: appointments transitioned after this instant are collected next.
    pub next_batch_start_time: Option<DateTime<Utc>>,
    /// Create a consent record when a patient is registered.
    pub opt_in_by_default: bool,
    /// Days from Given On to Expires On for new consents.
    pub consent_expire_days: u32,
    /// The text the patient portal shows on the HIE consent screen.
    pub portal_explanation: String,
    /// The clinic's time zone: consent dates and "today" are reckoned in it.
    #[serde(with = "crate::flow::tz_serde")]
    pub time_zone: Tz,
    /// The collector leaves appointments transitioned in the last this many seconds for a later
    /// run, so a transition committed late with an earlier timestamp is not passed over
    /// (0 = none, for demos and tests). Settings saved before this field existed read as the
    /// default.
    #[serde(default = "default_safety_lag_seconds")]
    pub safety_lag_seconds: u32,
}

impl Default for HieSettings {
    fn default() -> Self {
        Self {
            enabled: false,
            default_to_address: None,
            default_from_address: None,
            default_subject: "Transitioned appointment".to_owned(),
            default_body: "Please find the encounter attached.".to_owned(),
            next_batch_start_time: None,
            opt_in_by_default: false,
            consent_expire_days: DEFAULT_CONSENT_EXPIRE_DAYS,
            portal_explanation:
                "Share my medical information with our Health Information Exchange.".to_owned(),
            time_zone: Tz::UTC,
            safety_lag_seconds: DEFAULT_SAFETY_LAG_SECONDS,
        }
    }
}

impl HieSettings {
    /// Today's date in the clinic's time zone.
    pub fn today(&self, now: DateTime<Utc>) -> NaiveDate {
        now.with_timezone(&self.time_zone).date_naive()
    }

    /// The collector's safety lag.
    pub fn safety_lag(&self) -> chrono::Duration {
        chrono::Duration::seconds(i64::from(self.safety_lag_seconds))
    }

    /// The default Expires On for a consent given on `given_on`.
    pub fn default_expiry(&self, given_on: NaiveDate) -> Option<NaiveDate> {
        given_on.checked_add_days(Days::new(u64::from(self.consent_expire_days)))
    }
}

/// Settings with the version the store holds, for optimistic concurrency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Versioned<T> {
    /// The value.
    pub value: T,
    /// Incremented on every write; 0 when nothing was ever stored.
    pub version: u64,
}

/// A settings change as a client sends it: every field is optional, and a field left out keeps
/// its current value. `null` clears the optional ones (addresses, watermark).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HieSettingsInput {
    /// See [`HieSettings::enabled`].
    pub enabled: Option<bool>,
    /// See [`HieSettings::default_to_address`].
    #[serde(default, deserialize_with = "nullable")]
    pub default_to_address: Option<Option<String>>,
    /// See [`HieSettings::default_from_address`].
    #[serde(default, deserialize_with = "nullable")]
    pub default_from_address: Option<Option<String>>,
    /// See [`HieSettings::default_subject`].
    pub default_subject: Option<String>,
    /// See [`HieSettings::default_body`].
    pub default_body: Option<String>,
    /// See [`HieSettings::next_batch_start_time`]; RFC 3339.
    #[serde(default, deserialize_with = "nullable")]
    pub next_batch_start_time: Option<Option<String>>,
    /// See [`HieSettings::opt_in_by_default`].
    pub opt_in_by_default: Option<bool>,
    /// See [`HieSettings::consent_expire_days`].
    pub consent_expire_days: Option<i64>,
    /// See [`HieSettings::portal_explanation`].
    pub portal_explanation: Option<String>,
    /// See [`HieSettings::time_zone`]; an IANA name such as `America/Chicago`.
    pub time_zone: Option<String>,
    /// See [`HieSettings::safety_lag_seconds`].
    pub safety_lag_seconds: Option<i64>,
}

/// Distinguishes a field sent as `null` (`Some(None)`) from one left out (`None`).
fn nullable<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

fn email_field(field: &str, value: Option<String>) -> Result<Option<Email>, ValidationError> {
    match value.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => Email::parse(v)
            .map(Some)
            .map_err(|e| ValidationError::new(field, e.message)),
    }
}

fn text_field(field: &str, value: String, max: usize) -> Result<String, ValidationError> {
    if value.chars().count() > max {
        Err(ValidationError::new(
            field,
            format!("must be at most {max} characters"),
        ))
    } else {
        Ok(value)
    }
}

impl HieSettingsInput {
    /// Applies this change to `current`, validating every field and reporting all problems.
    pub fn apply(self, current: &HieSettings) -> Result<HieSettings, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let mut next = current.clone();
        if let Some(enabled) = self.enabled {
            next.enabled = enabled;
        }
        if let Some(to) = self.default_to_address {
            next.default_to_address = errors
                .check(email_field("default_to_address", to))
                .flatten();
        }
        if let Some(from) = self.default_from_address {
            next.default_from_address = errors
                .check(email_field("default_from_address", from))
                .flatten();
        }
        if let Some(subject) = self.default_subject {
            if subject.contains(['\r', '\n']) {
                errors.push(ValidationError::new(
                    "default_subject",
                    "must be a single line",
                ));
            } else if let Some(s) = errors.check(text_field("default_subject", subject, 250)) {
                next.default_subject = s;
            }
        }
        if let Some(body) = self.default_body
            && let Some(b) = errors.check(text_field("default_body", body, 20_000))
        {
            next.default_body = b;
        }
        if let Some(at) = self.next_batch_start_time {
            next.next_batch_start_time = match at {
                None => None,
                Some(text) => errors.check(parse_instant(
                    "next_batch_start_time",
                    &text,
                    "2026-11-01T00:00:00Z",
                )),
            };
        }
        if let Some(opt_in) = self.opt_in_by_default {
            next.opt_in_by_default = opt_in;
        }
        if let Some(days) = self.consent_expire_days {
            match u32::try_from(days) {
                Ok(d) if (1..=MAX_CONSENT_EXPIRE_DAYS).contains(&d) => next.consent_expire_days = d,
                _ => errors.push(ValidationError::new(
                    "consent_expire_days",
                    format!("must be between 1 and {MAX_CONSENT_EXPIRE_DAYS}"),
                )),
            }
        }
        if let Some(text) = self.portal_explanation
            && let Some(t) = errors.check(text_field("portal_explanation", text, 5_000))
        {
            next.portal_explanation = t;
        }
        if let Some(zone) = self.time_zone {
            match zone.trim().parse::<Tz>() {
                Ok(tz) => next.time_zone = tz,
                Err(_) => errors.push(ValidationError::new(
                    "time_zone",
                    "must be an IANA time zone name such as America/New_York",
                )),
            }
        }
        if let Some(seconds) = self.safety_lag_seconds {
            match u32::try_from(seconds) {
                Ok(s) if s <= MAX_SAFETY_LAG_SECONDS => next.safety_lag_seconds = s,
                _ => errors.push(ValidationError::new(
                    "safety_lag_seconds",
                    format!("must be a whole number of seconds from 0 to {MAX_SAFETY_LAG_SECONDS}"),
                )),
            }
        }
        if errors.is_empty() && next.enabled {
            if next.default_to_address.is_none() {
                errors.push(ValidationError::new(
                    "default_to_address",
                    "is required while HIE is enabled",
                ));
            }
            if next.default_from_address.is_none() {
                errors.push(ValidationError::new(
                    "default_from_address",
                    "is required while HIE is enabled",
                ));
            }
        }
        errors.finish(|| next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(json: &str) -> HieSettingsInput {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn left_out_fields_keep_their_value_and_null_clears() {
        let current = HieSettings {
            default_to_address: Some(Email::parse("hie@direct.example.org").unwrap()),
            next_batch_start_time: Some(Utc::now()),
            ..HieSettings::default()
        };
        let next = input(r#"{"next_batch_start_time": null, "consent_expire_days": 30}"#)
            .apply(&current)
            .unwrap();
        assert_eq!(next.default_to_address, current.default_to_address);
        assert_eq!(next.next_batch_start_time, None);
        assert_eq!(next.consent_expire_days, 30);
    }

    #[test]
    fn all_problems_reported() {
        let errors = input(
            r#"{"default_to_address":"nope","consent_expire_days":0,"time_zone":"Mars/Base","next_batch_start_time":"yesterday"}"#,
        )
        .apply(&HieSettings::default())
        .unwrap_err();
        let fields: Vec<_> = errors.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "default_to_address",
                "next_batch_start_time",
                "consent_expire_days",
                "time_zone"
            ]
        );
    }

    #[test]
    fn settings_saved_before_the_safety_lag_existed_read_as_the_default() {
        let mut saved = serde_json::to_value(HieSettings::default()).unwrap();
        saved.as_object_mut().unwrap().remove("safety_lag_seconds");
        let read: HieSettings = serde_json::from_value(saved).unwrap();
        assert_eq!(read.safety_lag_seconds, DEFAULT_SAFETY_LAG_SECONDS);
        assert_eq!(read.safety_lag(), chrono::Duration::minutes(2));
    }

    #[test]
    fn the_safety_lag_is_0_to_an_hour() {
        let current = HieSettings::default();
        assert_eq!(
            input(r#"{"safety_lag_seconds":0}"#)
                .apply(&current)
                .unwrap()
                .safety_lag_seconds,
            0
        );
        for bad in ["-1", "3601"] {
            let errors = input(&format!(r#"{{"safety_lag_seconds":{bad}}}"#))
                .apply(&current)
                .unwrap_err();
            assert_eq!(errors.0[0].field, "safety_lag_seconds");
        }
    }

    #[test]
    fn enabling_requires_addresses() {
        let errors = input(r#"{"enabled":true}"#)
            .apply(&HieSettings::default())
            .unwrap_err();
        assert_eq!(errors.0.len(), 2);
    }

    #[test]
    fn today_uses_clinic_time_zone() {
        let s = HieSettings {
            time_zone: "Pacific/Honolulu".parse().unwrap(),
            ..HieSettings::default()
        };
        let now = DateTime::parse_from_rfc3339("2026-11-21T05:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(s.today(now), NaiveDate::from_ymd_opt(2026, 11, 20).unwrap());
    }
}

/// The stored settings, or the defaults at version 0 when none were ever saved.
pub async fn current_settings(
    store: &dyn crate::ports::SettingsStore,
) -> Result<Versioned<HieSettings>, crate::StoreError> {
    Ok(store.get().await?.unwrap_or(Versioned {
        value: HieSettings::default(),
        version: 0,
    }))
}

/// Why a settings change failed.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// The input broke one or more rules; nothing was saved.
    #[error("invalid settings")]
    Invalid(#[from] ValidationErrors),
    /// The settings changed concurrently too many times.
    #[error("settings changed concurrently")]
    Contention,
    /// The store failed.
    #[error("store failure")]
    Store(#[from] crate::StoreError),
}

/// Applies a change to the settings and saves it with an audit entry naming the changed fields.
pub async fn update_settings(
    store: &dyn crate::ports::SettingsStore,
    clock: &dyn crate::Clock,
    input: HieSettingsInput,
    actor: &crate::Actor,
) -> Result<HieSettings, SettingsError> {
    use crate::audit::{AuditEntry, AuditOutcome, LogType};
    for _ in 0..5 {
        let current = current_settings(store).await?;
        let next = input.clone().apply(&current.value)?;
        let before = serde_json::to_value(&current.value).unwrap_or_default();
        let after = serde_json::to_value(&next).unwrap_or_default();
        let changed: Vec<&String> = after
            .as_object()
            .map(|a| {
                a.iter()
                    .filter(|(k, v)| before.get(k.as_str()) != Some(v))
                    .map(|(k, _)| k)
                    .collect()
            })
            .unwrap_or_default();
        let audit = AuditEntry::new(
            LogType::ConfigurationChanges,
            clock.now(),
            actor.clone(),
            "settings.hie.updated",
            AuditOutcome::Success,
        )
        .with_detail(serde_json::json!({ "changed": changed }));
        match store.put(&next, current.version, &audit).await {
            Ok(_) => return Ok(next),
            Err(crate::StoreError::Conflict(_)) => continue,
            Err(err) => return Err(err.into()),
        }
    }
    Err(SettingsError::Contention)
}
