//! The mutation engine: a small seeded random number generator and byte-level mutations of
//! text and binary inputs (bit flips, byte insertion and deletion, copies, splices from another
//! input, dictionary tokens, interesting numbers written as text or as little-endian binary).

/// SplitMix64: a fast, seeded, reproducible generator (no dependency).
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9e37_79b9_7f4a_7c15)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next_u64() % n as u64) as usize
        }
    }

    /// True with probability 1/n.
    pub fn one_in(&mut self, n: usize) -> bool {
        self.below(n) == 0
    }
}

/// Tokens spliced into inputs: JSON/TOML/CSV/TNTP structure, GeoJSON and CityJSON keys, and
/// numbers that break parsers (huge, NaN, infinities, negative zero, integer limits).
pub const DICTIONARY: &[&str] = &[
    "[",
    "]",
    "{",
    "}",
    ",",
    ":",
    "\"",
    "\n",
    ";",
    "=",
    "~",
    "\t",
    "\0",
    "null",
    "true",
    "false",
    "\"\"",
    "[]",
    "{}",
    "[0]",
    "[[]]",
    "[[[]]]",
    "\"type\":\"CityJSON\"",
    "\"type\":\"CityJSONFeature\"",
    "\"type\":\"Feature\"",
    "\"type\":\"FeatureCollection\"",
    "\"type\":\"Polygon\"",
    "\"type\":\"MultiPolygon\"",
    "\"type\":\"Point\"",
    "\"type\":\"LineString\"",
    "\"type\":\"GeometryCollection\"",
    "\"type\":\"Solid\"",
    "\"type\":\"MultiSurface\"",
    "\"type\":\"CompositeSolid\"",
    "\"coordinates\":",
    "\"boundaries\":",
    "\"vertices\":",
    "\"transform\":",
    "\"scale\":[0,0,0]",
    "\"translate\":[1e308,0,0]",
    "\"lod\":\"2.2\"",
    "\"geometry\":",
    "\"semantics\":",
    "\"values\":",
    "\"CityObjects\":",
    "\"children\":",
    "\"parents\":",
    "\"referenceSystem\":\"https://www.opengis.net/def/crs/EPSG/0/7415\"",
    "\"properties\":",
    "\"id\":",
    "\"building\":\"yes\"",
    "\"height\":",
    "\"building:levels\":",
    "1e308",
    "-1e308",
    "1e309",
    "NaN",
    "nan",
    "inf",
    "-inf",
    "-0",
    "0",
    "-1",
    "1",
    "0.0",
    "4294967295",
    "2147483648",
    "-2147483649",
    "18446744073709551616",
    "9999999999999999999999",
    "1e-320",
    "0x10",
    "+1",
    ".5",
    "1.",
    "1e",
    "--1",
    "ncols",
    "nrows",
    "xllcorner",
    "yllcorner",
    "xllcenter",
    "cellsize",
    "NODATA_value",
    "dx",
    "<NUMBER OF ZONES>",
    "<NUMBER OF NODES>",
    "<NUMBER OF LINKS>",
    "<FIRST THRU NODE>",
    "<TOTAL OD FLOW>",
    "<END OF METADATA>",
    "Origin",
    "model = \"flood\"",
    "model = \"traffic\"",
    "[[stage]]",
    "[[edit]]",
    "[rain]",
    "[demand]",
    "series = [[0, 1e308]]",
    "bbox = [0, 0, 0, 0]",
    "resolution_m = 0",
    "duration_s = 1e308",
    "id,kind,unit,lon,lat",
    "x,y",
];

/// Interesting numbers written in binary (LAS headers, GeoTIFF tags, LAZ chunk tables).
const INTERESTING_U32: &[u32] = &[
    0,
    1,
    2,
    0x7f,
    0x80,
    0xff,
    0x100,
    0xffff,
    0x1_0000,
    0x7fff_ffff,
    0x8000_0000,
    u32::MAX,
];
const INTERESTING_F64: &[f64] = &[
    0.0,
    -0.0,
    1.0,
    -1.0,
    1e308,
    -1e308,
    f64::NAN,
    f64::INFINITY,
    f64::NEG_INFINITY,
    1e-320,
    f64::MIN_POSITIVE,
];

/// Mutate `data` in place with 1 to 8 stacked mutations; `other` is another input of the same
/// target to splice from. The result is cut to `max_len` bytes.
pub fn mutate(rng: &mut Rng, data: &mut Vec<u8>, other: &[u8], max_len: usize) {
    let n = 1 + rng.below(8);
    for _ in 0..n {
        one(rng, data, other);
    }
    data.truncate(max_len);
}

