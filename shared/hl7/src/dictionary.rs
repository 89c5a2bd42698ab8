//! Names of common HL7 v2.5 fields and components, for showing a path to a person
//! ("PID-5: Patient Name", "PID-5.1: Family Name").
//!
//! Field level: every field of MSH, EVN, PID, PD1, NK1, PV1, PV2, SCH, AIS, AIG, AIL, AIP,
//! RGS, OBR, OBX, DG1, IN1, FT1 and GT1 as HL7 v2.5 names them. Component level: the
//! components of the composite data types these fields use most (XPN, XAD, XTN, CX, CE, CWE,
//! XCN, XON, EI, HD, MSG, PL, TQ, TS, PT, VID, DLN, FC, CQ), and subcomponents of FN (family
//! name), SAD (street address) and HD (assigning authority / facility). Everything else is
//! `None`: show the path alone.
//!
//! ```
//! use connector_hl7::{Path, dictionary};
//!
//! let path: Path = "PID-5.1".parse()?;
//! assert_eq!(dictionary::field_name(&path), Some("Family Name"));
//! let d = dictionary::describe(&path).expect("PID-5 is known");
//! assert_eq!((d.field, d.data_type), ("Patient Name", Some("XPN")));
//! # Ok::<(), connector_hl7::PathError>(())
//! ```

use crate::path::Path;

/// What the dictionary knows about a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldDescription {
    /// The field's name (`Patient Name`).
    pub field: &'static str,
    /// The field's data type when it is a composite the dictionary knows (`XPN`).
    pub data_type: Option<&'static str>,
    /// The component's name, when the path names a component the dictionary knows.
    pub component: Option<&'static str>,
    /// The subcomponent's name, when the path names a subcomponent the dictionary knows.
    pub subcomponent: Option<&'static str>,
}

/// The most specific name the dictionary has for a path: the subcomponent's, the
/// component's or the field's. `None` when the path is below what the dictionary knows
/// (a component of a field whose type it does not list) or the field is unknown.
pub fn field_name(path: &Path) -> Option<&'static str> {
    let d = describe(path)?;
    match (path.component(), path.subcomponent()) {
        (None, _) => Some(d.field),
        (Some(_), None) => d.component,
        (Some(_), Some(_)) => d.subcomponent,
    }
}

/// Everything the dictionary knows about a path; `None` for an unknown segment or field.
pub fn describe(path: &Path) -> Option<FieldDescription> {
    let segment = path.segment();
    let names = segment_fields(segment.as_str())?;
    let field = *names.get(path.field().checked_sub(1)?)?;
    let data_type = data_type(segment.as_str(), path.field());
    let component = path
        .component()
        .and_then(|c| components(data_type?)?.get(c.checked_sub(1)?).copied());
    let subcomponent = path.subcomponent().and_then(|s| {
        let sub_type = component_type(data_type?, path.component()?)?;
        components(sub_type)?.get(s.checked_sub(1)?).copied()
    });
    Some(FieldDescription {
        field,
        data_type,
        component,
        subcomponent,
    })
}

fn segment_fields(segment: &str) -> Option<&'static [&'static str]> {
    Some(match segment {
        "MSH" => MSH,
        "EVN" => EVN,
        "PID" => PID,
        "PD1" => PD1,
        "NK1" => NK1,
        "PV1" => PV1,
        "PV2" => PV2,
        "SCH" => SCH,
        "AIS" => AIS,
        "AIG" => AIG,
        "AIL" => AIL,
        "AIP" => AIP,
        "RGS" => RGS,
        "OBR" => OBR,
        "OBX" => OBX,
        "DG1" => DG1,
        "IN1" => IN1,
        "FT1" => FT1,
        "GT1" => GT1,
        _ => return None,
    })
}

