//! Support for Clinic Connector's benchmarks: a deterministic generator of invented clinic data
//! (patients with a spread of consent situations, transitioned appointments), and the arithmetic
//! that predicts how many store requests the collector needs for it; and the [`harness`] the
//! benchmarks of the `connector serve` binary share.
//!
//! Everything here is fictional: the patients are the testkit's fixture patient (reserved phone
//! numbers, `.invalid` e-mail) under generated ids.

pub mod harness;

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use connector_domain::appointment::{Appointment, Provider};
use connector_domain::consent::{Consent, ConsentSource};
use connector_domain::patient::{Email, Patient};
use connector_domain::phi::Phi;
use connector_domain::settings::HieSettings;
use connector_domain::{AppointmentId, ConsentId, PatientId};
use connector_testkit::fixtures;

/// splitmix64: small, fast, and the same sequence on every machine.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// One of `items`.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[usize::try_from(self.below(items.len() as u64)).unwrap_or(0)]
    }
}

/// A patient's consent situation, and so what the collector decides for their appointments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ConsentKind {
    /// Latest record in force: sent.
    Active,
    /// Latest record past its Expires On: skipped (`expired`).
    Expired,
    /// Latest record revoked: skipped (`revoked`).
    Revoked,
    /// Latest record not in force yet: skipped (`future_dated`).
    FutureDated,
    /// No record at all: skipped (`no_consent`).
    NoConsent,
}

impl ConsentKind {
    /// The collector's skip reason for this situation (`None` for a send).
    pub fn skip_reason(self) -> Option<&'static str> {
        match self {
            Self::Active => None,
            Self::Expired => Some("expired"),
            Self::Revoked => Some("revoked"),
            Self::FutureDated => Some("future_dated"),
            Self::NoConsent => Some("no_consent"),
        }
    }

    /// Per mille of patients in each situation: 85 % active, 5 % expired, 4 % revoked,
    /// 1 % future-dated, 5 % without any record.
    const MIX: [(Self, u64); 5] = [
        (Self::Active, 850),
        (Self::Expired, 50),
        (Self::Revoked, 40),
        (Self::FutureDated, 10),
        (Self::NoConsent, 50),
    ];

    fn draw(rng: &mut Rng) -> Self {
        let mut roll = rng.below(1000);
        for (kind, share) in Self::MIX {
            if roll < share {
                return kind;
            }
            roll -= share;
        }
        Self::Active
    }
}

/// One invented patient: demographics, their consent record (if any) and its situation.
#[derive(Debug, Clone)]
pub struct PatientSeed {
    /// Demographics (the fixture patient under this id).
    pub patient: Patient,
    /// The patient's first and only record; revoked after insertion for [`ConsentKind::Revoked`].
    pub consent: Option<Consent>,
    /// The situation.
    pub kind: ConsentKind,
}

/// One appointment and the instant it is transitioned at (after the watermark).
#[derive(Debug, Clone)]
pub struct AppointmentSeed {
    /// As the clinic reports it (never transitioned: `record_transition` does that).
    pub appointment: Appointment,
    /// When it is transitioned.
    pub transitioned_at: DateTime<Utc>,
}

/// A clinic's worth of invented data around one watermark.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// Patients.
    pub patients: Vec<PatientSeed>,
    /// Appointments, each of one of `patients`.
    pub appointments: Vec<AppointmentSeed>,
    /// Enabled settings with addresses, whose Next Batch Start Time is [`Dataset::watermark`].
    pub settings: HieSettings,
    /// The watermark the collector starts from.
    pub watermark: DateTime<Utc>,
    /// "Now" for the jobs: past the last transition plus the collector's lag.
    pub now: DateTime<Utc>,
}

const PROVIDERS: [(&str, &str); 6] = [
    ("NPI-1000000001", "Dr. Rowan Ashby"),
    ("NPI-1000000002", "Dr. Imogen Falk"),
    ("NPI-1000000003", "Dr. Tobias Wren"),
    ("NPI-1000000004", "Dr. Mireille Oduya"),
    ("NPI-1000000005", "Casey Marlow, LCSW"),
    ("NPI-1000000006", "Jordan Pike, PMHNP"),
];

const LOCATIONS: [&str; 4] = [
    "CLINIC-1",
    "CLINIC-2 Room 14",
    "Telehealth",
    "Northside Outpatient Center, Suite 200",
];

