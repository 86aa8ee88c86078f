//! The bevy side: the world (meshes, sun with shadows, sky, camera) built from a
//! [`ViewerScene`], the headless capture of pictures and frame sequences, and the interactive
//! window (fly camera, presets, colour modes, run playback, picking).

use crate::error::{Result, ViewerError};
use crate::presets::{Preset, View};
use crate::scene::{to_bevy_mesh, ColourBy, ViewerScene};
use bevy::app::PluginsState;
use bevy::camera::RenderTarget;
use bevy::core_pipeline::tonemapping::Tonemapping;
use bevy::light::{CascadeShadowConfigBuilder, DirectionalLightShadowMap, GlobalAmbientLight};
use bevy::prelude::*;
use bevy::render::render_resource::{PipelineCache, TextureFormat};
use bevy::render::renderer::RenderAdapterInfo;
use bevy::render::view::screenshot::{Screenshot, ScreenshotCaptured};
use bevy::render::RenderApp;
use bevy::window::ExitCondition;
use renderer::render::{colour, Image as Picture};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Sky colour behind the scene (display sRGB).
pub const SKY: [u8; 3] = colour::SKY_HORIZON;
/// The sun's illuminance (lux), with bevy's default camera exposure (EV100 9.7).
pub const SUN_LUX: f32 = 2_600.0;
/// The sky's ambient light (cd/m²).
pub const AMBIENT_BRIGHTNESS: f32 = 420.0;
/// The most frames a headless picture may take to come back (pipelines compile on the first
/// frames; lavapipe needs a few).
pub const MAX_HEADLESS_FRAMES: u32 = 2_000;
/// Seconds between two output times when a run plays.
pub const PLAY_STEP_S: f32 = 0.6;

/// The scene, shared by the systems.
#[derive(Resource, Clone)]
pub struct TwinScene(pub Arc<ViewerScene>);

/// What is shown: colour mode, the run's time step, playing or not.
#[derive(Resource, Clone, Debug)]
pub struct ViewState {
    /// How buildings are coloured.
    pub colour_by: ColourBy,
    /// Index into the flood run's output times (None: no water).
    pub time_index: Option<usize>,
    /// The run animates.
    pub playing: bool,
    /// The view the camera was last put at.
    pub view: View,
    /// The building picked last.
    pub picked: Option<usize>,
}

/// Marks the buildings entity.
#[derive(Component)]
pub struct BuildingsLayer;
/// Marks the water entity.
#[derive(Component)]
pub struct WaterLayer;
/// Marks the viewer's camera.
#[derive(Component)]
pub struct ViewerCamera;

/// Water meshes already built, by output-time index.
#[derive(Resource, Default)]
struct WaterCache(HashMap<usize, Option<Handle<Mesh>>>);

/// The materials of the layers.
#[derive(Resource)]
struct Materials {
    water: Handle<StandardMaterial>,
}

/// Options of a view.
#[derive(Clone, Debug)]
pub struct ViewOptions {
    /// Building colours.
    pub colour_by: ColourBy,
    /// Where the camera starts.
    pub preset: Preset,
    /// Output time (s) of the flood run to show; None: the first one (or none without a run).
    pub time_s: Option<f64>,
}

/// The index of the output time at or just before `t` (the first one when `t` is None).
pub fn time_index(scene: &ViewerScene, t: Option<f64>) -> Result<Option<usize>> {
    let Some(run) = &scene.flood else {
        return match t {
            Some(_) => Err(ViewerError::invalid(
                "--time",
                "needs a flood run (--flood DIR)",
            )),
            None => Ok(None),
        };
    };
    if run.times.is_empty() {
        return Ok(None);
    }
    match t {
        None => Ok(Some(0)),
        Some(t) => run
            .times
            .iter()
            .rposition(|&x| x <= t + 0.5)
            .map(Some)
            .ok_or_else(|| {
                ViewerError::invalid(
                    format!("--time {t}"),
                    format!("before the run's first output time ({} s)", run.times[0]),
                )
            }),
    }
}

