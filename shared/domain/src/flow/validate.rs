//! Validation of [`FlowInput`] and [`ChannelInput`]: every problem is collected, each on the
//! input path that holds it (`mappings[1].transforms[0].to_format`), and no message quotes a
//! value (a template may be a real message; names and maps are the clinic's data).
//!
//! One module per part: [`fields`] (single values), [`template`] (the template and the HL7
//! paths checked against it), [`keys`] (search and match keys), [`transforms`], [`mappings`],
//! [`flow`] (the flow as a whole) and [`channel`].

/// The largest template accepted.
pub(crate) const MAX_TEMPLATE_BYTES: usize = 64 * 1024;
/// The most mappings a flow may have.
pub(crate) const MAX_MAPPINGS: usize = 200;
/// The most transforms a mapping may have.
pub(crate) const MAX_TRANSFORMS: usize = 10;

use chrono::{DateTime, Utc};

/// The id and times a validated flow or channel gets: a new one is created and updated now, a
/// replacement keeps its id and creation time.
struct Identity<Id> {
    id: Id,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl<Id> Identity<Id> {
    /// A new record `id`, created `now`.
    fn new(id: Id, now: DateTime<Utc>) -> Self {
        Self::replacing(id, now, now)
    }

    /// The record `id` created at `created_at`, replaced `now`.
    fn replacing(id: Id, created_at: DateTime<Utc>, now: DateTime<Utc>) -> Self {
        Self {
            id,
            created_at,
            updated_at: now,
        }
    }
}

mod channel;
mod fields;
mod flow;
mod keys;
mod mappings;
mod template;
mod transforms;

#[cfg(test)]
mod tests;
