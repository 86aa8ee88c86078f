//! [`Bounds`]: a box in x/y and a height range grown point by point (or box by box), the one
//! place where the planners take the extent of features, DEMs, clouds and tiles.

/// An x/y box `[xmin, ymin, xmax, ymax]` and a height range `(zmin, zmax)`, empty until
/// something is added (min at +∞, max at −∞).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Bounds {
    /// `[xmin, ymin, xmax, ymax]`.
    pub rect: [f64; 4],
    /// `(zmin, zmax)`.
    pub z: (f64, f64),
}

impl Bounds {
    /// Nothing yet.
    pub const EMPTY: Bounds = Bounds {
        rect: [
            f64::INFINITY,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NEG_INFINITY,
        ],
        z: (f64::INFINITY, f64::NEG_INFINITY),
    };

    /// Grow the box to hold a point.
    pub fn add_xy(&mut self, x: f64, y: f64) {
        self.add_rect([x, y, x, y]);
    }

    /// Grow the box to hold another box.
    pub fn add_rect(&mut self, r: [f64; 4]) {
        let a = &mut self.rect;
        *a = [
            a[0].min(r[0]),
            a[1].min(r[1]),
            a[2].max(r[2]),
            a[3].max(r[3]),
        ];
    }

    /// Grow the height range to hold `z`.
    pub fn add_z(&mut self, z: f64) {
        self.z = (self.z.0.min(z), self.z.1.max(z));
    }

    /// Grow box and height range to hold a point.
    pub fn add_xyz(&mut self, x: f64, y: f64, z: f64) {
        self.add_xy(x, y);
        self.add_z(z);
    }

    /// The union of boxes.
    pub fn of_rects(rects: impl IntoIterator<Item = [f64; 4]>) -> [f64; 4] {
        let mut b = Bounds::EMPTY;
        for r in rects {
            b.add_rect(r);
        }
        b.rect
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_from_empty() {
        let mut b = Bounds::EMPTY;
        b.add_xyz(1.0, 2.0, 3.0);
        b.add_xyz(-1.0, 5.0, 0.5);
        assert_eq!(b.rect, [-1.0, 2.0, 1.0, 5.0]);
        assert_eq!(b.z, (0.5, 3.0));
        assert_eq!(
            Bounds::of_rects([[0.0, 0.0, 1.0, 1.0], [2.0, -1.0, 3.0, 0.5]]),
            [0.0, -1.0, 3.0, 1.0]
        );
        assert_eq!(Bounds::of_rects([]), Bounds::EMPTY.rect);
    }
}
