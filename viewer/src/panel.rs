//! The on-screen panel: drawn on the CPU into an RGBA picture with the renderer's text
//! rasteriser (`renderer::render::text`, Noto Sans, Vietnamese marks kept), shown by an overlay
//! camera as an unlit textured quad in the top left corner (bevy's UI and text features are off,
//! ADR 0020/0027). It holds the title, the colour mode (a button: click cycles it), the run's
//! time with a play/pause button and a slider over the output times, and the picked feature's
//! attributes as a two-column table. [`draw`] and [`hit`] are pure; the bevy side redraws the
//! texture only when [`PanelContent`] changes.

use crate::app::{PlaceRes, TwinScene, ViewState};
use crate::presets::Place;
use crate::scene::ViewerScene;
use bevy::asset::RenderAssetUsages;
use bevy::camera::visibility::RenderLayers;
use bevy::camera::RenderTarget;
use bevy::core_pipeline::tonemapping::Tonemapping;
use bevy::image::ImageSampler;
use bevy::light::{NotShadowCaster, NotShadowReceiver};
use bevy::prelude::*;
use bevy::render::render_resource::{Extent3d, TextureDimension, TextureFormat};
use renderer::render::text::{self, Style};
use renderer::render::Image as Picture;

/// Width of the panel, pixels.
pub const WIDTH: u32 = 340;
/// Gap between the panel and the screen's corner, pixels.
pub const MARGIN: u32 = 12;
/// The most attribute rows shown (the rest are summarised in one row).
pub const MAX_ROWS: usize = 14;
/// Background (opaque, display sRGB).
pub const BACKGROUND: [u8; 3] = [28, 33, 44];
/// Text.
pub const TEXT: [u8; 3] = [236, 238, 242];
/// Attribute names.
pub const KEY: [u8; 3] = [150, 164, 186];
/// Buttons.
pub const BUTTON: [u8; 3] = [58, 92, 140];
/// The slider's track.
pub const TRACK: [u8; 3] = [88, 96, 112];
/// The slider's knob.
pub const KNOB: [u8; 3] = [244, 186, 52];

const PAD: f32 = 10.0;
const TITLE: Style = Style {
    bold: true,
    px: 17.0,
};
const BODY: Style = Style {
    bold: false,
    px: 14.0,
};
const KEY_COL: f32 = 110.0;

/// A run's time as the panel shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct RunTime {
    /// The output time shown, s.
    pub t_s: f64,
    /// Its index among the run's output times.
    pub index: usize,
    /// How many output times the run has.
    pub count: usize,
    /// The run animates.
    pub playing: bool,
}

/// What the panel shows; it is redrawn when this changes.
#[derive(Clone, Debug, PartialEq)]
pub struct PanelContent {
    /// The title (the twin's name or the server's URL).
    pub title: String,
    /// The colour mode's name.
    pub colour: String,
    /// The run's time, when a run with output times is loaded.
    pub time: Option<RunTime>,
    /// The picked feature's attributes, in display order.
    pub attributes: Vec<(String, String)>,
}

/// A rectangle in panel pixels (origin top left).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PRect {
    /// Left, px.
    pub x: f32,
    /// Top, px.
    pub y: f32,
    /// Width, px.
    pub w: f32,
    /// Height, px.
    pub h: f32,
}

impl PRect {
    /// Whether (x, y) lies inside.
    pub fn contains(&self, x: f32, y: f32) -> bool {
        x >= self.x && x < self.x + self.w && y >= self.y && y < self.y + self.h
    }
}

/// Where the panel's parts are, for a content.
#[derive(Clone, Debug, PartialEq)]
pub struct Layout {
    /// Size of the panel picture, px.
    pub size: (u32, u32),
    /// The colour-mode button.
    pub colour: PRect,
    /// The play/pause button (with a run).
    pub play: Option<PRect>,
    /// The slider's track (with a run); its left and right ends are the first and last times.
    pub slider: Option<PRect>,
    /// The top of the attribute table.
    pub table_top: f32,
    /// The height of one table row.
    pub row_height: f32,
    /// Table rows drawn (attributes, plus one when some are left out).
    pub rows: usize,
}