/// The composite data type of a field, where the dictionary lists its components.
fn data_type(segment: &str, field: usize) -> Option<&'static str> {
    Some(match (segment, field) {
        ("MSH", 3..=6) => "HD",
        ("MSH", 7) => "TS",
        ("MSH", 9) => "MSG",
        ("MSH", 11) => "PT",
        ("MSH", 12) => "VID",
        ("MSH", 19) => "CE",
        ("MSH", 21) => "EI",
        ("EVN", 2 | 3 | 6) => "TS",
        ("EVN", 5) => "XCN",
        ("EVN", 7) => "HD",
        ("PID", 2..=4 | 18 | 21) => "CX",
        ("PID", 5 | 6 | 9) => "XPN",
        ("PID", 7 | 29 | 33) => "TS",
        ("PID", 10 | 15..=17 | 22 | 26 | 27 | 28 | 35 | 36 | 38) => "CE",
        ("PID", 11) => "XAD",
        ("PID", 13 | 14) => "XTN",
        ("PID", 20) => "DLN",
        ("PID", 34) => "HD",
        ("PID", 39) => "CWE",
        ("PD1", 3 | 14) => "XON",
        ("PD1", 4) => "XCN",
        ("PD1", 11 | 15) => "CE",
        ("NK1", 2 | 26 | 30) => "XPN",
        ("NK1", 3 | 7 | 14 | 19 | 20 | 22 | 25 | 27 | 28 | 29 | 35) => "CE",
        ("NK1", 4 | 32) => "XAD",
        ("NK1", 5 | 6 | 31) => "XTN",
        ("NK1", 12 | 33) => "CX",
        ("NK1", 13) => "XON",
        ("NK1", 16) => "TS",
        ("PV1", 3 | 6 | 11 | 42 | 43) => "PL",
        ("PV1", 7 | 8 | 9 | 17 | 52) => "XCN",
        ("PV1", 19 | 50) => "CX",
        ("PV1", 20) => "FC",
        ("PV1", 44 | 45) => "TS",
        ("PV2", 1) => "PL",
        ("PV2", 2..=4) => "CE",
        ("PV2", 8 | 9 | 33) => "TS",
        ("PV2", 13) => "XCN",
        ("PV2", 23) => "XON",
        ("SCH", 1 | 2 | 4 | 23 | 24 | 26 | 27) => "EI",
        ("SCH", 5..=8 | 10 | 25) => "CE",
        ("SCH", 11) => "TQ",
        ("SCH", 12 | 16 | 20) => "XCN",
        ("SCH", 13 | 17 | 21) => "XTN",
        ("SCH", 14 | 18) => "XAD",
        ("SCH", 15 | 19 | 22) => "PL",
        ("AIS", 3 | 6 | 8 | 10) => "CE",
        ("AIS", 4) => "TS",
        ("AIG", 3..=5 | 7 | 10 | 12 | 14) => "CE",
        ("AIG", 8) => "TS",
        ("AIL", 3) => "PL",
        ("AIL", 4 | 5 | 8 | 10 | 12) => "CE",
        ("AIL", 6) => "TS",
        ("AIP", 3) => "XCN",
        ("AIP", 4 | 5 | 8 | 10 | 12) => "CE",
        ("AIP", 6) => "TS",
        ("RGS", 3) => "CE",
        ("OBR", 2 | 3) => "EI",
        ("OBR", 4 | 44) => "CE",
        ("OBR", 6..=8 | 14 | 22 | 36) => "TS",
        ("OBR", 9) => "CQ",
        ("OBR", 10 | 16 | 28) => "XCN",
        ("OBR", 17) => "XTN",
        ("OBR", 27) => "TQ",
        ("OBX", 3 | 6 | 15 | 17) => "CE",
        ("OBX", 14 | 19) => "TS",
        ("OBX", 16) => "XCN",
        ("OBX", 18) => "EI",
        ("DG1", 3) => "CE",
        ("DG1", 5 | 19) => "TS",
        ("DG1", 16) => "XCN",
        ("DG1", 20) => "EI",
        ("IN1", 2 | 17 | 42) => "CE",
        ("IN1", 3 | 10 | 49) => "CX",
        ("IN1", 4 | 9 | 11) => "XON",
        ("IN1", 5 | 19 | 44) => "XAD",
        ("IN1", 6 | 16) => "XPN",
        ("IN1", 7) => "XTN",
        ("IN1", 18 | 29) => "TS",
        ("IN1", 30) => "XCN",
        ("FT1", 5) => "TS",
        ("FT1", 7 | 13 | 14 | 19 | 25) => "CE",
        ("FT1", 16) => "PL",
        ("FT1", 20 | 21 | 24) => "XCN",
        ("FT1", 23) => "EI",
        ("GT1", 3 | 4 | 16 | 45) => "XPN",
        ("GT1", 5 | 17) => "XAD",
        ("GT1", 6 | 7 | 18 | 46) => "XTN",
        ("GT1", 8 | 24) => "TS",
        ("GT1", 19 | 29) => "CX",
        ("GT1", 21 | 51) => "XON",
        _ => return None,
    })
}

/// The data type of a component, where the dictionary lists its subcomponents.
fn component_type(data_type: &str, component: usize) -> Option<&'static str> {
    Some(match (data_type, component) {
        ("XPN", 1) | ("XCN", 2) => "FN",
        ("XAD", 1) => "SAD",
        ("CX", 4 | 6) | ("XCN", 9 | 14) | ("XON", 6 | 8) | ("PL", 4) => "HD",
        _ => return None,
    })
}

