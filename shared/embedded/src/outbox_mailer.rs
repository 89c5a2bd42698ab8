//! [`OutboxMailer`]: a `Mailer` that drops each message into a folder as `<message-id>.eml`,
//! for sites that relay mail themselves and for local runs.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use connector_domain::ports::{MailError, Mailer, OutgoingMail};

/// Writes each message as `<message-id>.eml` into a folder, atomically: the bytes go to a hidden
/// temporary file (`.<message-id>.eml.tmp`) in the same folder, which is flushed to disk and then
/// renamed, so a reader of `*.eml` never sees a partial message.
///
/// The file is the message as given, preceded by the SMTP envelope in the header lines a mail
/// pickup directory expects: `X-Sender: <from>` and one `X-Receiver: <to>` per recipient.
/// The returned message id is a UUIDv7, so file names sort by sending time.
#[derive(Debug, Clone)]
pub struct OutboxMailer {
    dir: PathBuf,
}

/// Why a message cannot be written (reported as `MailError::Permanent`).
#[derive(Debug, thiserror::Error)]
#[error("invalid mail: {0}")]
pub struct InvalidMail(&'static str);

impl OutboxMailer {
    /// A mailer writing into `dir`, which is created if missing.
    pub fn new(dir: impl Into<PathBuf>) -> io::Result<Self> {
        let dir = dir.into();
        fs::create_dir_all(&dir)?;
        Ok(Self { dir })
    }

    /// The outbox folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// The file's bytes: the envelope headers, then the message.
fn file_contents(mail: &OutgoingMail) -> Vec<u8> {
    let mut out = Vec::with_capacity(mail.raw.len() + 64 * (mail.to.len() + 1));
    // `Email` admits no whitespace, control characters or angle brackets, so these lines cannot
    // be used to inject headers.
    out.extend_from_slice(format!("X-Sender: {}\r\n", mail.from.expose()).as_bytes());
    for to in &mail.to {
        out.extend_from_slice(format!("X-Receiver: {}\r\n", to.expose()).as_bytes());
    }
    out.extend_from_slice(&mail.raw);
    out
}

/// Writes `contents` to `dir/<id>.eml` by way of a temporary file and a rename.
fn write_atomically(dir: &Path, id: &str, contents: &[u8]) -> io::Result<PathBuf> {
    let tmp = dir.join(format!(".{id}.eml.tmp"));
    let target = dir.join(format!("{id}.eml"));
    let result = (|| {
        let mut file = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        file.write_all(contents)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&tmp, &target)?;
        // Persist the rename itself.
        File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.map(|()| target)
}

#[async_trait]
impl Mailer for OutboxMailer {
    async fn send(&self, mail: &OutgoingMail) -> Result<String, MailError> {
        if mail.to.is_empty() {
            return Err(MailError::Permanent(Box::new(InvalidMail("no recipients"))));
        }
        if mail.raw.is_empty() {
            return Err(MailError::Permanent(Box::new(InvalidMail("empty message"))));
        }
        let id = uuid::Uuid::now_v7().to_string();
        let contents = file_contents(mail);
        let dir = self.dir.clone();
        let file_id = id.clone();
        tokio::task::spawn_blocking(move || write_atomically(&dir, &file_id, &contents))
            .await
            .map_err(|err| MailError::Transient(Box::new(err)))?
            .map_err(|err| MailError::Transient(Box::new(err)))?;
        tracing::info!(message_id = %id, bytes = mail.raw.len(), recipients = mail.to.len(), "mail written to the outbox");
        Ok(id)
    }
}
