//! SDK errors to the ports' errors. Sources are kept as they are (never formatted into strings);
//! the `&'static str` texts chosen here never contain data values.

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::CancellationReason;
use connector_domain::StoreError;
use connector_domain::ports::{MailError, QueueError};

/// The raw HTTP response type every SDK error carries.
pub type HttpResponse = aws_sdk_dynamodb::config::http::HttpResponse;

/// The error code DynamoDB reports for a failed condition on a single-item write.
const CONDITIONAL_CHECK_FAILED: &str = "ConditionalCheckFailedException";
/// A transaction cancellation reason: the item's condition was false.
const REASON_CONDITION: &str = "ConditionalCheckFailed";
/// A transaction cancellation reason: the item does not fit the table (a key of another type,
/// an item over 400 KB): retrying cannot help.
const REASON_VALIDATION: &str = "ValidationError";
/// A transaction cancellation reason: another transaction was writing the same item.
const REASON_TRANSACTION_CONFLICT: &str = "TransactionConflict";

/// A DynamoDB single-request error: a failed condition is `Conflict`, anything else `Unavailable`.
pub fn dynamo<E>(err: SdkError<E, HttpResponse>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    if is_condition_failure(&err) {
        condition_failed()
    } else if is_misconfigured(&err) {
        StoreError::Misconfigured(Box::new(err))
    } else {
        StoreError::unavailable(err)
    }
}

/// A write's condition was false: `Conflict` (the caller re-reads and retries).
pub fn condition_failed() -> StoreError {
    StoreError::Conflict("condition failed")
}

/// True when DynamoDB says the deployment is wrong (see [`crate::config_fault`]).
pub fn is_misconfigured<E: ProvideErrorMetadata>(err: &SdkError<E, HttpResponse>) -> bool {
    err.as_service_error()
        .and_then(ProvideErrorMetadata::code)
        .is_some_and(crate::config_fault::is_misconfiguration)
}

/// True when the error is DynamoDB's `ConditionalCheckFailedException`.
pub fn is_condition_failure<E: ProvideErrorMetadata>(err: &SdkError<E, HttpResponse>) -> bool {
    err.as_service_error().and_then(ProvideErrorMetadata::code) == Some(CONDITIONAL_CHECK_FAILED)
}

/// The cancellation reasons of a cancelled transaction (one per item, in request order), or the
/// translated error when the transaction failed for another reason.
pub fn cancellation_reasons(
    err: SdkError<TransactWriteItemsError, HttpResponse>,
) -> Result<(Vec<CancellationReason>, StoreError), StoreError> {
    match err.as_service_error() {
        Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) => {
            let reasons = cancelled.cancellation_reasons().to_vec();
            let translated = transaction_from_reasons(&reasons, err);
            Ok((reasons, translated))
        }
        _ if is_misconfigured(&err) => Err(StoreError::Misconfigured(Box::new(err))),
        _ => Err(StoreError::unavailable(err)),
    }
}

/// A TransactWriteItems error: cancelled by a failed condition, or by a concurrent transaction on
/// the same item, is `Conflict` (the caller re-reads and retries); anything else `Unavailable`.
pub fn transaction(err: SdkError<TransactWriteItemsError, HttpResponse>) -> StoreError {
    match cancellation_reasons(err) {
        Ok((_, translated)) | Err(translated) => translated,
    }
}

fn transaction_from_reasons(
    reasons: &[CancellationReason],
    err: SdkError<TransactWriteItemsError, HttpResponse>,
) -> StoreError {
    let code = |wanted: &str| reasons.iter().any(|r| r.code() == Some(wanted));
    if code(REASON_CONDITION) {
        condition_failed()
    } else if code(REASON_TRANSACTION_CONFLICT) {
        StoreError::Conflict("concurrent transaction")
    } else if code(REASON_VALIDATION) {
        StoreError::Misconfigured(Box::new(err))
    } else {
        StoreError::unavailable(err)
    }
}

/// True when the reason says the item's condition was false.
pub fn is_condition_reason(reason: &CancellationReason) -> bool {
    reason.code() == Some(REASON_CONDITION)
}

/// Any SQS error: the queue port only knows `Unavailable`.
pub fn queue<E>(err: SdkError<E, HttpResponse>) -> QueueError
where
    E: std::error::Error + Send + Sync + 'static,
{
    QueueError::Unavailable(Box::new(err))
}

/// Whether a mail failure is worth retrying.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailClass {
    /// Will fail again.
    Permanent,
    /// May succeed later.
    Transient,
}

/// SES error codes that retrying cannot fix.
const MAIL_PERMANENT: [&str; 6] = [
    "MessageRejected",
    "MailFromDomainNotVerifiedException",
    "AccountSuspendedException",
    "SendingPausedException",
    "BadRequestException",
    "NotFoundException",
];
/// SES and generic AWS error codes that say "later".
const MAIL_TRANSIENT: [&str; 8] = [
    "TooManyRequestsException",
    "LimitExceededException",
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottled",
    "ServiceUnavailable",
    "InternalFailure",
];

