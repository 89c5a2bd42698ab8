//! The message the HIE receives: a Direct-style envelope (seed 000's Default To, From, Subject and
//! Body) with the encounter attached as an HL7 v2.5.1 ADT^A04 built with `connector-hl7`.

use chrono::{DateTime, Utc};
use connector_hl7::{OwnedMessage, Path};
use mail_builder::MessageBuilder;

use crate::appointment::Appointment;
use crate::patient::{AddressPart, Patient};
use crate::ports::OutgoingMail;
use crate::settings::HieSettings;

/// The MIME type of the ER7 attachment (HAPI's and most engines' label for pipe-delimited v2).
pub const ATTACHMENT_MIME_TYPE: &str = "x-application/hl7-v2+er7";

/// Sending application named in MSH-3.
const SENDING_APPLICATION: &str = "CLINIC_CONNECTOR";

/// Why the HIE message could not be built. Never retryable: the data or settings must change.
#[derive(Debug, thiserror::Error)]
pub enum HieMessageError {
    /// The settings lack the To or From address.
    #[error("HIE settings lack the {0} address")]
    MissingAddress(&'static str),
    /// An HL7 field could not be set (the path names where; the value is not included).
    #[error("cannot build the HL7 message at {path}")]
    Hl7 {
        /// The field path.
        path: &'static str,
        /// The builder's error.
        #[source]
        source: connector_hl7::BuildError,
    },
    /// A built-in template or path did not parse (a bug in this crate).
    #[error("the built-in HL7 template is invalid at {0}")]
    Template(&'static str),
    /// The MIME message could not be written.
    #[error("cannot write the MIME message")]
    Mime(#[source] std::io::Error),
}

fn set(msg: &mut OwnedMessage, path: &'static str, value: &str) -> Result<(), HieMessageError> {
    if value.is_empty() {
        return Ok(());
    }
    let parsed: Path = path.parse().map_err(|_| HieMessageError::Template(path))?;
    msg.set(&parsed, value)
        .map_err(|source| HieMessageError::Hl7 { path, source })
}

fn hl7_time(at: DateTime<Utc>, settings: &HieSettings) -> String {
    at.with_timezone(&settings.time_zone)
        .format("%Y%m%d%H%M%S%z")
        .to_string()
}

/// The encounter as an HL7 v2.5.1 ADT^A04 (register a patient): MSH, EVN, PID and PV1 from the
/// appointment and the patient's demographics. Times are in the clinic's time zone.
pub fn encounter_hl7(
    patient: &Patient,
    appointment: &Appointment,
    settings: &HieSettings,
    now: DateTime<Utc>,
    control_id: &str,
) -> Result<String, HieMessageError> {
    let template = "MSH|^~\\&|\rEVN|\rPID|\rPV1|";
    let mut msg = OwnedMessage::parse(template).map_err(|_| HieMessageError::Template("MSH"))?;
    let facility = settings
        .default_from_address
        .as_ref()
        .map(|a| a.expose().to_owned())
        .unwrap_or_default();
    let hie = settings
        .default_to_address
        .as_ref()
        .map(|a| a.expose().to_owned())
        .unwrap_or_default();
    set(&mut msg, "MSH-3", SENDING_APPLICATION)?;
    set(&mut msg, "MSH-4", &facility)?;
    set(&mut msg, "MSH-5", "HIE")?;
    set(&mut msg, "MSH-6", &hie)?;
    set(&mut msg, "MSH-7", &hl7_time(now, settings))?;
    set(&mut msg, "MSH-9.1", "ADT")?;
    set(&mut msg, "MSH-9.2", "A04")?;
    set(&mut msg, "MSH-9.3", "ADT_A01")?;
    set(&mut msg, "MSH-10", control_id)?;
    set(&mut msg, "MSH-11", "P")?;
    set(&mut msg, "MSH-12", "2.5.1")?;
    set(&mut msg, "MSH-18", "UNICODE UTF-8")?;

    set(&mut msg, "EVN-1", "A04")?;
    set(
        &mut msg,
        "EVN-2",
        &hl7_time(appointment.transitioned_at.unwrap_or(now), settings),
    )?;

    set(&mut msg, "PID-1", "1")?;
    set(&mut msg, "PID-3.1", patient.mrn.expose())?;
    set(&mut msg, "PID-3.5", "MR")?;
    set(&mut msg, "PID-5.1", patient.last_name.expose())?;
    set(&mut msg, "PID-5.2", patient.first_name.expose())?;
    set(
        &mut msg,
        "PID-7",
        &patient.birth_date.expose().format("%Y%m%d").to_string(),
    )?;
    set(&mut msg, "PID-8", patient.sex.code())?;
    if let Some(address) = &patient.address {
        for (path, value) in [
            ("PID-11.1", address.line1.expose()),
            ("PID-11.2", optional(&address.line2)),
            ("PID-11.3", address.city.expose()),
            ("PID-11.4", optional(&address.state)),
            ("PID-11.5", address.postal_code.expose()),
            ("PID-11.6", optional(&address.country)),
        ] {
            set(&mut msg, path, value)?;
        }
    }
    if let Some(phone) = &patient.phone {
        set(&mut msg, "PID-13[1].1", phone.expose())?;
        set(&mut msg, "PID-13[1].2", "PRN")?;
        set(&mut msg, "PID-13[1].3", "PH")?;
    }
    if let Some(email) = &patient.email {
        let rep = if patient.phone.is_some() { 2 } else { 1 };
        let path = |c: usize| -> &'static str {
            match (rep, c) {
                (1, 2) => "PID-13[1].2",
                (1, 3) => "PID-13[1].3",
                (1, _) => "PID-13[1].4",
                (_, 2) => "PID-13[2].2",
                (_, 3) => "PID-13[2].3",
                _ => "PID-13[2].4",
            }
        };
        set(&mut msg, path(2), "NET")?;
        set(&mut msg, path(3), "Internet")?;
        set(&mut msg, path(4), email.expose())?;
    }

    set(&mut msg, "PV1-1", "1")?;
    set(&mut msg, "PV1-2", "O")?;
    set(&mut msg, "PV1-3.1", &appointment.location)?;
    set(&mut msg, "PV1-7.1", &appointment.provider.id)?;
    set(&mut msg, "PV1-7.2", &appointment.provider.name)?;
    set(&mut msg, "PV1-19", appointment.appointment_id.as_str())?;
    set(
        &mut msg,
        "PV1-44",
        &hl7_time(appointment.scheduled_start, settings),
    )?;
    Ok(msg.to_er7())
}

/// The whole message for the HIE: From, To, Subject and Body from the settings, the encounter
/// attached as `encounter-<appointment id>.hl7` (no PHI in the file name or headers).
pub fn build_mail(
    settings: &HieSettings,
    encounter: &str,
    appointment: &Appointment,
    control_id: &str,
    now: DateTime<Utc>,
) -> Result<OutgoingMail, HieMessageError> {
    let from = settings
        .default_from_address
        .clone()
        .ok_or(HieMessageError::MissingAddress("From"))?;
    let to = settings
        .default_to_address
        .clone()
        .ok_or(HieMessageError::MissingAddress("To"))?;
    let domain = from
        .expose()
        .rsplit('@')
        .next()
        .unwrap_or("localhost")
        .to_owned();
    let raw = MessageBuilder::new()
        .from(from.expose())
        .to(to.expose())
        .subject(settings.default_subject.as_str())
        .message_id(format!("{control_id}@{domain}"))
        .date(now.timestamp())
        .header(
            "X-Clinic-Connector-Appointment",
            mail_builder::headers::text::Text::new(appointment.appointment_id.as_str()),
        )
        .text_body(settings.default_body.as_str())
        .attachment(
            ATTACHMENT_MIME_TYPE,
            format!("encounter-{}.hl7", appointment.appointment_id),
            encounter.as_bytes(),
        )
        .write_to_vec()
        .map_err(HieMessageError::Mime)?;
    Ok(OutgoingMail {
        from,
        to: vec![to],
        raw,
    })
}

/// An optional address part's text, empty when absent.
fn optional(part: &Option<AddressPart>) -> &str {
    part.as_ref().map_or("", |p| p.expose())
}

#[cfg(test)]
mod tests {
    use chrono::{NaiveDate, TimeZone};
    use connector_hl7::Message;
    use mail_parser::MimeHeaders;

    use super::*;
    use crate::appointment::Provider;
    use crate::patient::{Address, AddressPart, Email, Mrn, PersonName, Phone, Sex};
    use crate::phi::Phi;
    use crate::{AppointmentId, PatientId};

    fn fixtures() -> (Patient, Appointment, HieSettings) {
        let now = Utc.with_ymd_and_hms(2026, 11, 21, 15, 0, 0).unwrap();
        let patient = Patient {
            patient_id: PatientId::parse("p-1").unwrap(),
            mrn: Mrn::parse("MRN-77|31").unwrap(),
            first_name: PersonName::parse("Zephyrine").unwrap(),
            last_name: PersonName::parse("Quill^feather").unwrap(),
            birth_date: Phi::new(NaiveDate::from_ymd_opt(1979, 4, 3).unwrap()),
            sex: Sex::Female,
            phone: Some(Phone::parse("+1-555-0142").unwrap()),
            email: Some(Email::parse("zq@example.org").unwrap()),
            address: Some(Address {
                line1: AddressPart::parse("77 Larkspur Crescent").unwrap(),
                line2: None,
                city: AddressPart::parse("Fernhollow").unwrap(),
                state: Some(AddressPart::parse("OR").unwrap()),
                postal_code: AddressPart::parse("97999").unwrap(),
                country: Some(AddressPart::parse("US").unwrap()),
            }),
            created_at: now,
            updated_at: now,
        };
        let appointment = Appointment {
            appointment_id: AppointmentId::parse("a-9").unwrap(),
            patient_id: patient.patient_id.clone(),
            scheduled_start: Utc.with_ymd_and_hms(2026, 11, 20, 16, 30, 0).unwrap(),
            provider: Provider {
                id: "NPI-1234567890".into(),
                name: "Dr. Rowan Ashby".into(),
            },
            location: "CLINIC-2".into(),
            reason: Phi::new("follow-up".into()),
            status: "complete".into(),
            transition_seq: 1,
            transitioned_at: Some(now),
            updated_at: now,
        };
        let settings = HieSettings {
            enabled: true,
            default_to_address: Some(Email::parse("intake@direct.examplehie.org").unwrap()),
            default_from_address: Some(Email::parse("records@direct.exampleclinic.org").unwrap()),
            default_subject: "Encounter summary".into(),
            default_body: "One encounter attached.".into(),
            time_zone: "America/Chicago".parse().unwrap(),
            ..HieSettings::default()
        };
        (patient, appointment, settings)
    }

    #[test]
    fn encounter_is_an_adt_a04_with_escaped_values() {
        let (patient, appointment, settings) = fixtures();
        let now = Utc.with_ymd_and_hms(2026, 11, 21, 15, 0, 0).unwrap();
        let er7 = encounter_hl7(&patient, &appointment, &settings, now, "CC123").unwrap();
        let msg = Message::parse(&er7).unwrap();
        let get = |p: &str| {
            msg.get(&p.parse().unwrap())
                .map(|v| v.into_owned())
                .unwrap_or_default()
        };
        assert_eq!(
            get("PID-3.1"),
            "MRN-77|31",
            "field separator in a value is escaped and decoded"
        );
        for (path, want) in [
            ("MSH-9", "ADT^A04^ADT_A01"),
            ("MSH-10", "CC123"),
            ("MSH-12", "2.5.1"),
            ("MSH-7", "20261121090000-0600"),
            ("PID-5.1", "Quill^feather"),
            ("PID-5.2", "Zephyrine"),
            ("PID-7", "19790403"),
            ("PID-11.3", "Fernhollow"),
            ("PID-13[2].4", "zq@example.org"),
            ("PV1-7.2", "Dr. Rowan Ashby"),
            ("PV1-19", "a-9"),
            ("PV1-44", "20261120103000-0600"),
        ] {
            assert_eq!(get(path), want, "{path}");
        }
        let ids: Vec<_> = er7
            .split('\r')
            .filter(|s| !s.is_empty())
            .map(|s| &s[..3])
            .collect();
        assert_eq!(ids, ["MSH", "EVN", "PID", "PV1"]);
    }

    #[test]
    fn mail_carries_the_defaults_and_the_attachment() {
        let (patient, appointment, settings) = fixtures();
        let now = Utc.with_ymd_and_hms(2026, 11, 21, 15, 0, 0).unwrap();
        let er7 = encounter_hl7(&patient, &appointment, &settings, now, "CC123").unwrap();
        let mail = build_mail(&settings, &er7, &appointment, "CC123", now).unwrap();
        assert_eq!(mail.to[0].expose(), "intake@direct.examplehie.org");
        let parsed = mail_parser::MessageParser::default()
            .parse(&mail.raw)
            .unwrap();
        assert_eq!(parsed.subject(), Some("Encounter summary"));
        assert_eq!(
            parsed.from().unwrap().first().unwrap().address(),
            Some("records@direct.exampleclinic.org")
        );
        assert_eq!(
            parsed.body_text(0).unwrap().trim(),
            "One encounter attached."
        );
        let attachment = parsed.attachment(0).unwrap();
        assert_eq!(attachment.attachment_name(), Some("encounter-a-9.hl7"));
        assert_eq!(attachment.contents(), er7.as_bytes());
        let headers = String::from_utf8_lossy(&mail.raw[..mail.raw.len().min(600)]).to_string();
        assert!(!headers.contains("Zephyrine") && !headers.contains("MRN-77"));
    }

    #[test]
    fn missing_addresses_are_reported() {
        let (patient, appointment, mut settings) = fixtures();
        settings.default_to_address = None;
        let now = Utc::now();
        let er7 = encounter_hl7(&patient, &appointment, &settings, now, "C").unwrap();
        assert!(matches!(
            build_mail(&settings, &er7, &appointment, "C", now),
            Err(HieMessageError::MissingAddress("To"))
        ));
    }
}
