//! Patients: the demographic snapshot the HIE message needs. Every identifying field is a PHI type.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::phi::{Phi, phi_string};
use crate::{PatientId, ValidationError, ValidationErrors};

phi_string!(
    /// A medical record number.
    Mrn, max = 64, field = "mrn"
);
phi_string!(
    /// A given or family name.
    PersonName, max = 100, field = "name"
);
phi_string!(
    /// A telephone number as the clinic recorded it.
    Phone, max = 32, field = "phone"
);
phi_string!(
    /// One line of a postal address, a city, a state or a postal code.
    AddressPart, max = 120, field = "address"
);

/// An e-mail address: PHI when it is a patient's; also used for the HIE's Direct addresses.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

impl Email {
    /// Validates an address of the form `local@domain.tld` (no spaces, one `@`, a dot in the domain).
    pub fn parse(value: impl Into<String>) -> Result<Self, ValidationError> {
        let value: String = value.into();
        let value = value.trim();
        let valid = value.len() <= 254
            && value.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty()
                    && !domain.is_empty()
                    && !domain.contains('@')
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
                    && !domain.contains("..")
            })
            && !value
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | ',' | ';'));
        if valid {
            Ok(Self(value.to_owned()))
        } else {
            Err(ValidationError::new(
                "email",
                "must be an e-mail address such as name@example.org",
            ))
        }
    }

    /// The address. Never log a patient's.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Email {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Email({})", crate::phi::REDACTED)
    }
}

crate::string_form::string_form!(Email, ValidationError);

/// Administrative sex, as HL7 table 0001 codes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Sex {
    /// Female.
    #[serde(rename = "F")]
    Female,
    /// Male.
    #[serde(rename = "M")]
    Male,
    /// Other.
    #[serde(rename = "O")]
    Other,
    /// Unknown.
    #[serde(rename = "U")]
    Unknown,
}

impl Sex {
    /// Parses an HL7 table 0001 code or a spelled-out value (`female`).
    pub fn parse(value: &str) -> Result<Self, ValidationError> {
        match value.trim().to_ascii_lowercase().as_str() {
            "f" | "female" => Ok(Self::Female),
            "m" | "male" => Ok(Self::Male),
            "o" | "other" => Ok(Self::Other),
            "u" | "unknown" => Ok(Self::Unknown),
            _ => Err(ValidationError::new("sex", "must be one of F, M, O, U")),
        }
    }

    /// The HL7 code.
    pub fn code(self) -> &'static str {
        match self {
            Self::Female => "F",
            Self::Male => "M",
            Self::Other => "O",
            Self::Unknown => "U",
        }
    }
}

/// A postal address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    /// Street line 1.
    pub line1: AddressPart,
    /// Street line 2.
    pub line2: Option<AddressPart>,
    /// City.
    pub city: AddressPart,
    /// State or province.
    pub state: Option<AddressPart>,
    /// Postal code.
    pub postal_code: AddressPart,
    /// ISO 3166 country code or name.
    pub country: Option<AddressPart>,
}

/// A registered patient: the demographic snapshot the HIE message is built from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Patient {
    /// The clinic's id for the patient.
    pub patient_id: PatientId,
    /// Medical record number.
    pub mrn: Mrn,
    /// Given name.
    pub first_name: PersonName,
    /// Family name.
    pub last_name: PersonName,
    /// Date of birth.
    pub birth_date: Phi<NaiveDate>,
    /// Administrative sex.
    pub sex: Sex,
    /// Telephone.
    pub phone: Option<Phone>,
    /// E-mail.
    pub email: Option<Email>,
    /// Home address.
    pub address: Option<Address>,
    /// When the connector first stored the patient.
    pub created_at: DateTime<Utc>,
    /// When the connector last changed the patient.
    pub updated_at: DateTime<Utc>,
}

/// Demographics as a client sends them, before validation. Optional text fields may be absent,
/// `null` or empty (all mean "not known").
#[derive(Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatientInput {
    /// Medical record number.
    pub mrn: Option<String>,
    /// Given name.
    pub first_name: Option<String>,
    /// Family name.
    pub last_name: Option<String>,
    /// Date of birth, `YYYY-MM-DD`.
    pub birth_date: Option<String>,
    /// `F`, `M`, `O` or `U`.
    pub sex: Option<String>,
    /// Telephone.
    pub phone: Option<String>,
    /// E-mail.
    pub email: Option<String>,
    /// Home address.
    pub address: Option<AddressInput>,
}