fn components(data_type: &str) -> Option<&'static [&'static str]> {
    Some(match data_type {
        "XPN" => XPN,
        "XAD" => XAD,
        "XTN" => XTN,
        "CX" => CX,
        "CE" => CE,
        "CWE" => CWE,
        "XCN" => XCN,
        "XON" => XON,
        "EI" => EI,
        "HD" => HD,
        "MSG" => MSG,
        "PL" => PL,
        "TQ" => TQ,
        "TS" => TS,
        "PT" => PT,
        "VID" => VID,
        "DLN" => DLN,
        "FC" => FC,
        "CQ" => CQ,
        "FN" => FN,
        "SAD" => SAD,
        _ => return None,
    })
}

// ---- data types (components) ------------------------------------------------------------

const XPN: &[&str] = &[
    "Family Name",
    "Given Name",
    "Second and Further Given Names or Initials Thereof",
    "Suffix (e.g., JR or III)",
    "Prefix (e.g., DR)",
    "Degree (e.g., MD)",
    "Name Type Code",
    "Name Representation Code",
    "Name Context",
    "Name Validity Range",
    "Name Assembly Order",
    "Effective Date",
    "Expiration Date",
    "Professional Suffix",
];

const XAD: &[&str] = &[
    "Street Address",
    "Other Designation",
    "City",
    "State or Province",
    "Zip or Postal Code",
    "Country",
    "Address Type",
    "Other Geographic Designation",
    "County/Parish Code",
    "Census Tract",
    "Address Representation Code",
    "Address Validity Range",
    "Effective Date",
    "Expiration Date",
];

const XTN: &[&str] = &[
    "Telephone Number",
    "Telecommunication Use Code",
    "Telecommunication Equipment Type",
    "Email Address",
    "Country Code",
    "Area/City Code",
    "Local Number",
    "Extension",
    "Any Text",
    "Extension Prefix",
    "Speed Dial Code",
    "Unformatted Telephone number",
];

const CX: &[&str] = &[
    "ID Number",
    "Check Digit",
    "Check Digit Scheme",
    "Assigning Authority",
    "Identifier Type Code",
    "Assigning Facility",
    "Effective Date",
    "Expiration Date",
    "Assigning Jurisdiction",
    "Assigning Agency or Department",
];

const CE: &[&str] = &[
    "Identifier",
    "Text",
    "Name of Coding System",
    "Alternate Identifier",
    "Alternate Text",
    "Name of Alternate Coding System",
];

const CWE: &[&str] = &[
    "Identifier",
    "Text",
    "Name of Coding System",
    "Alternate Identifier",
    "Alternate Text",
    "Name of Alternate Coding System",
    "Coding System Version ID",
    "Alternate Coding System Version ID",
    "Original Text",
];

const XCN: &[&str] = &[
    "ID Number",
    "Family Name",
    "Given Name",
    "Second and Further Given Names or Initials Thereof",
    "Suffix (e.g., JR or III)",
    "Prefix (e.g., DR)",
    "Degree (e.g., MD)",
    "Source Table",
    "Assigning Authority",
    "Name Type Code",
    "Identifier Check Digit",
    "Check Digit Scheme",
    "Identifier Type Code",
    "Assigning Facility",
    "Name Representation Code",
    "Name Context",
    "Name Validity Range",
    "Name Assembly Order",
    "Effective Date",
    "Expiration Date",
    "Professional Suffix",
    "Assigning Jurisdiction",
    "Assigning Agency or Department",
];

const XON: &[&str] = &[
    "Organization Name",
    "Organization Name Type Code",
    "ID Number",
    "Check Digit",
    "Check Digit Scheme",
    "Assigning Authority",
    "Identifier Type Code",
    "Assigning Facility",
    "Name Representation Code",
    "Organization Identifier",
];

const EI: &[&str] = &[
    "Entity Identifier",
    "Namespace ID",
    "Universal ID",
    "Universal ID Type",
];

const HD: &[&str] = &["Namespace ID", "Universal ID", "Universal ID Type"];

const MSG: &[&str] = &["Message Code", "Trigger Event", "Message Structure"];

const PL: &[&str] = &[
    "Point of Care",
    "Room",
    "Bed",
    "Facility",
    "Location Status",
    "Person Location Type",
    "Building",
    "Floor",
    "Location Description",
    "Comprehensive Location Identifier",
    "Assigning Authority for Location",
];

