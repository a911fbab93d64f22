//! Waiting on `watch` channels. A leaf module.

use tokio::sync::watch;

/// Waits until `f` holds for the watched value; `false` if the sender is gone first.
///
/// The borrowed value is dropped inside, so the future stays `Send` (a `watch::Ref` held
/// across an `.await`, e.g. in a `select!` branch, would make it `!Send`).
pub(crate) async fn until<T>(rx: &mut watch::Receiver<T>, f: impl FnMut(&T) -> bool) -> bool {
    rx.wait_for(f).await.is_ok()
}
