"""Drives the server's SensorThings API with FROST-Server's Python client (PyPI
frost_sta_client): creates a Thing with a Location, a Sensor, an ObservedProperty and a
Datastream, posts observations, reads and filters them. Prints one JSON object of what it
saw; the Rust test (tests/sta.rs) checks it.

usage: frost_client.py <base url .../v1.1> <bearer token>
"""
import json
import sys

import frost_sta_client as fsc
import geojson
import requests
from frost_sta_client.service.auth_handler import AuthHandler


class Bearer(requests.auth.AuthBase):
    def __init__(self, token):
        self.token = token

    def __call__(self, r):
        r.headers["Authorization"] = "Bearer " + self.token
        return r


class BearerHandler(AuthHandler):
    """frost_sta_client sends HTTP Basic; the twin takes bearer tokens."""

    def __init__(self, token):
        super().__init__("", "")
        self.token = token

    def add_auth_header(self):
        return Bearer(self.token)


base, token = sys.argv[1], sys.argv[2]
svc = fsc.SensorThingsService(base, auth_handler=BearerHandler(token))

loc = fsc.Location(name="Kim Long", description="left bank of the Perfume River",
                   encoding_type="application/geo+json",
                   location=geojson.Point((107.5579385, 16.4560368)))
thing = fsc.Thing(name="Kim Long test gauge", description="river stage gauge",
                  properties={"owner": "test"}, locations=[loc])
svc.create(thing)
sensor = fsc.Sensor(name="radar level", description="radar", encoding_type="text/plain",
                    metadata="none")
svc.create(sensor)
prop = fsc.ObservedProperty(name="river stage", definition="urn:stage",
                            description="water level above datum")
svc.create(prop)
uom = fsc.UnitOfMeasurement(name="metre", symbol="m", definition="m")
ds = fsc.Datastream(name="Kim Long stage", description="stage, hourly",
                    observation_type="http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement",
                    unit_of_measurement=uom, thing=thing, sensor=sensor, observed_property=prop)
svc.create(ds)

# 48 hourly stages: 1.0 m rising 0.1 m an hour.
for h in range(48):
    obs = fsc.Observation(result=round(1.0 + 0.1 * h, 3),
                          phenomenon_time="2025-10-27T%02d:00:00Z" % h if h < 24 else "2025-10-28T%02d:00:00Z" % (h - 24),
                          datastream=ds)
    svc.create(obs)

out = {"thing": thing.id, "datastream": ds.id}
# All of them, through the client's paging (nextLink).
all_obs = list(ds.get_observations().query().top(10).list())
out["all"] = len(all_obs)
above = list(svc.observations().query()
             .filter("Datastream/id eq %d and result ge 3.5" % ds.id).list())
out["above_3_5"] = sorted(o.result for o in above)
day2 = ds.get_observations().query().filter(
    "phenomenonTime ge 2025-10-28T00:00:00Z and phenomenonTime lt 2025-10-28T06:00:00Z").orderby("phenomenonTime", "desc").list()
out["day2_first6_desc"] = [o.result for o in day2]
arith = ds.get_observations().query().filter("result mul 10 sub 10 eq 5").list()
out["arith"] = [o.result for o in arith]
hours = ds.get_observations().query().filter("hour(phenomenonTime) eq 12").list()
out["hour12"] = sorted(o.result for o in hours)
counted = ds.get_observations().query().count().top(1).list()
out["count"] = counted.count
inside = svc.things().query().filter(
    "st_within(Locations/location, geography'POLYGON((107.55 16.45,107.56 16.45,107.56 16.46,107.55 16.46,107.55 16.45))')").list()
out["things_in_box"] = sorted(t.name for t in inside)
found = svc.things().find(thing.id)
out["found_name"] = found.name
exp = svc.things().query().filter("name eq 'Kim Long test gauge'").expand(
    "Locations,Datastreams($select=name;$expand=Observations($top=2;$orderby=phenomenonTime desc))").list()
t0 = list(exp)[0]
out["expanded_locations"] = len(t0.locations.entities) if t0.locations is not None else -1
dss = t0.datastreams.entities
out["expanded_ds"] = [d.name for d in dss]
out["expanded_obs"] = [o.result for o in dss[0].observations.entities]
# A JSON Patch through the client, then a PUT (update).
svc.things().patch(thing, [{"op": "replace", "path": "/description", "value": "patched"}])
out["patched"] = svc.things().find(thing.id).description
# Delete one observation and see it gone.
svc.delete(above[0])
out["after_delete"] = len(list(ds.get_observations().query().top(100).list()))
print(json.dumps(out))
