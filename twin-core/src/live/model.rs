//! The SensorThings entity model: the eight entity sets, their navigation links, and an
//! entity as stored (JSON properties plus the ids it links to).

use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// The entity sets of the OGC SensorThings API 1.1 sensing part.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EntitySet {
    /// Things (a gauge station, a camera pole).
    Things,
    /// Locations of Things.
    Locations,
    /// When a Thing was where.
    HistoricalLocations,
    /// Instruments.
    Sensors,
    /// What is observed (river stage, rain).
    ObservedProperties,
    /// A Thing's series of one property by one Sensor.
    Datastreams,
    /// Single readings.
    Observations,
    /// What an Observation is about.
    FeaturesOfInterest,
}

/// A navigation property of an entity set.
#[derive(Clone, Copy, Debug)]
pub struct Nav {
    /// Its name (`Thing`, `Datastreams`...).
    pub name: &'static str,
    /// The set it leads to.
    pub target: EntitySet,
    /// Many entities (a collection) or at most one.
    pub many: bool,
    /// The link is held by this entity under `name`; otherwise the target holds it under
    /// `inverse`.
    pub stored: bool,
    /// The name of the link held by the target, when `stored` is false.
    pub inverse: &'static str,
}

const fn own(name: &'static str, target: EntitySet, many: bool) -> Nav {
    Nav {
        name,
        target,
        many,
        stored: true,
        inverse: "",
    }
}

const fn theirs(name: &'static str, target: EntitySet, inverse: &'static str) -> Nav {
    Nav {
        name,
        target,
        many: true,
        stored: false,
        inverse,
    }
}

impl EntitySet {
    /// Every set, in the order of the service root.
    pub const ALL: [EntitySet; 8] = [
        EntitySet::Things,
        EntitySet::Locations,
        EntitySet::HistoricalLocations,
        EntitySet::Sensors,
        EntitySet::ObservedProperties,
        EntitySet::Datastreams,
        EntitySet::Observations,
        EntitySet::FeaturesOfInterest,
    ];

    /// The set's name in URLs (`Things`).
    pub fn name(self) -> &'static str {
        match self {
            EntitySet::Things => "Things",
            EntitySet::Locations => "Locations",
            EntitySet::HistoricalLocations => "HistoricalLocations",
            EntitySet::Sensors => "Sensors",
            EntitySet::ObservedProperties => "ObservedProperties",
            EntitySet::Datastreams => "Datastreams",
            EntitySet::Observations => "Observations",
            EntitySet::FeaturesOfInterest => "FeaturesOfInterest",
        }
    }

    /// The name of one entity as a navigation property (`Thing`).
    pub fn singular(self) -> &'static str {
        match self {
            EntitySet::Things => "Thing",
            EntitySet::Locations => "Location",
            EntitySet::HistoricalLocations => "HistoricalLocation",
            EntitySet::Sensors => "Sensor",
            EntitySet::ObservedProperties => "ObservedProperty",
            EntitySet::Datastreams => "Datastream",
            EntitySet::Observations => "Observation",
            EntitySet::FeaturesOfInterest => "FeatureOfInterest",
        }
    }

    /// The set named `s` (plural, as in URLs).
    pub fn parse(s: &str) -> Option<EntitySet> {
        EntitySet::ALL.into_iter().find(|e| e.name() == s)
    }

    /// The navigation properties of the set.
    pub fn navigation(self) -> &'static [Nav] {
        use EntitySet::*;
        const THINGS: &[Nav] = &[
            own("Locations", Locations, true),
            theirs("HistoricalLocations", HistoricalLocations, "Thing"),
            theirs("Datastreams", Datastreams, "Thing"),
        ];
        const LOCATIONS: &[Nav] = &[
            theirs("Things", Things, "Locations"),
            theirs("HistoricalLocations", HistoricalLocations, "Locations"),
        ];
        const HISTORICAL: &[Nav] = &[
            own("Thing", Things, false),
            own("Locations", Locations, true),
        ];
        const SENSORS: &[Nav] = &[theirs("Datastreams", Datastreams, "Sensor")];
        const PROPERTIES: &[Nav] = &[theirs("Datastreams", Datastreams, "ObservedProperty")];
        const DATASTREAMS: &[Nav] = &[
            own("Thing", Things, false),
            own("Sensor", Sensors, false),
            own("ObservedProperty", ObservedProperties, false),
            theirs("Observations", Observations, "Datastream"),
        ];
        const OBSERVATIONS: &[Nav] = &[
            own("Datastream", Datastreams, false),
            own("FeatureOfInterest", FeaturesOfInterest, false),
        ];
        const FOIS: &[Nav] = &[theirs("Observations", Observations, "FeatureOfInterest")];
        match self {
            Things => THINGS,
            Locations => LOCATIONS,
            HistoricalLocations => HISTORICAL,
            Sensors => SENSORS,
            ObservedProperties => PROPERTIES,
            Datastreams => DATASTREAMS,
            Observations => OBSERVATIONS,
            FeaturesOfInterest => FOIS,
        }
    }

    /// The navigation property `name` of the set.
    pub fn nav(self, name: &str) -> Option<&'static Nav> {
        self.navigation().iter().find(|n| n.name == name)
    }

    /// Properties a new entity must have (besides its required links).
    pub fn required(self) -> &'static [&'static str] {
        match self {
            EntitySet::Things => &["name", "description"],
            EntitySet::Locations => &["name", "description", "encodingType", "location"],
            EntitySet::HistoricalLocations => &["time"],
            EntitySet::Sensors => &["name", "description", "encodingType", "metadata"],
            EntitySet::ObservedProperties => &["name", "definition", "description"],
            EntitySet::Datastreams => &[
                "name",
                "description",
                "unitOfMeasurement",
                "observationType",
            ],
            EntitySet::Observations => &["result"],
            EntitySet::FeaturesOfInterest => &["name", "description", "encodingType", "feature"],
        }
    }

    /// The properties an entity of the set may have (others are refused).
    pub fn properties(self) -> &'static [&'static str] {
        match self {
            EntitySet::Things => &["name", "description", "properties"],
            EntitySet::Locations => &[
                "name",
                "description",
                "encodingType",
                "location",
                "properties",
            ],
            EntitySet::HistoricalLocations => &["time"],
            EntitySet::Sensors => &[
                "name",
                "description",
                "encodingType",
                "metadata",
                "properties",
            ],
            EntitySet::ObservedProperties => &["name", "definition", "description", "properties"],
            EntitySet::Datastreams => &[
                "name",
                "description",
                "unitOfMeasurement",
                "observationType",
                "observedArea",
                "phenomenonTime",
                "resultTime",
                "properties",
            ],
            EntitySet::Observations => &[
                "phenomenonTime",
                "result",
                "resultTime",
                "resultQuality",
                "validTime",
                "parameters",
            ],
            EntitySet::FeaturesOfInterest => &[
                "name",
                "description",
                "encodingType",
                "feature",
                "properties",
            ],
        }
    }
}

/// One stored entity.
#[derive(Clone, Debug, PartialEq)]
pub struct Entity {
    /// Its set.
    pub set: EntitySet,
    /// Its `@iot.id`.
    pub id: i64,
    /// Its properties (no navigation links, no `@iot` annotations).
    pub props: Map<String, Value>,
    /// The links it holds: navigation property name → ids.
    pub links: BTreeMap<String, Vec<i64>>,
}

impl Entity {
    /// The one id held under a to-one link.
    pub fn link(&self, name: &str) -> Option<i64> {
        self.links.get(name).and_then(|v| v.first().copied())
    }
}
