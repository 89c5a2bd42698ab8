//! The generic queue worker (receive, handle the batch, delete or release, idle wait) that
//! serves the HIE sender ([`crate::hie::sender`]) and the EHR delivery
//! ([`crate::crm_to_ehr::delivery`]) where the host pulls its own work, and the one error of
//! the steps that record work in a store and then put it on a queue ([`EnqueueError`]).

use connector_domain::StoreError;
use connector_domain::ports::QueueError;

pub mod worker;

/// Why a step that records work in a store and then puts it on a queue failed (webhook intake,
/// a delivery redrive, a batch collector run): a retry may succeed.
#[derive(Debug, thiserror::Error)]
pub enum EnqueueError {
    /// The store refused or failed.
    #[error("store failure")]
    Store(#[from] StoreError),
    /// The queue failed (what the store recorded before stays recorded).
    #[error("queue failure")]
    Queue(#[from] QueueError),
}