/// What a click inside the panel does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hit {
    /// Show this output time (the slider).
    Step(usize),
    /// Toggle play/pause.
    PlayPause,
    /// The next colour mode.
    Colour,
    /// Inside the panel, on nothing that acts (the click is still the panel's, not a pick).
    Panel,
}

/// The output time under x on a slider (nearest step; ends clamp); 0 for a run of ≤ 1 time.
pub fn slider_step(slider: PRect, x: f32, count: usize) -> usize {
    if count <= 1 || slider.w <= 0.0 {
        return 0;
    }
    let f = ((x - slider.x) / slider.w).clamp(0.0, 1.0);
    ((f * (count - 1) as f32).round() as usize).min(count - 1)
}

/// The x of the knob for a step.
pub fn knob_x(slider: PRect, index: usize, count: usize) -> f32 {
    if count <= 1 {
        return slider.x;
    }
    slider.x + slider.w * index.min(count - 1) as f32 / (count - 1) as f32
}

/// The panel's layout for a content.
pub fn layout(c: &PanelContent) -> Layout {
    let th = text::line_height(TITLE).ceil();
    let bh = text::line_height(BODY).ceil();
    let mut y = PAD + th + 6.0;
    let button_h = bh + 6.0;
    let (play, slider, colour);
    if c.time.is_some() {
        play = Some(PRect {
            x: PAD,
            y,
            w: button_h,
            h: button_h,
        });
        colour = PRect {
            x: PAD + button_h + 8.0,
            y,
            w: WIDTH as f32 - 2.0 * PAD - button_h - 8.0,
            h: button_h,
        };
        y += button_h + 6.0 + bh + 4.0;
        // The slider's track: a band tall enough to click, the knob's half width inside.
        slider = Some(PRect {
            x: PAD + 6.0,
            y,
            w: WIDTH as f32 - 2.0 * PAD - 12.0,
            h: 16.0,
        });
        y += 16.0 + 8.0;
    } else {
        play = None;
        slider = None;
        colour = PRect {
            x: PAD,
            y,
            w: WIDTH as f32 - 2.0 * PAD,
            h: button_h,
        };
        y += button_h + 8.0;
    }
    let rows = if c.attributes.len() > MAX_ROWS {
        MAX_ROWS + 1
    } else {
        c.attributes.len()
    };
    let row_height = bh + 2.0;
    let table_top = y;
    let h = (table_top + rows as f32 * row_height + PAD).ceil() as u32;
    Layout {
        size: (WIDTH, h),
        colour,
        play,
        slider,
        table_top,
        row_height,
        rows,
    }
}

/// What a click at (x, y) in panel pixels hits; None outside the panel.
pub fn hit(c: &PanelContent, x: f32, y: f32) -> Option<Hit> {
    let l = layout(c);
    let (w, h) = (l.size.0 as f32, l.size.1 as f32);
    if !(0.0..w).contains(&x) || !(0.0..h).contains(&y) {
        return None;
    }
    if l.colour.contains(x, y) {
        return Some(Hit::Colour);
    }
    if l.play.is_some_and(|p| p.contains(x, y)) {
        return Some(Hit::PlayPause);
    }
    if let (Some(s), Some(t)) = (l.slider, &c.time) {
        // The knob may sit half outside the track: a few pixels either side count.
        let band = PRect {
            x: s.x - 6.0,
            w: s.w + 12.0,
            ..s
        };
        if band.contains(x, y) {
            return Some(Hit::Step(slider_step(s, x, t.count)));
        }
    }
    Some(Hit::Panel)
}

fn fill(img: &mut Picture, r: PRect, c: [u8; 3]) {
    let x0 = r.x.round().max(0.0) as u32;
    let y0 = r.y.round().max(0.0) as u32;
    let x1 = ((r.x + r.w).round().max(0.0) as u32).min(img.width);
    let y1 = ((r.y + r.h).round().max(0.0) as u32).min(img.height);
    for y in y0..y1 {
        for x in x0..x1 {
            let i = ((y * img.width + x) * 4) as usize;
            img.rgba[i..i + 3].copy_from_slice(&c);
            img.rgba[i + 3] = 255;
        }
    }
}

