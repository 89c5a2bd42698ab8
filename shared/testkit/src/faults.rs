//! Fault-injecting decorators: real adapters underneath, with failures a test scripts in.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use connector_domain::StoreError;
use connector_domain::audit::AuditEntry;
use connector_domain::ports::{MailError, Mailer, OutgoingMail, SettingsStore};
use connector_domain::settings::{HieSettings, Versioned};

/// A failure to inject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailFault {
    /// The mail service is throttling or unreachable.
    Transient,
    /// The mail service rejects the message.
    Permanent,
}

#[derive(Debug, thiserror::Error)]
#[error("injected {0:?} mail failure")]
struct InjectedMailFailure(MailFault);

/// A mailer that fails as scripted, then passes through to the real one. Counts real sends.
pub struct FaultyMailer {
    inner: Arc<dyn Mailer>,
    script: Mutex<VecDeque<MailFault>>,
    always: Mutex<Option<MailFault>>,
    sent: AtomicUsize,
}

impl FaultyMailer {
    /// Wraps `inner`; no faults scripted.
    pub fn new(inner: Arc<dyn Mailer>) -> Self {
        Self {
            inner,
            script: Mutex::new(VecDeque::new()),
            always: Mutex::new(None),
            sent: AtomicUsize::new(0),
        }
    }

    /// The next sends fail with these faults, in order.
    pub fn fail_next(&self, faults: &[MailFault]) {
        self.script
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend(faults.iter().copied());
    }

    /// Every send fails with `fault` until cleared with `None`.
    pub fn fail_always(&self, fault: Option<MailFault>) {
        *self.always.lock().unwrap_or_else(|p| p.into_inner()) = fault;
    }

    /// How many messages reached the real mailer.
    pub fn sent(&self) -> usize {
        self.sent.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl Mailer for FaultyMailer {
    async fn send(&self, mail: &OutgoingMail) -> Result<String, MailError> {
        let scripted = self
            .script
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop_front();
        let fault = scripted.or(*self.always.lock().unwrap_or_else(|p| p.into_inner()));
        match fault {
            Some(MailFault::Transient) => Err(MailError::Transient(Box::new(InjectedMailFailure(
                MailFault::Transient,
            )))),
            Some(MailFault::Permanent) => Err(MailError::Permanent(Box::new(InjectedMailFailure(
                MailFault::Permanent,
            )))),
            None => {
                let id = self.inner.send(mail).await?;
                self.sent.fetch_add(1, Ordering::SeqCst);
                Ok(id)
            }
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("injected store failure")]
struct InjectedStoreFailure;

/// A settings store whose watermark checkpoint fails while armed: stands for a collector that
/// dies between enqueueing and checkpointing.
pub struct CrashingCheckpoint {
    inner: Arc<dyn SettingsStore>,
    armed: AtomicBool,
}

impl CrashingCheckpoint {
    /// Wraps `inner`, armed.
    pub fn new(inner: Arc<dyn SettingsStore>) -> Self {
        Self {
            inner,
            armed: AtomicBool::new(true),
        }
    }

    /// Arms or disarms the failure.
    pub fn arm(&self, armed: bool) {
        self.armed.store(armed, Ordering::SeqCst);
    }
}

#[async_trait]
impl SettingsStore for CrashingCheckpoint {
    async fn get(&self) -> Result<Option<Versioned<HieSettings>>, StoreError> {
        self.inner.get().await
    }

    async fn put(
        &self,
        settings: &HieSettings,
        expected_version: u64,
        audit: &AuditEntry,
    ) -> Result<u64, StoreError> {
        self.inner.put(settings, expected_version, audit).await
    }

    async fn advance_watermark(
        &self,
        expected: Option<DateTime<Utc>>,
        next: DateTime<Utc>,
        audit: &[AuditEntry],
    ) -> Result<(), StoreError> {
        if self.armed.load(Ordering::SeqCst) {
            return Err(StoreError::unavailable(InjectedStoreFailure));
        }
        self.inner.advance_watermark(expected, next, audit).await
    }
}
