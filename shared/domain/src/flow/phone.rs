//! Phone numbers to E.164 (`+15552013344`), for the `phone_e164` transform.
//!
//! A small, offline normalisation rather than a full numbering-plan library (`phonenumber`
//! builds a dozen extra crates and loads its metadata and regexes on first use, about two
//! seconds in a debug build, which every Lambda cold start would pay; and it rejects the
//! fictional 555 numbers clinics test with). The connector only needs to *normalise* what an
//! EHR sends so that the CRM stores and searches one form; it does not judge whether a number
//! is in service.
//!
//! Rules, in order:
//! 1. What follows the number is dropped: an HL7 TN suffix (`X123` extension, `B456` beeper,
//!    `C any text`), `ext`, `#`, `;` or `,` and anything after.
//! 2. Visual separators go: spaces, `-`, `.`, `(`, `)`, `/`. Any other character refuses the
//!    number.
//! 3. International forms keep their own country code: a leading `+`, `00`, or (when the
//!    default country is `+1`) `011`.
//! 4. Otherwise the default country code is needed and the national number is cleaned of its
//!    trunk prefix: NANP (`+1`) accepts 10 digits or 11 starting with `1`; `+7` drops a leading
//!    `8` from 11 digits; Italy (`+39`) keeps its leading `0`; elsewhere one leading `0` goes.
//! 5. The result has 7 to 15 digits (E.164's limit) and does not start with `0`; a NANP number
//!    has 10 digits after the `1` and an area code starting 2 to 9.

use super::model::CountryCode;

/// Why a value is not a usable phone number. Never carries the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    /// Letters or symbols where digits belong, or no digits at all.
    #[error("not a phone number")]
    NotAPhoneNumber,
    /// A national number and no default country code.
    #[error("the number has no country code and the flow has no default_country_code")]
    NoCountryCode,
    /// Too few or too many digits for the country.
    #[error("the number has the wrong number of digits")]
    WrongLength,
}

/// Normalises a phone number to E.164 (see the [module documentation](self)).
///
/// # Errors
/// [`PhoneError`].
pub fn to_e164(raw: &str, default: Option<CountryCode>) -> Result<String, PhoneError> {
    let end = raw
        .find(|c: char| c.is_ascii_alphabetic() || matches!(c, '#' | ';' | ','))
        .unwrap_or(raw.len());
    let head = raw.get(..end).unwrap_or_default().trim();
    let mut digits = String::with_capacity(head.len());
    let mut plus = false;
    for c in head.chars() {
        match c {
            '0'..='9' => digits.push(c),
            '+' if digits.is_empty() && !plus => plus = true,
            ' ' | '-' | '.' | '(' | ')' | '/' | '\u{a0}' | '\t' => {}
            _ => return Err(PhoneError::NotAPhoneNumber),
        }
    }
    if digits.is_empty() {
        return Err(PhoneError::NotAPhoneNumber);
    }
    let nanp_default = default.is_some_and(|c| c.get() == 1);
    let international = if plus {
        Some(digits.as_str())
    } else if let Some(rest) = digits.strip_prefix("00") {
        Some(rest)
    } else if nanp_default {
        digits.strip_prefix("011")
    } else {
        None
    };
    let full = match international {
        Some(d) => d.to_owned(),
        None => {
            let cc = default.ok_or(PhoneError::NoCountryCode)?.get();
            format!("{cc}{}", national(cc, &digits)?)
        }
    };
    if full.starts_with('0') {
        return Err(PhoneError::NotAPhoneNumber);
    }
    if !(7..=15).contains(&full.len()) {
        return Err(PhoneError::WrongLength);
    }
    if let Some(nsn) = full.strip_prefix('1') {
        if nsn.len() != 10 {
            return Err(PhoneError::WrongLength);
        }
        if nsn.starts_with(['0', '1']) {
            return Err(PhoneError::NotAPhoneNumber);
        }
    }
    Ok(format!("+{full}"))
}

/// A phone-shaped value in one comparable form: `+` and digits. LeadSquared stores phone
/// numbers as `+<country code>-<national number>` (`+1-5550100123`) while the connector writes
/// E.164 (`+15550100123`); both become `+15550100123`. `None` for anything else: a value that
/// does not start with `+`, holds anything but digits and the separators `-`, space, `.`, `(`,
/// `)`, or does not have 7 to 15 digits.
pub fn comparable(value: &str) -> Option<String> {
    let rest = value.trim().strip_prefix('+')?;
    let mut digits = String::with_capacity(rest.len() + 1);
    digits.push('+');
    for c in rest.chars() {
        match c {
            '0'..='9' => digits.push(c),
            '-' | ' ' | '.' | '(' | ')' => {}
            _ => return None,
        }
    }
    (8..=16).contains(&digits.len()).then_some(digits)
}

