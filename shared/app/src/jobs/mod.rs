//! The generic queue worker (receive, handle the batch, delete or release, idle wait) that
//! serves the HIE sender ([`crate::hie::sender`]) and the EHR delivery
//! ([`crate::crm_to_ehr::delivery`]) where the host pulls its own work.

pub mod worker;
