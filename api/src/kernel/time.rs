//! The clock: timestamps at the microsecond precision both databases store, so a timestamp
//! read back equals the one written (cursors compare them exactly).
use chrono::{DateTime, DurationRound, TimeDelta, Utc};

pub fn now() -> DateTime<Utc> {
    let now = Utc::now();
    now.duration_trunc(TimeDelta::microseconds(1))
        .unwrap_or(now)
}