const TQ: &[&str] = &[
    "Quantity",
    "Interval",
    "Duration",
    "Start Date/Time",
    "End Date/Time",
    "Priority",
    "Condition",
    "Text",
    "Conjunction",
    "Order Sequencing",
    "Occurrence Duration",
    "Total Occurrences",
];

const TS: &[&str] = &["Time", "Degree of Precision"];

const PT: &[&str] = &["Processing ID", "Processing Mode"];

const VID: &[&str] = &[
    "Version ID",
    "Internationalization Code",
    "International Version ID",
];

const DLN: &[&str] = &[
    "License Number",
    "Issuing State, Province, Country",
    "Expiration Date",
];

const FC: &[&str] = &["Financial Class Code", "Effective Date"];

const CQ: &[&str] = &["Quantity", "Units"];

const FN: &[&str] = &[
    "Surname",
    "Own Surname Prefix",
    "Own Surname",
    "Surname Prefix From Partner/Spouse",
    "Surname From Partner/Spouse",
];

const SAD: &[&str] = &[
    "Street or Mailing Address",
    "Street Name",
    "Dwelling Number",
];

// ---- segments (fields) --------------------------------------------------------------------

const MSH: &[&str] = &[
    "Field Separator",
    "Encoding Characters",
    "Sending Application",
    "Sending Facility",
    "Receiving Application",
    "Receiving Facility",
    "Date/Time Of Message",
    "Security",
    "Message Type",
    "Message Control ID",
    "Processing ID",
    "Version ID",
    "Sequence Number",
    "Continuation Pointer",
    "Accept Acknowledgment Type",
    "Application Acknowledgment Type",
    "Country Code",
    "Character Set",
    "Principal Language Of Message",
    "Alternate Character Set Handling Scheme",
    "Message Profile Identifier",
];

const EVN: &[&str] = &[
    "Event Type Code",
    "Recorded Date/Time",
    "Date/Time Planned Event",
    "Event Reason Code",
    "Operator ID",
    "Event Occurred",
    "Event Facility",
];

const PID: &[&str] = &[
    "Set ID - PID",
    "Patient ID",
    "Patient Identifier List",
    "Alternate Patient ID - PID",
    "Patient Name",
    "Mother's Maiden Name",
    "Date/Time of Birth",
    "Administrative Sex",
    "Patient Alias",
    "Race",
    "Patient Address",
    "County Code",
    "Phone Number - Home",
    "Phone Number - Business",
    "Primary Language",
    "Marital Status",
    "Religion",
    "Patient Account Number",
    "SSN Number - Patient",
    "Driver's License Number - Patient",
    "Mother's Identifier",
    "Ethnic Group",
    "Birth Place",
    "Multiple Birth Indicator",
    "Birth Order",
    "Citizenship",
    "Veterans Military Status",
    "Nationality",
    "Patient Death Date and Time",
    "Patient Death Indicator",
    "Identity Unknown Indicator",
    "Identity Reliability Code",
    "Last Update Date/Time",
    "Last Update Facility",
    "Species Code",
    "Breed Code",
    "Strain",
    "Production Class Code",
    "Tribal Citizenship",
];

const PD1: &[&str] = &[
    "Living Dependency",
    "Living Arrangement",
    "Patient Primary Facility",
    "Patient Primary Care Provider Name & ID No.",
    "Student Indicator",
    "Handicap",
    "Living Will Code",
    "Organ Donor Code",
    "Separate Bill",
    "Duplicate Patient",
    "Publicity Code",
    "Protection Indicator",
    "Protection Indicator Effective Date",
    "Place of Worship",
    "Advance Directive Code",
    "Immunization Registry Status",
    "Immunization Registry Status Effective Date",
    "Publicity Code Effective Date",
    "Military Branch",
    "Military Rank/Grade",
    "Military Status",
];

const NK1: &[&str] = &[
    "Set ID - NK1",
    "Name",
    "Relationship",
    "Address",
    "Phone Number",
    "Business Phone Number",
    "Contact Role",
    "Start Date",
    "End Date",
    "Next of Kin / Associated Parties Job Title",
    "Next of Kin / Associated Parties Job Code/Class",
    "Next of Kin / Associated Parties Employee Number",
    "Organization Name - NK1",
    "Marital Status",
    "Administrative Sex",
    "Date/Time of Birth",
    "Living Dependency",
    "Ambulatory Status",
    "Citizenship",
    "Primary Language",
    "Living Arrangement",
    "Publicity Code",
    "Protection Indicator",
    "Student Indicator",
    "Religion",
    "Mother's Maiden Name",
    "Nationality",
    "Ethnic Group",
    "Contact Reason",
    "Contact Person's Name",
    "Contact Person's Telephone Number",
    "Contact Person's Address",
    "Next of Kin/Associated Party's Identifiers",
    "Job Status",
    "Race",
    "Handicap",
    "Contact Person Social Security Number",
    "Next of Kin Birth Place",
    "VIP Indicator",
];