fn one(rng: &mut Rng, data: &mut Vec<u8>, other: &[u8]) {
    let len = data.len();
    match rng.below(13) {
        // Flip a bit.
        0 if len > 0 => {
            let i = rng.below(len);
            data[i] ^= 1 << rng.below(8);
        }
        // Set a byte to an interesting or random value.
        1 if len > 0 => {
            let i = rng.below(len);
            data[i] = [
                0u8,
                0xff,
                0x7f,
                0x80,
                b'0',
                b'9',
                b'-',
                b'.',
                b'e',
                rng.next_u64() as u8,
            ][rng.below(10)];
        }
        // Insert random bytes.
        2 => {
            let i = rng.below(len + 1);
            let k = 1 + rng.below(8);
            let bytes: Vec<u8> = (0..k).map(|_| rng.next_u64() as u8).collect();
            data.splice(i..i, bytes);
        }
        // Delete a range.
        3 if len > 0 => {
            let i = rng.below(len);
            let most = if rng.one_in(4) { 4096 } else { 16 };
            let k = 1 + rng.below((len - i).min(most));
            data.drain(i..i + k);
        }
        // Duplicate a range.
        4 if len > 0 => {
            let i = rng.below(len);
            let k = 1 + rng.below((len - i).min(64));
            let copy = data[i..i + k].to_vec();
            let at = rng.below(len + 1);
            data.splice(at..at, copy);
        }
        // Insert or overwrite with a dictionary token.
        5 | 6 => {
            let tok = DICTIONARY[rng.below(DICTIONARY.len())].as_bytes();
            let i = rng.below(len + 1);
            if rng.one_in(2) {
                data.splice(i..i, tok.iter().copied());
            } else {
                let end = (i + tok.len()).min(len);
                data.splice(i..end, tok.iter().copied());
            }
        }
        // Replace a number written in text with a dictionary number.
        7 if len > 0 => {
            let start = rng.below(len);
            if let Some(off) = data[start..].iter().position(|b| b.is_ascii_digit()) {
                let i = start + off;
                let mut j = i;
                while j < len
                    && (data[j].is_ascii_digit()
                        || matches!(data[j], b'.' | b'e' | b'E' | b'-' | b'+'))
                {
                    j += 1;
                }
                let numbers =
                    &DICTIONARY[DICTIONARY.iter().position(|t| *t == "1e308").unwrap_or(0)..];
                let tok = numbers[rng.below(numbers.len().min(24))].as_bytes();
                data.splice(i..j, tok.iter().copied());
            }
        }
        // Overwrite a little-endian u32/u16/u8 with an interesting value.
        8 if len >= 4 => {
            let v = INTERESTING_U32[rng.below(INTERESTING_U32.len())];
            let i = rng.below(len - 3);
            let w = [1usize, 2, 4][rng.below(3)];
            data[i..i + w].copy_from_slice(&v.to_le_bytes()[..w]);
        }
        // Overwrite a little-endian f64 with an interesting value (LAS scales and offsets).
        9 if len >= 8 => {
            let v = INTERESTING_F64[rng.below(INTERESTING_F64.len())];
            let i = rng.below(len - 7);
            data[i..i + 8].copy_from_slice(&v.to_le_bytes());
        }
        // Splice in a piece of another input.
        10 if !other.is_empty() => {
            let i = rng.below(other.len());
            let k = 1 + rng.below((other.len() - i).min(256));
            let at = rng.below(len + 1);
            let end = if rng.one_in(2) { at } else { (at + k).min(len) };
            data.splice(at..end, other[i..i + k].iter().copied());
        }
        // Truncate.
        11 if len > 0 => {
            let keep = rng.below(len);
            data.truncate(keep);
        }
        // Swap two bytes.
        _ if len > 1 => {
            let (i, j) = (rng.below(len), rng.below(len));
            data.swap(i, j);
        }
        _ => data.push(rng.next_u64() as u8),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_mutations() {
        let run = |seed| {
            let mut rng = Rng::new(seed);
            let mut d = b"{\"type\":\"Point\",\"coordinates\":[107.5,16.4]}".to_vec();
            for _ in 0..100 {
                mutate(&mut rng, &mut d, b"[1,2]", 1 << 16);
            }
            d
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
    }

    #[test]
    fn below_stays_below() {
        let mut r = Rng::new(1);
        assert!((0..1000).all(|_| r.below(10) < 10));
        assert_eq!(r.below(0), 0);
    }
}
