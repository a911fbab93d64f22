//! The reachability watch's verdict: from what tor reports of a service, over time, whether it
//! has been unreachable for longer than the grace period (see
//! [`ReachabilityWatch`](crate::ReachabilityWatch)).

use std::time::Instant;

use torp2p_daemon::UploadState;

use crate::config::ReachabilityWatch;
use crate::error::Unreachability;

/// What has been seen of one published service.
#[derive(Debug)]
pub(crate) struct Watcher {
    config: ReachabilityWatch,
    /// Since when tor has reported no introduction point.
    no_intro_since: Option<Instant>,
    /// Since when every upload has been failing.
    failing_since: Option<Instant>,
}

impl Watcher {
    pub(crate) fn new(config: ReachabilityWatch) -> Self {
        Self {
            config,
            no_intro_since: None,
            failing_since: None,
        }
    }

    /// Takes one observation made at `now`: the number of introduction points (`None` if tor
    /// could not be asked) and the upload state. Returns why the service counts as
    /// unreachable once either condition has lasted past the grace period.
    pub(crate) fn observe(
        &mut self,
        now: Instant,
        intro_points: Option<usize>,
        uploads: &UploadState,
    ) -> Option<Unreachability> {
        if !self.config.enabled {
            return None;
        }
        match intro_points {
            Some(0) => {
                let since = *self.no_intro_since.get_or_insert(now);
                let lasted = now.saturating_duration_since(since);
                if lasted >= self.config.grace {
                    return Some(Unreachability::NoIntroPoints { lasted });
                }
            }
            Some(_) => self.no_intro_since = None,
            None => {}
        }
        if uploads.is_failing() {
            let since = *self.failing_since.get_or_insert(now);
            let lasted = now.saturating_duration_since(since);
            if lasted >= self.config.grace {
                return Some(Unreachability::UploadsFailing {
                    failed: uploads.failed_since_uploaded,
                    lasted,
                });
            }
        } else {
            self.failing_since = None;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn watcher() -> Watcher {
        Watcher::new(ReachabilityWatch::new().with_grace(Duration::from_secs(60)))
    }

    fn failing(failed: usize) -> UploadState {
        UploadState {
            uploads: 16,
            uploaded: 8,
            failed: 8 + failed,
            started_since_uploaded: failed,
            failed_since_uploaded: failed,
        }
    }

    #[test]
    fn no_intro_point_for_the_grace_period() {
        let mut w = watcher();
        let t0 = Instant::now();
        let ok = UploadState::default();
        assert_eq!(w.observe(t0, Some(3), &ok), None);
        assert_eq!(w.observe(t0 + Duration::from_secs(1), Some(0), &ok), None);
        assert_eq!(w.observe(t0 + Duration::from_secs(60), Some(0), &ok), None);
        // tor could not be asked: neither counts for nor against.
        assert_eq!(w.observe(t0 + Duration::from_secs(30), None, &ok), None);
        assert_eq!(
            w.observe(t0 + Duration::from_secs(61), Some(0), &ok),
            Some(Unreachability::NoIntroPoints {
                lasted: Duration::from_secs(60)
            })
        );
    }

    #[test]
    fn an_intro_point_back_resets_the_clock() {
        let mut w = watcher();
        let t0 = Instant::now();
        let ok = UploadState::default();
        assert_eq!(w.observe(t0, Some(0), &ok), None);
        assert_eq!(w.observe(t0 + Duration::from_secs(50), Some(1), &ok), None);
        assert_eq!(w.observe(t0 + Duration::from_secs(100), Some(0), &ok), None);
        assert_eq!(w.observe(t0 + Duration::from_secs(159), Some(0), &ok), None);
        assert!(
            w.observe(t0 + Duration::from_secs(160), Some(0), &ok)
                .is_some()
        );
    }

    #[test]
    fn uploads_failing_for_the_grace_period() {
        let mut w = watcher();
        let t0 = Instant::now();
        assert_eq!(w.observe(t0, Some(3), &failing(8)), None);
        assert_eq!(
            w.observe(t0 + Duration::from_secs(60), Some(3), &failing(8)),
            Some(Unreachability::UploadsFailing {
                failed: 8,
                lasted: Duration::from_secs(60)
            })
        );
        // A confirmed upload ends it.
        let mut w = watcher();
        assert_eq!(w.observe(t0, Some(3), &failing(8)), None);
        assert_eq!(
            w.observe(
                t0 + Duration::from_secs(30),
                Some(3),
                &UploadState::default()
            ),
            None
        );
        assert_eq!(
            w.observe(t0 + Duration::from_secs(61), Some(3), &failing(8)),
            None
        );
    }

    #[test]
    fn disabled_never_says_unreachable() {
        let mut w = Watcher::new(ReachabilityWatch::disabled().with_grace(Duration::ZERO));
        let t0 = Instant::now();
        assert_eq!(w.observe(t0, Some(0), &failing(8)), None);
        assert_eq!(
            w.observe(t0 + Duration::from_secs(600), Some(0), &failing(8)),
            None
        );
    }
}
