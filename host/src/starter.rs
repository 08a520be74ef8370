//! [`RuntimeStarter`]: how to make runtimes of one backend, decided once from the config
//! (the file found and checked, the options merged, in-process or a child, or a url),
//! then used for every fresh runtime: `chat` makes one, `check` one per case.

use std::sync::Arc;
use std::time::Duration;

use agent_plugin_api::host::PluginLibrary;
use agent_plugin_api::types::Error;
use agent_plugin_api::Runtime;
use agent_remote::{Destination, RemoteRuntime};

use crate::isolation::{Launch, ProcessRuntime};

/// Makes fresh runtimes of one backend as the config says to run it.
#[derive(Debug, Clone)]
pub struct RuntimeStarter {
    backend: String,
    how: How,
}

#[derive(Debug, Clone)]
enum How {
    /// Loaded into this process.
    InProcess {
        library: PluginLibrary,
        options: serde_json::Value,
        call_timeout: Option<Duration>,
    },
    /// In `workers` child processes.
    Process {
        launch: Launch,
        workers: usize,
        call_timeout: Option<Duration>,
    },
    /// Served elsewhere.
    Url { destination: Destination },
}

impl RuntimeStarter {
    pub(crate) fn in_process(
        backend: &str,
        library: PluginLibrary,
        options: serde_json::Value,
        call_timeout: Option<Duration>,
    ) -> Self {
        Self::new(
            backend,
            How::InProcess {
                library,
                options,
                call_timeout,
            },
        )
    }

    pub(crate) fn process(
        backend: &str,
        launch: Launch,
        workers: usize,
        call_timeout: Option<Duration>,
    ) -> Self {
        Self::new(
            backend,
            How::Process {
                launch,
                workers,
                call_timeout,
            },
        )
    }

    pub(crate) fn url(backend: &str, destination: Destination) -> Self {
        Self::new(backend, How::Url { destination })
    }

    fn new(backend: &str, how: How) -> Self {
        RuntimeStarter {
            backend: backend.to_owned(),
            how,
        }
    }

    /// The backend's name in the config.
    pub fn backend(&self) -> &str {
        &self.backend
    }

    /// A fresh runtime: a new instance of the plugin, fresh children, or a new session.
    pub async fn start(&self) -> Result<Arc<dyn Runtime>, Error> {
        Ok(match &self.how {
            How::InProcess {
                library,
                options,
                call_timeout,
            } => Arc::new(
                library
                    .new_runtime(options)?
                    .with_call_timeout(*call_timeout),
            ),
            How::Process {
                launch,
                workers,
                call_timeout,
            } => Arc::new(
                ProcessRuntime::start(launch.clone(), *workers)
                    .await?
                    .with_call_timeout(*call_timeout),
            ),
            How::Url { destination } => Arc::new(RemoteRuntime::connect_to(destination).await?),
        })
    }
}