/// Classifies an SES error code and HTTP status: known codes first, then 429 and 5xx transient,
/// other 4xx permanent, anything else transient.
pub fn classify_mail(code: Option<&str>, status: Option<u16>) -> MailClass {
    match (code, status) {
        (Some(code), _) if MAIL_PERMANENT.contains(&code) => MailClass::Permanent,
        (Some(code), _) if MAIL_TRANSIENT.contains(&code) => MailClass::Transient,
        (_, Some(429)) => MailClass::Transient,
        (_, Some(500..=599)) => MailClass::Transient,
        (_, Some(400..=499)) => MailClass::Permanent,
        _ => MailClass::Transient,
    }
}

/// An SES v2 error: see [`classify_mail`]. Timeouts and network failures are transient; a request
/// that could not even be built is permanent.
pub fn mail<E>(err: SdkError<E, HttpResponse>) -> MailError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let class = match &err {
        SdkError::ServiceError(ctx) => {
            classify_mail(ctx.err().code(), Some(ctx.raw().status().as_u16()))
        }
        SdkError::ConstructionFailure(_) => MailClass::Permanent,
        _ => MailClass::Transient,
    };
    match class {
        MailClass::Permanent => MailError::Permanent(Box::new(err)),
        MailClass::Transient => MailError::Transient(Box::new(err)),
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_dynamodb::operation::put_item::PutItemError;
    use aws_sdk_dynamodb::types::error::{
        ConditionalCheckFailedException, TransactionCanceledException,
    };
    use aws_sdk_sesv2::operation::send_email::SendEmailError;
    use aws_sdk_sesv2::types::error::{
        MessageRejected, SendingPausedException, TooManyRequestsException,
    };
    use aws_smithy_types::body::SdkBody;

    use super::*;

    /// What the SDK's deserialiser attaches to every service error: its code.
    fn meta(code: &str) -> aws_sdk_dynamodb::error::ErrorMetadata {
        aws_sdk_dynamodb::error::ErrorMetadata::builder()
            .code(code)
            .build()
    }

    fn response(status: u16) -> HttpResponse {
        HttpResponse::new(status.try_into().unwrap(), SdkBody::empty())
    }

    #[test]
    fn condition_failure_is_conflict_other_errors_unavailable_with_source() {
        let err = SdkError::service_error(
            PutItemError::ConditionalCheckFailedException(
                ConditionalCheckFailedException::builder()
                    .message("The conditional request failed")
                    .meta(meta("ConditionalCheckFailedException"))
                    .build(),
            ),
            response(400),
        );
        assert!(matches!(dynamo(err), StoreError::Conflict(_)));

        let err: SdkError<PutItemError, HttpResponse> = SdkError::timeout_error("slow");
        let mapped = dynamo(err);
        assert!(matches!(mapped, StoreError::Unavailable(_)));
        assert!(std::error::Error::source(&mapped).is_some());
    }

    #[test]
    fn cancelled_transactions_are_conflicts_only_for_conditions_and_races() {
        let cancelled = |code: &str| {
            SdkError::service_error(
                TransactWriteItemsError::TransactionCanceledException(
                    TransactionCanceledException::builder()
                        .cancellation_reasons(CancellationReason::builder().code("None").build())
                        .cancellation_reasons(CancellationReason::builder().code(code).build())
                        .build(),
                ),
                response(400),
            )
        };
        assert!(matches!(
            transaction(cancelled("ConditionalCheckFailed")),
            StoreError::Conflict(_)
        ));
        assert!(matches!(
            transaction(cancelled("TransactionConflict")),
            StoreError::Conflict(_)
        ));
        assert!(matches!(
            transaction(cancelled("ThrottlingError")),
            StoreError::Unavailable(_)
        ));
        let (reasons, _) = cancellation_reasons(cancelled("ConditionalCheckFailed")).unwrap();
        assert!(!is_condition_reason(&reasons[0]) && is_condition_reason(&reasons[1]));
    }

    #[test]
    fn mail_errors_are_classified() {
        let rejected = MessageRejected::builder().meta(meta("MessageRejected"));
        let paused = SendingPausedException::builder().meta(meta("SendingPausedException"));
        let throttled = TooManyRequestsException::builder().meta(meta("TooManyRequestsException"));
        for (err, permanent) in [
            (SendEmailError::MessageRejected(rejected.build()), true),
            (SendEmailError::SendingPausedException(paused.build()), true),
            (
                SendEmailError::TooManyRequestsException(throttled.build()),
                false,
            ),
        ] {
            let code = err.code().unwrap_or_default().to_owned();
            let mapped = mail(SdkError::service_error(err, response(400)));
            assert_eq!(
                matches!(mapped, MailError::Permanent(_)),
                permanent,
                "{code}"
            );
        }
        let network: SdkError<SendEmailError, HttpResponse> = SdkError::timeout_error("slow");
        assert!(matches!(mail(network), MailError::Transient(_)));

        for (code, status, class) in [
            (Some("LimitExceededException"), 400, MailClass::Transient),
            (Some("Throttling"), 400, MailClass::Transient),
            (Some("AccountSuspendedException"), 400, MailClass::Permanent),
            (
                Some("MailFromDomainNotVerifiedException"),
                400,
                MailClass::Permanent,
            ),
            (Some("BadRequestException"), 400, MailClass::Permanent),
            (Some("SomethingNew"), 503, MailClass::Transient),
            (None, 500, MailClass::Transient),
            (Some("SomethingNew"), 403, MailClass::Permanent),
        ] {
            assert_eq!(
                classify_mail(code, Some(status)),
                class,
                "{code:?} {status}"
            );
        }
    }
}
