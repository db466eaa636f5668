//! The executor's stop requests: what the frontend hears (Ctrl-C, SIGTERM) and a state lock whose
//! lease could not be renewed, which stops the run as the first Ctrl-C does — it starts nothing new
//! and lets what is in flight finish and be recorded, since another run may hold the lock by now.

use std::future::Future;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::executor::Stop;

/// Stop requests for the executor while the run holds its lock. Dropped, it stops listening.
pub struct StopSignal {
    pub receiver: watch::Receiver<Stop>,
    forwarder: JoinHandle<()>,
}

impl Drop for StopSignal {
    fn drop(&mut self) {
        self.forwarder.abort();
    }
}

/// Passes on every request of `requests`, and a stop once `lock_lost` resolves (with its reason).
pub fn stop_signal(
    mut requests: watch::Receiver<Stop>,
    lock_lost: impl Future<Output = String> + Send + 'static,
) -> StopSignal {
    let (sender, receiver) = watch::channel(requests.borrow_and_update().clone());
    let forwarder = tokio::spawn(async move {
        tokio::pin!(lock_lost);
        let mut lock_gone = false;
        let mut requests_open = true;
        loop {
            tokio::select! {
                changed = requests.changed(), if requests_open => match changed {
                    Ok(()) => {
                        let request = requests.borrow_and_update().clone();
                        if sender.send(request).is_err() {
                            return;
                        }
                    }
                    // No one can ask any more; the lock still can be lost.
                    Err(_) => requests_open = false,
                },
                reason = &mut lock_lost, if !lock_gone => {
                    lock_gone = true;
                    if *sender.borrow() == Stop::No {
                        let _ = sender.send(Stop::Finish(format!("the state lock was lost: {reason}")));
                    }
                }
                else => return,
            }
        }
    });
    StopSignal { receiver, forwarder }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn interrupts_pass_through_and_a_lost_lock_stops_the_run() {
        let (interrupts, requests) = watch::channel(Stop::No);
        let (lose, lost) = tokio::sync::oneshot::channel::<String>();
        let mut signal = stop_signal(requests, async move { lost.await.unwrap_or_default() });
        assert_eq!(*signal.receiver.borrow(), Stop::No);

        lose.send("the lease expired".into()).unwrap();
        signal.receiver.changed().await.unwrap();
        assert_eq!(
            *signal.receiver.borrow_and_update(),
            Stop::Finish("the state lock was lost: the lease expired".into())
        );

        // A second Ctrl-C after that still stops at once.
        interrupts.send(Stop::Now).unwrap();
        signal.receiver.changed().await.unwrap();
        assert_eq!(*signal.receiver.borrow(), Stop::Now);
    }
}
