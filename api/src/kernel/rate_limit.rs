//! Rate limits, spent in query points: each API key, and each client address without a key,
//! has a budget per time window. Several instances behind a load balancer share their counts
//! through Redis when one is configured; otherwise, and while Redis is away, counts live in
//! this process (each instance then limits on its own).
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};

use crate::kernel::shared_store::SharedStore;

/// Whose budget a request spends.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Subject {
    Key(i64),
    Address(IpAddr),
}

impl Subject {
    fn redis_key(&self, window_start: i64) -> String {
        match self {
            Subject::Key(id) => format!("rate:key:{id}:{window_start}"),
            Subject::Address(ip) => format!("rate:ip:{ip}:{window_start}"),
        }
    }
}

/// The budgets.
#[derive(Debug, Clone, Copy)]
pub struct RateLimits {
    /// Points per window for each API key.
    pub key_points: u64,
    /// Points per window for each client address without a key.
    pub anonymous_points: u64,
    pub window: Duration,
}

/// The outcome of spending: whether the request may run, and the budget after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spent {
    pub allowed: bool,
    pub limit: u64,
    pub used: u64,
    pub cost: u64,
    pub reset_at: DateTime<Utc>,
}

impl Spent {
    pub fn remaining(&self) -> u64 {
        self.limit.saturating_sub(self.used)
    }

    pub fn retry_after_secs(&self) -> u64 {
        (self.reset_at - Utc::now()).num_seconds().max(1) as u64
    }
}

pub struct RateLimiter {
    limits: RateLimits,
    /// Counts of this process: all of them without Redis, a fallback while Redis is away.
    local: Mutex<HashMap<Subject, (i64, u64)>>,
    shared: Option<Arc<SharedStore>>,
}

/// Spends `ARGV[1]` points of `KEYS[1]` if that stays within `ARGV[2]`; returns allowed and used.
const SPEND: &str = r"
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
local cost = tonumber(ARGV[1])
if used + cost > tonumber(ARGV[2]) then
  return {0, used}
end
used = redis.call('INCRBY', KEYS[1], cost)
if used == cost then
  redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]))
end
return {1, used}
";

/// Entries kept in memory before old windows are swept.
const SWEEP_AT: usize = 10_000;

impl RateLimiter {
    pub fn in_memory(limits: RateLimits) -> Self {
        Self {
            limits,
            local: Mutex::new(HashMap::new()),
            shared: None,
        }
    }

    /// Counts shared through Redis, with this process's own counts while Redis is away.
    pub fn shared(limits: RateLimits, store: Arc<SharedStore>) -> Self {
        Self {
            shared: Some(store),
            ..Self::in_memory(limits)
        }
    }

    pub fn limit_for(&self, subject: &Subject) -> u64 {
        match subject {
            Subject::Key(_) => self.limits.key_points,
            Subject::Address(_) => self.limits.anonymous_points,
        }
    }

    /// Spends `cost` points if the subject's budget allows; a refused request spends nothing.
    pub async fn spend(&self, subject: &Subject, cost: u64) -> Spent {
        let window = self.limits.window.as_secs().max(1) as i64;
        let now = Utc::now().timestamp();
        let window_start = now - now.rem_euclid(window);
        let reset_at = Utc
            .timestamp_opt(window_start + window, 0)
            .single()
            .unwrap_or_else(Utc::now);
        let limit = self.limit_for(subject);
        let shared = match &self.shared {
            Some(store) => {
                let key = store.key(&subject.redis_key(window_start));
                store
                    .run(|mut connection| async move {
                        redis::Script::new(SPEND)
                            .key(key)
                            .arg(cost)
                            .arg(limit)
                            .arg(window + 5)
                            .invoke_async::<(i64, i64)>(&mut connection)
                            .await
                    })
                    .await
            }
            None => None,
        };
        let (allowed, used) = match shared {
            Some((allowed, used)) => (allowed == 1, used.max(0) as u64),
            None => {
                if self.shared.is_some() {
                    metrics::counter!("stroom_rate_limit_local_fallbacks_total").increment(1);
                }
                self.spend_locally(subject, cost, limit, window_start)
            }
        };
        Spent {
            allowed,
            limit,
            used,
            cost,
            reset_at,
        }
    }

    fn spend_locally(
        &self,
        subject: &Subject,
        cost: u64,
        limit: u64,
        window_start: i64,
    ) -> (bool, u64) {
        let mut counts = self.local.lock().unwrap_or_else(|e| e.into_inner());
        if counts.len() > SWEEP_AT {
            counts.retain(|_, (start, _)| *start == window_start);
        }
        let entry = counts.entry(subject.clone()).or_insert((window_start, 0));
        if entry.0 != window_start {
            *entry = (window_start, 0);
        }
        if entry.1 + cost > limit {
            (false, entry.1)
        } else {
            entry.1 += cost;
            (true, entry.1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn spends_within_the_budget_and_refuses_beyond_it() {
        let limiter = RateLimiter::in_memory(RateLimits {
            key_points: 10,
            anonymous_points: 3,
            window: Duration::from_secs(3600),
        });
        let key = Subject::Key(1);
        assert!(limiter.spend(&key, 6).await.allowed);
        let refused = limiter.spend(&key, 5).await;
        assert!(!refused.allowed);
        assert_eq!(refused.remaining(), 4, "a refused request spends nothing");
        assert!(limiter.spend(&key, 4).await.allowed);
        let ip = Subject::Address("127.0.0.1".parse().unwrap());
        assert_eq!(limiter.spend(&ip, 1).await.limit, 3);
        assert!(
            limiter.spend(&Subject::Key(2), 10).await.allowed,
            "keys have their own budgets"
        );
    }
}