const REASONS: [&str; 6] = [
    "Follow-up",
    "Medication management review",
    "Individual psychotherapy, 53 minutes",
    "Intake assessment and treatment planning session with family present",
    "Imaginary sprain of the left wing, second visit; review of home exercises and pain diary",
    "Group therapy",
];

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default()
}

impl Dataset {
    /// `appointments` transitioned appointments for `patients` patients (every patient gets at
    /// least one while there are enough appointments), transitions at whole seconds spread
    /// uniformly over the day after the watermark 2026-11-20T00:00:00Z (so some share an
    /// instant); "now" is 2026-11-21T00:10:00Z.
    pub fn generate(appointments: usize, patients: usize, seed: u64) -> Self {
        let patients = patients.max(1);
        let mut rng = Rng::new(seed);
        let watermark = Utc
            .with_ymd_and_hms(2026, 11, 20, 0, 0, 0)
            .single()
            .unwrap_or_default();
        let now = watermark + Duration::days(1) + Duration::minutes(10);
        let created = watermark - Duration::days(400);

        let patient_seeds: Vec<PatientSeed> = (0..patients)
            .map(|i| {
                let id = format!("P{:07}", i + 1);
                let mut patient = fixtures::patient(&id);
                patient.created_at = created;
                patient.updated_at = created;
                let kind = ConsentKind::draw(&mut rng);
                let (given_on, expires_on) = match kind {
                    ConsentKind::Expired => (day(2025, 1, 15), day(2026, 1, 15)),
                    ConsentKind::FutureDated => (day(2026, 12, 15), day(2027, 12, 15)),
                    _ => (day(2026, 3, 2), day(2027, 3, 2)),
                };
                let consent = (kind != ConsentKind::NoConsent).then(|| Consent {
                    consent_id: ConsentId::parse(format!("C{:07}", i + 1))
                        .unwrap_or_else(|_| ConsentId::generate()),
                    given_on,
                    expires_on,
                    source: ConsentSource::Staff,
                    created_at: created,
                    ..fixtures::consent(&id, 1)
                });
                PatientSeed {
                    patient,
                    consent,
                    kind,
                }
            })
            .collect();

        let appointment_seeds = (0..appointments)
            .map(|i| {
                let patient = if i < patients {
                    i
                } else {
                    usize::try_from(rng.below(patients as u64)).unwrap_or(0)
                };
                let at = watermark + Duration::seconds(1 + rng.below(86_399) as i64);
                let (provider_id, provider_name) = *rng.pick(&PROVIDERS);
                let scheduled_start = at - Duration::minutes(30 + 15 * rng.below(24) as i64);
                let appointment = Appointment {
                    appointment_id: AppointmentId::parse(format!("A{:09}", i + 1))
                        .unwrap_or_else(|_| fixtures::appointment_id("A")),
                    patient_id: patient_seeds[patient].patient.patient_id.clone(),
                    scheduled_start,
                    provider: Provider {
                        id: provider_id.into(),
                        name: provider_name.into(),
                    },
                    location: (*rng.pick(&LOCATIONS)).into(),
                    reason: Phi::new((*rng.pick(&REASONS)).into()),
                    status: "complete".into(),
                    transition_seq: 0,
                    transitioned_at: None,
                    updated_at: scheduled_start,
                };
                AppointmentSeed {
                    appointment,
                    transitioned_at: at,
                }
            })
            .collect();

        let email = |a: &str| Email::parse(a).ok();
        let settings = HieSettings {
            enabled: true,
            default_to_address: email("intake@direct.examplehie.org"),
            default_from_address: email("records@direct.exampleclinic.org"),
            default_subject: "Encounter for the HIE".into(),
            default_body: "One encounter attached.".into(),
            next_batch_start_time: Some(watermark),
            opt_in_by_default: true,
            ..HieSettings::default()
        };
        Self {
            patients: patient_seeds,
            appointments: appointment_seeds,
            settings,
            watermark,
            now,
        }
    }

    /// The consent situation of `patient`.
    fn kind_of(&self, patient: &PatientId) -> ConsentKind {
        // Ids are `P<index + 1>`.
        patient.as_str()[1..]
            .parse::<usize>()
            .ok()
            .and_then(|n| self.patients.get(n.checked_sub(1)?))
            .map_or(ConsentKind::NoConsent, |p| p.kind)
    }