/// `s` cut (with an ellipsis) to fit `w` pixels.
fn fit(s: &str, style: Style, w: f32) -> String {
    if text::width(s, style) <= w {
        return s.to_string();
    }
    let mut out: String = s.to_string();
    while !out.is_empty() && text::width(&format!("{out}…"), style) > w {
        out.pop();
    }
    format!("{out}…")
}

/// Draw the panel (opaque RGBA, rows from the top).
pub fn draw(c: &PanelContent) -> Picture {
    let l = layout(c);
    let (w, h) = l.size;
    let mut img = Picture {
        width: w,
        height: h,
        rgba: [BACKGROUND[0], BACKGROUND[1], BACKGROUND[2], 255].repeat((w * h) as usize),
    };
    let inner = w as f32 - 2.0 * PAD;
    text::draw(
        &mut img,
        PAD,
        PAD,
        &fit(&c.title, TITLE, inner),
        TITLE,
        TEXT,
    );
    // The colour-mode button.
    fill(&mut img, l.colour, BUTTON);
    let label = fit(&format!("colour: {}", c.colour), BODY, l.colour.w - 12.0);
    text::draw(
        &mut img,
        l.colour.x + 6.0,
        l.colour.y + 3.0,
        &label,
        BODY,
        TEXT,
    );
    if let (Some(p), Some(s), Some(t)) = (l.play, l.slider, &c.time) {
        fill(&mut img, p, BUTTON);
        let (cx, cy) = (p.x + p.w / 2.0, p.y + p.h / 2.0);
        let r = p.h * 0.3;
        if t.playing {
            // Pause: two bars.
            for dx in [-r * 0.7, r * 0.25] {
                fill(
                    &mut img,
                    PRect {
                        x: cx + dx,
                        y: cy - r,
                        w: r * 0.45,
                        h: 2.0 * r,
                    },
                    TEXT,
                );
            }
        } else {
            // Play: a triangle pointing right, row by row.
            let rows = (2.0 * r).round() as i32;
            for k in 0..rows {
                let yy = cy - r + k as f32;
                let half = 1.0 - ((yy + 0.5 - cy) / r).abs();
                fill(
                    &mut img,
                    PRect {
                        x: cx - r * 0.6,
                        y: yy,
                        w: (1.6 * r * half).max(0.0),
                        h: 1.0,
                    },
                    TEXT,
                );
            }
        }
        let line = format!(
            "t = {} s   ({}/{})",
            format_time(t.t_s),
            t.index + 1,
            t.count
        );
        text::draw(&mut img, PAD, p.y + p.h + 6.0, &line, BODY, TEXT);
        fill(
            &mut img,
            PRect {
                x: s.x,
                y: s.y + s.h / 2.0 - 2.0,
                w: s.w,
                h: 4.0,
            },
            TRACK,
        );
        let kx = knob_x(s, t.index, t.count);
        fill(
            &mut img,
            PRect {
                x: kx - 5.0,
                y: s.y,
                w: 10.0,
                h: s.h,
            },
            KNOB,
        );
    }
    // The attribute table: names left, values right of KEY_COL.
    let vw = inner - KEY_COL;
    for (r, (k, v)) in c.attributes.iter().take(MAX_ROWS).enumerate() {
        let y = l.table_top + r as f32 * l.row_height;
        text::draw(&mut img, PAD, y, &fit(k, BODY, KEY_COL - 6.0), BODY, KEY);
        text::draw(&mut img, PAD + KEY_COL, y, &fit(v, BODY, vw), BODY, TEXT);
    }
    if c.attributes.len() > MAX_ROWS {
        let y = l.table_top + MAX_ROWS as f32 * l.row_height;
        let more = format!("… {} more", c.attributes.len() - MAX_ROWS);
        text::draw(&mut img, PAD, y, &more, BODY, KEY);
    }
    img
}

