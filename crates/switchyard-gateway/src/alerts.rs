//! Delivering spend alerts: to the log, to the store (so each fires once per month even
//! across restarts), to subscribers such as the desktop shell, and to the alert's
//! webhook (generic JSON or Slack) with retries.

use crate::config::WebhookFormat;
use crate::spend::FiredAlert;
use serde_json::json;
use std::time::Duration;
use switchyard_store::{AlertEvent, Store};
use tokio::sync::{broadcast, mpsc};

/// Retries after a failed webhook delivery.
pub const WEBHOOK_RETRIES: u32 = 3;
/// Timeout of one webhook delivery.
pub const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(15);
/// Wait before the first retry; doubled for each further one.
pub const WEBHOOK_BACKOFF: Duration = Duration::from_secs(1);

/// Runs until every sender of `fired` is gone.
pub async fn deliver(
    mut fired: mpsc::UnboundedReceiver<FiredAlert>,
    store: Store,
    http: reqwest::Client,
    subscribers: broadcast::Sender<AlertEvent>,
) {
    while let Some(alert) = fired.recv().await {
        let e = &alert.event;
        tracing::warn!(
            alert = %e.alert, subject = %e.subject, spent_usd = e.spent_usd,
            threshold_usd = e.threshold_usd, "spend alert"
        );
        let store = store.clone();
        let event = e.clone();
        let _ = tokio::task::spawn_blocking(move || {
            if let Err(err) = store.insert_alert_event(&event) {
                tracing::error!(error = %err, "could not record a spend alert");
            }
        })
        .await;
        // No subscriber (headless) is fine.
        let _ = subscribers.send(alert.event.clone());
        if let Some(url) = alert.webhook.clone() {
            let body = webhook_body(&alert.event, alert.format);
            tokio::spawn(post_with_retries(http.clone(), url, body));
        }
    }
}

/// A one-line description of an alert, for notifications and Slack.
pub fn describe(e: &AlertEvent) -> String {
    let who = if e.subject == "gateway" {
        "The gateway".to_string()
    } else {
        format!("Key '{}'", e.subject)
    };
    let limit = e
        .limit_usd
        .map(|l| format!(" of a ${l:.2} monthly limit"))
        .unwrap_or_default();
    format!(
        "Switchyard spend alert '{}': {who} has spent ${:.2} in {} (threshold ${:.2}{limit}).",
        e.alert, e.spent_usd, e.month, e.threshold_usd
    )
}

pub fn webhook_body(e: &AlertEvent, format: WebhookFormat) -> serde_json::Value {
    match format {
        WebhookFormat::Json => json!({
            "type": "switchyard.spend_alert",
            "alert": e.alert,
            "subject": e.subject,
            "month": e.month,
            "spent_usd": e.spent_usd,
            "threshold_usd": e.threshold_usd,
            "limit_usd": e.limit_usd,
            "fired_at_ms": e.fired_ms,
            "message": describe(e),
        }),
        WebhookFormat::Slack => json!({ "text": describe(e) }),
    }
}

async fn post_with_retries(http: reqwest::Client, url: String, body: serde_json::Value) {
    let mut wait = WEBHOOK_BACKOFF;
    for attempt in 0..=WEBHOOK_RETRIES {
        let sent = http
            .post(&url)
            .timeout(WEBHOOK_TIMEOUT)
            .json(&body)
            .send()
            .await;
        match sent {
            Ok(r) if r.status().is_success() => return,
            Ok(r) => tracing::warn!(status = %r.status(), attempt, "alert webhook refused"),
            Err(e) => tracing::warn!(error = %e, attempt, "alert webhook failed"),
        }
        if attempt < WEBHOOK_RETRIES {
            tokio::time::sleep(wait).await;
            wait *= 2;
        }
    }
    tracing::error!("alert webhook gave up after {} retries", WEBHOOK_RETRIES);
}
