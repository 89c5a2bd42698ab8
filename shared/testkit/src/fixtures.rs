//! Invented test data. Every patient here is fictional: the names, medical record numbers,
//! phones, e-mails and addresses are made up and use reserved ranges (`555-01xx` phone numbers,
//! the `.invalid` top-level domain), so they can appear in test output without harm, and they are
//! distinctive enough that a no-PHI-in-logs test can grep captured logs for [`PHI_VALUES`].
//!
//! Builders return plain domain values; tests change the public fields they care about.

use chrono::{DateTime, Days, NaiveDate, TimeZone, Utc};
use connector_domain::appointment::{Appointment, Provider, TransitionCursor};
use connector_domain::audit::{AuditEntry, AuditOutcome, LogType};
use connector_domain::consent::{Consent, ConsentSource, Revocation};
use connector_domain::delivery::{Delivery, DeliveryId, DeliveryRoute, WebhookKey};
use connector_domain::flow::{ChannelId, FlowId};
use connector_domain::hie::{SendKey, SendState};
use connector_domain::inbound::ControlId;
use connector_domain::patient::{
    Address, AddressPart, Email, Mrn, Patient, PatientInput, PersonName, Phone, Sex,
};
use connector_domain::phi::Phi;
use connector_domain::ports::{QueueMessage, SettingsStore};
use connector_domain::settings::HieSettings;
use connector_domain::{Actor, AppointmentId, ConsentId, PatientId, Role};

/// Given name of every fixture patient.
pub const FIRST_NAME: &str = "Zephyrine";
/// Family name of every fixture patient.
pub const LAST_NAME: &str = "Quillfeather";
/// Prefix of every fixture MRN (`MRN-FX-<patient id>`).
pub const MRN_PREFIX: &str = "MRN-FX-";
/// Date of birth of every fixture patient.
pub const BIRTH_DATE: &str = "1961-07-14";
/// Telephone of every fixture patient (a reserved 555-01xx number).
pub const PHONE: &str = "+1 555 0147";
/// E-mail of every fixture patient (reserved `.invalid` domain).
pub const EMAIL: &str = "zephyrine.quillfeather@example.invalid";
/// Street line of every fixture address.
pub const STREET: &str = "17 Nowhere Lane";
/// City of every fixture address.
pub const CITY: &str = "Fictionville";
/// Postal code of every fixture address.
pub const POSTAL_CODE: &str = "00000-1701";
/// The visit reason of every fixture appointment (clinical information, so PHI).
pub const VISIT_REASON: &str = "Imaginary sprain of the left wing";

/// Every PHI string that fixtures put into patients and appointments (MRNs as their common
/// prefix). A log line containing any of them leaked PHI.
pub const PHI_VALUES: &[&str] = &[
    FIRST_NAME,
    LAST_NAME,
    MRN_PREFIX,
    BIRTH_DATE,
    PHONE,
    EMAIL,
    STREET,
    CITY,
    POSTAL_CODE,
    VISIT_REASON,
];

/// Which of [`PHI_VALUES`] occur in `text` (empty when none leaked).
pub fn phi_found_in(text: &str) -> Vec<&'static str> {
    PHI_VALUES
        .iter()
        .copied()
        .filter(|v| text.contains(v))
        .collect()
}

/// The fixed "now" of fixture data: 2026-11-21T10:00:00Z.
pub fn base_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 21, 10, 0, 0)
        .single()
        .expect("valid instant")
}

/// [`base_time`] plus `seconds` (negative for earlier).
pub fn at(seconds: i64) -> DateTime<Utc> {
    base_time() + chrono::Duration::seconds(seconds)
}

/// The calendar day of [`base_time`].
pub fn today() -> NaiveDate {
    base_time().date_naive()
}

/// A patient id (panics on an invalid one: fixtures only).
pub fn patient_id(id: &str) -> PatientId {
    PatientId::parse(id).expect("valid fixture patient id")
}

/// An appointment id (panics on an invalid one: fixtures only).
pub fn appointment_id(id: &str) -> AppointmentId {
    AppointmentId::parse(id).expect("valid fixture appointment id")
}