fn format_time(t: f64) -> String {
    if (t - t.round()).abs() < 1e-6 {
        format!("{}", t.round() as i64)
    } else {
        format!("{t:.1}")
    }
}

// ---- the bevy side ----------------------------------------------------------------------------

/// The render layer of the panel (the scene's cameras see layer 0 only).
pub const PANEL_LAYER: usize = 1;

/// The panel's state in the app: what it shows, where it is, and whether the mouse button held
/// now went down on it (then it neither picks nor turns the camera).
#[derive(Resource, Debug)]
pub struct Panel {
    /// What the texture shows now (None before the first draw).
    pub content: Option<PanelContent>,
    /// The screen (window or picture) size, logical px.
    pub screen: Vec2,
    /// How many times the texture was drawn.
    pub redraws: u32,
    /// The held mouse button went down on the panel.
    pub captured: bool,
    /// A drag on the slider is going on.
    pub dragging: bool,
    image: Handle<Image>,
    material: Handle<StandardMaterial>,
    mesh: Handle<Mesh>,
}

impl Panel {
    /// The panel's top left corner on the screen, px.
    pub fn origin(&self) -> Vec2 {
        Vec2::splat(MARGIN as f32)
    }
}

/// Marks the overlay camera.
#[derive(Component)]
pub struct PanelCamera;
/// Marks the panel's quad.
#[derive(Component)]
pub struct PanelQuad;

/// A picture as a bevy image (sRGB, sampled nearest: texels land on pixels one to one).
pub fn to_bevy_image(p: &Picture) -> Image {
    let mut img = Image::new(
        Extent3d {
            width: p.width,
            height: p.height,
            depth_or_array_layers: 1,
        },
        TextureDimension::D2,
        p.rgba.clone(),
        TextureFormat::Rgba8UnormSrgb,
        RenderAssetUsages::RENDER_WORLD | RenderAssetUsages::MAIN_WORLD,
    );
    img.sampler = ImageSampler::nearest();
    img
}

/// What the panel shows for a view state.
pub fn panel_content(place: &dyn Place, twin: Option<&ViewerScene>, s: &ViewState) -> PanelContent {
    let time = match (twin.and_then(|t| t.flood.as_ref()), s.time_index) {
        (Some(run), Some(i)) if i < run.times.len() => Some(RunTime {
            t_s: run.times[i],
            index: i,
            count: run.times.len(),
            playing: s.playing,
        }),
        _ => None,
    };
    PanelContent {
        title: place.title(),
        colour: format!("{:?}", s.colour_by),
        time,
        attributes: s.picked_attributes.clone(),
    }
}

/// Add the panel to an app: an overlay camera (orthographic, order 1, its own render layer, no
/// clear) drawing into `target` (None: the primary window), the quad, and the system that
/// redraws the texture when the content changes.
pub fn add_panel(app: &mut App, target: Option<Handle<Image>>, screen: (u32, u32)) {
    let screen = Vec2::new(screen.0 as f32, screen.1 as f32);
    app.add_systems(
        Startup,
        move |mut commands: Commands,
              mut images: ResMut<Assets<Image>>,
              mut meshes: ResMut<Assets<Mesh>>,
              mut mats: ResMut<Assets<StandardMaterial>>| {
            let image = images.add(to_bevy_image(&Picture {
                width: 1,
                height: 1,
                rgba: vec![0, 0, 0, 255],
            }));
            let material = mats.add(StandardMaterial {
                base_color_texture: Some(image.clone()),
                unlit: true,
                cull_mode: None,
                ..default()
            });
            let mesh = meshes.add(Mesh::from(Rectangle::new(1.0, 1.0)));
            let mut cam = commands.spawn((
                Camera3d::default(),
                Camera {
                    order: 1,
                    clear_color: ClearColorConfig::None,
                    ..default()
                },
                Projection::Orthographic(OrthographicProjection::default_3d()),
                Tonemapping::None,
                Transform::from_xyz(0.0, 0.0, 100.0).looking_at(Vec3::ZERO, Vec3::Y),
                RenderLayers::layer(PANEL_LAYER),
                PanelCamera,
            ));
            if let Some(t) = &target {
                cam.insert(RenderTarget::Image(t.clone().into()));
            }
            commands.spawn((
                Mesh3d(mesh.clone()),
                MeshMaterial3d(material.clone()),
                Transform::default(),
                RenderLayers::layer(PANEL_LAYER),
                NotShadowCaster,
                NotShadowReceiver,
                PanelQuad,
                Name::new("panel"),
            ));
            commands.insert_resource(Panel {
                content: None,
                screen,
                redraws: 0,
                captured: false,
                dragging: false,
                image,
                material,
                mesh,
            });
        },
    )
    .add_systems(Update, update_panel);
}

