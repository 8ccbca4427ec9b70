//! A circuit breaker for a dependency (the database, Redis): after a run of consecutive
//! failures it opens, and callers fail fast instead of each waiting out a timeout; after a
//! pause it lets one probe through, whose outcome closes it or opens it again. Recovery is
//! therefore at most one pause behind the dependency's return.
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Closed {
        failures: u32,
    },
    Open {
        until: Instant,
    },
    /// One probe is out; everyone else fails fast until it reports.
    Probing {
        since: Instant,
    },
}

/// Whether a caller may use the dependency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Go ahead (the breaker is closed).
    Allowed,
    /// Go ahead as the probe: report the outcome.
    Probe,
    /// Fail fast: the dependency is considered down.
    Refused,
}

impl Admission {
    pub fn allowed(self) -> bool {
        self != Admission::Refused
    }
}

pub struct Breaker {
    name: &'static str,
    threshold: u32,
    pause: Duration,
    state: Mutex<State>,
}

impl Breaker {
    /// Opens after `threshold` consecutive failures, for `pause` before each probe.
    pub fn new(name: &'static str, threshold: u32, pause: Duration) -> Self {
        metrics::gauge!("stroom_dependency_up", "dependency" => name).set(1.0);
        Self {
            name,
            threshold: threshold.max(1),
            pause,
            state: Mutex::new(State::Closed { failures: 0 }),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn admit(&self) -> Admission {
        let mut state = self.state();
        let now = Instant::now();
        match *state {
            State::Closed { .. } => Admission::Allowed,
            State::Open { until } if now >= until => {
                *state = State::Probing { since: now };
                Admission::Probe
            }
            // A probe that never reported (its caller was cut off) is replaced.
            State::Probing { since } if now.duration_since(since) > self.pause * 10 => {
                *state = State::Probing { since: now };
                Admission::Probe
            }
            State::Open { .. } | State::Probing { .. } => {
                metrics::counter!("stroom_dependency_refusals_total", "dependency" => self.name)
                    .increment(1);
                Admission::Refused
            }
        }
    }

    pub fn succeeded(&self) {
        let mut state = self.state();
        if !matches!(*state, State::Closed { .. }) {
            tracing::info!(dependency = self.name, "reachable again");
            metrics::gauge!("stroom_dependency_up", "dependency" => self.name).set(1.0);
        }
        *state = State::Closed { failures: 0 };
    }

    pub fn failed(&self) {
        let mut state = self.state();
        let now = Instant::now();
        *state = match *state {
            State::Closed { failures } if failures + 1 < self.threshold => State::Closed {
                failures: failures + 1,
            },
            State::Closed { .. } => {
                tracing::warn!(
                    dependency = self.name,
                    pause_ms = self.pause.as_millis() as u64,
                    "unreachable: failing fast, probing again after each pause"
                );
                metrics::gauge!("stroom_dependency_up", "dependency" => self.name).set(0.0);
                State::Open {
                    until: now + self.pause,
                }
            }
            State::Open { .. } | State::Probing { .. } => State::Open {
                until: now + self.pause,
            },
        };
    }

    /// Whether callers are failing fast now.
    pub fn is_open(&self) -> bool {
        !matches!(*self.state(), State::Closed { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_consecutive_failures_and_closes_after_a_good_probe() {
        let breaker = Breaker::new("test", 3, Duration::from_millis(30));
        breaker.failed();
        breaker.failed();
        breaker.succeeded();
        breaker.failed();
        breaker.failed();
        assert_eq!(
            breaker.admit(),
            Admission::Allowed,
            "a success resets the run"
        );
        breaker.failed();
        assert_eq!(breaker.admit(), Admission::Refused);
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(breaker.admit(), Admission::Probe);
        assert_eq!(breaker.admit(), Admission::Refused, "one probe at a time");
        breaker.failed();
        assert_eq!(
            breaker.admit(),
            Admission::Refused,
            "a failed probe reopens"
        );
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(breaker.admit(), Admission::Probe);
        breaker.succeeded();
        assert_eq!(breaker.admit(), Admission::Allowed);
        assert!(!breaker.is_open());
    }
}
