//! Runs one EHR -> CRM flow for one message: map it, find the lead by the primary search key
//! and then the secondary, apply the lead sync behaviour, then (activity flows) find the
//! activity by its match key and apply the activity sync behaviour.
//!
//! A flow whose sync behaviours are both `do_nothing` (or a lead flow that does nothing) makes
//! no CRM call at all, searches included.
//!
//! Progress is saved to the inbound ledger right after each create (the one CRM write that is
//! not idempotent), so a resend after a failure later in the flow continues with the lead it
//! already created instead of creating another. Updates are idempotent and simply run again.

use chrono::{DateTime, Utc};
use connector_domain::StoreError;
use connector_domain::crm::CrmField;
use connector_domain::crm::{Crm, CrmError, LeadId};
use connector_domain::flow::Entity;
use connector_domain::flow::{Flow, MappingErrors, SyncBehaviour, map_ehr_to_crm};
use connector_domain::inbound::{InboundKey, StepProgress, flow_step};
use connector_domain::ports::{CrmWriteLog, InboundLedger};
use connector_hl7::Message;

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
}

impl Progress<'_> {
    /// Remembers a CRM write so the webhook it fires is not sent back to the EHR. A failure
    /// costs one echoed message at worst, so it is logged, not returned.
    async fn remember(&self, entity: Entity, id: &str, fields: &[CrmField]) {
        crate::outbound::echo::record_write(self.crm_writes, entity, id, fields, self.now).await;
    }

    async fn save(&self, flow: &Flow, progress: &StepProgress) -> Result<(), FlowFailure> {
        self.ledger
            .save_step(
                self.key,
                self.attempt,
                &flow_step(&flow.flow_id),
                progress,
                self.now,
            )
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

    // A flow that would write nothing does not search either: searches count against the
    // CRM's rate limit (LeadSquared: a few calls per 5 seconds) like writes do.
    let activity_writes = plan
        .activity
        .as_ref()
        .is_some_and(|a| a.sync != SyncBehaviour::DoNothing);
    if progress.lead_action.is_none()
        && plan.lead_sync == SyncBehaviour::DoNothing
        && !activity_writes
    {
        progress.lead_action = Some("skipped".into());
    }

    if progress.lead_action.is_none() {
        let mut found: Option<LeadId> = None;
        for key in plan.search_keys() {
            match crm.find_lead(&key.name, &key.value).await {
                Ok(Some(lead)) => {
                    found = Some(lead.id);
                    break;
                }
                Ok(None) => {}
                Err(e) => return Err((progress, FlowFailure::Crm(e))),
            }
        }
        match found {
            Some(id) if plan.lead_sync.updates() => {
                if let Err(e) = crm.update_lead(&id, &plan.lead_fields).await {
                    return Err((progress, FlowFailure::Crm(e)));
                }
                saver.remember(Entity::Lead, &id.0, &plan.lead_fields).await;
                progress.lead_id = Some(id);
                progress.lead_action = Some("updated".into());
            }
            Some(id) => {
                progress.lead_id = Some(id);
                progress.lead_action = Some("unchanged".into());
            }
            None if plan.lead_sync.creates() => {
                let fields = plan.lead_fields_for_create();
                let id = match crm.create_lead(&fields).await {
                    Ok(id) => id,
                    Err(e) => return Err((progress, FlowFailure::Crm(e))),
                };
                saver.remember(Entity::Lead, &id.0, &fields).await;
                progress.lead_id = Some(id);
                progress.lead_action = Some("created".into());
                if plan.activity.is_some()
                    && let Err(e) = saver.save(flow, &progress).await
                {
                    return Err((progress, e));
                }
            }
            None => progress.lead_action = Some("not_found".into()),
        }
    }

    if let Some(activity) = &plan.activity
        && progress.activity_action.is_none()
    {
        match progress.lead_id.clone() {
            _ if activity.sync == SyncBehaviour::DoNothing => {
                progress.activity_action = Some("skipped".into());
            }
            None => progress.activity_action = Some("skipped_no_lead".into()),
            Some(lead) => {
                let existing = match &activity.match_key {
                    Some(key) => match crm
                        .find_activity(&lead, activity.event, &key.name, &key.value)
                        .await
                    {
                        Ok(found) => found,
                        Err(e) => return Err((progress, FlowFailure::Crm(e))),
                    },
                    None => None,
                };
                match existing {
                    Some(found) if activity.sync.updates() => {
                        if let Err(e) = crm.update_activity(&found.id, &activity.to_input()).await {
                            return Err((progress, FlowFailure::Crm(e)));
                        }
                        saver
                            .remember(Entity::Activity, &found.id.0, &activity.fields)
                            .await;
                        progress.activity_id = Some(found.id);
                        progress.activity_action = Some("updated".into());
                    }
                    Some(found) => {
                        progress.activity_id = Some(found.id);
                        progress.activity_action = Some("unchanged".into());
                    }
                    None if activity.sync.creates() => {
                        match crm.create_activity(&lead, &activity.to_input()).await {
                            Ok(id) => {
                                saver
                                    .remember(Entity::Activity, &id.0, &activity.fields)
                                    .await;
                                progress.activity_id = Some(id);
                                progress.activity_action = Some("created".into());
                            }
                            Err(e) => return Err((progress, FlowFailure::Crm(e))),
                        }
                    }
                    None => progress.activity_action = Some("not_found".into()),
                }
            }
        }
    }

    progress.done = true;
    if let Err(e) = saver.save(flow, &progress).await {
        return Err((progress, e));
    }
    Ok(progress)
}
