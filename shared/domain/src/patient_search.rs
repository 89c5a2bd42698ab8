//! Finding patients: by medical record number, or by the start of the last name plus the birth
//! date (the front desk's two ways). Names are compared in their folded form ([`fold_name`]):
//! lower case, diacritics removed, only letters and digits kept, so `Núñez`, `NUNEZ` and
//! `nu` all meet.

use chrono::NaiveDate;
use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

use crate::patient::{Mrn, Patient, parse_date};
use crate::{ValidationError, ValidationErrors};

/// One patient search.
#[derive(Clone, PartialEq, Eq)]
pub enum PatientSearch {
    /// Exactly this medical record number.
    Mrn(Mrn),
    /// Last names whose folded form starts with `prefix` (already folded, not empty), born on
    /// `birth_date`.
    LastNameBirthDate {
        /// The folded last-name prefix.
        prefix: String,
        /// The birth date.
        birth_date: NaiveDate,
    },
}

impl std::fmt::Debug for PatientSearch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Mrn(_) => f.write_str("PatientSearch::Mrn([redacted])"),
            Self::LastNameBirthDate { .. } => {
                f.write_str("PatientSearch::LastNameBirthDate([redacted])")
            }
        }
    }
}

impl PatientSearch {
    /// Validates a search as a client gives it: exactly one of `mrn`, or `last_name` together
    /// with `birth_date` (`YYYY-MM-DD`). Empty values count as absent. Every problem is reported,
    /// naming the field, never the value.
    pub fn parse(
        mrn: Option<&str>,
        last_name: Option<&str>,
        birth_date: Option<&str>,
    ) -> Result<Self, ValidationErrors> {
        fn present(v: Option<&str>) -> Option<&str> {
            v.map(str::trim).filter(|v| !v.is_empty())
        }
        let (mrn, last_name, birth_date) = (present(mrn), present(last_name), present(birth_date));
        let mut errors = ValidationErrors::default();
        match (mrn, last_name, birth_date) {
            (Some(mrn), None, None) => {
                let mrn = errors.check(Mrn::parse(mrn));
                errors.finish(|| Self::Mrn(mrn.expect("checked")))
            }
            (Some(_), _, _) => Err(ValidationError::new(
                "mrn",
                "give either mrn, or last_name with birth_date, not both",
            )
            .into()),
            (None, None, None) => {
                Err(ValidationError::new("mrn", "give mrn, or last_name with birth_date").into())
            }
            (None, last_name, birth_date) => {
                let prefix = required_with(&mut errors, ("last_name", last_name), "birth_date")
                    .and_then(|name| errors.check(name_prefix(name)));
                let birth_date =
                    required_with(&mut errors, ("birth_date", birth_date), "last_name")
                        .and_then(|date| errors.check(parse_date("birth_date", date)));
                errors.finish(|| Self::LastNameBirthDate {
                    prefix: prefix.expect("checked"),
                    birth_date: birth_date.expect("checked"),
                })
            }
        }
    }
}

/// The value of `field`, which `other` needs (an error naming `other` when it is absent).
fn required_with<'a>(
    errors: &mut ValidationErrors,
    (field, value): (&str, Option<&'a str>),
    other: &str,
) -> Option<&'a str> {
    if value.is_none() {
        errors.push(ValidationError::new(
            field,
            format!("is required with {other}"),
        ));
    }
    value
}

/// What a name search compares: the folded last name, 1 to 100 characters.
fn name_prefix(last_name: &str) -> Result<String, ValidationError> {
    let folded = fold_name(last_name);
    if folded.is_empty() {
        Err(ValidationError::new(
            "last_name",
            "must contain a letter or digit",
        ))
    } else if folded.chars().count() > 100 {
        Err(ValidationError::new(
            "last_name",
            "must be at most 100 characters",
        ))
    } else {
        Ok(folded)
    }
}

/// The folded form of the patient's last name, which name searches compare against.
pub fn name_key(patient: &Patient) -> String {
    fold_name(patient.last_name.expose())
}

/// A name's folded form: compatibility-decomposed (NFKD) with the combining marks dropped, so
/// letters with diacritics become their base letters in every script; lower case; the Latin
/// letters that do not decompose (`ß` as `ss`, `æ` as `ae`, `ø` as `o`, `ł` as `l`, ...) as
/// their usual spelling; and only letters and digits kept (`O'Brien-Núñez` folds to
/// `obriennunez`).
pub fn fold_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.nfkd().flat_map(char::to_lowercase) {
        if is_combining_mark(c) {
            continue;
        }
        match c {
            'ß' => out.push_str("ss"),
            'æ' => out.push_str("ae"),
            'œ' => out.push_str("oe"),
            'þ' => out.push_str("th"),
            'ø' => out.push('o'),
            'ł' => out.push('l'),
            'đ' | 'ð' => out.push('d'),
            'ħ' => out.push('h'),
            'ı' => out.push('i'),
            'ŧ' => out.push('t'),
            c if c.is_alphanumeric() && !is_modifier_apostrophe(c) => out.push(c),
            _ => {}
        }
    }
    out
}

/// `ʼ` (U+02BC) is a letter to Unicode but an apostrophe in names (`ŉ` decomposes to `ʼn`).
fn is_modifier_apostrophe(c: char) -> bool {
    c == '\u{2bc}'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_ignores_case_accents_and_punctuation() {
        assert_eq!(fold_name("Núñez"), "nunez");
        assert_eq!(fold_name("O'Brien-NÚÑEZ"), "obriennunez");
        assert_eq!(fold_name("Straße"), "strasse");
        assert_eq!(fold_name("Nu\u{301}n\u{303}ez"), "nunez");
        assert_eq!(fold_name("Łukasiewicz Ørsted"), "lukasiewiczorsted");
        assert_eq!(fold_name("- '"), "");
        assert_eq!(fold_name("Nguyễn Thị Ðặng"), "nguyenthidang");
        assert_eq!(fold_name("ﬁnn ĳssel ŉ"), "finnijsseln");
    }

    #[test]
    fn exactly_one_way_to_search() {
        assert!(matches!(
            PatientSearch::parse(Some(" M-1 "), None, None),
            Ok(PatientSearch::Mrn(m)) if m.expose() == "M-1"
        ));
        let by_name = PatientSearch::parse(None, Some("NÚ"), Some("1980-02-29")).unwrap();
        assert_eq!(
            by_name,
            PatientSearch::LastNameBirthDate {
                prefix: "nu".into(),
                birth_date: NaiveDate::from_ymd_opt(1980, 2, 29).unwrap()
            }
        );
        let fields = |r: Result<PatientSearch, ValidationErrors>| -> Vec<String> {
            r.unwrap_err().0.into_iter().map(|e| e.field).collect()
        };
        assert_eq!(fields(PatientSearch::parse(None, None, None)), ["mrn"]);
        assert_eq!(
            fields(PatientSearch::parse(Some("M"), Some("x"), None)),
            ["mrn"]
        );
        assert_eq!(
            fields(PatientSearch::parse(None, Some("x"), None)),
            ["birth_date"]
        );
        assert_eq!(
            fields(PatientSearch::parse(None, None, Some("1980-01-01"))),
            ["last_name"]
        );
        assert_eq!(
            fields(PatientSearch::parse(None, Some("'"), Some("1980-13-01"))),
            ["last_name", "birth_date"]
        );
    }
}