const PV1: &[&str] = &[
    "Set ID - PV1",
    "Patient Class",
    "Assigned Patient Location",
    "Admission Type",
    "Preadmit Number",
    "Prior Patient Location",
    "Attending Doctor",
    "Referring Doctor",
    "Consulting Doctor",
    "Hospital Service",
    "Temporary Location",
    "Preadmit Test Indicator",
    "Re-admission Indicator",
    "Admit Source",
    "Ambulatory Status",
    "VIP Indicator",
    "Admitting Doctor",
    "Patient Type",
    "Visit Number",
    "Financial Class",
    "Charge Price Indicator",
    "Courtesy Code",
    "Credit Rating",
    "Contract Code",
    "Contract Effective Date",
    "Contract Amount",
    "Contract Period",
    "Interest Code",
    "Transfer to Bad Debt Code",
    "Transfer to Bad Debt Date",
    "Bad Debt Agency Code",
    "Bad Debt Transfer Amount",
    "Bad Debt Recovery Amount",
    "Delete Account Indicator",
    "Delete Account Date",
    "Discharge Disposition",
    "Discharged to Location",
    "Diet Type",
    "Servicing Facility",
    "Bed Status",
    "Account Status",
    "Pending Location",
    "Prior Temporary Location",
    "Admit Date/Time",
    "Discharge Date/Time",
    "Current Patient Balance",
    "Total Charges",
    "Total Adjustments",
    "Total Payments",
    "Alternate Visit ID",
    "Visit Indicator",
    "Other Healthcare Provider",
];

const PV2: &[&str] = &[
    "Prior Pending Location",
    "Accommodation Code",
    "Admit Reason",
    "Transfer Reason",
    "Patient Valuables",
    "Patient Valuables Location",
    "Visit User Code",
    "Expected Admit Date/Time",
    "Expected Discharge Date/Time",
    "Estimated Length of Inpatient Stay",
    "Actual Length of Inpatient Stay",
    "Visit Description",
    "Referral Source Code",
    "Previous Service Date",
    "Employment Illness Related Indicator",
    "Purge Status Code",
    "Purge Status Date",
    "Special Program Code",
    "Retention Indicator",
    "Expected Number of Insurance Plans",
    "Visit Publicity Code",
    "Visit Protection Indicator",
    "Clinic Organization Name",
    "Patient Status Code",
    "Visit Priority Code",
    "Previous Treatment Date",
    "Expected Discharge Disposition",
    "Signature on File Date",
    "First Similar Illness Date",
    "Patient Charge Adjustment Code",
    "Recurring Service Code",
    "Billing Media Code",
    "Expected Surgery Date and Time",
    "Military Partnership Code",
    "Military Non-Availability Code",
    "Newborn Baby Indicator",
    "Baby Detained Indicator",
    "Mode of Arrival Code",
    "Recreational Drug Use Code",
    "Admission Level of Care Code",
    "Precaution Code",
    "Patient Condition Code",
    "Living Will Code",
    "Organ Donor Code",
    "Advance Directive Code",
    "Patient Status Effective Date",
    "Expected LOA Return Date/Time",
    "Expected Pre-admission Testing Date/Time",
    "Notify Clergy Code",
];

const SCH: &[&str] = &[
    "Placer Appointment ID",
    "Filler Appointment ID",
    "Occurrence Number",
    "Placer Group Number",
    "Schedule ID",
    "Event Reason",
    "Appointment Reason",
    "Appointment Type",
    "Appointment Duration",
    "Appointment Duration Units",
    "Appointment Timing Quantity",
    "Placer Contact Person",
    "Placer Contact Phone Number",
    "Placer Contact Address",
    "Placer Contact Location",
    "Filler Contact Person",
    "Filler Contact Phone Number",
    "Filler Contact Address",
    "Filler Contact Location",
    "Entered By Person",
    "Entered By Phone Number",
    "Entered By Location",
    "Parent Placer Appointment ID",
    "Parent Filler Appointment ID",
    "Filler Status Code",
    "Placer Order Number",
    "Filler Order Number",
];

