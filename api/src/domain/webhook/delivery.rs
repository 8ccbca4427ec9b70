//! Delivering webhooks. Each instance runs one `Deliverer`, which
//! 1. makes messages from the change feed: for each enabled endpoint, the events after its
//!    cursor that it subscribed to become messages, and the cursor moves, in one transaction
//!    (the endpoint's row is locked, so two instances never make the same messages; a unique
//!    index would refuse them anyway);
//! 2. delivers the messages that are due: claimed with a lease (`FOR UPDATE SKIP LOCKED` on
//!    PostgreSQL, so instances never take the same one; a process that dies mid-delivery
//!    leaves a lease that runs out, and the message is delivered again with the same
//!    `webhook-id`), signed, POSTed; a 2xx answer delivers it, anything else schedules a
//!    retry, with exponential backoff and jitter over more than a day, after which it fails;
//!    an endpoint that has delivered nothing in all that time is disabled, with the reason.
use std::collections::HashMap;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use entity::{change_event, webhook_endpoint, webhook_message};
use futures_util::StreamExt;
use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait,
    FromQueryResult, QueryFilter, QueryOrder, QuerySelect, Statement, TransactionTrait,
};
use serde_json::json;

use super::{
    WebhookMessageStatus, WebhookSettings, address, event_type, pending_message, signing,
    subscribed,
};
use crate::domain::changes::event_json;
use crate::kernel::access::{Role, admin_refusal};
use crate::kernel::ids::NodeKind;
use crate::kernel::time::now;

/// The delays before each retry, in units of the configured base (5 s by default: 5 s, 5 min,
/// 30 min, 2 h, 5 h, 10 h, 10 h, 10 h; a message is tried 9 times over some 37 hours, more
/// than a day even when the jitter shortens every delay).
pub const RETRY_STEPS: &[u32] = &[1, 60, 360, 1440, 3600, 7200, 7200, 7200];
/// Messages made per endpoint and round.
const FAN_OUT_BATCH: u64 = 500;
/// Messages claimed per round.
const CLAIM_BATCH: u64 = 16;
/// Deliveries under way at once.
const CONCURRENT_DELIVERIES: usize = 8;

/// The `webhook-id` of a message: the same on every attempt, and unique across deployments.
pub fn webhook_id(message: &webhook_message::Model) -> String {
    message
        .uid
        .clone()
        .unwrap_or_else(|| format!("msg_{}", message.id))
}

/// A new message's `webhook-id`: 128 random bits, so that receivers fed by several deployments
/// (whose message numbers all start at 1) never see two messages under one id.
pub fn new_webhook_id() -> String {
    let mut bytes = [0u8; 16];
    // Without the system's randomness the time and a counter still keep ids apart.
    if getrandom::fill(&mut bytes).is_err() {
        static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let now = chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default() as u64;
        let count = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        bytes[..8].copy_from_slice(&now.to_be_bytes());
        bytes[8..].copy_from_slice(&(count ^ u64::from(std::process::id())).to_be_bytes());
    }
    format!("msg_{}", hex::encode(bytes))
}

/// The delay before retry `attempt` (1 for the first retry), with ±20% jitter so that
/// messages that failed together do not retry together.
pub fn retry_delay(base: Duration, attempt: usize) -> Option<Duration> {
    let step = *RETRY_STEPS.get(attempt.checked_sub(1)?)?;
    let delay = base.saturating_mul(step);
    let mut byte = [0u8; 1];
    let jitter = match getrandom::fill(&mut byte) {
        Ok(()) => 0.8 + 0.4 * f64::from(byte[0]) / 255.0,
        Err(_) => 1.0,
    };
    Some(delay.mul_f64(jitter))
}

pub struct Deliverer {
    db: DatabaseConnection,
    settings: WebhookSettings,
    client: reqwest::Client,
}

impl Deliverer {
    pub fn new(db: DatabaseConnection, settings: WebhookSettings) -> anyhow::Result<Self> {
        let client = address::client(settings.timeout, settings.allow_internal)?;
        Ok(Self {
            db,
            settings,
            client,
        })
    }