/// The form LeadSquared stores an E.164 number in (`+1-5550100123`), when its country code is
/// known: the flow's `default` country code, or `1` (NANP) for an 11-digit `+1` number.
/// `None` when `e164` is not E.164 or its country code cannot be told.
pub fn leadsquared_form(e164: &str, default: Option<CountryCode>) -> Option<String> {
    let digits = e164.strip_prefix('+')?;
    if !(7..=15).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let split = |cc: &str| {
        digits
            .strip_prefix(cc)
            .filter(|national| !national.is_empty())
            .map(|national| format!("+{cc}-{national}"))
    };
    default
        .and_then(|cc| split(&cc.get().to_string()))
        .or_else(|| (digits.len() == 11).then(|| split("1")).flatten())
}

/// The national significant number: `digits` without its trunk prefix.
fn national(cc: u16, digits: &str) -> Result<String, PhoneError> {
    let nsn = match cc {
        1 => match digits.len() {
            10 => digits,
            11 => digits.strip_prefix('1').ok_or(PhoneError::WrongLength)?,
            _ => return Err(PhoneError::WrongLength),
        },
        7 if digits.len() == 11 => digits.strip_prefix('8').unwrap_or(digits),
        39 => digits,
        _ => digits.strip_prefix('0').unwrap_or(digits),
    };
    if nsn.is_empty() {
        return Err(PhoneError::WrongLength);
    }
    Ok(nsn.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cc(s: &str) -> Option<CountryCode> {
        Some(CountryCode::parse(s).unwrap())
    }

    #[test]
    fn leadsquareds_stored_form_and_comparison() {
        assert_eq!(
            leadsquared_form("+15550100123", None).as_deref(),
            Some("+1-5550100123")
        );
        assert_eq!(
            leadsquared_form("+442079460958", cc("44")).as_deref(),
            Some("+44-2079460958")
        );
        assert_eq!(leadsquared_form("+442079460958", None), None);
        assert_eq!(leadsquared_form("5550100123", cc("1")), None);
        assert_eq!(comparable("+1-5550100123").as_deref(), Some("+15550100123"));
        assert_eq!(comparable("+15550100123").as_deref(), Some("+15550100123"));
        assert_eq!(comparable("5550100123"), None);
        assert_eq!(comparable("+1-555 apples"), None);
        assert_eq!(comparable("+12"), None);
    }

    #[test]
    fn national_numbers_take_the_default_country() {
        for (raw, default, want) in [
            ("(555) 201-3344", "1", "+15552013344"),
            ("555.201.3344", "+1", "+15552013344"),
            ("1-555-201-3344", "1", "+15552013344"),
            ("(555)201-3344X123B456", "1", "+15552013344"),
            ("555-201-3344 ext. 12", "1", "+15552013344"),
            ("020 7946 0958", "44", "+442079460958"),
            ("06 12 34 56 78", "33", "+33612345678"),
            ("06 1234 5678", "39", "+390612345678"),
            ("8 (912) 345-67-89", "7", "+79123456789"),
        ] {
            assert_eq!(to_e164(raw, cc(default)).as_deref(), Ok(want), "{raw}");
        }
    }

    #[test]
    fn international_numbers_keep_their_country() {
        for (raw, default, want) in [
            ("+44 20 7946 0958", None, "+442079460958"),
            ("+1 (555) 201-3344", cc("44"), "+15552013344"),
            ("0049 30 1234567", cc("1"), "+49301234567"),
            ("011 44 20 7946 0958", cc("1"), "+442079460958"),
            ("+683 4002", None, "+6834002"),
        ] {
            assert_eq!(to_e164(raw, default).as_deref(), Ok(want), "{raw}");
        }
    }

    #[test]
    fn refusals() {
        for (raw, default, err) in [
            ("555-201-3344", None, PhoneError::NoCountryCode),
            ("201-3344", cc("1"), PhoneError::WrongLength),
            ("call me", cc("1"), PhoneError::NotAPhoneNumber),
            ("", cc("1"), PhoneError::NotAPhoneNumber),
            ("+", cc("1"), PhoneError::NotAPhoneNumber),
            ("555*201*3344", cc("1"), PhoneError::NotAPhoneNumber),
            ("+1 155 201 3344", None, PhoneError::NotAPhoneNumber),
            ("+1 555 201 33", None, PhoneError::WrongLength),
            ("+12 3456", None, PhoneError::WrongLength),
            ("+0 555 201 3344", None, PhoneError::NotAPhoneNumber),
            ("+44 1234 5678 9012 3456", None, PhoneError::WrongLength),
            ("5+55", cc("1"), PhoneError::NotAPhoneNumber),
        ] {
            assert_eq!(to_e164(raw, default), Err(err), "{raw}");
        }
    }
}
