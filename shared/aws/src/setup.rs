//! Errors of the functions that create tables and queues (tests, and the `connector` admin
//! command; on AWS the SAM template creates them).

/// Why creating a table or queue failed. Resource names are configuration, not data.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// The service refused or could not be reached.
    #[error("creating {resource} failed")]
    Request {
        /// The table or queue.
        resource: String,
        /// The SDK error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The resource was created but did not become usable in time.
    #[error("{resource} did not become active in time")]
    NotActive {
        /// The table or queue.
        resource: String,
    },
}

impl SetupError {
    pub(crate) fn request(
        resource: &str,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Self::Request {
            resource: resource.to_owned(),
            source: Box::new(source),
        }
    }
}
