//! Runs one EHR -> CRM flow for one message: map it, find the lead by the primary search key
//! and then the secondary, apply the lead sync behaviour, then (activity flows) find the
//! activity by its match key and apply the activity sync behaviour.
//!
//! Every search asks for two records: a key that matches more than one (family members share
//! phone numbers and e-mail addresses) is [`FlowFailure::AmbiguousMatch`], and nothing is
//! created or updated: the connector does not guess which patient the message is about. A
//! phone number in E.164 (`+15550100123`) is also searched in the form LeadSquared stores
//! (`+1-5550100123`).
//!
//! A flow whose sync behaviours are both `do_nothing` (or a lead flow that does nothing) makes
//! no CRM call at all, searches included.
//!
//! Progress is saved to the inbound ledger right after each create (the one CRM write that is
//! not idempotent), so a resend after a failure later in the flow continues with the lead it
//! already created instead of creating another. Updates are idempotent and simply run again.
//!
//! Two messages for one new patient (an A04 and an immediate A08 on two connections) would
//! both search, find nothing and both create a lead: a flow that may create a lead holds a
//! [`KeyLock`] on each of its search key values (in the inbound ledger, so across processes and
//! Lambda instances) from the search until the create is saved. A message that cannot get the
//! lock within [`KEY_LOCK_WAIT`] fails with a transient error (AE), and the EHR's resend
//! finds the lead.
//!
//! After each create (and activity update) that a CRM webhook may echo, the record is read
//! back from the CRM and remembered for echo suppression ([`crate::crm_to_ehr::echo`]): the
//! state right after the write and the CRM user it names. Lead updates are not read back: the
//! connector updates leads without LeadSquared's `postUpdatedLead=true`, so they fire no
//! webhook.

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::{DateTime, Utc};
use connector_domain::StoreError;
use connector_domain::clock::Clock;
use connector_domain::crm::ActivityQuery;
use connector_domain::crm::CrmField;
use connector_domain::crm::{Activity, Crm, CrmError, LeadId};
use connector_domain::flow::{ActivityPlan, CrmPlan, Entity, WebhookEvent};
use connector_domain::flow::{Flow, MappingErrors, SyncBehaviour, map_ehr_to_crm, phone};
use connector_domain::inbound::{
    CrmAction, InboundKey, KEY_LOCK_LEASE, KeyLock, StepProgress, flow_step,
};
use connector_domain::ports::{CrmWriteLog, InboundLedger, LeaseTerms, StepSave};
use connector_hl7::{Message, Path};

/// How long a flow waits for another message's [`KeyLock`] on the same patient before it
/// gives up with a transient failure (the EHR resends). Well under EHRs' ACK timeouts.
pub const KEY_LOCK_WAIT: Duration = Duration::from_secs(10);

/// How many records a search asks for: two tell a unique match from an ambiguous one.
const SEARCH_LIMIT: usize = 2;

