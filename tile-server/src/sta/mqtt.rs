//! The SensorThings MQTT extension through a broker (mosquitto): the server subscribes to
//! `v1.1/Datastreams(<id>)/Observations` (as `v1.1/+/Observations`) with a persistent session
//! at QoS 1 and acknowledges a message (PUBACK) only after the group commit that stores it;
//! it publishes each new observation, however it came in, on
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
use twin_core::live::{Entity, WriteOp};

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
                    let ack = |c: &AsyncClient, p: &rumqttc::Publish| {
                        if p.qos != QoS::AtMostOnce {
                            if let Err(e) = c.try_ack(p) {
                                tracing::warn!(
                                    "MQTT PUBACK not sent ({e}): the broker will deliver again"
                                );
                            }
                        }
                    };
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
                    let dup = p.dup;
                    let c = client.clone();
                    let events = live.events.clone();
                    let topic = p.topic.clone();
                    let done: twin_core::live::store::Done = Box::new(move |r| {
                        match r {
                            Ok(out) => {
                                for o in out.observations {
                                    let _ = events.send(Arc::new(o));
                                }
                            }
                            Err(e) => tracing::info!("MQTT {topic}: {e}; dropped"),
                        }
                        // After the commit: the observation is durable (or refused for good).
                        ack(&c, &p);
                    });
                    // Blocks while the writer's queue is full: the broker then holds the rest.
                    let op = if dup {
                        WriteOp::Redelivered(vec![obs])
                    } else {
                        WriteOp::Observations(vec![obs])
                    };
                    live.store.submit(op, done);
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