impl std::fmt::Debug for PatientInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PatientInput([redacted])")
    }
}

/// An address as a client sends it.
#[derive(Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddressInput {
    /// Street line 1.
    pub line1: Option<String>,
    /// Street line 2.
    pub line2: Option<String>,
    /// City.
    pub city: Option<String>,
    /// State or province.
    pub state: Option<String>,
    /// Postal code.
    pub postal_code: Option<String>,
    /// Country.
    pub country: Option<String>,
}

/// Validated demographics, ready to be stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Demographics {
    /// Medical record number.
    pub mrn: Mrn,
    /// Given name.
    pub first_name: PersonName,
    /// Family name.
    pub last_name: PersonName,
    /// Date of birth.
    pub birth_date: Phi<NaiveDate>,
    /// Administrative sex.
    pub sex: Sex,
    /// Telephone.
    pub phone: Option<Phone>,
    /// E-mail.
    pub email: Option<Email>,
    /// Home address.
    pub address: Option<Address>,
}

fn present(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

fn required<T>(
    errors: &mut ValidationErrors,
    field: &str,
    value: &Option<String>,
    parse: impl FnOnce(&str) -> Result<T, ValidationError>,
) -> Option<T> {
    match present(value) {
        None => errors.refuse(field, "is required"),
        Some(v) => errors.check(parse(v).map_err(|e| ValidationError::new(field, e.message))),
    }
}

fn optional<T>(
    errors: &mut ValidationErrors,
    field: &str,
    value: &Option<String>,
    parse: impl FnOnce(&str) -> Result<T, ValidationError>,
) -> Option<T> {
    present(value)
        .and_then(|v| errors.check(parse(v).map_err(|e| ValidationError::new(field, e.message))))
}

/// Parses a calendar date `YYYY-MM-DD`.
pub fn parse_date(field: &str, value: &str) -> Result<NaiveDate, ValidationError> {
    NaiveDate::parse_from_str(value.trim(), "%Y-%m-%d")
        .map_err(|_| ValidationError::new(field, "must be a date in the form YYYY-MM-DD"))
}

/// Parses an RFC 3339 timestamp (to UTC); the error shows `example`.
pub fn parse_instant(
    field: &str,
    value: &str,
    example: &str,
) -> Result<DateTime<Utc>, ValidationError> {
    DateTime::parse_from_rfc3339(value.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| {
            ValidationError::new(
                field,
                format!("must be an RFC 3339 timestamp such as {example}"),
            )
        })
}

impl PatientInput {
    /// Validates every field and reports all problems at once. `today` bounds the birth date.
    pub fn validate(&self, today: NaiveDate) -> Result<Demographics, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let mrn = required(&mut errors, "mrn", &self.mrn, |v| Mrn::parse(v));
        let first_name = required(&mut errors, "first_name", &self.first_name, |v| {
            PersonName::parse(v)
        });
        let last_name = required(&mut errors, "last_name", &self.last_name, |v| {
            PersonName::parse(v)
        });
        let birth_date = required(&mut errors, "birth_date", &self.birth_date, |v| {
            let date = parse_date("birth_date", v)?;
            if date > today {
                return Err(ValidationError::new(
                    "birth_date",
                    "must not be in the future",
                ));
            }
            if date.year_ce().1 < 1850 {
                return Err(ValidationError::new("birth_date", "must be after 1850"));
            }
            Ok(date)
        });
        let sex = required(&mut errors, "sex", &self.sex, Sex::parse);
        let phone = optional(&mut errors, "phone", &self.phone, |v| Phone::parse(v));
        let email = optional(&mut errors, "email", &self.email, |v| Email::parse(v));
        let address = self.address.as_ref().and_then(|a| a.validate(&mut errors));
        let demographics = errors.finish(|| ());
        demographics.map(|()| Demographics {
            mrn: mrn.expect("validated"),
            first_name: first_name.expect("validated"),
            last_name: last_name.expect("validated"),
            birth_date: Phi::new(birth_date.expect("validated")),
            sex: sex.expect("validated"),
            phone,
            email,
            address,
        })
    }
}

