//! The SensorThings MQTT extension through a broker (mosquitto): the server subscribes to
//! `v1.1/Datastreams(<id>)/Observations` (as `v1.1/+/Observations`) with a persistent session
//! at QoS 1 and acknowledges a message (PUBACK) only after the group commit that stores it;
//! messages are stored several per write job ([`MAX_BATCH`]; what arrived while the last job was
//! queued); it publishes each new observation, however it came in, on
//! `v1.1/Datastreams(<id>)/Observations` and `v1.1/Observations`.
//!
//! The server hears its own publications back through its subscription: a payload with an
//! `@iot.id` is an observation already stored, acknowledged and dropped.
//! QoS 1 is at-least-once: a message stored whose PUBACK was lost (the server killed between
//! the commit and the PUBACK) comes again with its DUP flag, and is stored only when no
//! observation of that Datastream with the same phenomenon time and result is there.
//! A message that is not an observation of a known Datastream is acknowledged and dropped
//! (logged): redelivering it would never succeed.

use super::Live;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use twin_core::live::store::NewObservation;
use twin_core::live::{Entity, EntitySet, WriteOp};

/// MQTT messages stored by one write job at most.
pub const MAX_BATCH: usize = 2048;

/// Where the broker is and who the server is to it.
#[derive(Clone, Debug)]
pub struct MqttConfig {
    /// Broker host (loopback by default).
    pub host: String,
    /// Broker port.
    pub port: u16,
    /// The client id of the server's persistent session (keep it across restarts: messages
    /// published while the server was down are delivered to it then).
    pub client_id: String,
    /// Publish new observations.
    pub publish: bool,
}

impl Default for MqttConfig {
    fn default() -> Self {
        MqttConfig {
            host: "127.0.0.1".into(),
            port: 1883,
            client_id: "huetwin-sta".into(),
            publish: true,
        }
    }
}

/// The topic a Datastream's observations are created and published on.
pub fn datastream_topic(ds: i64) -> String {
    format!("v1.1/Datastreams({ds})/Observations")
}

/// The Datastream of a topic `v1.1/Datastreams(<id>)/Observations`.
pub fn topic_datastream(topic: &str) -> Option<i64> {
    topic
        .strip_prefix("v1.1/Datastreams(")?
        .strip_suffix(")/Observations")?
        .parse()
        .ok()
}

/// An observation as published: its JSON with `@iot.id`.
pub fn payload(o: &Entity) -> Vec<u8> {
    let mut m = serde_json::Map::new();
    m.insert("@iot.id".into(), json!(o.id));
    m.insert(
        "@iot.selfLink".into(),
        json!(format!("/v1.1/Observations({})", o.id)),
    );
    for (k, v) in &o.props {
        m.insert(k.clone(), v.clone());
    }
    m.insert(
        "Datastream@iot.navigationLink".into(),
        json!(format!("/v1.1/Observations({})/Datastream", o.id)),
    );
    Value::Object(m).to_string().into_bytes()
}

/// Start the bridge on a thread of its own (its own tokio runtime): a task that keeps the
/// connection (reconnecting after a second when it drops) and stores what arrives, and one
/// that publishes new observations.
pub fn spawn(live: Arc<Live>, cfg: MqttConfig) -> Result<(), crate::error::ApiError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| crate::error::ApiError::internal(format!("MQTT runtime: {e}")))?;
    std::thread::Builder::new()
        .name("mqtt-bridge".into())
        .spawn(move || rt.block_on(bridge(live, cfg)))
        .map_err(|e| crate::error::ApiError::internal(format!("MQTT thread: {e}")))?;
    Ok(())
}

async fn bridge(live: Arc<Live>, cfg: MqttConfig) {
    let mut opts = MqttOptions::new(cfg.client_id.clone(), cfg.host.clone(), cfg.port);
    opts.set_clean_session(false)
        .set_manual_acks(true)
        .set_keep_alive(Duration::from_secs(30))
        .set_inflight(1000)
        .set_max_packet_size(1 << 20, 1 << 20);
    let (client, mut eventloop) = AsyncClient::new(opts, 65_536);
    if cfg.publish {
        let mut rx = live.events.subscribe();
        let pubc = client.clone();
        tokio::spawn(async move {
            loop {
                let o = match rx.recv().await {
                    Ok(o) => o,
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                        tracing::warn!(
                            "MQTT: {n} new observations not published (publisher behind)"
                        );
                        continue;
                    }
                    Err(_) => break,
                };
                let body = payload(&o);
                if let Some(ds) = o.link("Datastream") {
                    let _ = pubc
                        .publish(datastream_topic(ds), QoS::AtMostOnce, false, body.clone())
                        .await;
                }
                let _ = pubc
                    .publish("v1.1/Observations", QoS::AtMostOnce, false, body)
                    .await;
            }
        });
    }
    let (batch_tx, batch_rx) = tokio::sync::mpsc::channel(MAX_BATCH * 4);
    tokio::spawn(batcher(live.clone(), client.clone(), batch_rx));
    // Datastreams known to exist (a message for another is dropped before any batch).
    let mut known: std::collections::HashSet<i64> = std::collections::HashSet::new();
    {
        loop {
            match eventloop.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                    tracing::info!(
                        "MQTT: connected to {}:{} (session present: {})",
                        cfg.host,
                        cfg.port,
                        ack.session_present
                    );
                    let c = client.clone();
                    tokio::spawn(async move {
                        if let Err(e) = c.subscribe("v1.1/+/Observations", QoS::AtLeastOnce).await {
                            tracing::warn!("MQTT subscribe: {e}");
                        }
                    });
                }
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    let Some(ds) = topic_datastream(&p.topic) else {
                        ack(&client, &p);
                        continue;
                    };
                    let body: Value = match serde_json::from_slice(&p.payload) {
                        Ok(v) => v,
                        Err(e) => {
                            tracing::info!("MQTT {}: not JSON ({e}); dropped", p.topic);
                            ack(&client, &p);
                            continue;
                        }
                    };
                    if body.get("@iot.id").is_some() {
                        // Our own publication, already stored.
                        ack(&client, &p);
                        continue;
                    }
                    let obs = match twin_core::live::store::observation_body(&body, Some(ds)) {
                        Ok(o) => o,
                        Err(e) => {
                            tracing::info!("MQTT {}: {e}; dropped", p.topic);
                            ack(&client, &p);
                            continue;
                        }
                    };
                    if !known.contains(&ds) {
                        if live
                            .store
                            .get(EntitySet::Datastreams, ds)
                            .ok()
                            .flatten()
                            .is_some()
                        {
                            known.insert(ds);
                        } else {
                            tracing::info!("MQTT {}: no Datastream {ds}; dropped", p.topic);
                            ack(&client, &p);
                            continue;
                        }
                    }
                    // Blocks while the batcher is behind: the broker then holds the rest.
                    if batch_tx.send((obs, p)).await.is_err() {
                        return;
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!("MQTT {}:{}: {e}; reconnecting", cfg.host, cfg.port);
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }
}