/// Why a flow did not finish.
#[derive(Debug, thiserror::Error)]
pub enum FlowFailure {
    /// The message lacks what the flow's mappings require (a resend of the same message will
    /// fail the same way).
    #[error("mapping failed")]
    Mapping(#[source] MappingErrors),
    /// The CRM failed or refused.
    #[error("CRM call failed")]
    Crm(#[source] CrmError),
    /// Progress could not be saved (the store failed, or another handler took the message).
    #[error("inbound ledger failed")]
    Ledger(#[source] StoreError),
    /// Another message for the same patient held the search key lock for longer than
    /// [`KEY_LOCK_WAIT`] (a resend will find its lead).
    #[error("another message for this patient is being processed")]
    KeyBusy,
    /// More than one CRM record matches a search key (or the activity match key): nothing was
    /// created or updated (a resend fails the same way until the CRM is cleaned up).
    #[error("more than one CRM record matches the search key {search_key}")]
    AmbiguousMatch {
        /// The CRM field searched (a schema name such as `Phone`, never a value).
        search_key: String,
        /// The HL7 position the key's value came from.
        hl7_path: Path,
    },
}

impl FlowFailure {
    /// A short, PHI-free name for audit entries.
    pub fn kind(&self) -> &'static str {
        match self {
            FlowFailure::Mapping(_) => "mapping",
            FlowFailure::Crm(CrmError::RateLimited) => "crm_rate_limited",
            FlowFailure::Crm(CrmError::Rejected { .. }) => "crm_rejected",
            FlowFailure::Crm(CrmError::Unavailable(_)) => "crm_unavailable",
            FlowFailure::Crm(CrmError::InvalidResponse) => "crm_invalid_response",
            FlowFailure::Ledger(_) => "ledger",
            FlowFailure::KeyBusy => "search_key_busy",
            FlowFailure::AmbiguousMatch { .. } => "crm_ambiguous_match",
        }
    }
}

/// Where a flow's progress is saved.
pub struct Progress<'a> {
    /// The inbound ledger.
    pub ledger: &'a dyn InboundLedger,
    /// The message.
    pub key: &'a InboundKey,
    /// The claim's attempt number.
    pub attempt: u32,
    /// Now.
    pub now: DateTime<Utc>,
    /// Where CRM writes are remembered for echo suppression.
    pub crm_writes: &'a dyn CrmWriteLog,
    /// The clock the key locks' leases are read on.
    pub clock: &'a dyn Clock,
    /// The CRM webhook events some enabled CRM -> EHR flow of the channel takes: only writes
    /// that fire one of these are read back and remembered.
    pub echo_events: BTreeSet<WebhookEvent>,
}

impl Progress<'_> {
    /// Remembers a CRM write so the webhook it fires is not sent back to the EHR: `state` is
    /// the record as read back right after the write. A failure costs one echoed message at
    /// worst, so it is logged, not returned.
    async fn remember(&self, entity: Entity, id: &str, state: &[CrmField]) {
        crate::crm_to_ehr::echo::record_write(self.crm_writes, entity, id, state, self.now).await;
    }

    /// Whether a write that fires `event` should be read back and remembered.
    fn watches(&self, event: WebhookEvent) -> bool {
        self.echo_events.contains(&event)
    }

    /// The holder name of this attempt's key locks.
    fn holder(&self) -> String {
        format!(
            "{}/{}#{}",
            self.key.channel_id, self.key.control_id, self.attempt
        )
    }

    /// Takes the locks on the plan's search key values, in lock-id order (so two messages
    /// never wait on each other crosswise), waiting up to [`KEY_LOCK_WAIT`] for each.
    async fn lock_keys(&self, plan: &CrmPlan) -> Result<Vec<KeyLock>, FlowFailure> {
        let mut locks: Vec<KeyLock> = plan
            .search_keys()
            .map(|k| KeyLock::new(&self.key.channel_id, &k.name, &k.value))
            .collect();
        locks.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        locks.dedup();
        let holder = self.holder();
        let mut held = Vec::new();
        for lock in locks {
            match self.wait_for(&lock, &holder).await {
                Ok(()) => held.push(lock),
                Err(e) => {
                    self.unlock(&held).await;
                    return Err(e);
                }
            }
        }
        Ok(held)
    }

    async fn wait_for(&self, lock: &KeyLock, holder: &str) -> Result<(), FlowFailure> {
        let started = tokio::time::Instant::now();
        let mut pause = Duration::from_millis(20);
        loop {
            let now = self.clock.now();
            if self
                .ledger
                .lock_key(lock, LeaseTerms::new(now, KEY_LOCK_LEASE).held_by(holder))
                .await
                .map_err(FlowFailure::Ledger)?
            {
                return Ok(());
            }
            if started.elapsed() + pause > KEY_LOCK_WAIT {
                return Err(FlowFailure::KeyBusy);
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(500));
        }
    }