/// Redraw the panel's texture when its content changes; keep it in the top left corner.
#[allow(clippy::too_many_arguments)]
fn update_panel(
    place: Res<PlaceRes>,
    twin: Option<Res<TwinScene>>,
    state: Res<ViewState>,
    panel: Option<ResMut<Panel>>,
    windows: Query<&Window>,
    mut images: ResMut<Assets<Image>>,
    mut meshes: ResMut<Assets<Mesh>>,
    mut mats: ResMut<Assets<StandardMaterial>>,
    mut quads: Query<&mut Transform, With<PanelQuad>>,
) {
    let Some(mut panel) = panel else { return };
    if let Some(w) = windows.iter().next() {
        panel.screen = Vec2::new(w.width(), w.height());
    }
    let content = panel_content(&*place.0, twin.as_ref().map(|t| &*t.0), &state);
    if panel.content.as_ref() != Some(&content) {
        let pic = draw(&content);
        let (w, h) = (pic.width as f32, pic.height as f32);
        // A new image each time, and the material pointed at it: replacing the pixels behind
        // the same handle can leave the material's bind group on the old texture.
        let old = std::mem::replace(&mut panel.image, images.add(to_bevy_image(&pic)));
        if let Some(mut m) = mats.get_mut(&panel.material) {
            m.base_color_texture = Some(panel.image.clone());
        }
        images.remove(&old);
        if let Err(e) = meshes.insert(&panel.mesh, Mesh::from(Rectangle::new(w, h))) {
            error!("panel quad: {e}");
        }
        panel.content = Some(content);
        panel.redraws += 1;
    }
    let Some(c) = &panel.content else { return };
    let (w, h) = layout(c).size;
    let (w, h) = (w as f32, h as f32);
    let s = panel.screen;
    let o = panel.origin();
    for mut t in &mut quads {
        t.translation = Vec3::new(-s.x / 2.0 + o.x + w / 2.0, s.y / 2.0 - o.y - h / 2.0, 0.0);
    }
}