fn material(
    mats: &mut Assets<StandardMaterial>,
    alpha: bool,
    unlit: bool,
) -> Handle<StandardMaterial> {
    mats.add(StandardMaterial {
        base_color: Color::WHITE,
        perceptual_roughness: if alpha { 0.3 } else { 0.95 },
        reflectance: 0.1,
        // Nothing culled, and the normals used as they are: the layer meshes' normals face out
        // (walls) and up (ground, roofs, roads, water) whatever the triangles' winding, which
        // bevy's double-sided lighting would flip on triangles seen from their back.
        double_sided: false,
        cull_mode: None,
        unlit,
        alpha_mode: if alpha {
            AlphaMode::Blend
        } else {
            AlphaMode::Opaque
        },
        ..default()
    })
}

/// Spawn the layers, the sun and the sky light (a startup system).
fn spawn_world(
    mut commands: Commands,
    scene: Res<TwinScene>,
    state: Res<ViewState>,
    mut meshes: ResMut<Assets<Mesh>>,
    mut mats: ResMut<Assets<StandardMaterial>>,
) {
    let s = &scene.0;
    let solid = material(&mut mats, false, false);
    let translucent = material(&mut mats, true, true);
    let water = material(&mut mats, true, false);
    let terrain = s.terrain_mesh();
    if !terrain.is_empty() {
        commands.spawn((
            Mesh3d(meshes.add(to_bevy_mesh(&terrain))),
            MeshMaterial3d(solid.clone()),
            Name::new("terrain"),
        ));
    }
    commands.spawn((
        Mesh3d(meshes.add(to_bevy_mesh(&s.buildings_mesh(state.colour_by)))),
        MeshMaterial3d(solid.clone()),
        BuildingsLayer,
        Name::new("buildings"),
    ));
    let roads = s.roads_mesh();
    if !roads.is_empty() {
        commands.spawn((
            Mesh3d(meshes.add(to_bevy_mesh(&roads))),
            MeshMaterial3d(solid.clone()),
            Name::new("roads"),
        ));
    }
    let heritage = s.heritage_mesh();
    if !heritage.is_empty() {
        commands.spawn((
            Mesh3d(meshes.add(to_bevy_mesh(&heritage))),
            MeshMaterial3d(translucent),
            Name::new("heritage"),
        ));
    }
    commands.insert_resource(Materials { water });
    // The sun of the renderer's pictures (azimuth 315°, elevation 50°), with shadows.
    let sun = colour::sun();
    let towards = Vec3::new(sun[0] as f32, sun[2] as f32, -sun[1] as f32);
    let e = s.scene.extent;
    let size = ((e[2] - e[0]).max(e[3] - e[1]) as f32).max(100.0);
    commands.spawn((
        DirectionalLight {
            illuminance: SUN_LUX,
            shadow_maps_enabled: true,
            ..default()
        },
        Transform::default().looking_to(-towards, Vec3::Y),
        CascadeShadowConfigBuilder {
            num_cascades: 3,
            minimum_distance: 1.0,
            first_cascade_far_bound: 1_500.0,
            maximum_distance: 1.5 * size,
            overlap_proportion: 0.2,
        }
        .build(),
    ));
}

/// The camera for a view, rendering to `target` when given.
fn camera_bundle(s: &ViewerScene, view: &View) -> impl Bundle {
    (
        Camera3d::default(),
        Projection::Perspective(PerspectiveProjection {
            fov: (view.fov_deg as f32).to_radians(),
            near: 1.0,
            far: 100_000.0,
            ..default()
        }),
        Tonemapping::None,
        view.transform(s),
        ViewerCamera,
    )
}