/// Acknowledge a message (QoS 1 and 2) once it is stored or refused for good.
fn ack(c: &AsyncClient, p: &rumqttc::Publish) {
    if p.qos != QoS::AtMostOnce {
        if let Err(e) = c.try_ack(p) {
            tracing::warn!("MQTT PUBACK not sent ({e}): the broker will deliver again");
        }
    }
}

/// Store the messages the bridge has read, several per write job: whatever arrived while the
/// previous job was being queued (up to [`MAX_BATCH`]) goes in one job, split where the DUP
/// flag changes (redelivered messages are checked against what is stored). Each message is
/// acknowledged only after the group commit that holds its job. A job refused as a whole (a
/// Datastream deleted meanwhile) is written again one message per job, so only the messages
/// that cannot be stored are dropped.
async fn batcher(
    live: Arc<Live>,
    client: AsyncClient,
    mut rx: tokio::sync::mpsc::Receiver<(NewObservation, rumqttc::Publish)>,
) {
    let (retry_tx, mut retry_rx) = tokio::sync::mpsc::unbounded_channel();
    loop {
        let mut batch = Vec::new();
        tokio::select! {
            got = rx.recv_many(&mut batch, MAX_BATCH) => {
                if got == 0 {
                    return;
                }
            }
            Some(failed) = retry_rx.recv() => {
                let failed: Vec<rumqttc::Publish> = failed;
                for p in failed {
                    // Parsed once already; parsed again rather than kept (a copy of every
                    // message) for this rare path.
                    let obs = serde_json::from_slice(&p.payload).ok().and_then(|body| {
                        twin_core::live::store::observation_body(&body, topic_datastream(&p.topic))
                            .ok()
                    });
                    match obs {
                        Some(o) => submit(&live, &client, vec![(o, p)], None),
                        None => ack(&client, &p),
                    }
                }
                continue;
            }
        }
        // Runs of the same DUP flag, in arrival order.
        while !batch.is_empty() {
            let dup = batch[0].1.dup;
            let n = batch.iter().take_while(|(_, p)| p.dup == dup).count();
            let rest = batch.split_off(n);
            submit(&live, &client, batch, Some(retry_tx.clone()));
            batch = rest;
        }
    }
}

/// One write job of messages; acknowledged after its commit. Refused: sent back on `retry`
/// (when given and there is more than one) to be written one by one, else acknowledged and
/// dropped.
fn submit(
    live: &Live,
    client: &AsyncClient,
    msgs: Vec<(NewObservation, rumqttc::Publish)>,
    retry: Option<tokio::sync::mpsc::UnboundedSender<Vec<rumqttc::Publish>>>,
) {
    let dup = msgs.first().is_some_and(|(_, p)| p.dup);
    let (obs, msgs): (Vec<NewObservation>, Vec<rumqttc::Publish>) = msgs.into_iter().unzip();
    let op = if dup {
        WriteOp::Redelivered(obs)
    } else {
        WriteOp::Observations(obs)
    };
    let c = client.clone();
    let events = live.events.clone();
    let done: twin_core::live::store::Done = Box::new(move |r| match r {
        Ok(out) => {
            for o in out.observations {
                let _ = events.send(Arc::new(o));
            }
            // After the commit: every message of the job is durable.
            for p in &msgs {
                ack(&c, p);
            }
        }
        Err(e) => match retry {
            Some(retry) if msgs.len() > 1 => {
                tracing::info!(
                    "MQTT: a job of {} messages refused ({e}); one by one",
                    msgs.len()
                );
                if let Err(back) = retry.send(msgs) {
                    for p in &back.0 {
                        ack(&c, p);
                    }
                }
            }
            _ => {
                for p in &msgs {
                    tracing::info!("MQTT {}: {e}; dropped", p.topic);
                    ack(&c, p);
                }
            }
        },
    });
    // Blocks while the writer's queue is full: the broker then holds the rest.
    live.store.submit(op, done);
}