    /// Releases locks taken by [`Progress::lock_keys`]. A failed release only delays the
    /// patient's next message until the lease lapses, so it is logged, not returned.
    async fn unlock(&self, locks: &[KeyLock]) {
        let holder = self.holder();
        for lock in locks {
            if let Err(e) = self.ledger.unlock_key(lock, &holder).await {
                tracing::warn!(channel_id = %self.key.channel_id, error = %crate::telemetry::error_chain(&e), "cannot release a search key lock; it lapses with its lease");
            }
        }
    }

    async fn save(&self, flow: &Flow, progress: &StepProgress) -> Result<(), FlowFailure> {
        self.ledger
            .save_step(StepSave {
                key: self.key,
                attempt: self.attempt,
                step: &flow_step(&flow.flow_id),
                progress,
                now: self.now,
            })
            .await
            .map_err(FlowFailure::Ledger)
    }
}

/// Runs `flow` for `message`, continuing from `progress` (what an earlier attempt did).
/// Returns the final progress (`done`), saved; on failure, the progress so far with the cause.
pub async fn run_flow(
    crm: &dyn Crm,
    saver: &Progress<'_>,
    flow: &Flow,
    message: &Message<'_>,
    mut progress: StepProgress,
) -> Result<StepProgress, (StepProgress, FlowFailure)> {
    let plan = match map_ehr_to_crm(flow, message) {
        Ok(plan) => plan,
        Err(errors) => return Err((progress, FlowFailure::Mapping(errors))),
    };
    progress.truncated = plan.truncated.iter().map(ToString::to_string).collect();
    skip_if_nothing_to_write(&plan, &mut progress);
    let run = FlowRun { crm, saver, flow };
    match run_steps(run, &plan, &mut progress).await {
        Ok(()) => Ok(progress),
        Err(e) => Err((progress, e)),
    }
}

/// A flow that would write nothing does not search either: searches count against the CRM's
/// rate limit (LeadSquared: a few calls per 5 seconds) like writes do.
fn skip_if_nothing_to_write(plan: &CrmPlan, progress: &mut StepProgress) {
    let activity_writes = plan
        .activity
        .as_ref()
        .is_some_and(|a| a.sync != SyncBehaviour::DoNothing);
    if progress.lead_action.is_none()
        && plan.lead_sync == SyncBehaviour::DoNothing
        && !activity_writes
    {
        progress.lead_action = Some(CrmAction::Skipped);
    }
}

/// The lead step and the activity step (each unless an earlier attempt did it), then the
/// progress saved as done.
async fn run_steps(run: FlowRun<'_>, plan: &CrmPlan, progress: &mut StepProgress) -> Step {
    let FlowRun { saver, flow, .. } = run;
    if progress.lead_action.is_none() {
        locked_lead_step(run, plan, progress).await?;
    }
    if let Some(activity) = &plan.activity
        && progress.activity_action.is_none()
    {
        activity_step(run, activity, progress).await?;
    }
    progress.done = true;
    saver.save(flow, progress).await
}

/// The lead step under the patient's search key locks. Only a create can make a second lead
/// for one patient: only flows that may create hold the locks, from the search until the
/// create is saved.
async fn locked_lead_step(run: FlowRun<'_>, plan: &CrmPlan, progress: &mut StepProgress) -> Step {
    let saver = run.saver;
    let locks = if plan.lead_sync.creates() {
        saver.lock_keys(plan).await?
    } else {
        Vec::new()
    };
    let step = lead_step(run, plan, progress).await;
    saver.unlock(&locks).await;
    step
}

/// What one step of a flow run answers: done (its progress recorded), or why not.
type Step = Result<(), FlowFailure>;

/// What every step of one flow's run works with: the CRM, the progress saver, the flow.
#[derive(Clone, Copy)]
struct FlowRun<'a> {
    crm: &'a dyn Crm,
    saver: &'a Progress<'a>,
    flow: &'a Flow,
}