/// A consent id (panics on an invalid one: fixtures only).
pub fn consent_id(id: &str) -> ConsentId {
    ConsentId::parse(id).expect("valid fixture consent id")
}

/// Clinic staff.
pub fn staff() -> Actor {
    Actor::new("staff.fixture", Role::Staff)
}

/// A clinic administrator.
pub fn admin() -> Actor {
    Actor::new("admin.fixture", Role::Admin)
}

/// A patient acting through the portal.
pub fn portal_user(patient: &str) -> Actor {
    Actor::new(format!("portal:{patient}"), Role::Patient)
}

/// The connector itself.
pub fn system() -> Actor {
    Actor::system("fixture")
}

/// The fictional address.
pub fn address() -> Address {
    let part = |v: &str| AddressPart::parse(v).expect("valid fixture address");
    Address {
        line1: part(STREET),
        line2: None,
        city: part(CITY),
        state: Some(part("ZZ")),
        postal_code: part(POSTAL_CODE),
        country: Some(part("US")),
    }
}

/// A fictional patient with every demographic field set, created at [`base_time`].
pub fn patient(id: &str) -> Patient {
    Patient {
        patient_id: patient_id(id),
        mrn: Mrn::parse(format!("{MRN_PREFIX}{id}")).expect("valid fixture MRN"),
        first_name: PersonName::parse(FIRST_NAME).expect("valid fixture name"),
        last_name: PersonName::parse(LAST_NAME).expect("valid fixture name"),
        birth_date: Phi::new(
            NaiveDate::parse_from_str(BIRTH_DATE, "%Y-%m-%d").expect("valid fixture date"),
        ),
        sex: Sex::Female,
        phone: Some(Phone::parse(PHONE).expect("valid fixture phone")),
        email: Some(Email::parse(EMAIL).expect("valid fixture e-mail")),
        address: Some(address()),
        created_at: base_time(),
        updated_at: base_time(),
    }
}

/// The same demographics as an API client sends them (MRN `MRN-FX-<mrn_suffix>`).
pub fn patient_input(mrn_suffix: &str) -> PatientInput {
    PatientInput {
        mrn: Some(format!("{MRN_PREFIX}{mrn_suffix}")),
        first_name: Some(FIRST_NAME.into()),
        last_name: Some(LAST_NAME.into()),
        birth_date: Some(BIRTH_DATE.into()),
        sex: Some("F".into()),
        phone: Some(PHONE.into()),
        email: Some(EMAIL.into()),
        address: Some(connector_domain::patient::AddressInput {
            line1: Some(STREET.into()),
            line2: None,
            city: Some(CITY.into()),
            state: Some("ZZ".into()),
            postal_code: Some(POSTAL_CODE.into()),
            country: Some("US".into()),
        }),
    }
}

/// Every PHI string of `patient`, exactly as stored (for grepping logs).
pub fn phi_of(patient: &Patient) -> Vec<String> {
    let mut values = vec![
        patient.mrn.expose().to_owned(),
        patient.first_name.expose().to_owned(),
        patient.last_name.expose().to_owned(),
        patient.birth_date.expose().to_string(),
    ];
    values.extend(patient.phone.iter().map(|p| p.expose().to_owned()));
    values.extend(patient.email.iter().map(|e| e.expose().to_owned()));
    if let Some(a) = &patient.address {
        values
            .extend([a.line1.expose(), a.city.expose(), a.postal_code.expose()].map(str::to_owned));
        values.extend(a.line2.iter().map(|l| l.expose().to_owned()));
    }
    values
}

/// A staff-entered consent record number `seq` of `patient`, given today for a year, with a
/// fresh id, unrevoked.
pub fn consent(patient: &str, seq: u64) -> Consent {
    Consent {
        consent_id: ConsentId::generate(),
        patient_id: patient_id(patient),
        seq,
        given_on: today(),
        expires_on: today()
            .checked_add_days(Days::new(365))
            .expect("valid date"),
        source: ConsentSource::Staff,
        created_at: base_time(),
        created_by: staff(),
        revocation: None,
    }
}

