//! Progress for people: a bar on a terminal, plain lines otherwise.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use torp2p_daemon::{BootstrapStatus, Tor};

/// Shows tor's bootstrap progress until it is done (or the wait is abandoned by the caller).
pub(crate) async fn bootstrap(tor: &Tor, timeout: Duration) -> Result<(), torp2p_daemon::Error> {
    let mut rx = tor.bootstrap_status();
    let display = async {
        let bar = bar(100, "tor bootstrap");
        let mut last = None;
        loop {
            let s: BootstrapStatus = rx.borrow_and_update().clone();
            show(&bar, &s, &mut last);
            if s.is_done() || rx.changed().await.is_err() {
                break;
            }
        }
        // The bar stays, at 100 %: a person sees that tor got there.
        if let Some(b) = bar {
            b.finish();
        }
    };
    let (result, ()) = tokio::join!(tor.wait_bootstrapped(timeout), async {
        tokio::select! {
            () = display => {}
            _ = tokio::time::sleep(timeout) => {}
        }
    });
    result
}

fn show(bar: &Option<ProgressBar>, s: &BootstrapStatus, last: &mut Option<u8>) {
    match bar {
        Some(b) => {
            b.set_position(u64::from(s.progress));
            b.set_message(s.summary.clone());
        }
        None if *last != Some(s.progress) => {
            note!("tor bootstrap: {}% ({})", s.progress, s.summary);
            *last = Some(s.progress);
        }
        None => {}
    }
}

/// Shows that arti is bootstrapping while `bootstrap` runs (arti reports no steps here: a
/// spinner with the time so far on a terminal, a line before and after otherwise), and how
/// long it took once done.
#[cfg(feature = "arti")]
pub(crate) async fn arti_bootstrap<T, E>(
    bootstrap: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, E> {
    let started = std::time::Instant::now();
    let spinner = std::io::stderr().is_terminal().then(|| {
        let s = ProgressBar::new_spinner();
        if let Ok(style) = ProgressStyle::with_template("{spinner} arti bootstrap {elapsed} {msg}")
        {
            s.set_style(style);
        }
        s.set_message("(embedded Tor)");
        s.enable_steady_tick(Duration::from_millis(120));
        s
    });
    if spinner.is_none() {
        note!("arti bootstrap: started (embedded Tor)");
    }
    let result = bootstrap.await;
    let line = format!(
        "arti bootstrap: done in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    match (spinner, &result) {
        // The line stays, as the C tor bar does: a person sees that arti got there.
        (Some(s), Ok(_)) => {
            if let Ok(style) = ProgressStyle::with_template("{msg}") {
                s.set_style(style);
            }
            s.finish_with_message(line);
        }
        // The error follows, from main.
        (Some(s), Err(_)) => s.finish_and_clear(),
        (None, Ok(_)) => note!("{line}"),
        (None, Err(_)) => {}
    }
    result
}

/// A spinner with `message` on a terminal; a plain line otherwise.
pub(crate) fn spinner(message: &str) -> Option<ProgressBar> {
    if !std::io::stderr().is_terminal() {
        note!("{message}");
        return None;
    }
    let s = ProgressBar::new_spinner();
    s.set_message(message.to_string());
    s.enable_steady_tick(Duration::from_millis(120));
    Some(s)
}

fn bar(len: u64, prefix: &str) -> Option<ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let b = ProgressBar::new(len);
    if let Ok(style) = ProgressStyle::with_template("{prefix} [{bar:30}] {pos:>3}% {msg}") {
        b.set_style(style.progress_chars("=> "));
    }
    b.set_prefix(prefix.to_string());
    Some(b)
}
