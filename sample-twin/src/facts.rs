//! Public facts the sample twin is drawn from: positions of monuments, gates, bridges and hills,
//! and the course of the Perfume River. Longitudes and latitudes are WGS84 degrees rounded to
//! 4 decimals (about 10 m), from general knowledge and public maps and encyclopaedia articles,
//! checked by hand against the OpenStreetMap extract in `../shared/data/hue` (ODbL). No OSM
//! geometry is copied: every outline in the sample is drawn by this code from these points.

/// Ngọ Môn (the Meridian Gate): the origin of the local frame.
pub const NGO_MON: (f64, f64) = (107.5792, 16.4677);

/// Compass bearing of the royal axis (Ngự Bình – Perfume River – Kỳ Đài – Ngọ Môn – Thái Hòa),
/// looking out of the citadel to the south-east; the citadel and the Imperial City are built
/// square to it.
pub const AXIS_BEARING_DEG: f64 = 143.5;

/// A named place: id, English name, Vietnamese name, (lon, lat).
pub type Place = (&'static str, &'static str, &'static str, (f64, f64));

/// Gates of the Kinh Thành walls (each is a heritage site; the four on the river front are
/// also vertices of the wall outline).
pub const GATES: [Place; 9] = [
    (
        "cua-nha-do",
        "Nha Do Gate",
        "Cửa Nhà Đồ",
        (107.5755, 16.4641),
    ),
    (
        "cua-quang-duc",
        "Quang Duc Gate",
        "Cửa Quảng Đức",
        (107.5786, 16.4657),
    ),
    ("cua-ngan", "Ngan Gate", "Cửa Ngăn", (107.5814, 16.4676)),
    (
        "cua-thuong-tu",
        "Thuong Tu Gate",
        "Cửa Thượng Tứ",
        (107.5842, 16.4698),
    ),
    (
        "cua-dong-ba",
        "Dong Ba Gate",
        "Cửa Đông Ba",
        (107.5837, 16.4775),
    ),
    ("cua-hau", "Hau Gate", "Cửa Hậu", (107.5710, 16.4868)),
    (
        "cua-an-hoa",
        "An Hoa Gate",
        "Cửa An Hòa",
        (107.5624, 16.4808),
    ),
    (
        "cua-chanh-tay",
        "Chanh Tay Gate",
        "Cửa Chánh Tây",
        (107.5615, 16.4746),
    ),
    ("cua-huu", "Huu Gate", "Cửa Hữu", (107.5679, 16.4663)),
];

/// Thái Hòa palace (Hall of Supreme Harmony).
pub const THAI_HOA: (f64, f64) = (107.5783, 16.4688);
/// Kỳ Đài, the Flag Tower, on the citadel's river front.
pub const KY_DAI: (f64, f64) = (107.5803, 16.4663);
/// Phu Văn Lâu pavilion on the river bank in front of the Flag Tower.
pub const PHU_VAN_LAU: (f64, f64) = (107.5809, 16.4655);

/// Floor levels of three monuments above their ground (m): ILLUSTRATIVE, not surveyed; chosen
/// to be of the order of a raised base, for the flood exposure's depth above the floor.
/// Ngọ Môn: the floor of the passages through its stone platform.
pub const NGO_MON_FLOOR_M: f64 = 1.0;
/// Thái Hòa: the palace floor on its terrace.
pub const THAI_HOA_FLOOR_M: f64 = 1.2;
/// Phu Văn Lâu: the pavilion on its raised base.
pub const PHU_VAN_LAU_FLOOR_M: f64 = 0.8;
/// Chợ Đông Ba, the Dong Ba market.
pub const DONG_BA_MARKET: (f64, f64) = (107.5890, 16.4729);
/// Chùa Thiên Mụ (Thien Mu pagoda).
pub const THIEN_MU: (f64, f64) = (107.5447, 16.4537);
/// Núi Ngự Bình, peak (105 m).
pub const NGU_BINH: (f64, f64) = (107.5961, 16.4418);
/// Height of Ngự Bình above sea level, metres.
pub const NGU_BINH_HEIGHT_M: f64 = 105.0;
/// Đàn Nam Giao, the Esplanade of Sacrifice to the Heaven and Earth.
pub const NAM_GIAO: (f64, f64) = (107.5825, 16.4376);
/// Lăng Tự Đức (Khiêm Lăng).
pub const TU_DUC: (f64, f64) = (107.5650, 16.4330);
/// Lăng Minh Mạng (Hiếu Lăng).
pub const MINH_MANG: (f64, f64) = (107.5700, 16.3880);
/// Lăng Khải Định (Ứng Lăng).
pub const KHAI_DINH: (f64, f64) = (107.5900, 16.3990);
/// Lăng Gia Long (Thiên Thọ Lăng), the coordinates of its encyclopaedia article (approximate).
pub const GIA_LONG: (f64, f64) = (107.5960, 16.3750);
/// Ga Huế, the railway station.
pub const HUE_STATION: (f64, f64) = (107.5778, 16.4565);
/// Kim Long ward (its river front carries the Kim Long hydrological gauge).
pub const KIM_LONG: (f64, f64) = (107.5611, 16.4646);

/// Ends of the Perfume River bridges (north bank first).
pub const TRUONG_TIEN: [(f64, f64); 2] = [(107.5875, 16.4702), (107.5902, 16.4677)];
/// Phú Xuân bridge.
pub const PHU_XUAN: [(f64, f64); 2] = [(107.5838, 16.4670), (107.5863, 16.4643)];
/// Nguyễn Hoàng bridge (Kim Long – Thủy Biều).
pub const NGUYEN_HOANG: [(f64, f64); 2] = [(107.5591, 16.4577), (107.5607, 16.4534)];
/// Dã Viên bridge (south end; the north end is the corner of Lê Duẩn at the citadel).
pub const DA_VIEN_SOUTH: (f64, f64) = (107.5737, 16.4575);

/// A hill: name, (lon, lat), summit height (m), radius σ (m), shape exponent (2 = Gaussian,
/// higher = flatter top).
pub type Hill = (&'static str, (f64, f64), f64, f64, f64);

/// Hills of the sample DEM. Ngự Bình's height is a public fact; the others are plausible values
/// for the low hills south and west of the city, not surveyed heights.
pub const HILLS: [Hill; 11] = [
    ("Ngự Bình", NGU_BINH, NGU_BINH_HEIGHT_M, 260.0, 2.5),
    ("Núi Bân", (107.5903, 16.4421), 45.0, 170.0, 2.0),
    ("Tam Thai", (107.5983, 16.4486), 38.0, 170.0, 2.0),
    ("Thiên Thai", (107.5944, 16.4268), 60.0, 230.0, 2.0),
    ("Động Tranh", (107.6086, 16.4272), 45.0, 200.0, 2.0),
    ("Hà Khê (Thiên Mụ)", (107.5447, 16.4540), 15.0, 120.0, 2.0),
    ("Tự Đức west hill", (107.5615, 16.4345), 35.0, 190.0, 2.0),
    ("Tự Đức east hill", (107.5695, 16.4300), 30.0, 170.0, 2.0),
    (
        "Châu Chữ (Khải Định)",
        (107.5915, 16.3975),
        80.0,
        300.0,
        2.0,
    ),
    ("Cẩm Khê (Minh Mạng)", (107.5665, 16.3855), 30.0, 200.0, 2.0),
    (
        "Thiên Thọ (Gia Long)",
        (107.5960, 16.3745),
        40.0,
        250.0,
        3.0,
    ),
];

/// EGM96 geoid undulation at Ngọ Môn (ellipsoidal minus orthometric height), bilinear in PROJ's
/// `egm96_15.gtx` grid: about −14.0 m.
pub const GEOID_OFFSET_M: f64 = -14.0;

/// The extent covered by the DEM (and so by every source): lon min, lat min, lon max, lat max.
pub const EXTENT: [f64; 4] = [107.515, 16.366, 107.625, 16.520];