/// Keep the water entity on the mesh of the current output time.
fn update_water(
    mut commands: Commands,
    scene: Res<TwinScene>,
    state: Res<ViewState>,
    mut cache: ResMut<WaterCache>,
    mut meshes: ResMut<Assets<Mesh>>,
    mats: Option<Res<Materials>>,
    water: Query<Entity, With<WaterLayer>>,
) {
    let Some(mats) = mats else { return };
    if !state.is_changed() && !water.is_empty() {
        return;
    }
    let handle = match state.time_index {
        None => None,
        Some(i) => cache
            .0
            .entry(i)
            .or_insert_with(|| {
                let t = scene.0.flood.as_ref().map_or(0.0, |r| r.times[i]);
                match scene.0.water_mesh(t) {
                    Ok(Some(m)) if !m.is_empty() => Some(meshes.add(to_bevy_mesh(&m))),
                    Ok(_) => None,
                    Err(e) => {
                        error!("water at {t} s: {e}");
                        None
                    }
                }
            })
            .clone(),
    };
    for e in &water {
        commands.entity(e).despawn();
    }
    if let Some(h) = handle {
        commands.spawn((
            Mesh3d(h),
            MeshMaterial3d(mats.water.clone()),
            WaterLayer,
            Name::new("water"),
        ));
    }
}

/// Recolour the buildings when the colour mode changes.
fn update_building_colours(
    scene: Res<TwinScene>,
    state: Res<ViewState>,
    mut meshes: ResMut<Assets<Mesh>>,
    q: Query<&Mesh3d, With<BuildingsLayer>>,
    mut last: Local<Option<ColourBy>>,
) {
    if *last == Some(state.colour_by) {
        return;
    }
    let first = last.is_none();
    *last = Some(state.colour_by);
    if first {
        return;
    }
    for m in &q {
        if let Some(mut mesh) = meshes.get_mut(&m.0) {
            *mesh = to_bevy_mesh(&scene.0.buildings_mesh(state.colour_by));
        }
    }
}

fn insert_common(app: &mut App, scene: Arc<ViewerScene>, state: ViewState) {
    app.insert_resource(TwinScene(scene))
        .insert_resource(state)
        .insert_resource(ClearColor(Color::srgb_u8(SKY[0], SKY[1], SKY[2])))
        .insert_resource(GlobalAmbientLight {
            color: Color::WHITE,
            brightness: AMBIENT_BRIGHTNESS,
            ..default()
        })
        .insert_resource(DirectionalLightShadowMap { size: 2048 })
        .init_resource::<WaterCache>()
        .add_systems(Startup, spawn_world)
        .add_systems(Update, (update_water, update_building_colours));
}

fn initial_state(scene: &ViewerScene, o: &ViewOptions) -> Result<ViewState> {
    Ok(ViewState {
        colour_by: o.colour_by,
        time_index: time_index(scene, o.time_s)?,
        playing: false,
        view: View::preset(o.preset, scene)?,
        picked: None,
    })
}

/// A bevy app without a window that renders the scene into an image and reads it back.
pub struct Headless {
    app: App,
    target: Handle<Image>,
    shots: Arc<Mutex<Vec<Image>>>,
    size: (u32, u32),
    frames: u32,
}