/// Mouse clicks on the panel (window): the slider (click or drag) sets the time step, the
/// buttons play/pause and cycle the colour mode; a press on the panel is captured (no pick,
/// no camera turn) until it is released. Runs before the window's controls.
pub fn panel_clicks(
    mouse: Res<ButtonInput<MouseButton>>,
    windows: Query<&Window>,
    panel: Option<ResMut<Panel>>,
    mut state: ResMut<ViewState>,
) {
    let Some(mut panel) = panel else { return };
    let Some(c) = panel.content.clone() else {
        return;
    };
    let cursor = windows
        .iter()
        .next()
        .and_then(|w| w.cursor_position())
        .map(|p| p - panel.origin());
    if mouse.just_pressed(MouseButton::Left) {
        let h = cursor.and_then(|p| hit(&c, p.x, p.y));
        panel.captured = h.is_some();
        match h {
            Some(Hit::Step(k)) => {
                state.time_index = Some(k);
                state.playing = false;
                panel.dragging = true;
            }
            Some(Hit::PlayPause) => state.playing = !state.playing,
            Some(Hit::Colour) => state.colour_by = state.colour_by.next(),
            Some(Hit::Panel) | None => {}
        }
    } else if panel.dragging && mouse.pressed(MouseButton::Left) {
        if let (Some(p), Some(s), Some(t)) = (cursor, layout(&c).slider, &c.time) {
            let k = slider_step(s, p.x, t.count);
            if state.time_index != Some(k) {
                state.time_index = Some(k);
            }
        }
    }
    if !mouse.pressed(MouseButton::Left) {
        panel.captured = false;
        panel.dragging = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn content(n: usize, i: usize) -> PanelContent {
        PanelContent {
            title: "Huế".into(),
            colour: "Height".into(),
            time: (n > 0).then_some(RunTime {
                t_s: 600.0 * i as f64,
                index: i,
                count: n,
                playing: false,
            }),
            attributes: vec![("id".into(), "b1".into())],
        }
    }

    #[test]
    fn a_click_on_the_slider_picks_the_nearest_output_time() {
        let c = content(4, 0);
        let l = layout(&c);
        let s = l.slider.unwrap();
        let y = s.y + s.h / 2.0;
        // The ends are the first and last times; thirds in between.
        assert_eq!(hit(&c, s.x, y), Some(Hit::Step(0)));
        assert_eq!(hit(&c, s.x + s.w - 0.01, y), Some(Hit::Step(3)));
        assert_eq!(hit(&c, s.x + s.w / 3.0, y), Some(Hit::Step(1)));
        assert_eq!(hit(&c, s.x + s.w * 0.62, y), Some(Hit::Step(2)));
        // Just past the ends (on the knob's overhang) clamps.
        assert_eq!(hit(&c, s.x - 4.0, y), Some(Hit::Step(0)));
        assert_eq!(hit(&c, s.x + s.w + 4.0, y), Some(Hit::Step(3)));
        assert_eq!(slider_step(s, s.x + s.w * 0.49, 2), 0);
        assert_eq!(slider_step(s, s.x + s.w * 0.51, 2), 1);
        assert_eq!(slider_step(s, s.x + 1e6, 1), 0);
        // Every step's knob maps back to that step.
        for k in 0..4 {
            assert_eq!(slider_step(s, knob_x(s, k, 4), 4), k);
        }
        // The buttons, the rest of the panel, and outside it.
        let p = l.play.unwrap();
        assert_eq!(hit(&c, p.x + 2.0, p.y + 2.0), Some(Hit::PlayPause));
        assert_eq!(
            hit(&c, l.colour.x + 20.0, l.colour.y + 5.0),
            Some(Hit::Colour)
        );
        assert_eq!(hit(&c, 3.0, 3.0), Some(Hit::Panel));
        assert_eq!(hit(&c, WIDTH as f32 + 1.0, 3.0), None);
        assert_eq!(hit(&c, 3.0, l.size.1 as f32 + 1.0), None);
        // Without a run: no slider, no play button.
        let c0 = content(0, 0);
        let l0 = layout(&c0);
        assert!(l0.slider.is_none() && l0.play.is_none());
        assert!(l0.size.1 < l.size.1);
    }

    #[test]
    fn the_knob_moves_with_the_time_and_rows_grow_the_panel() {
        let a = draw(&content(4, 0));
        let b = draw(&content(4, 3));
        let l = layout(&content(4, 0));
        let s = l.slider.unwrap();
        let knob = |img: &Picture, k: usize| {
            let x = knob_x(s, k, 4).round() as u32;
            img.pixel(x, (s.y + s.h / 2.0) as u32)[..3] == KNOB
        };
        assert!(knob(&a, 0) && !knob(&a, 3));
        assert!(knob(&b, 3) && !knob(&b, 0));
        let mut c = content(4, 0);
        c.attributes = (0..20).map(|i| (format!("k{i}"), format!("{i}"))).collect();
        let lc = layout(&c);
        assert_eq!(lc.rows, MAX_ROWS + 1);
        assert_eq!(
            lc.size.1 - l.size.1,
            ((l.table_top + (MAX_ROWS + 1) as f32 * l.row_height + PAD).ceil()
                - (l.table_top + l.row_height + PAD).ceil()) as u32
        );
    }
}