/// The opt-in-by-default record a registration creates.
pub fn opt_in_consent(patient: &str) -> Consent {
    Consent {
        source: ConsentSource::OptInDefault,
        created_by: Actor::system("opt-in-default"),
        ..consent(patient, 1)
    }
}

/// `consent` revoked by staff at `at`.
pub fn revoked(consent: &Consent, at: DateTime<Utc>) -> Consent {
    Consent {
        revocation: Some(Revocation {
            at,
            by: staff(),
            reason: Some("fixture revocation".into()),
        }),
        ..consent.clone()
    }
}

/// The audit entry recording `action` (`consent.created`, `consent.revoked`) on `consent`.
pub fn consent_audit(consent: &Consent, action: &str) -> AuditEntry {
    AuditEntry::new(
        LogType::HieConsentChanges,
        consent.created_at,
        consent.created_by.clone(),
        action,
        AuditOutcome::Success,
    )
    .with_patient(&consent.patient_id)
    .with_consent(&consent.consent_id)
    .with_detail(serde_json::json!({ "seq": consent.seq, "source": consent.source.as_str() }))
}

/// An audit entry of `log_type` at `at`, by staff, successful, with no subject and a fresh id.
pub fn audit_entry(log_type: LogType, at: DateTime<Utc>) -> AuditEntry {
    AuditEntry::new(
        log_type,
        at,
        staff(),
        "fixture.action",
        AuditOutcome::Success,
    )
}

/// A booked appointment of `patient`, scheduled a day after [`base_time`], never transitioned.
pub fn appointment(id: &str, patient: &str) -> Appointment {
    Appointment {
        appointment_id: appointment_id(id),
        patient_id: patient_id(patient),
        scheduled_start: at(86_400),
        provider: Provider {
            id: "prov-fixture-1".into(),
            name: "Dr. Fixture Provider".into(),
        },
        location: "Fixture Clinic, Room 1".into(),
        reason: Phi::new(VISIT_REASON.into()),
        status: "booked".into(),
        transition_seq: 0,
        transitioned_at: None,
        updated_at: base_time(),
    }
}

/// A cursor for `transitioned` scans.
pub fn transition_cursor(at: DateTime<Utc>, appointment: &str) -> TransitionCursor {
    TransitionCursor {
        transitioned_at: at,
        appointment_id: Some(appointment_id(appointment)),
    }
}

/// A send ledger key: transition `transition_seq` of appointment `appointment`, resend `resend`
/// (0 for the collector's send).
pub fn send_key(appointment: &str, transition_seq: u32, resend: u64) -> SendKey {
    SendKey {
        appointment_id: appointment_id(appointment),
        transition_seq,
        resend,
    }
}

/// The audit entry of attempt `attempt` of the delivery `key` ending as `state` at `at`, by the
/// connector, with a fresh id.
pub fn send_audit(key: &SendKey, attempt: u32, state: SendState, at: DateTime<Utc>) -> AuditEntry {
    let (action, outcome) = match state {
        SendState::Sent => ("hie.sent", AuditOutcome::Success),
        SendState::RetryPending => ("hie.send_retry", AuditOutcome::Error),
        SendState::Failed => ("hie.send_failed", AuditOutcome::Error),
        SendState::Sending => ("hie.sending", AuditOutcome::Success),
    };
    AuditEntry::new(LogType::HieSentAppointments, at, system(), action, outcome)
        .with_appointment(&key.appointment_id)
        .with_detail(serde_json::json!({
            "transition_seq": key.transition_seq,
            "resend": key.resend,
            "attempt": attempt,
        }))
}

/// Enabled HIE settings with fictional Direct addresses.
pub fn settings() -> HieSettings {
    HieSettings {
        enabled: true,
        default_to_address: Some(
            Email::parse("hie@direct.fixture.invalid").expect("valid fixture e-mail"),
        ),
        default_from_address: Some(
            Email::parse("clinic@direct.fixture.invalid").expect("valid fixture e-mail"),
        ),
        opt_in_by_default: true,
        ..HieSettings::default()
    }
}