impl Headless {
    /// Build the app and its offscreen target of `width` × `height` pixels.
    pub fn new(scene: ViewerScene, o: &ViewOptions, width: u32, height: u32) -> Result<Headless> {
        if !(16..=8192).contains(&width) || !(16..=8192).contains(&height) {
            return Err(ViewerError::invalid(
                "--size",
                format!("{width}x{height}: each side must be in 16..=8192 pixels"),
            ));
        }
        let state = initial_state(&scene, o)?;
        let scene = Arc::new(scene);
        let mut app = App::new();
        app.add_plugins(
            DefaultPlugins
                .set(WindowPlugin {
                    primary_window: None,
                    exit_condition: ExitCondition::DontExit,
                    close_when_requested: false,
                    ..default()
                })
                // Pipelines compile when first needed, not in the background: the first frames
                // already draw everything.
                .set(bevy::render::RenderPlugin {
                    synchronous_pipeline_compilation: true,
                    ..default()
                })
                .disable::<bevy::winit::WinitPlugin>()
                .disable::<bevy::log::LogPlugin>()
                .disable::<bevy::app::TerminalCtrlCHandlerPlugin>()
                .disable::<bevy::render::pipelined_rendering::PipelinedRenderingPlugin>(),
        );
        insert_common(&mut app, scene.clone(), state.clone());
        while app.plugins_state() == PluginsState::Adding {
            bevy::tasks::tick_global_task_pools_on_main_thread();
        }
        app.finish();
        app.cleanup();
        if app.world().get_resource::<RenderAdapterInfo>().is_none() {
            return Err(ViewerError::Render(
                "no GPU adapter: a GPU driver, or Mesa's software Vulkan (apt-get install \
                 mesa-vulkan-drivers, as scripts/setup.sh --test does)"
                    .into(),
            ));
        }
        let image = Image::new_target_texture(width, height, TextureFormat::Rgba8UnormSrgb, None);
        let target = app.world_mut().resource_mut::<Assets<Image>>().add(image);
        app.world_mut().spawn((
            camera_bundle(&scene, &state.view),
            RenderTarget::Image(target.clone().into()),
        ));
        Ok(Headless {
            app,
            target,
            shots: Arc::new(Mutex::new(Vec::new())),
            size: (width, height),
            frames: 0,
        })
    }

    /// The GPU adapter bevy chose (name and backend).
    pub fn adapter(&self) -> String {
        self.app
            .world()
            .get_resource::<RenderAdapterInfo>()
            .map(|a| format!("{} ({:?}, {:?})", a.name, a.backend, a.device_type))
            .unwrap_or_else(|| "none".into())
    }

    /// The picture size.
    pub fn size(&self) -> (u32, u32) {
        self.size
    }

    /// The app's world (to read or change the view).
    pub fn world_mut(&mut self) -> &mut World {
        self.app.world_mut()
    }

    /// Show the flood run's output time with this index.
    pub fn set_time_index(&mut self, i: Option<usize>) {
        self.app.world_mut().resource_mut::<ViewState>().time_index = i;
    }

    /// Put the camera at a view.
    pub fn set_view(&mut self, v: View) {
        let scene = self.app.world().resource::<TwinScene>().0.clone();
        let w = self.app.world_mut();
        let mut q = w.query_filtered::<(&mut Transform, &mut Projection), With<ViewerCamera>>();
        for (mut t, mut p) in q.iter_mut(w) {
            *t = v.transform(&scene);
            if let Projection::Perspective(pp) = &mut *p {
                pp.fov = (v.fov_deg as f32).to_radians();
            }
        }
        w.resource_mut::<ViewState>().view = v;
    }

    fn pipelines_waiting(&self) -> usize {
        self.app
            .get_sub_app(RenderApp)
            .and_then(|r| r.world().get_resource::<PipelineCache>())
            .map_or(0, |c| c.waiting_pipelines().count())
    }

    fn update(&mut self) -> Result<()> {
        if self.frames >= MAX_HEADLESS_FRAMES {
            return Err(ViewerError::Render(format!(
                "no picture after {MAX_HEADLESS_FRAMES} frames"
            )));
        }
        self.app.update();
        self.frames += 1;
        Ok(())
    }

    /// Draw frames until every pipeline is compiled, then one more, and read the picture back.
    pub fn capture(&mut self) -> Result<Picture> {
        self.frames = 0;
        // Pipelines compile in the background on the first frames; the picture is taken once
        // none has been waiting for two frames in a row.
        let mut settled = 0;
        let mut n = 0;
        while settled < 3 || n < 4 {
            self.update()?;
            n += 1;
            settled = if self.pipelines_waiting() == 0 {
                settled + 1
            } else {
                0
            };
        }
        let shots = self.shots.clone();
        self.app
            .world_mut()
            .spawn(Screenshot::image(self.target.clone()))
            .observe(move |c: On<ScreenshotCaptured>| {
                if let Ok(mut v) = shots.lock() {
                    v.push(c.image.clone());
                }
            });
        loop {
            self.update()?;
            let got = self.shots.lock().ok().and_then(|mut v| v.pop());
            if let Some(img) = got {
                return to_picture(&img);
            }
        }
    }