    /// Works until `stop` says so: after every change committed (here, or on another
    /// instance when the feed watcher hears of it), and every poll interval for retries.
    pub async fn run(self, mut stop: tokio::sync::watch::Receiver<bool>) {
        let mut published = crate::kernel::feed::published(&self.db).subscribe();
        loop {
            if *stop.borrow() {
                return;
            }
            published.mark_unchanged();
            let endpoints = match self.fan_out().await {
                Ok(endpoints) => endpoints,
                Err(error) => {
                    tracing::warn!(%error, "webhooks: could not make messages from the change feed");
                    1
                }
            };
            // No endpoint, nothing to deliver: an idle instance reads one table per round.
            if endpoints > 0 {
                match self.deliver_due().await {
                    Ok(delivered) if delivered > 0 => continue,
                    Ok(_) => {}
                    Err(error) => tracing::warn!(%error, "webhooks: could not claim messages"),
                }
            }
            tokio::select! {
                _ = stop.changed() => {}
                _ = published.changed() => {}
                () = tokio::time::sleep(self.settings.poll_interval) => {}
            }
        }
    }

    /// Turns new change events into messages for every enabled endpoint; answers how many
    /// endpoints are enabled.
    pub async fn fan_out(&self) -> Result<usize, DbErr> {
        let endpoints = webhook_endpoint::Entity::find()
            .filter(webhook_endpoint::Column::Enabled.eq(true))
            .filter(webhook_endpoint::Column::ArchivedAt.is_null())
            .all(&self.db)
            .await?;
        if endpoints.is_empty() {
            return Ok(0);
        }
        let endpoints = self.keep_admitted(endpoints).await?;
        let last = crate::kernel::feed::last_event(&self.db).await?;
        for endpoint in endpoints.iter().filter(|e| e.cursor < last) {
            self.fan_out_to(endpoint.id).await?;
        }
        Ok(endpoints.len())
    }

    /// The endpoints whose key still admits them; the others are disabled, saying why. An
    /// endpoint acts for the admin key that registered it: it stops, on every instance, at
    /// the first round after that key is revoked, expires or loses the admin role.
    async fn keep_admitted(
        &self,
        endpoints: Vec<webhook_endpoint::Model>,
    ) -> Result<Vec<webhook_endpoint::Model>, DbErr> {
        let keys: Vec<i64> = endpoints.iter().filter_map(|e| e.api_key_id).collect();
        if keys.is_empty() {
            return Ok(endpoints);
        }
        let standings = crate::kernel::access::standings(&self.db, &keys).await?;
        let mut admitted = Vec::with_capacity(endpoints.len());
        for endpoint in endpoints {
            let refusal = endpoint
                .api_key_id
                .and_then(|key| admin_refusal(standings.get(&key)));
            let Some(refusal) = refusal else {
                admitted.push(endpoint);
                continue;
            };
            let now = now();
            let reason = format!(
                "Disabled on {}: the API key that registered it {refusal}. An admin may \
                 enable it again; it then acts for that admin's key.",
                now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            );
            disable(&self.db, endpoint.id, now, reason).await?;
            tracing::warn!(endpoint = endpoint.id, url = %endpoint.url, "webhooks: endpoint disabled: its key {refusal}");
        }
        Ok(admitted)
    }