use chrono::Datelike;

impl AddressInput {
    fn validate(&self, errors: &mut ValidationErrors) -> Option<Address> {
        let all_empty = [
            &self.line1,
            &self.line2,
            &self.city,
            &self.state,
            &self.postal_code,
            &self.country,
        ]
        .iter()
        .all(|v| present(v).is_none());
        if all_empty {
            return None;
        }
        let line1 = required(errors, "address.line1", &self.line1, |v| {
            AddressPart::parse(v)
        });
        let line2 = optional(errors, "address.line2", &self.line2, |v| {
            AddressPart::parse(v)
        });
        let city = required(errors, "address.city", &self.city, |v| {
            AddressPart::parse(v)
        });
        let state = optional(errors, "address.state", &self.state, |v| {
            AddressPart::parse(v)
        });
        let postal_code = required(errors, "address.postal_code", &self.postal_code, |v| {
            AddressPart::parse(v)
        });
        let country = optional(errors, "address.country", &self.country, |v| {
            AddressPart::parse(v)
        });
        Some(Address {
            line1: line1?,
            line2,
            city: city?,
            state,
            postal_code: postal_code?,
            country,
        })
    }
}

impl Patient {
    /// A new patient record from validated demographics.
    pub fn new(patient_id: PatientId, demographics: Demographics, now: DateTime<Utc>) -> Self {
        Self {
            patient_id,
            mrn: demographics.mrn,
            first_name: demographics.first_name,
            last_name: demographics.last_name,
            birth_date: demographics.birth_date,
            sex: demographics.sex,
            phone: demographics.phone,
            email: demographics.email,
            address: demographics.address,
            created_at: now,
            updated_at: now,
        }
    }

    /// This patient with its demographics replaced; keeps `created_at`.
    pub fn updated(self, demographics: Demographics, now: DateTime<Utc>) -> Self {
        Self {
            created_at: self.created_at,
            ..Self::new(self.patient_id, demographics, now)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> PatientInput {
        PatientInput {
            mrn: Some("MRN-000123".into()),
            first_name: Some("Avery".into()),
            last_name: Some("Quill".into()),
            birth_date: Some("1984-02-29".into()),
            sex: Some("F".into()),
            phone: Some("+1 555 0100".into()),
            email: Some("avery.quill@example.org".into()),
            address: None,
        }
    }

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 21).unwrap()
    }

    #[test]
    fn valid_input_passes() {
        let d = input().validate(today()).unwrap();
        assert_eq!(d.mrn.expose(), "MRN-000123");
        assert_eq!(d.sex, Sex::Female);
    }

    #[test]
    fn every_problem_is_reported_without_values() {
        let bad = PatientInput {
            mrn: None,
            birth_date: Some("29/02/1984".into()),
            email: Some("not-an-email".into()),
            sex: Some("X".into()),
            address: Some(AddressInput {
                line1: Some("1 Elm St".into()),
                ..Default::default()
            }),
            ..input()
        };
        let errors = bad.validate(today()).unwrap_err();
        let fields: Vec<_> = errors.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "mrn",
                "birth_date",
                "sex",
                "email",
                "address.city",
                "address.postal_code"
            ]
        );
        let text = format!("{errors:?}");
        assert!(!text.contains("not-an-email") && !text.contains("29/02/1984"));
    }

    #[test]
    fn future_birth_date_rejected() {
        let bad = PatientInput {
            birth_date: Some("2027-01-01".into()),
            ..input()
        };
        assert_eq!(bad.validate(today()).unwrap_err().0[0].field, "birth_date");
    }

    #[test]
    fn debug_is_redacted() {
        let d = input().validate(today()).unwrap();
        let p = Patient::new(PatientId::parse("p1").unwrap(), d, Utc::now());
        let text = format!("{p:?}");
        for secret in ["Avery", "Quill", "MRN-000123", "1984", "555", "example.org"] {
            assert!(!text.contains(secret), "{secret} leaked in {text}");
        }
        assert!(!format!("{:?}", input()).contains("Avery"));
    }
}