/// Finds the flow's activity on the lead (by its match key) and applies the activity sync
/// behaviour, recording what it did in `progress`.
async fn activity_step(
    run: FlowRun<'_>,
    activity: &ActivityPlan,
    progress: &mut StepProgress,
) -> Step {
    let FlowRun { crm, saver, flow } = run;
    if activity.sync == SyncBehaviour::DoNothing {
        progress.activity_action = Some(CrmAction::Skipped);
        return Ok(());
    }
    let Some(lead) = progress.lead_id.clone() else {
        progress.activity_action = Some(CrmAction::SkippedNoLead);
        return Ok(());
    };
    match find_activity(crm, flow, activity, &lead).await? {
        Some(found) if activity.sync.updates() => {
            crm.update_activity(&found.id, &activity.to_input())
                .await
                .map_err(FlowFailure::Crm)?;
            if saver.watches(WebhookEvent::ActivityUpdate) {
                read_back_activity(crm, saver, &lead, activity, &found.id).await;
            }
            progress.activity_id = Some(found.id);
            progress.activity_action = Some(CrmAction::Updated);
        }
        Some(found) => {
            progress.activity_id = Some(found.id);
            progress.activity_action = Some(CrmAction::Unchanged);
        }
        None if activity.sync.creates() => {
            let id = crm
                .create_activity(&lead, &activity.to_input())
                .await
                .map_err(FlowFailure::Crm)?;
            if saver.watches(WebhookEvent::ActivityCreate) {
                read_back_activity(crm, saver, &lead, activity, &id).await;
            }
            progress.activity_id = Some(id);
            progress.activity_action = Some(CrmAction::Created);
        }
        None => progress.activity_action = Some(CrmAction::NotFound),
    }
    Ok(())
}

/// The lead's activity that the match key finds (none without a match key); more than one is
/// ambiguous.
async fn find_activity(
    crm: &dyn Crm,
    flow: &Flow,
    activity: &ActivityPlan,
    lead: &LeadId,
) -> Result<Option<Activity>, FlowFailure> {
    let Some(key) = &activity.match_key else {
        return Ok(None);
    };
    let found = crm
        .find_activities(
            ActivityQuery {
                lead,
                event: activity.event,
                field: &key.name,
                value: &key.value,
            },
            SEARCH_LIMIT,
        )
        .await
        .map_err(FlowFailure::Crm)?;
    if found.len() > 1 {
        let hl7_path = flow.activity_match.as_ref().map(|k| k.hl7_path);
        return Err(ambiguous(&key.name, hl7_path));
    }
    Ok(found.into_iter().next())
}

/// Searches for the flow's lead (primary key, then secondary) and applies the lead sync
/// behaviour, recording what it did in `progress` (saved at once after a create).
async fn lead_step(run: FlowRun<'_>, plan: &CrmPlan, progress: &mut StepProgress) -> Step {
    let FlowRun { crm, saver, flow } = run;
    let mut found: Option<LeadId> = None;
    for key in plan.search_keys() {
        let mut leads = search_leads(crm, flow, key).await?;
        if leads.len() > 1 {
            let hl7_path = flow
                .search_keys()
                .find(|k| k.crm_field.as_str() == key.name)
                .map(|k| k.hl7_path);
            return Err(ambiguous(&key.name, hl7_path));
        }
        if let Some(id) = leads.pop() {
            found = Some(id);
            break;
        }
    }
    match found {
        Some(id) if plan.lead_sync.updates() => {
            crm.update_lead(&id, &plan.lead_fields)
                .await
                .map_err(FlowFailure::Crm)?;
            progress.lead_id = Some(id);
            progress.lead_action = Some(CrmAction::Updated);
        }
        Some(id) => {
            progress.lead_id = Some(id);
            progress.lead_action = Some(CrmAction::Unchanged);
        }
        None if plan.lead_sync.creates() => {
            let id = crm
                .create_lead(&plan.lead_fields_for_create())
                .await
                .map_err(FlowFailure::Crm)?;
            progress.lead_id = Some(id.clone());
            progress.lead_action = Some(CrmAction::Created);
            // Saved before anything else can fail: a resend continues with this lead.
            saver.save(flow, progress).await?;
            // A CRM may follow a create's webhook with an update's: either may echo it.
            if saver.watches(WebhookEvent::LeadCreate) || saver.watches(WebhookEvent::LeadUpdate) {
                read_back_lead(crm, saver, &id).await;
            }
        }
        None => progress.lead_action = Some(CrmAction::NotFound),
    }
    Ok(())
}