    /// Frame times (s) of `n` frames, each read back (so the GPU has finished it), the view
    /// turning by 0.5° a frame about its starting point; after a first, untimed picture.
    pub fn frame_times(&mut self, n: usize) -> Result<Vec<f64>> {
        self.capture()?;
        let start = self.app.world().resource::<ViewState>().view;
        let mut out = Vec::with_capacity(n);
        for k in 0..n {
            let mut v = start;
            v.heading_deg += 0.5 * k as f64;
            self.set_view(v);
            let t0 = std::time::Instant::now();
            let shots = self.shots.clone();
            self.app
                .world_mut()
                .spawn(Screenshot::image(self.target.clone()))
                .observe(move |c: On<ScreenshotCaptured>| {
                    if let Ok(mut v) = shots.lock() {
                        v.push(c.image.clone());
                    }
                });
            loop {
                self.update()?;
                if self.shots.lock().ok().and_then(|mut v| v.pop()).is_some() {
                    break;
                }
            }
            out.push(t0.elapsed().as_secs_f64());
            self.frames = 0;
        }
        Ok(out)
    }

    /// The ray (bevy frame) through the centre of pixel (x, y) of the picture, as the
    /// camera last drew it.
    pub fn ray(&mut self, x: u32, y: u32) -> Option<Ray3d> {
        let w = self.app.world_mut();
        let mut q = w.query_filtered::<(&Camera, &GlobalTransform), With<ViewerCamera>>();
        let (cam, gt) = q.iter(w).next()?;
        cam.viewport_to_world(gt, Vec2::new(x as f32 + 0.5, y as f32 + 0.5))
            .ok()
    }
}

/// A read-back image as an 8-bit RGBA picture (alpha set opaque).
fn to_picture(img: &Image) -> Result<Picture> {
    let (w, h) = (img.width(), img.height());
    let data = img
        .data
        .as_ref()
        .ok_or_else(|| ViewerError::Render("the screenshot has no pixels".into()))?;
    let bgra = matches!(
        img.texture_descriptor.format,
        TextureFormat::Bgra8Unorm | TextureFormat::Bgra8UnormSrgb
    );
    if data.len() != (w * h * 4) as usize {
        return Err(ViewerError::Render(format!(
            "screenshot of {w}x{h} has {} bytes in {:?}",
            data.len(),
            img.texture_descriptor.format
        )));
    }
    let mut rgba = data.clone();
    for px in rgba.chunks_exact_mut(4) {
        if bgra {
            px.swap(0, 2);
        }
        px[3] = 255;
    }
    Ok(Picture {
        width: w,
        height: h,
        rgba,
    })
}

/// Render one picture of a scene headless.
pub fn screenshot(
    scene: ViewerScene,
    o: &ViewOptions,
    width: u32,
    height: u32,
) -> Result<(Picture, String)> {
    let mut h = Headless::new(scene, o, width, height)?;
    let adapter = h.adapter();
    Ok((h.capture()?, adapter))
}

// ---- the interactive window ---------------------------------------------------------------

/// Keys of the window, printed at start.
pub const KEYS: &str = "fly: WASD/QE + right mouse drag, shift faster | 1 city, 2 citadel, \
3 royal axis | C colour mode | space play/pause, left/right step the run's time | left click: \
pick a building";

fn window_title(scene: &ViewerScene, state: &ViewState) -> String {
    let mut t = format!(
        "twin-viewer — {} — colour: {:?}",
        scene.scene.title, state.colour_by
    );
    if let (Some(run), Some(i)) = (&scene.flood, state.time_index) {
        t.push_str(&format!(
            " — t = {} s ({}/{}) {}",
            run.times[i],
            i + 1,
            run.times.len(),
            if state.playing { "▶" } else { "⏸" }
        ));
    }
    if let Some(k) = state.picked {
        let b = &scene.buildings[k];
        t.push_str(&format!(" — picked {}", b.id));
    }
    t
}

