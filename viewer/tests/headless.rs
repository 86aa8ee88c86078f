//! The viewer on the Hue sample twin (`data/hue`) with a short flood run made here and a traffic
//! table with a closed road: the scene's layers and attributes (CPU), then, headless through
//! bevy on the GPU adapter (Mesa's lavapipe in CI), the Citadel preset and the flood at one
//! output time against reference pictures, the water drawn where the run is wet, picking by a
//! ray from a pixel, and a frame sequence.
//!
//! The pictures need a GPU adapter: a real GPU, or Mesa's software Vulkan (lavapipe, Debian
//! package mesa-vulkan-drivers, installed by `scripts/setup.sh --test`). Without one the GPU
//! test FAILS with a message saying so; it never passes silently.
//!
//! Reference pictures: `tests/ref/*.png`; regenerate them with `HUETWIN_UPDATE_REFS=1`.
//! Tolerance: at most 1 % of the pixels may differ from the reference by more than 24 (of
//! 255) in some channel (lavapipe is deterministic on one machine; the margin absorbs shadow
//! and edge differences between Mesa versions).

use renderer::render::{colour, Camera, Image};
use scenarios::flood::cases::sample_river_flood;
use scenarios::output::{LinkRow, RunDir};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use twin_core::Twin;
use viewer::app::{Headless, ViewOptions};
use viewer::presets::{Preset, View};
use viewer::scene::{ColourBy, ViewerScene};

/// Channel difference above which a pixel differs from the reference.
const REF_CHANNEL_TOLERANCE: u8 = 24;
/// Largest share of differing pixels.
const REF_PIXEL_SHARE: f64 = 0.01;
/// The size of the compared pictures.
const W: u32 = 480;
const H: u32 = 270;

struct Fixture {
    twin: Twin,
    flood: PathBuf,
    traffic: PathBuf,
    closed_road: String,
}

/// A built copy of data/hue, a 30-minute flood (Perfume River at 2.8 m, 40 mm/h) on a 60 m
/// grid with snapshots every 10 minutes, and a traffic table with one road closed.
fn fx() -> &'static Fixture {
    static FX: OnceLock<Fixture> = OnceLock::new();
    FX.get_or_init(|| {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/hue");
        let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("viewer_fixture");
        let _ = std::fs::remove_dir_all(&root);
        let (twin, flood) = sample_river_flood(&src, &root, 600).unwrap();
        // A traffic table through the typed writer: v/c spread over the classes, the first
        // road closed.
        let traffic = root.join("traffic");
        std::fs::create_dir_all(&traffic).unwrap();
        let roads = twin.roads.features();
        let closed_road = roads[0].id.clone();
        RunDir::new(&traffic)
            .write_links(roads.iter().enumerate().map(|(i, r)| LinkRow {
                key: format!("{i}"),
                road_id: r.id.clone(),
                name: String::new(),
                class: r.class.clone(),
                bridge: r.bridge,
                closed: i == 0,
                capacity: 1000.0,
                flow: 0.0,
                vc: Some(((i * 7) % 12) as f64 / 10.0),
                time_min: 1.0,
                base_flow: 0.0,
                d_flow: 0.0,
            }))
            .unwrap();
        Fixture {
            twin,
            flood,
            traffic,
            closed_road,
        }
    })
}

fn scene() -> ViewerScene {
    let f = fx();
    ViewerScene::from_twin(&f.twin)
        .unwrap()
        .with_flood(&f.flood)
        .unwrap()
        .with_traffic(&f.traffic)
        .unwrap()
}