/// The ids of up to [`SEARCH_LIMIT`] leads whose `key` field holds the key's value; an E.164
/// phone number is also searched in LeadSquared's stored form (`+1-5550100123`), and a lead
/// found both ways counts once.
async fn search_leads(
    crm: &dyn Crm,
    flow: &Flow,
    key: &CrmField,
) -> Result<Vec<LeadId>, FlowFailure> {
    let mut values = vec![key.value.clone()];
    if phone::comparable(&key.value).as_deref() == Some(key.value.as_str())
        && let Some(stored) = phone::leadsquared_form(&key.value, flow.default_country_code)
    {
        values.push(stored);
    }
    let mut ids: Vec<LeadId> = Vec::new();
    for value in &values {
        let leads = crm
            .find_leads(&key.name, value, SEARCH_LIMIT)
            .await
            .map_err(FlowFailure::Crm)?;
        for lead in leads {
            if !ids.contains(&lead.id) {
                ids.push(lead.id);
            }
        }
        if ids.len() >= SEARCH_LIMIT {
            break;
        }
    }
    Ok(ids)
}

/// The failure for a key matching several records, logged with the key's CRM field name only.
fn ambiguous(search_key: &str, hl7_path: Option<Path>) -> FlowFailure {
    tracing::warn!(
        search_key,
        "more than one CRM record matches the search key; nothing written"
    );
    FlowFailure::AmbiguousMatch {
        search_key: search_key.to_owned(),
        hl7_path: hl7_path.unwrap_or_else(|| "PID-3".parse().expect("a literal path")),
    }
}

/// Reads a lead the connector just wrote and remembers its state for echo suppression. A
/// failed read remembers nothing: the webhook is then delivered (a repeat, never a loss).
async fn read_back_lead(crm: &dyn Crm, saver: &Progress<'_>, id: &LeadId) {
    match crm.get_lead(id).await {
        Ok(Some(lead)) => saver.remember(Entity::Lead, &id.0, &lead.fields).await,
        Ok(None) => {
            tracing::warn!(lead_id = %id.0, "the lead just written cannot be read back; its webhook will not be taken for an echo");
        }
        Err(e) => {
            tracing::warn!(lead_id = %id.0, error = %crate::telemetry::error_chain(&e), "cannot read the lead back; its webhook will not be taken for an echo");
        }
    }
}

/// Reads an activity the connector just wrote (by its match key) and remembers its state for
/// echo suppression; without a match key it cannot be found, and nothing is remembered.
async fn read_back_activity(
    crm: &dyn Crm,
    saver: &Progress<'_>,
    lead: &LeadId,
    activity: &ActivityPlan,
    id: &connector_domain::crm::ActivityId,
) {
    let Some(key) = &activity.match_key else {
        return;
    };
    match crm
        .find_activity(ActivityQuery {
            lead,
            event: activity.event,
            field: &key.name,
            value: &key.value,
        })
        .await
    {
        Ok(Some(found)) if found.id == *id => {
            saver.remember(Entity::Activity, &id.0, &found.fields).await;
        }
        Ok(_) => {
            tracing::warn!(activity_id = %id.0, "the activity just written cannot be read back; its webhook will not be taken for an echo");
        }
        Err(e) => {
            tracing::warn!(activity_id = %id.0, error = %crate::telemetry::error_chain(&e), "cannot read the activity back; its webhook will not be taken for an echo");
        }
    }
}