const AIS: &[&str] = &[
    "Set ID - AIS",
    "Segment Action Code",
    "Universal Service Identifier",
    "Start Date/Time",
    "Start Date/Time Offset",
    "Start Date/Time Offset Units",
    "Duration",
    "Duration Units",
    "Allow Substitution Code",
    "Filler Status Code",
    "Placer Supplemental Service Information",
    "Filler Supplemental Service Information",
];

const AIG: &[&str] = &[
    "Set ID - AIG",
    "Segment Action Code",
    "Resource ID",
    "Resource Type",
    "Resource Group",
    "Resource Quantity",
    "Resource Quantity Units",
    "Start Date/Time",
    "Start Date/Time Offset",
    "Start Date/Time Offset Units",
    "Duration",
    "Duration Units",
    "Allow Substitution Code",
    "Filler Status Code",
];

const AIL: &[&str] = &[
    "Set ID - AIL",
    "Segment Action Code",
    "Location Resource ID",
    "Location Type-AIL",
    "Location Group",
    "Start Date/Time",
    "Start Date/Time Offset",
    "Start Date/Time Offset Units",
    "Duration",
    "Duration Units",
    "Allow Substitution Code",
    "Filler Status Code",
];

const AIP: &[&str] = &[
    "Set ID - AIP",
    "Segment Action Code",
    "Personnel Resource ID",
    "Resource Type",
    "Resource Group",
    "Start Date/Time",
    "Start Date/Time Offset",
    "Start Date/Time Offset Units",
    "Duration",
    "Duration Units",
    "Allow Substitution Code",
    "Filler Status Code",
];

const RGS: &[&str] = &["Set ID - RGS", "Segment Action Code", "Resource Group ID"];

const OBR: &[&str] = &[
    "Set ID - OBR",
    "Placer Order Number",
    "Filler Order Number",
    "Universal Service Identifier",
    "Priority - OBR",
    "Requested Date/Time",
    "Observation Date/Time",
    "Observation End Date/Time",
    "Collection Volume",
    "Collector Identifier",
    "Specimen Action Code",
    "Danger Code",
    "Relevant Clinical Information",
    "Specimen Received Date/Time",
    "Specimen Source",
    "Ordering Provider",
    "Order Callback Phone Number",
    "Placer Field 1",
    "Placer Field 2",
    "Filler Field 1",
    "Filler Field 2",
    "Results Rpt/Status Chng - Date/Time",
    "Charge to Practice",
    "Diagnostic Serv Sect ID",
    "Result Status",
    "Parent Result",
    "Quantity/Timing",
    "Result Copies To",
    "Parent",
    "Transportation Mode",
    "Reason for Study",
    "Principal Result Interpreter",
    "Assistant Result Interpreter",
    "Technician",
    "Transcriptionist",
    "Scheduled Date/Time",
    "Number of Sample Containers",
    "Transport Logistics of Collected Sample",
    "Collector's Comment",
    "Transport Arrangement Responsibility",
    "Transport Arranged",
    "Escort Required",
    "Planned Patient Transport Comment",
    "Procedure Code",
    "Procedure Code Modifier",
    "Placer Supplemental Service Information",
    "Filler Supplemental Service Information",
    "Medically Necessary Duplicate Procedure Reason",
    "Result Handling",
];

const OBX: &[&str] = &[
    "Set ID - OBX",
    "Value Type",
    "Observation Identifier",
    "Observation Sub-ID",
    "Observation Value",
    "Units",
    "References Range",
    "Abnormal Flags",
    "Probability",
    "Nature of Abnormal Test",
    "Observation Result Status",
    "Effective Date of Reference Range",
    "User Defined Access Checks",
    "Date/Time of the Observation",
    "Producer's ID",
    "Responsible Observer",
    "Observation Method",
    "Equipment Instance Identifier",
    "Date/Time of the Analysis",
];

const DG1: &[&str] = &[
    "Set ID - DG1",
    "Diagnosis Coding Method",
    "Diagnosis Code - DG1",
    "Diagnosis Description",
    "Diagnosis Date/Time",
    "Diagnosis Type",
    "Major Diagnostic Category",
    "Diagnostic Related Group",
    "DRG Approval Indicator",
    "DRG Grouper Review Code",
    "Outlier Type",
    "Outlier Days",
    "Outlier Cost",
    "Grouper Version And Type",
    "Diagnosis Priority",
    "Diagnosing Clinician",
    "Diagnosis Classification",
    "Confidential Indicator",
    "Attestation Date/Time",
    "Diagnosis Identifier",
    "Diagnosis Action Code",
];