/// Layers and attributes on the CPU: one entry per building with the twin's values, heritage
/// zones from the heritage layer, flood depths from the run, closed roads dark, the water
/// surface only where the run is wet.
#[test]
fn the_scene_holds_the_twins_layers_and_attributes() {
    let f = fx();
    let s = scene();
    assert_eq!(s.buildings.len(), f.twin.buildings.len());
    // As many as the sample's buildings.geojson holds (OSM footprints, their count read here).
    let geo: serde_json::Value = serde_json::from_slice(
        &std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/hue/buildings.geojson"))
            .unwrap(),
    )
    .unwrap();
    assert_eq!(s.buildings.len(), geo["features"].as_array().unwrap().len());
    // Ngọ Môn, mapped in OSM as `building=yes` with `building:levels=3` and no height.
    let k = named(&s, "Ngọ Môn");
    let h = &s.buildings[k];
    assert_eq!(s.building_index(&h.id), Some(k));
    assert_eq!(h.usage.as_deref(), Some("yes"));
    assert_eq!(h.levels, Some(3));
    let src = f
        .twin
        .buildings
        .features()
        .iter()
        .find(|b| b.name.as_deref() == Some("Ngọ Môn"))
        .unwrap();
    assert!(
        h.height > 0.0 && (h.height - src.height).abs() < 1e-9,
        "height {}",
        h.height
    );
    // Buildings standing in a heritage site carry its zone; the zone II area around the
    // Citadel holds some.
    let in_zone = s
        .buildings
        .iter()
        .filter(|b| b.heritage_zone.is_some())
        .count();
    assert!(in_zone > 0, "no building in a heritage zone");
    let citadel_area = s
        .heritage
        .iter()
        .find(|h| h.name.as_deref() == Some("Hue Citadel protected area"))
        .unwrap();
    assert_eq!(citadel_area.zone.as_deref(), Some("II"));
    assert!(s
        .buildings
        .iter()
        .any(|b| b.heritage_site.as_deref() == Some(citadel_area.id.as_str())));
    // Flood depths from buildings.csv: the same values the renderer reads.
    let depths = renderer::render::FloodLayer::load(&f.flood, None)
        .unwrap()
        .building_depths;
    let wet = s
        .buildings
        .iter()
        .filter(|b| b.max_flood_depth.is_some())
        .count();
    assert_eq!(
        wet,
        s.buildings
            .iter()
            .filter(|b| depths.contains_key(&b.id))
            .count()
    );
    for b in &s.buildings {
        assert_eq!(b.max_flood_depth, depths.get(&b.id).copied());
    }
    // Output times of the run: every 600 s up to 1800 s.
    let times = &s.flood.as_ref().unwrap().times;
    assert!(times.ends_with(&[600.0, 1200.0, 1800.0]), "{times:?}");
    // Roads: the closed one in ROAD_CLOSED, the others by v/c.
    let roads = s.roads_mesh();
    let closed = [
        colour::ROAD_CLOSED[0],
        colour::ROAD_CLOSED[1],
        colour::ROAD_CLOSED[2],
        255,
    ];
    let n_closed = roads.vertices.iter().filter(|v| v.color == closed).count();
    assert!(n_closed >= 4, "closed road {} not marked", f.closed_road);
    let red = [214, 40, 40, 255];
    assert!(roads.vertices.iter().any(|v| v.color == red));
    // Building colours follow the mode.
    let m = s.buildings_mesh(ColourBy::Use);
    let green = [120, 196, 140, 255];
    assert!(
        m.vertices.iter().any(|v| v.color == green),
        "hospital colour missing"
    );
    // The water at 1800 s covers more than at 600 s (rain and river keep coming).
    let w600 = s.water_mesh(600.0).unwrap().unwrap();
    let w1800 = s.water_mesh(1800.0).unwrap().unwrap();
    assert!(w1800.indices.len() > w600.indices.len() / 2 && !w1800.is_empty());
    // Heights over terrain: every building's base is the lowest ground under it (no building
    // of the sample has its own base), within the DEM's float precision.
    let dem = f.twin.terrain.first().unwrap();
    for b in s.scene.buildings.iter().take(200) {
        let low = twin_core::ground::lowest_on(dem, &b.footprint).unwrap();
        assert!(
            (b.base - low).abs() < 1e-6,
            "{}: base {} ground {}",
            b.id,
            b.base,
            low
        );
    }
}

/// The index of the building with this name (the sample's named buildings are unique).
fn named(s: &ViewerScene, name: &str) -> usize {
    s.buildings
        .iter()
        .position(|b| b.name.as_deref() == Some(name))
        .unwrap_or_else(|| panic!("no building named {name}"))
}

fn headless(s: ViewerScene, preset: Preset, colour_by: ColourBy, time_s: Option<f64>) -> Headless {
    let o = ViewOptions {
        colour_by,
        preset,
        time_s,
        panel: false,
    };
    match Headless::new(s, &o, W, H) {
        Ok(h) => {
            eprintln!("GPU adapter: {}", h.adapter());
            h
        }
        Err(e) => panic!(
            "the viewer's pictures need a GPU adapter (a GPU driver, or Mesa's software Vulkan: \
             apt-get install mesa-vulkan-drivers, as scripts/setup.sh --test does): {e}"
        ),
    }
}

