//! Travel demand: trips between origin and destination nodes.

/// Trips from one origin node to one destination node (external node ids).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct OdTrip {
    /// Origin node id.
    pub origin: u64,
    /// Destination node id.
    pub destination: u64,
    /// Trips (flow units per period).
    pub trips: f64,
}

/// An origin-destination matrix, stored sparse.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Demand {
    /// The OD entries; an origin-destination pair may appear more than once (the trips add).
    pub trips: Vec<OdTrip>,
    /// The total the file declared (TNTP `<TOTAL OD FLOW>`), when it declared one.
    pub declared_total: Option<f64>,
}

impl Demand {
    /// Sum of all trips (intrazonal ones included).
    pub fn total(&self) -> f64 {
        self.trips.iter().map(|t| t.trips).sum()
    }

    /// Multiplies every entry by `factor`.
    pub fn scale(&mut self, factor: f64) {
        for t in &mut self.trips {
            t.trips *= factor;
        }
        self.declared_total = self.declared_total.map(|d| d * factor);
    }
}