    async fn fan_out_to(&self, endpoint: i64) -> Result<(), DbErr> {
        let txn = self.db.begin().await?;
        let backend = txn.get_database_backend();
        let lock = match backend {
            DbBackend::Postgres => " FOR UPDATE SKIP LOCKED",
            _ => "",
        };
        let locked = webhook_endpoint::Model::find_by_statement(Statement::from_sql_and_values(
            backend,
            format!(
                "SELECT * FROM webhook_endpoint WHERE id = {} AND enabled AND archived_at IS NULL{lock}",
                placeholder(backend, 1)
            ),
            [endpoint.into()],
        ))
        .one(&txn)
        .await?;
        // Another instance is at it, or it was disabled meanwhile.
        let Some(endpoint) = locked else {
            return txn.rollback().await;
        };
        // Endpoints act for admin keys, which see every record: no record leaves their sight,
        // so the `withdrawn` events of other roles are not theirs.
        let events = change_event::Entity::find()
            .filter(change_event::Column::Sequence.gt(endpoint.cursor))
            .filter(
                sea_orm::Condition::any()
                    .add(change_event::Column::WithdrawnFrom.is_null())
                    .add(
                        change_event::Column::WithdrawnFrom
                            .like(format!("%,{},%", Role::Admin.as_str())),
                    ),
            )
            .order_by_asc(change_event::Column::Sequence)
            .limit(FAN_OUT_BATCH)
            .all(&txn)
            .await?;
        let Some(last) = events.last().map(|e| e.sequence) else {
            return txn.rollback().await;
        };
        // The key is read after the events: no event committed after it stopped admitting
        // the endpoint becomes a message (the next round disables the endpoint).
        if let Some(key) = endpoint.api_key_id {
            let standing = crate::kernel::access::standings(&txn, &[key]).await?;
            if admin_refusal(standing.get(&key)).is_some() {
                return txn.rollback().await;
            }
        }
        let now = now();
        let messages: Vec<webhook_message::ActiveModel> = events
            .iter()
            .filter_map(|event| {
                let kind = NodeKind::from_type_name(&event.subject_type)?;
                let event_type = event_type(kind, &event.operation);
                subscribed(&endpoint.event_types, &event_type).then(|| {
                    let payload = json!({
                        "type": event_type,
                        "timestamp": event.at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                        "data": event_json(event),
                    });
                    pending_message(endpoint.id, Some(event.sequence), event_type, payload, now)
                })
            })
            .collect();
        if !messages.is_empty() {
            webhook_message::Entity::insert_many(messages)
                .on_conflict_do_nothing_on([
                    webhook_message::Column::EndpointId,
                    webhook_message::Column::Sequence,
                ])
                .exec_without_returning(&txn)
                .await?;
        }
        webhook_endpoint::Entity::update_many()
            .col_expr(
                webhook_endpoint::Column::Cursor,
                sea_orm::sea_query::Expr::val(last),
            )
            .filter(webhook_endpoint::Column::Id.eq(endpoint.id))
            .exec(&txn)
            .await?;
        txn.commit().await
    }

    /// Claims the messages that are due and delivers them; answers how many it tried.
    pub async fn deliver_due(&self) -> Result<usize, DbErr> {
        let claimed = self.claim().await?;
        if claimed.is_empty() {
            return Ok(0);
        }
        let ids: Vec<i64> = claimed.iter().map(|m| m.endpoint_id).collect();
        let endpoints: HashMap<i64, webhook_endpoint::Model> = webhook_endpoint::Entity::find()
            .filter(webhook_endpoint::Column::Id.is_in(ids))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|e| (e.id, e))
            .collect();
        let count = claimed.len();
        futures_util::stream::iter(claimed)
            .map(|message| {
                let endpoint = endpoints.get(&message.endpoint_id);
                async move {
                    if let Some(endpoint) = endpoint
                        && let Err(error) = self.deliver(endpoint, message).await
                    {
                        tracing::warn!(%error, "webhooks: could not record a delivery");
                    }
                }
            })
            .buffer_unordered(CONCURRENT_DELIVERIES)
            .collect::<Vec<()>>()
            .await;
        Ok(count)
    }

    /// Takes the due messages of enabled endpoints for the length of a delivery attempt.
    async fn claim(&self) -> Result<Vec<webhook_message::Model>, DbErr> {
        let backend = self.db.get_database_backend();
        let now = now();
        let lease = now
            + chrono::Duration::from_std(self.settings.timeout + Duration::from_secs(5))
                .unwrap_or_default();
        let lock = match backend {
            DbBackend::Postgres => " FOR UPDATE SKIP LOCKED",
            _ => "",
        };
        let p = |n| placeholder(backend, n);
        let sql = format!(
            "UPDATE webhook_message SET lease_until = {lease} WHERE id IN (\
               SELECT id FROM webhook_message WHERE status = 'pending' AND next_attempt_at <= {now} \
               AND (lease_until IS NULL OR lease_until < {now}) \
               AND endpoint_id IN (SELECT id FROM webhook_endpoint WHERE enabled AND archived_at IS NULL) \
               ORDER BY next_attempt_at, id LIMIT {CLAIM_BATCH}{lock}) RETURNING *",
            lease = p(1),
            now = p(2),
        );
        webhook_message::Model::find_by_statement(Statement::from_sql_and_values(
            backend,
            sql,
            [lease.into(), now.into()],
        ))
        .all(&self.db)
        .await
    }

    /// One attempt: sign, POST, record the answer.
    async fn deliver(
        &self,
        endpoint: &webhook_endpoint::Model,
        message: webhook_message::Model,
    ) -> Result<(), DbErr> {
        let started = Instant::now();
        let outcome = self.send(endpoint, &message).await;
        let duration_ms = i32::try_from(started.elapsed().as_millis()).unwrap_or(i32::MAX);
        record(
            &self.db,
            &self.settings,
            endpoint,
            message,
            outcome,
            duration_ms,
        )
        .await
    }

    async fn send(
        &self,
        endpoint: &webhook_endpoint::Model,
        message: &webhook_message::Model,
    ) -> Outcome {
        // The address is checked again at every attempt, under the server's setting now: an
        // endpoint stored while internal addresses were allowed is not delivered to after.
        let url = match address::check_delivery(&endpoint.url, self.settings.allow_internal) {
            Ok(url) => url,
            Err(refused) => return Outcome::Failed(None, refused),
        };
        let body = match serde_json::to_vec(&message.payload) {
            Ok(body) => body,
            Err(error) => return Outcome::Failed(None, format!("the payload: {error}")),
        };
        let id = webhook_id(message);
        let timestamp = now().timestamp();
        let mut secrets = vec![endpoint.secret.as_str()];
        if let (Some(previous), Some(until)) = (
            endpoint.previous_secret.as_deref(),
            endpoint.previous_secret_expires_at,
        ) && until > now()
        {
            secrets.push(previous);
        }
        let signature = match signing::signature_header(&secrets, &id, timestamp, &body) {
            Ok(signature) => signature,
            Err(error) => return Outcome::Failed(None, error.to_string()),
        };
        let sent = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .header("webhook-id", &id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body)
            .send()
            .await;
        match sent {
            Ok(response) if response.status().is_success() => {
                Outcome::Delivered(i32::from(response.status().as_u16()))
            }
            Ok(response) => {
                let status = response.status();
                Outcome::Failed(
                    Some(i32::from(status.as_u16())),
                    format!("the endpoint answered {status}"),
                )
            }
            Err(error) => Outcome::Failed(None, describe(&error)),
        }
    }
}