fn compare_with_reference(name: &str, img: &Image) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/ref")
        .join(format!("{name}.png"));
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("viewer_{name}.png"));
    std::fs::write(&out, img.to_png().unwrap()).unwrap();
    if std::env::var("HUETWIN_UPDATE_REFS").is_ok_and(|v| v == "1") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, img.to_png().unwrap()).unwrap();
        eprintln!("wrote {}", path.display());
        return;
    }
    let bytes = std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; make it with HUETWIN_UPDATE_REFS=1 cargo test -p viewer --test headless",
            path.display()
        )
    });
    let reference = Image::from_png(&bytes).unwrap();
    let bad = img
        .differing_pixels(&reference, REF_CHANNEL_TOLERANCE)
        .expect("same size as the reference");
    let share = bad as f64 / f64::from(W * H);
    eprintln!(
        "{name}: {bad} pixels ({:.3} %) differ by more than {REF_CHANNEL_TOLERANCE}",
        share * 100.0
    );
    assert!(
        share <= REF_PIXEL_SHARE,
        "{name}: {bad} of {} pixels differ from {} by more than {REF_CHANNEL_TOLERANCE} \
         (allowed {:.1} %); this picture is at {}",
        W * H,
        path.display(),
        REF_PIXEL_SHARE * 100.0,
        out.display()
    );
}

/// Share of pixels that are water-blue (blue well above red).
fn blue_share(img: &Image) -> f64 {
    let n = img
        .rgba
        .chunks_exact(4)
        .filter(|p| i32::from(p[2]) > i32::from(p[0]) + 60 && p[2] > 120)
        .count();
    n as f64 / f64::from(img.width * img.height)
}

