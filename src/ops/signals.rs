//! Turning Ctrl-C, SIGTERM and a lost state lock into the executor's stop requests.
//!
//! The first Ctrl-C (or SIGTERM, which CI runners send before killing a job) starts nothing new and
//! lets what is in flight finish and be recorded; a second one writes the state as it is and
//! returns at once. A lock whose lease could not be renewed stops the run like the first Ctrl-C.

use std::future::Future;

use provision_core::executor::Stop;
use tokio::sync::watch;

/// Listens from now on; the receiver tells the executor what was asked.
pub fn stop_requests(lock_lost: impl Future<Output = String> + Send + 'static) -> watch::Receiver<Stop> {
    let (sender, receiver) = watch::channel(Stop::No);
    tokio::spawn(async move {
        #[cfg(unix)]
        let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        tokio::pin!(lock_lost);
        let mut interrupts = 0;
        let mut lock_gone = false;
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
                        // No Ctrl-C handling here: only SIGTERM and the lock can stop the run.
                        std::future::pending::<()>().await;
                    }
                }
                () = terminated => {}
                reason = &mut lock_lost, if !lock_gone => {
                    lock_gone = true;
                    let _ = sender.send(Stop::Finish(format!("the state lock was lost: {reason}")));
                    continue;
                }
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
