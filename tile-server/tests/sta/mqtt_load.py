"""Publishes observations at QoS 1 with paho-mqtt as fast as the broker takes them, each
with a unique result (start, start+1, ...), and appends to <acked file> the result of every
message the broker acknowledged (PUBACK), as it arrives. Stops after <count> messages or
when killed.

usage: mqtt_load.py <port> <topic> <start> <count> <acked file>
"""
import datetime
import sys
import threading

import paho.mqtt.client as mqtt

port, topic, start, count, acked_path = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
acked = open(acked_path, "a", buffering=1)
pending = {}
early = set()
lock = threading.Lock()
done = threading.Event()
n_acked = 0


def on_publish(client, userdata, mid, reason_code=None, properties=None):
    global n_acked
    with lock:
        seq = pending.pop(mid, None)
        if seq is None:
            early.add(mid)
        else:
            acked.write("%d\n" % seq)
        n_acked += 1
    if n_acked >= count:
        done.set()


c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="load-%d" % start, clean_session=True)
c.max_inflight_messages_set(1000)
c.max_queued_messages_set(0)
c.on_publish = on_publish
c.connect("127.0.0.1", port)
c.loop_start()
for i in range(count):
    seq = start + i
    # phenomenon time: the sequence number in seconds after 1.7e9 s (2023-11-14T22:13:20Z)
    t = datetime.datetime.fromtimestamp(1_700_000_000 + seq, datetime.timezone.utc)
    body = '{"phenomenonTime":"%s","result":%d}' % (t.strftime("%Y-%m-%dT%H:%M:%SZ"), seq)
    # Not under the lock: paho calls on_publish holding its own locks.
    info = c.publish(topic, body, qos=1)
    with lock:
        if info.mid in early:
            early.discard(info.mid)
            acked.write("%d\n" % seq)
        else:
            pending[info.mid] = seq
    if i % 1000 == 999:
        # Keep at most a few thousand waiting in the client.
        while len(pending) > 5000:
            threading.Event().wait(0.001)
done.wait(120)
c.loop_stop()
acked.close()