/// Everything that needs the GPU, in one app per picture set (bevy apps are built one after
/// the other, not in parallel test threads).
#[test]
fn pictures_picking_and_frames_on_the_gpu() {
    // 1. The Citadel preset, buildings by height: against the reference.
    let mut h = headless(scene(), Preset::Citadel, ColourBy::Height, None);
    let citadel = h.capture().unwrap();
    assert_eq!((citadel.width, citadel.height), (W, H));
    compare_with_reference("citadel", &citadel);
    // The sky at the top row, lit terrain and buildings below: not a blank picture.
    let sky = colour::SKY_HORIZON;
    let top = citadel.pixel(W / 2, 0);
    assert!(
        top[..3].iter().zip(sky).all(|(a, b)| a.abs_diff(b) <= 2),
        "top pixel {top:?}"
    );
    let distinct: std::collections::HashSet<[u8; 4]> = citadel
        .rgba
        .chunks_exact(4)
        .map(|p| [p[0], p[1], p[2], p[3]])
        .collect();
    assert!(distinct.len() > 500, "only {} colours", distinct.len());

    // 2. Picking: a ray through the centre of a picture looking at a building's roof picks it.
    let s = scene();
    for name in [
        "Khách sạn Indochine Palace",
        "Chợ An Cựu",
        "Silk Path Grand Hue Hotel",
    ] {
        let k = named(&s, name);
        let id = s.buildings[k].id.as_str();
        let roof = s.roof_point(k).unwrap();
        let cam = Camera::looking_at(roof, 30.0, 120.0, 160.0, 30.0);
        h.set_view(View::from_camera(&cam).unwrap());
        h.world_mut()
            .resource_mut::<viewer::app::ViewState>()
            .colour_by = ColourBy::Use;
        let pic = h.capture().unwrap();
        let ray = h.ray(W / 2, H / 2).unwrap();
        let (hit, dist) = s.pick(ray).expect("the centre ray hits a building");
        assert_eq!(s.buildings[hit].id, id, "picked {:?}", s.buildings[hit]);
        // The eye is 200 m from the roof point (120 m out, 160 m up).
        assert!((dist - 200.0).abs() < 5.0, "{id}: hit at {dist} m");
        let a = s.buildings[hit].attributes();
        assert_eq!(a[0], ("id", id.to_string()));
        // The pixel there has the building's use colour, lit (a roof: not the sky, and the
        // colour's strongest channel stays strongest).
        let p = pic.pixel(W / 2, H / 2);
        let c = viewer::scene::use_colour(s.buildings[hit].usage.as_deref());
        let strongest = |v: [u8; 3]| (0..3).max_by_key(|&i| v[i]).unwrap();
        let spread = |v: [u8; 3]| v.iter().max().unwrap() - v.iter().min().unwrap();
        if spread(c) <= 12 {
            // A grey use colour (OSM `building=yes`): the lit pixel stays grey.
            assert!(
                spread([p[0], p[1], p[2]]) <= 24 && p[0] > 60,
                "{id}: pixel {p:?}, colour {c:?}"
            );
        } else {
            assert_eq!(
                strongest([p[0], p[1], p[2]]),
                strongest(c),
                "{id}: pixel {p:?}, colour {c:?}"
            );
        }
    }
    drop(h);

    // 3. The flood at 1800 s from the Citadel preset, buildings by depth: against the
    // reference, and bluer than the same view without water.
    let mut h = headless(scene(), Preset::Citadel, ColourBy::Flood, Some(1800.0));
    let flood = h.capture().unwrap();
    compare_with_reference("citadel_flood_1800s", &flood);
    h.set_time_index(None);
    let dry = h.capture().unwrap();
    let (wet_blue, dry_blue) = (blue_share(&flood), blue_share(&dry));
    eprintln!(
        "blue pixels: {:.2} % with water, {:.2} % without",
        wet_blue * 100.0,
        dry_blue * 100.0
    );
    assert!(
        wet_blue > dry_blue + 0.01,
        "water adds no blue: {wet_blue} vs {dry_blue}"
    );
    let changed = flood.differing_pixels(&dry, 24).unwrap();
    assert!(
        changed > (W * H / 100) as usize,
        "only {changed} pixels changed"
    );
    drop(h);

    // 4. The frame sequence: one numbered PNG per output time, each decodable, the water
    // changing between the first and the last.
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("viewer_frames");
    let _ = std::fs::remove_dir_all(&dir);
    let o = ViewOptions {
        colour_by: ColourBy::Flood,
        preset: Preset::Citadel,
        time_s: None,
        panel: false,
    };
    let files = viewer::write_frames(scene(), &o, 160, 90, &dir).unwrap();
    let times = scene().flood.unwrap().times;
    assert_eq!(files.len(), times.len());
    assert_eq!(files[0].file_name().unwrap(), "frame_00001.png");
    let first = Image::from_png(&std::fs::read(&files[0]).unwrap()).unwrap();
    let last = Image::from_png(&std::fs::read(files.last().unwrap()).unwrap()).unwrap();
    assert_eq!((last.width, last.height), (160, 90));
    assert!(
        first.differing_pixels(&last, 24).unwrap() > 0,
        "the water did not change"
    );

    // 5. The on-screen panel.
    check_panel();
}