    /// How many appointments the collector should enqueue, and skip per reason.
    pub fn expected(&self) -> (usize, std::collections::BTreeMap<&'static str, usize>) {
        let mut sends = 0;
        let mut skips = std::collections::BTreeMap::new();
        for a in &self.appointments {
            match self.kind_of(&a.appointment.patient_id).skip_reason() {
                None => sends += 1,
                Some(reason) => *skips.entry(reason).or_default() += 1,
            }
        }
        (sends, skips)
    }

    /// The collector's pages for `page_size`: the appointments in scan order
    /// (`transitioned_at`, then id), cut every `page_size`; for each, its size and how many
    /// distinct patients it names.
    pub fn pages(&self, page_size: usize) -> Vec<PageShape> {
        let mut order: Vec<(DateTime<Utc>, &AppointmentId, &PatientId)> = self
            .appointments
            .iter()
            .map(|a| {
                (
                    a.transitioned_at,
                    &a.appointment.appointment_id,
                    &a.appointment.patient_id,
                )
            })
            .collect();
        order.sort();
        let mut seen = BTreeSet::new();
        order
            .chunks(page_size.max(1))
            .map(|chunk| {
                let patients: BTreeSet<&PatientId> = chunk.iter().map(|(_, _, p)| *p).collect();
                let new_patients = patients.iter().filter(|p| seen.insert(**p)).count();
                PageShape {
                    appointments: chunk.len(),
                    patients: patients.len(),
                    new_patients,
                }
            })
            .collect()
    }
}

/// One collector page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageShape {
    /// Appointments on it.
    pub appointments: usize,
    /// Distinct patients among them (one LATEST key each in the BatchGetItem calls).
    pub patients: usize,
    /// Those of them that no earlier page of the run named.
    pub new_patients: usize,
}

/// The DynamoDB requests one collector run over `pages` needs on the current code, assuming no
/// Query page is cut by the 1 MB limit and no BatchGetItem key is left unprocessed:
/// GetItem (settings) + per page [Query + ceil(patients / 100) BatchGetItem + UpdateItem
/// (watermark)] + a final empty Query when the last page is full + PutItem (run audit).
pub fn predicted_collector_dynamodb(pages: &[PageShape], page_size: usize) -> PredictedRequests {
    let queries =
        pages.len() + usize::from(pages.last().is_none_or(|p| p.appointments >= page_size));
    let batch_gets = pages.iter().map(|p| p.patients.div_ceil(100)).sum();
    PredictedRequests {
        get_item: 1,
        query: queries,
        batch_get_item: batch_gets,
        update_item: pages.len(),
        put_item: 1,
    }
}

/// Predicted DynamoDB requests by operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PredictedRequests {
    /// Settings read.
    pub get_item: usize,
    /// Index queries.
    pub query: usize,
    /// LATEST consent reads.
    pub batch_get_item: usize,
    /// Watermark writes.
    pub update_item: usize,
    /// Run audit entry.
    pub put_item: usize,
}

impl PredictedRequests {
    /// All of them.
    pub fn total(&self) -> usize {
        self.get_item + self.query + self.batch_get_item + self.update_item + self.put_item
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_is_deterministic_and_mixed() {
        let a = Dataset::generate(2_000, 1_000, 7);
        let b = Dataset::generate(2_000, 1_000, 7);
        assert_eq!(a.appointments.len(), 2_000);
        assert_eq!(a.patients.len(), 1_000);
        let times = |d: &Dataset| {
            d.appointments
                .iter()
                .map(|a| a.transitioned_at)
                .collect::<Vec<_>>()
        };
        assert_eq!(times(&a), times(&b));
        let (sends, skips) = a.expected();
        assert!(sends > 1_500 && sends < 1_900, "{sends}");
        assert_eq!(skips.len(), 4, "{skips:?}");
        assert!(
            a.appointments
                .iter()
                .all(|x| x.transitioned_at > a.watermark
                    && x.transitioned_at + Duration::minutes(2) <= a.now)
        );
    }

    #[test]
    fn pages_cover_every_appointment() {
        let d = Dataset::generate(2_500, 1_250, 1);
        let pages = d.pages(1_000);
        assert_eq!(
            pages.iter().map(|p| p.appointments).collect::<Vec<_>>(),
            [1_000, 1_000, 500]
        );
        let predicted = predicted_collector_dynamodb(&pages, 1_000);
        assert_eq!(predicted.query, 3, "a partial last page ends the scan");
        assert_eq!(predicted.update_item, 3);
    }
}