const IN1: &[&str] = &[
    "Set ID - IN1",
    "Insurance Plan ID",
    "Insurance Company ID",
    "Insurance Company Name",
    "Insurance Company Address",
    "Insurance Co Contact Person",
    "Insurance Co Phone Number",
    "Group Number",
    "Group Name",
    "Insured's Group Emp ID",
    "Insured's Group Emp Name",
    "Plan Effective Date",
    "Plan Expiration Date",
    "Authorization Information",
    "Plan Type",
    "Name Of Insured",
    "Insured's Relationship To Patient",
    "Insured's Date Of Birth",
    "Insured's Address",
    "Assignment Of Benefits",
    "Coordination Of Benefits",
    "Coord Of Ben. Priority",
    "Notice Of Admission Flag",
    "Notice Of Admission Date",
    "Report Of Eligibility Flag",
    "Report Of Eligibility Date",
    "Release Information Code",
    "Pre-Admit Cert (PAC)",
    "Verification Date/Time",
    "Verification By",
    "Type Of Agreement Code",
    "Billing Status",
    "Lifetime Reserve Days",
    "Delay Before L.R. Day",
    "Company Plan Code",
    "Policy Number",
    "Policy Deductible",
    "Policy Limit - Amount",
    "Policy Limit - Days",
    "Room Rate - Semi-Private",
    "Room Rate - Private",
    "Insured's Employment Status",
    "Insured's Administrative Sex",
    "Insured's Employer's Address",
    "Verification Status",
    "Prior Insurance Plan ID",
    "Coverage Type",
    "Handicap",
    "Insured's ID Number",
    "Signature Code",
    "Signature Code Date",
    "Insured's Birth Place",
    "VIP Indicator",
];

const FT1: &[&str] = &[
    "Set ID - FT1",
    "Transaction ID",
    "Transaction Batch ID",
    "Transaction Date",
    "Transaction Posting Date",
    "Transaction Type",
    "Transaction Code",
    "Transaction Description",
    "Transaction Description - Alt",
    "Transaction Quantity",
    "Transaction Amount - Extended",
    "Transaction Amount - Unit",
    "Department Code",
    "Insurance Plan ID",
    "Insurance Amount",
    "Assigned Patient Location",
    "Fee Schedule",
    "Patient Type",
    "Diagnosis Code - FT1",
    "Performed By Code",
    "Ordered By Code",
    "Unit Cost",
    "Filler Order Number",
    "Entered By Code",
    "Procedure Code",
    "Procedure Code Modifier",
    "Advanced Beneficiary Notice Code",
    "Medically Necessary Duplicate Procedure Reason",
    "NDC Code",
    "Payment Reference ID",
    "Transaction Reference Key",
];

const GT1: &[&str] = &[
    "Set ID - GT1",
    "Guarantor Number",
    "Guarantor Name",
    "Guarantor Spouse Name",
    "Guarantor Address",
    "Guarantor Ph Num - Home",
    "Guarantor Ph Num - Business",
    "Guarantor Date/Time Of Birth",
    "Guarantor Administrative Sex",
    "Guarantor Type",
    "Guarantor Relationship",
    "Guarantor SSN",
    "Guarantor Date - Begin",
    "Guarantor Date - End",
    "Guarantor Priority",
    "Guarantor Employer Name",
    "Guarantor Employer Address",
    "Guarantor Employer Phone Number",
    "Guarantor Employee ID Number",
    "Guarantor Employment Status",
    "Guarantor Organization Name",
    "Guarantor Billing Hold Flag",
    "Guarantor Credit Rating Code",
    "Guarantor Death Date And Time",
    "Guarantor Death Flag",
    "Guarantor Charge Adjustment Code",
    "Guarantor Household Annual Income",
    "Guarantor Household Size",
    "Guarantor Employer ID Number",
    "Guarantor Marital Status Code",
    "Guarantor Hire Effective Date",
    "Employment Stop Date",
    "Living Dependency",
    "Ambulatory Status",
    "Citizenship",
    "Primary Language",
    "Living Arrangement",
    "Publicity Code",
    "Protection Indicator",
    "Student Indicator",
    "Religion",
    "Mother's Maiden Name",
    "Nationality",
    "Ethnic Group",
    "Contact Person's Name",
    "Contact Person's Telephone Number",
    "Contact Reason",
    "Contact Relationship",
    "Job Title",
    "Job Code/Class",
    "Guarantor Employer's Organization Name",
    "Handicap",
    "Job Status",
    "Guarantor Financial Class",
    "Guarantor Race",
    "Guarantor Birth Place",
    "VIP Indicator",
];

