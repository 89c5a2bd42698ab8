//! The invented patient the CRM client test binaries send (client.rs, logs.rs): values
//! distinctive enough to look for in errors and logs.

use connector_domain::crm::CrmField;

/// First name, last name, MRN, e-mail.
pub const PATIENT: [&str; 4] = ["Zebulon", "Quixley", "MRN-774411", "zq@example.org"];

/// The patient's lead fields: names, MRN and e-mail.
pub fn patient_fields() -> Vec<CrmField> {
    vec![
        CrmField::new("FirstName", PATIENT[0]),
        CrmField::new("LastName", PATIENT[1]),
        CrmField::new("mx_MRN", PATIENT[2]),
        CrmField::new("EmailAddress", PATIENT[3]),
    ]
}