/// The panel: a building picked through the picture's centre, the flood at 1800 s; the panel's
/// region of the picture is the panel drawn on the CPU (not the scene), the panel holds the
/// picked building's attributes row by row, and another pick changes only the table.
fn check_panel() {
    use viewer::panel::{self, PanelContent};
    let s = scene();
    let o = ViewOptions {
        colour_by: ColourBy::Flood,
        preset: Preset::Citadel,
        time_s: Some(1800.0),
        panel: true,
    };
    let mut h = Headless::new(scene(), &o, W, H).expect("a GPU adapter");
    let pick_named = |h: &mut Headless, name: &str| -> (PanelContent, Image) {
        let k = named(&s, name);
        let cam = Camera::looking_at(s.roof_point(k).unwrap(), 30.0, 120.0, 160.0, 30.0);
        h.set_view(View::from_camera(&cam).unwrap());
        h.capture().unwrap();
        let a = h
            .pick(W / 2, H / 2)
            .expect("the centre ray hits a building");
        let want: Vec<(String, String)> = s.buildings[k]
            .attributes()
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        assert_eq!(a, want, "{name}");
        let pic = h.capture().unwrap();
        let c = h.panel_content().expect("the panel is on");
        assert_eq!(c.attributes, want, "the panel shows the picked attributes");
        (c, pic)
    };
    let (c, pic) = pick_named(&mut h, "Chợ An Cựu");
    let times = scene().flood.unwrap().times;
    let t = c.time.clone().expect("the run's time");
    assert_eq!((t.count, times[t.index]), (times.len(), 1800.0));
    assert_eq!(t.index, times.len() - 1);
    let cpu = panel::draw(&c);
    let l = panel::layout(&c);
    assert!(
        cpu.height + panel::MARGIN <= H,
        "the panel fits the picture"
    );
    assert_eq!((cpu.width, cpu.height), l.size);
    assert_eq!(l.rows, c.attributes.len().min(panel::MAX_ROWS + 1));
    std::fs::write(
        Path::new(env!("CARGO_TARGET_TMPDIR")).join("viewer_panel.png"),
        pic.to_png().unwrap(),
    )
    .unwrap();
    // The picture's panel region against the CPU panel.
    let m = panel::MARGIN;
    let region = |pic: &Image| {
        let mut rgba = Vec::new();
        for y in m..m + cpu.height {
            for x in m..m + cpu.width {
                rgba.extend_from_slice(&pic.pixel(x, y));
            }
        }
        Image {
            width: cpu.width,
            height: cpu.height,
            rgba,
        }
    };
    let shown = region(&pic);
    let area = (cpu.width * cpu.height) as usize;
    let off = shown.differing_pixels(&cpu, 24).unwrap();
    eprintln!(
        "panel {}x{}: {off} of {area} pixels differ from the CPU panel",
        cpu.width, cpu.height
    );
    assert!(off * 100 <= area, "{off} of {area} panel pixels differ");
    // Mostly the panel's background (the scene is sky, terrain and roofs there).
    let bg = shown
        .rgba
        .chunks_exact(4)
        .filter(|p| (0..3).all(|k| p[k].abs_diff(panel::BACKGROUND[k]) <= 6))
        .count();
    assert!(bg * 2 > area, "only {bg} of {area} background pixels");
    // The knob sits at the slider's right end (the last output time), in the picture.
    let sl = l.slider.unwrap();
    let kx = panel::knob_x(sl, t.index, t.count).round() as u32;
    let kp = pic.pixel(m + kx, m + (sl.y + sl.h / 2.0) as u32);
    assert!(
        (0..3).all(|k| kp[k].abs_diff(panel::KNOB[k]) <= 6),
        "knob pixel {kp:?}"
    );
    // The table: each attribute's row ink changes when only that value changes, nowhere else.
    let row_of = |y: u32| ((y as f32 - l.table_top) / l.row_height).floor();
    for r in [0usize, c.attributes.len() - 1] {
        let mut other = c.clone();
        other.attributes[r].1.push_str(" X");
        let d = panel::draw(&other);
        let rows: std::collections::BTreeSet<i64> = (0..cpu.height)
            .filter(|&y| (0..cpu.width).any(|x| d.pixel(x, y) != cpu.pixel(x, y)))
            .map(|y| row_of(y) as i64)
            .collect();
        // Glyphs may reach a pixel into the next row's box; the changed rows start at r.
        assert_eq!(rows.first(), Some(&(r as i64)), "row {r}: {rows:?}");
        assert!(
            rows.iter().all(|&k| k == r as i64 || k == r as i64 + 1),
            "{rows:?}"
        );
    }
    // Another building: the title, buttons and slider stay, the table changes.
    let (c2, pic2) = pick_named(&mut h, "Midtown Hue Hotel");
    assert_ne!(c2.attributes, c.attributes);
    let shown2 = region(&pic2);
    let top = l.table_top as u32;
    let changed_above = (0..top.min(shown2.height))
        .flat_map(|y| (0..cpu.width).map(move |x| (x, y)))
        .filter(|&(x, y)| shown.pixel(x, y) != shown2.pixel(x, y))
        .count();
    let changed_table = (top..cpu.height.min(shown2.height))
        .flat_map(|y| (0..cpu.width).map(move |x| (x, y)))
        .filter(|&(x, y)| shown.pixel(x, y) != shown2.pixel(x, y))
        .count();
    assert!(
        changed_above * 200 < area,
        "{changed_above} pixels changed above the table"
    );
    assert!(
        changed_table > 200,
        "only {changed_table} table pixels changed"
    );
}
