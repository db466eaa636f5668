//! Turning Ctrl-C and SIGTERM into the executor's stop requests.
//!
//! The first Ctrl-C (or SIGTERM, which CI runners send before killing a job) starts nothing new and
//! lets what is in flight finish and be recorded; a second one writes the state as it is and
//! returns at once. (A lock whose lease could not be renewed stops the run like the first Ctrl-C:
//! the core adds that to these requests, since it holds the lock.)

use provision_core::executor::Stop;
use tokio::sync::watch;

/// Listens from now on; the receiver tells the executor what was asked.
pub fn stop_requests() -> watch::Receiver<Stop> {
    let (sender, receiver) = watch::channel(Stop::No);
    tokio::spawn(async move {
        #[cfg(unix)]
        let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        let mut interrupts = 0;
        loop {
            let terminated = async {
                #[cfg(unix)]
                if let Some(terminate) = terminate.as_mut() {
                    terminate.recv().await;
                    return;
                }
                std::future::pending::<()>().await
            };
            tokio::select! {
                result = tokio::signal::ctrl_c() => {
                    if result.is_err() {
                        // No Ctrl-C handling here: only SIGTERM (and the lock) can stop the run.
                        std::future::pending::<()>().await;
                    }
                }
                () = terminated => {}
            }
            interrupts += 1;
            let request = if interrupts == 1 { Stop::Finish("interrupted".into()) } else { Stop::Now };
            if sender.send(request).is_err() {
                return;
            }
        }
    });
    receiver
}