/// The audit entry of a settings change.
pub fn settings_audit(at: DateTime<Utc>) -> AuditEntry {
    AuditEntry::new(
        LogType::ConfigurationChanges,
        at,
        admin(),
        "settings.hie.updated",
        AuditOutcome::Success,
    )
}

/// Saves [`settings`] as the first version of the settings (audited at 0); panics if refused.
pub async fn save_settings(store: &dyn SettingsStore) {
    let audit = settings_audit(at(0));
    store
        .put(&settings(), 0, &audit)
        .await
        .expect("the first settings");
}

/// A standard-queue message.
pub fn queue_message(body: &str) -> QueueMessage {
    QueueMessage {
        body: body.to_owned(),
        group_id: None,
        dedup_id: None,
    }
}

/// A FIFO message of `group`, deduplicated by its body.
pub fn fifo_message(group: &str, body: &str) -> QueueMessage {
    QueueMessage {
        body: body.to_owned(),
        group_id: Some(group.to_owned()),
        dedup_id: Some(body.to_owned()),
    }
}

/// The delivery id `text`.
pub fn delivery_id(text: &str) -> DeliveryId {
    DeliveryId::parse(text).expect("a valid delivery id")
}

/// The key of the webhook about lead `lead` at `version` on the `north-ehr` channel.
pub fn webhook_key(lead: &str, version: &str) -> WebhookKey {
    WebhookKey {
        channel_id: ChannelId::parse("north-ehr").expect("a valid channel id"),
        entity: "lead".into(),
        entity_id: lead.into(),
        version: version.into(),
    }
}

/// A new ADT^A08 delivery `id` of `group` on `north-ehr` (flow `lead-to-adt`), accepted at
/// `seconds`, whose message carries the fixture patient's PHI.
pub fn delivery(id: &str, group: &str, seconds: i64) -> Delivery {
    let control_id = format!("CC{id}");
    let message = format!(
        "MSH|^~\\&|CONNECTOR|CRM|EHR|CLINIC|20261121100000||ADT^A08^ADT_A01|{control_id}|P|2.5\r\
         PID|1||{mrn}^^^CLINIC^MR||{LAST_NAME}^{FIRST_NAME}||19610714|F|||{STREET}^^{CITY}^^{POSTAL_CODE}||{PHONE}\r",
        mrn = format_args!("{MRN_PREFIX}0001"),
    );
    let route = DeliveryRoute {
        channel_id: ChannelId::parse("north-ehr").expect("a valid channel id"),
        flow_id: FlowId::parse("lead-to-adt").expect("a valid flow id"),
        group: group.into(),
    };
    Delivery::queued(
        delivery_id(id),
        route,
        ControlId::parse(control_id).expect("a valid control id"),
        "ADT^A08".into(),
        Phi::new(message),
        at(seconds),
    )
}

/// A successful `crm_outbound` audit entry by the system about `action`, at `seconds`.
pub fn crm_outbound_audit(action: &str, seconds: i64) -> AuditEntry {
    AuditEntry::new(
        LogType::CrmOutbound,
        at(seconds),
        system(),
        action,
        AuditOutcome::Success,
    )
}

/// New deliveries `ids` of `group`, all accepted at 0 (see [`delivery`]).
pub fn deliveries(group: &str, ids: &[&str]) -> Vec<Delivery> {
    ids.iter().map(|id| delivery(id, group, 0)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixture_phi_is_listed_and_redacted() {
        let p = patient("p-1");
        for value in phi_of(&p) {
            assert!(
                PHI_VALUES
                    .iter()
                    .any(|v| value.contains(v) || v.contains(value.as_str())),
                "{value} is not covered by PHI_VALUES"
            );
        }
        let debug = format!(
            "{p:?} {:?} {:?}",
            appointment("a-1", "p-1"),
            patient_input("x")
        );
        assert!(
            phi_found_in(&debug).is_empty(),
            "Debug leaked {:?}",
            phi_found_in(&debug)
        );
        assert!(patient_input("x").validate(today()).is_ok());
    }
}