/// How an attempt ended.
enum Outcome {
    Delivered(i32),
    /// The status, if an answer came, and what went wrong.
    Failed(Option<i32>, String),
}

fn describe(error: &reqwest::Error) -> String {
    let mut text = if error.is_timeout() {
        "no answer in time".to_owned()
    } else if error.is_connect() {
        "could not connect".to_owned()
    } else {
        "the request failed".to_owned()
    };
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Records an attempt and what follows from it: delivered, a retry scheduled, or failed for
/// good (and the endpoint disabled when nothing got through for the whole retry schedule).
async fn record(
    db: &DatabaseConnection,
    settings: &WebhookSettings,
    endpoint: &webhook_endpoint::Model,
    message: webhook_message::Model,
    outcome: Outcome,
    duration_ms: i32,
) -> Result<(), DbErr> {
    let txn = db.begin().await?;
    let now = now();
    let attempts = message.attempts + 1;
    let (status, error) = match &outcome {
        Outcome::Delivered(status) => (Some(*status), None),
        Outcome::Failed(status, error) => (*status, Some(error.clone())),
    };
    entity::webhook_attempt::Entity::insert(entity::webhook_attempt::ActiveModel {
        id: NotSet,
        message_id: Set(message.id),
        at: Set(now),
        status: Set(status),
        error: Set(error.clone()),
        duration_ms: Set(duration_ms),
    })
    .exec_without_returning(&txn)
    .await?;
    let mut update = webhook_message::Entity::update_many()
        .col_expr(webhook_message::Column::Attempts, attempts.into())
        .col_expr(
            webhook_message::Column::LeaseUntil,
            Option::<DateTime<Utc>>::None.into(),
        )
        .col_expr(webhook_message::Column::LastStatus, status.into())
        .col_expr(webhook_message::Column::LastError, error.clone().into())
        .filter(webhook_message::Column::Id.eq(message.id));
    match outcome {
        Outcome::Delivered(_) => {
            update = update
                .col_expr(
                    webhook_message::Column::Status,
                    WebhookMessageStatus::Delivered.stored().into(),
                )
                .col_expr(webhook_message::Column::DeliveredAt, Some(now).into());
            update.exec(&txn).await?;
            if endpoint.failing_since.is_some() {
                webhook_endpoint::Entity::update_many()
                    .col_expr(
                        webhook_endpoint::Column::FailingSince,
                        Option::<DateTime<Utc>>::None.into(),
                    )
                    .filter(webhook_endpoint::Column::Id.eq(endpoint.id))
                    .exec(&txn)
                    .await?;
            }
        }
        Outcome::Failed(..) => {
            let retry = usize::try_from(attempts)
                .ok()
                .and_then(|n| retry_delay(settings.retry_base, n));
            update = match retry {
                Some(delay) => update.col_expr(
                    webhook_message::Column::NextAttemptAt,
                    (now + chrono::Duration::from_std(delay).unwrap_or_default()).into(),
                ),
                None => update.col_expr(
                    webhook_message::Column::Status,
                    WebhookMessageStatus::Failed.stored().into(),
                ),
            };
            update.exec(&txn).await?;
            let failing_since = endpoint.failing_since.unwrap_or(now);
            // The shortest the whole retry schedule can take, jitter included.
            let schedule: Duration = RETRY_STEPS
                .iter()
                .map(|step| settings.retry_base.saturating_mul(*step).mul_f64(0.8))
                .sum();
            let failing_for = (now - failing_since).to_std().unwrap_or_default();
            // Kept from the first failure in a row, whichever instance saw it.
            webhook_endpoint::Entity::update_many()
                .col_expr(webhook_endpoint::Column::FailingSince, Some(now).into())
                .filter(webhook_endpoint::Column::Id.eq(endpoint.id))
                .filter(webhook_endpoint::Column::FailingSince.is_null())
                .exec(&txn)
                .await?;
            // This message used up every retry and nothing got through for as long as that
            // takes (over a day by default): the receiver is gone, not hiccuping.
            if retry.is_none() && failing_for >= schedule {
                let reason = format!(
                    "Disabled on {}: no delivery succeeded since {} (the last attempt: {}). \
                     Fix the receiver, then enable the endpoint again: the messages \
                     waiting for it are delivered then; redeliver the failed ones.",
                    now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    failing_since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    error.unwrap_or_default(),
                );
                disable(&txn, endpoint.id, now, reason).await?;
                tracing::warn!(endpoint = endpoint.id, url = %endpoint.url, "webhooks: endpoint disabled after failing for the whole retry schedule");
            }
        }
    }
    txn.commit().await
}

/// Disables an enabled endpoint, saying why.
async fn disable(
    db: &impl ConnectionTrait,
    endpoint: i64,
    now: DateTime<Utc>,
    reason: String,
) -> Result<(), DbErr> {
    webhook_endpoint::Entity::update_many()
        .col_expr(webhook_endpoint::Column::Enabled, false.into())
        .col_expr(webhook_endpoint::Column::DisabledAt, Some(now).into())
        .col_expr(
            webhook_endpoint::Column::DisabledReason,
            Some(reason).into(),
        )
        .filter(webhook_endpoint::Column::Id.eq(endpoint))
        .filter(webhook_endpoint::Column::Enabled.eq(true))
        .exec(db)
        .await
        .map(|_| ())
}

/// The `n`th parameter of a raw statement.
fn placeholder(backend: DbBackend, n: usize) -> String {
    match backend {
        DbBackend::Postgres => format!("${n}"),
        // Numbered, so that a value can be used twice.
        _ => format!("?{n}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_over_more_than_a_day_then_stop() {
        let base = Duration::from_secs(5);
        let delays: Vec<Duration> = (1..=RETRY_STEPS.len())
            .map(|n| retry_delay(base, n).unwrap())
            .collect();
        assert!(delays.windows(2).all(|w| w[1] >= w[0].mul_f64(0.6)));
        let least: Duration = RETRY_STEPS
            .iter()
            .map(|s| base.saturating_mul(*s).mul_f64(0.8))
            .sum();
        assert!(least > Duration::from_secs(24 * 3600), "{least:?}");
        assert!(retry_delay(base, RETRY_STEPS.len() + 1).is_none());
        assert!(retry_delay(base, 0).is_none());
    }
}