#[allow(clippy::too_many_arguments)]
fn controls(
    keys: Res<ButtonInput<KeyCode>>,
    mouse: Res<ButtonInput<MouseButton>>,
    time: Res<Time>,
    scene: Res<TwinScene>,
    mut state: ResMut<ViewState>,
    mut timer: Local<f32>,
    mut cams: Query<(&Camera, &GlobalTransform, &mut Transform), With<ViewerCamera>>,
    mut windows: Query<&mut Window>,
) {
    let s = &scene.0;
    let n = s.flood.as_ref().map_or(0, |r| r.times.len());
    let mut view = None;
    if keys.just_pressed(KeyCode::Digit1) {
        view = Some(Preset::City);
    }
    if keys.just_pressed(KeyCode::Digit2) {
        view = Some(Preset::Citadel);
    }
    if keys.just_pressed(KeyCode::Digit3) {
        view = Some(Preset::RoyalAxis);
    }
    if let Some(p) = view {
        match View::preset(p, s) {
            Ok(v) => {
                for (_, _, mut t) in &mut cams {
                    *t = v.transform(s);
                }
                state.view = v;
            }
            Err(e) => error!("{p:?}: {e}"),
        }
    }
    if keys.just_pressed(KeyCode::KeyC) {
        state.colour_by = state.colour_by.next();
    }
    if n > 0 {
        if keys.just_pressed(KeyCode::Space) {
            state.playing = !state.playing;
        }
        let i = state.time_index.unwrap_or(0);
        if keys.just_pressed(KeyCode::ArrowRight) {
            state.time_index = Some((i + 1).min(n - 1));
        }
        if keys.just_pressed(KeyCode::ArrowLeft) {
            state.time_index = Some(i.saturating_sub(1));
        }
        if state.playing {
            *timer += time.delta_secs();
            if *timer >= PLAY_STEP_S {
                *timer = 0.0;
                state.time_index = Some((i + 1) % n);
            }
        }
    }
    if mouse.just_pressed(MouseButton::Left) {
        let cursor = windows.iter().next().and_then(|w| w.cursor_position());
        if let (Some(c), Some((cam, gt, _))) = (cursor, cams.iter().next()) {
            if let Ok(ray) = cam.viewport_to_world(gt, c) {
                state.picked = s.pick(ray).map(|(k, _)| k);
                match state.picked {
                    Some(k) => {
                        let attrs = s.buildings[k].attributes();
                        let line: Vec<String> =
                            attrs.iter().map(|(k, v)| format!("{k}={v}")).collect();
                        info!("picked: {}", line.join(", "));
                        println!("picked: {}", line.join(", "));
                    }
                    None => println!("picked: nothing"),
                }
            }
        }
    }
    if state.is_changed() {
        for mut w in &mut windows {
            w.title = window_title(s, &state);
        }
    }
}

/// Open the interactive window on a scene (returns when it is closed).
pub fn run_window(scene: ViewerScene, o: &ViewOptions) -> Result<()> {
    use bevy::camera_controller::free_camera::{FreeCamera, FreeCameraPlugin};
    let state = initial_state(&scene, o)?;
    let scene = Arc::new(scene);
    let title = window_title(&scene, &state);
    let mut app = App::new();
    app.add_plugins(DefaultPlugins.set(WindowPlugin {
        primary_window: Some(Window {
            title,
            resolution: (1600, 1000).into(),
            ..default()
        }),
        ..default()
    }))
    .add_plugins(FreeCameraPlugin);
    insert_common(&mut app, scene.clone(), state.clone());
    let view = state.view;
    let sc = scene.clone();
    app.add_systems(Startup, move |mut commands: Commands| {
        commands.spawn((
            camera_bundle(&sc, &view),
            FreeCamera {
                mouse_key_cursor_grab: MouseButton::Right,
                walk_speed: 150.0,
                run_speed: 900.0,
                ..default()
            },
        ));
    })
    .add_systems(Update, controls);
    println!("{KEYS}");
    app.run();
    Ok(())
}