#[cfg(test)]
mod tests {
    use super::*;

    fn name(p: &str) -> Option<&'static str> {
        field_name(&p.parse().unwrap())
    }

    #[test]
    fn field_level_names() {
        for (p, want) in [
            ("PID-3", "Patient Identifier List"),
            ("PID-5", "Patient Name"),
            ("PID-7", "Date/Time of Birth"),
            ("PID-13", "Phone Number - Home"),
            ("PID-39", "Tribal Citizenship"),
            ("MSH-9", "Message Type"),
            ("MSH-10", "Message Control ID"),
            ("EVN-2", "Recorded Date/Time"),
            ("SCH-1", "Placer Appointment ID"),
            ("SCH-11", "Appointment Timing Quantity"),
            ("SCH-25", "Filler Status Code"),
            ("AIS-4", "Start Date/Time"),
            ("AIL-4", "Location Type-AIL"),
            ("AIP-3", "Personnel Resource ID"),
            ("RGS-3", "Resource Group ID"),
            ("PV1-19", "Visit Number"),
            ("PV1-52", "Other Healthcare Provider"),
            ("PV2-49", "Notify Clergy Code"),
            ("NK1-39", "VIP Indicator"),
            ("PD1-21", "Military Status"),
            ("OBR-49", "Result Handling"),
            ("OBX[2]-5", "Observation Value"),
            ("DG1-21", "Diagnosis Action Code"),
            ("IN1-53", "VIP Indicator"),
            ("FT1-31", "Transaction Reference Key"),
            ("GT1-57", "VIP Indicator"),
            ("PID-3[2]", "Patient Identifier List"),
        ] {
            assert_eq!(name(p), Some(want), "{p}");
        }
        assert_eq!(name("PID-40"), None);
        assert_eq!(name("ZPI-1"), None);
    }

    #[test]
    fn component_and_subcomponent_names() {
        for (p, want) in [
            ("PID-5.1", "Family Name"),
            ("PID-5.2", "Given Name"),
            ("PID-5.1.1", "Surname"),
            ("PID-11.1", "Street Address"),
            ("PID-11.1.1", "Street or Mailing Address"),
            ("PID-11.3", "City"),
            ("PID-11.4", "State or Province"),
            ("PID-11.5", "Zip or Postal Code"),
            ("PID-13.1", "Telephone Number"),
            ("PID-13.4", "Email Address"),
            ("PID-13[2].12", "Unformatted Telephone number"),
            ("PID-3.1", "ID Number"),
            ("PID-3.4", "Assigning Authority"),
            ("PID-3.4.1", "Namespace ID"),
            ("PID-3.5", "Identifier Type Code"),
            ("MSH-9.2", "Trigger Event"),
            ("SCH-11.4", "Start Date/Time"),
            ("SCH-1.1", "Entity Identifier"),
            ("AIP-3.2", "Family Name"),
            ("PV1-3.1", "Point of Care"),
            ("PID-7.1", "Time"),
        ] {
            assert_eq!(name(p), Some(want), "{p}");
        }
        let d = describe(&"PID-5.2".parse().unwrap()).unwrap();
        assert_eq!(
            (d.field, d.data_type, d.component),
            ("Patient Name", Some("XPN"), Some("Given Name"))
        );
        assert_eq!(name("PID-8.1"), None);
        assert_eq!(name("PID-5.15"), None);
        assert_eq!(name("PID-5.2.1"), None);
    }

    #[test]
    fn tables_have_the_v2_5_lengths() {
        for (seg, n) in [
            ("MSH", 21),
            ("EVN", 7),
            ("PID", 39),
            ("PD1", 21),
            ("NK1", 39),
            ("PV1", 52),
            ("PV2", 49),
            ("SCH", 27),
            ("AIS", 12),
            ("AIG", 14),
            ("AIL", 12),
            ("AIP", 12),
            ("RGS", 3),
            ("OBR", 49),
            ("OBX", 19),
            ("DG1", 21),
            ("IN1", 53),
            ("FT1", 31),
            ("GT1", 57),
        ] {
            assert_eq!(segment_fields(seg).map(<[_]>::len), Some(n), "{seg}");
        }
        for (dt, n) in [
            ("XPN", 14),
            ("XAD", 14),
            ("XTN", 12),
            ("CX", 10),
            ("XCN", 23),
            ("TQ", 12),
        ] {
            assert_eq!(components(dt).map(<[_]>::len), Some(n), "{dt}");
        }
    }
}
