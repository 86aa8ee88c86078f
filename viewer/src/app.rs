//! The bevy side: the world (meshes, sun with shadows, sky, camera) built from a
//! [`ViewerScene`], the headless capture of pictures and frame sequences, and the interactive
//! window (fly camera, presets, colour modes, run playback, picking).

use crate::error::{Result, ViewerError};
use crate::presets::{Place, Preset, View};
use crate::scene::{to_bevy_mesh, ColourBy, ViewerScene};
use crate::stream::systems::{recolour_streamed, stream_tiles, StreamMaterials, Streamer};
use crate::stream::StreamScene;
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

/// The scene of a twin folder, shared by the systems (absent when streaming).
#[derive(Resource, Clone)]
pub struct TwinScene(pub Arc<ViewerScene>);

/// What the presets and the camera need of the scene, twin folder or stream.
#[derive(Resource, Clone)]
pub struct PlaceRes(pub Arc<dyn Place + Send + Sync>);

/// What the viewer shows: a twin folder's scene, or a server's 3D Tiles streamed.
pub enum Source {
    /// A twin folder read through twin-core.
    Twin(Box<ViewerScene>),
    /// A server's tilesets.
    Stream(Box<StreamScene>),
}

/// The most seconds a headless picture waits for streamed tiles.
pub const MAX_STREAM_WAIT_S: f64 = 600.0;

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
    /// The building picked last (twin folder).
    pub picked: Option<usize>,
    /// The attributes of the feature picked last (either source), in display order.
    pub picked_attributes: Vec<(String, String)>,
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
    solid: Handle<StandardMaterial>,
    translucent: Handle<StandardMaterial>,
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
    /// Headless pictures show the on-screen panel ([`crate::panel`]); a window always does.
    pub panel: bool,
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

/// Make the materials (a startup system, before [`spawn_world`]).
fn make_materials(mut commands: Commands, mut mats: ResMut<Assets<StandardMaterial>>) {
    let solid = material(&mut mats, false, false);
    let translucent = material(&mut mats, true, true);
    let water = material(&mut mats, true, false);
    commands.insert_resource(StreamMaterials {
        solid: solid.clone(),
        translucent: translucent.clone(),
    });
    commands.insert_resource(Materials {
        solid,
        translucent,
        water,
    });
}

/// Spawn the sun and, for a twin folder, its layers (a startup system).
fn spawn_world(
    mut commands: Commands,
    place: Res<PlaceRes>,
    scene: Option<Res<TwinScene>>,
    state: Res<ViewState>,
    mut meshes: ResMut<Assets<Mesh>>,
    mats: Res<Materials>,
) {
    if let Some(scene) = &scene {
        spawn_twin_layers(&mut commands, &scene.0, &state, &mut meshes, &mats);
    }
    spawn_sun(&mut commands, place.0.extent());
}

fn spawn_twin_layers(
    commands: &mut Commands,
    s: &ViewerScene,
    state: &ViewState,
    meshes: &mut Assets<Mesh>,
    mats: &Materials,
) {
    let (solid, translucent) = (mats.solid.clone(), mats.translucent.clone());
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
}

/// The sun of the renderer's pictures (azimuth 315°, elevation 50°), with shadows over an
/// extent.
fn spawn_sun(commands: &mut Commands, e: [f64; 4]) {
    let sun = colour::sun();
    let towards = Vec3::new(sun[0] as f32, sun[2] as f32, -sun[1] as f32);
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

/// The camera for a view in a scene with floating origin `origin`.
fn camera_bundle(origin: [f64; 2], view: &View) -> impl Bundle {
    (
        Camera3d::default(),
        Projection::Perspective(PerspectiveProjection {
            fov: (view.fov_deg as f32).to_radians(),
            near: 1.0,
            far: 100_000.0,
            ..default()
        }),
        Tonemapping::None,
        view.transform(origin),
        ViewerCamera,
    )
}

/// Keep the water entity on the mesh of the current output time.
fn update_water(
    mut commands: Commands,
    scene: Option<Res<TwinScene>>,
    state: Res<ViewState>,
    mut cache: ResMut<WaterCache>,
    mut meshes: ResMut<Assets<Mesh>>,
    mats: Option<Res<Materials>>,
    water: Query<Entity, With<WaterLayer>>,
) {
    let (Some(mats), Some(scene)) = (mats, scene) else {
        return;
    };
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
    scene: Option<Res<TwinScene>>,
    state: Res<ViewState>,
    mut meshes: ResMut<Assets<Mesh>>,
    q: Query<&Mesh3d, With<BuildingsLayer>>,
    mut last: Local<Option<ColourBy>>,
) {
    let Some(scene) = scene else { return };
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

/// The scene of a source, shared.
#[derive(Clone)]
enum Shared {
    Twin(Arc<ViewerScene>),
    Stream(Arc<StreamScene>),
}

impl Shared {
    fn new(source: Source) -> Shared {
        match source {
            Source::Twin(s) => Shared::Twin(Arc::new(*s)),
            Source::Stream(s) => Shared::Stream(Arc::new(*s)),
        }
    }

    fn place(&self) -> Arc<dyn Place + Send + Sync> {
        match self {
            Shared::Twin(s) => s.clone(),
            Shared::Stream(s) => s.clone(),
        }
    }

    fn twin(&self) -> Option<&ViewerScene> {
        match self {
            Shared::Twin(s) => Some(s),
            Shared::Stream(_) => None,
        }
    }
}

fn insert_common(app: &mut App, shared: &Shared, state: ViewState) {
    match shared {
        Shared::Twin(s) => {
            app.insert_resource(TwinScene(s.clone()));
        }
        Shared::Stream(s) => {
            app.insert_resource(Streamer::new(s.clone()));
        }
    }
    app.insert_resource(PlaceRes(shared.place()))
        .insert_resource(state)
        .insert_resource(ClearColor(Color::srgb_u8(SKY[0], SKY[1], SKY[2])))
        .insert_resource(GlobalAmbientLight {
            color: Color::WHITE,
            brightness: AMBIENT_BRIGHTNESS,
            ..default()
        })
        .insert_resource(DirectionalLightShadowMap { size: 2048 })
        .init_resource::<WaterCache>()
        .add_systems(Startup, (make_materials, spawn_world).chain())
        .add_systems(
            Update,
            (
                update_water,
                update_building_colours,
                stream_tiles,
                recolour_streamed,
            ),
        );
}

fn initial_state(shared: &Shared, o: &ViewOptions) -> Result<ViewState> {
    let time_index = match shared.twin() {
        Some(s) => time_index(s, o.time_s)?,
        None if o.time_s.is_some() => {
            return Err(ViewerError::invalid(
                "--time",
                "needs a flood run, which streaming does not load",
            ))
        }
        None => None,
    };
    Ok(ViewState {
        colour_by: o.colour_by,
        time_index,
        playing: false,
        view: View::preset(o.preset, &*shared.place())?,
        picked: None,
        picked_attributes: Vec::new(),
    })
}

/// A bevy app without a window that renders the scene into an image and reads it back.
pub struct Headless {
    app: App,
    target: Handle<Image>,
    shots: Arc<Mutex<Vec<Image>>>,
    size: (u32, u32),
    frames: u32,
    started: bool,
}

impl Headless {
    /// Build the app for a twin folder's scene and its offscreen target of `width` ×
    /// `height` pixels.
    pub fn new(scene: ViewerScene, o: &ViewOptions, width: u32, height: u32) -> Result<Headless> {
        Headless::open(Source::Twin(Box::new(scene)), o, width, height)
    }

    /// [`Headless::new`] for a server's tiles streamed.
    pub fn stream(
        scene: StreamScene,
        o: &ViewOptions,
        width: u32,
        height: u32,
    ) -> Result<Headless> {
        Headless::open(Source::Stream(Box::new(scene)), o, width, height)
    }

    /// Build the app for a source and its offscreen target of `width` × `height` pixels.
    pub fn open(source: Source, o: &ViewOptions, width: u32, height: u32) -> Result<Headless> {
        if !(16..=8192).contains(&width) || !(16..=8192).contains(&height) {
            return Err(ViewerError::invalid(
                "--size",
                format!("{width}x{height}: each side must be in 16..=8192 pixels"),
            ));
        }
        let shared = Shared::new(source);
        let state = initial_state(&shared, o)?;
        let origin = shared.place().origin();
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
        insert_common(&mut app, &shared, state.clone());
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
        if o.panel {
            crate::panel::add_panel(&mut app, Some(target.clone()), (width, height));
        }
        app.world_mut().spawn((
            camera_bundle(origin, &state.view),
            RenderTarget::Image(target.clone().into()),
        ));
        Ok(Headless {
            app,
            target,
            shots: Arc::new(Mutex::new(Vec::new())),
            size: (width, height),
            frames: 0,
            started: false,
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
        let origin = self.app.world().resource::<PlaceRes>().0.origin();
        let w = self.app.world_mut();
        let mut q = w.query_filtered::<(&mut Transform, &mut Projection), With<ViewerCamera>>();
        for (mut t, mut p) in q.iter_mut(w) {
            *t = v.transform(origin);
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

    /// When streaming: draw frames until every tile the view wants is loaded (and no load is
    /// in flight), at most [`MAX_STREAM_WAIT_S`]; returns the frames drawn.
    pub fn settle_stream(&mut self) -> Result<u32> {
        let t0 = std::time::Instant::now();
        let mut n = 0;
        loop {
            let idle = match self.app.world().get_resource::<Streamer>() {
                None => return Ok(n),
                Some(s) => s.is_idle(),
            };
            if idle {
                return Ok(n);
            }
            if t0.elapsed().as_secs_f64() > MAX_STREAM_WAIT_S {
                return Err(ViewerError::Render(format!(
                    "streamed tiles still loading after {MAX_STREAM_WAIT_S} s"
                )));
            }
            self.app.update();
            n += 1;
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }

    /// Hide a layer (`terrain`, `buildings`, `roads`, `heritage`, `water`), or show it again:
    /// a twin folder's layer entity, or a streamed layer (neither drawn nor loaded).
    pub fn show_layer(&mut self, name: &str, show: bool) {
        if !self.started {
            // The layers are spawned by the first frame's startup systems.
            self.app.update();
            self.started = true;
        }
        let w = self.app.world_mut();
        let mut q = w.query::<(&Name, &mut Visibility)>();
        for (n, mut v) in q.iter_mut(w) {
            if n.as_str() == name {
                *v = if show {
                    Visibility::Inherited
                } else {
                    Visibility::Hidden
                };
            }
        }
        if let Some(mut st) = w.get_resource_mut::<Streamer>() {
            if let Some(l) = st.scene.layer_index(name) {
                if show {
                    st.hidden.remove(&l);
                } else {
                    st.hidden.insert(l);
                }
            }
        }
    }

    /// The streaming state, when streaming.
    pub fn streamer(&self) -> Option<&Streamer> {
        self.app.world().get_resource::<Streamer>()
    }

    /// Draw frames until every pipeline is compiled (and, streaming, every wanted tile is
    /// loaded), then one more, and read the picture back.
    pub fn capture(&mut self) -> Result<Picture> {
        self.settle_stream()?;
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

    /// Pick what the ray through pixel (x, y) hits, as a click in the window does: the picked
    /// feature's attributes become the view state's (and the panel's); None: nothing hit.
    pub fn pick(&mut self, x: u32, y: u32) -> Option<Vec<(String, String)>> {
        let ray = self.ray(x, y)?;
        let w = self.app.world_mut();
        let twin = w.get_resource::<TwinScene>().map(|t| t.0.clone());
        let picked = pick_ray(twin.as_deref(), w.get_resource::<Streamer>(), ray);
        let mut state = w.resource_mut::<ViewState>();
        apply_pick(&mut state, picked.clone());
        picked.map(|(_, a)| a)
    }

    /// What the panel shows in the last picture drawn (None without `--panel`).
    pub fn panel_content(&self) -> Option<crate::panel::PanelContent> {
        self.app
            .world()
            .get_resource::<crate::panel::Panel>()
            .and_then(|p| p.content.clone())
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

/// Render one picture of a source headless; returns it and the adapter's name.
pub fn screenshot(
    source: Source,
    o: &ViewOptions,
    width: u32,
    height: u32,
) -> Result<(Picture, String)> {
    let mut h = Headless::open(source, o, width, height)?;
    let adapter = h.adapter();
    Ok((h.capture()?, adapter))
}

// ---- the interactive window ---------------------------------------------------------------

/// Keys of the window, printed at start.
pub const KEYS: &str = "fly: WASD/QE + right mouse drag, shift faster | O orbit camera: left \
drag orbits about the ground point in the middle of the view, middle drag (or shift + left \
drag) pans, wheel zooms | 1 city, 2 citadel, 3 royal axis | C colour mode | space play/pause, \
left/right step the run's time, T + left drag scrubs it across the window | the panel (top \
left): click or drag the slider, the play/pause and colour buttons | left click elsewhere: pick \
a building or heritage site";

/// The orbit camera: on (the fly camera off) or off, and the point it turns about.
#[derive(Resource, Clone, Copy, Debug, Default)]
pub struct Orbit {
    /// The orbit camera is active.
    pub on: bool,
    /// The point orbited (bevy frame).
    pub focus: Vec3,
}

/// Where a ray (bevy frame) meets the horizontal plane at height `h` (bevy y); None when it
/// runs parallel to it or away from it.
pub fn ray_plane(ray: Ray3d, h: f32) -> Option<Vec3> {
    let dy = ray.direction.y;
    if dy.abs() < 1e-6 {
        return None;
    }
    let t = (h - ray.origin.y) / dy;
    (t > 0.0).then(|| ray.origin + *ray.direction * t)
}

/// Turn a camera transform about `focus` by `yaw` (about the vertical) and `pitch` (about the
/// camera's right axis) radians, keeping it above the horizon of the focus and looking at it.
pub fn orbit(t: &mut Transform, focus: Vec3, yaw: f32, pitch: f32) {
    let offset = t.translation - focus;
    let r = offset.length().max(1.0);
    let yaw_q = Quat::from_rotation_y(yaw);
    let right = t.rotation * Vec3::X;
    let pitch_q = Quat::from_axis_angle(right, pitch);
    let mut o = yaw_q * (pitch_q * offset);
    // Between 2° and 89° above the focus.
    let horiz = Vec2::new(o.x, o.z).length().max(1e-3);
    let elev =
        o.y.atan2(horiz)
            .clamp(2f32.to_radians(), 89f32.to_radians());
    let dir = Vec2::new(o.x, o.z) / horiz;
    o = Vec3::new(dir.x * elev.cos(), elev.sin(), dir.y * elev.cos()) * r;
    t.translation = focus + o;
    t.look_at(focus, Vec3::Y);
}

fn window_title(place: &dyn Place, twin: Option<&ViewerScene>, state: &ViewState) -> String {
    let mut t = format!(
        "twin-viewer — {} — colour: {:?}",
        place.title(),
        state.colour_by
    );
    if let (Some(run), Some(i)) = (twin.and_then(|s| s.flood.as_ref()), state.time_index) {
        t.push_str(&format!(
            " — t = {} s ({}/{}) {}",
            run.times[i],
            i + 1,
            run.times.len(),
            if state.playing { "▶" } else { "⏸" }
        ));
    }
    if let Some((_, id)) = state.picked_attributes.iter().find(|(k, _)| k == "id") {
        t.push_str(&format!(" — picked {id}"));
    }
    t
}

/// The attributes of a streamed feature in display order (strings unquoted).
pub fn picked_attributes(p: &crate::stream::Picked) -> Vec<(String, String)> {
    let mut out = vec![("layer".to_string(), p.layer.clone())];
    for (k, v) in &p.properties {
        let s = match v {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Number(n) => match n.as_f64() {
                Some(f) if n.is_f64() => format!("{f:.2}"),
                _ => n.to_string(),
            },
            other => other.to_string(),
        };
        out.push((k.clone(), s));
    }
    out
}

/// A pick's result: the building's index (twin folder) and the attributes in display order.
pub type Picked = (Option<usize>, Vec<(String, String)>);

/// What a ray picks: a twin folder's building or heritage site (the nearer), or a streamed
/// feature; the building's index (twin folder) and the attributes in display order.
pub fn pick_ray(
    twin: Option<&ViewerScene>,
    streamer: Option<&Streamer>,
    ray: Ray3d,
) -> Option<Picked> {
    let own = |a: Vec<(&'static str, String)>| -> Vec<(String, String)> {
        a.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
    };
    if let Some(s) = twin {
        let b = s.pick(ray);
        let h = s.pick_heritage(ray);
        match (b, h) {
            // A heritage area in front of the building (or no building).
            (_, Some((k, dh))) if b.is_none_or(|(_, db)| dh < db) => {
                let mut a = vec![("layer".to_string(), "heritage".to_string())];
                a.extend(own(s.heritage[k].attributes()));
                Some((None, a))
            }
            (Some((k, _)), _) => Some((Some(k), own(s.buildings[k].attributes()))),
            _ => None,
        }
    } else {
        streamer
            .and_then(|st| st.pick(ray))
            .map(|p| (None, picked_attributes(&p)))
    }
}

/// Put a pick's result into the view state (nothing picked clears it).
fn apply_pick(state: &mut ViewState, picked: Option<Picked>) {
    match picked {
        Some((b, a)) => {
            state.picked = b;
            state.picked_attributes = a;
        }
        None => {
            state.picked = None;
            state.picked_attributes.clear();
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn controls(
    keys: Res<ButtonInput<KeyCode>>,
    mouse: Res<ButtonInput<MouseButton>>,
    motion: Res<bevy::input::mouse::AccumulatedMouseMotion>,
    wheel: Res<bevy::input::mouse::AccumulatedMouseScroll>,
    time: Res<Time>,
    place: Res<PlaceRes>,
    twin: Option<Res<TwinScene>>,
    streamer: Option<Res<Streamer>>,
    mut state: ResMut<ViewState>,
    mut orbit_state: ResMut<Orbit>,
    mut timer: Local<f32>,
    mut cams: Query<
        (
            &Camera,
            &GlobalTransform,
            &mut Transform,
            Option<&mut bevy::camera_controller::free_camera::FreeCameraState>,
        ),
        With<ViewerCamera>,
    >,
    mut windows: Query<&mut Window>,
    panel: Option<Res<crate::panel::Panel>>,
) {
    // A press that went down on the panel is the panel's (no pick, no camera turn).
    let on_panel = panel.is_some_and(|p| p.captured);
    let place = &*place.0;
    let twin = twin.as_ref().map(|t| &*t.0);
    let n = twin
        .and_then(|s| s.flood.as_ref())
        .map_or(0, |r| r.times.len());
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
        match View::preset(p, place) {
            Ok(v) => {
                for (_, _, mut t, fc) in &mut cams {
                    *t = v.transform(place.origin());
                    if let Some(mut fc) = fc {
                        let (yaw, pitch, _) = t.rotation.to_euler(EulerRot::YXZ);
                        fc.yaw = yaw;
                        fc.pitch = pitch;
                    }
                }
                state.view = v;
            }
            Err(e) => error!("{p:?}: {e}"),
        }
    }
    if keys.just_pressed(KeyCode::KeyC) {
        state.colour_by = state.colour_by.next();
    }
    // The orbit camera: O toggles it; it turns about the ground point in the view's middle.
    if keys.just_pressed(KeyCode::KeyO) {
        orbit_state.on = !orbit_state.on;
        for (cam, gt, mut t, fc) in &mut cams {
            if orbit_state.on {
                let centre = cam.logical_viewport_size().map(|s| s / 2.0);
                let ray = centre.and_then(|c| cam.viewport_to_world(gt, c).ok());
                let p = place.origin();
                let ground = place.ground(p[0], p[1]) as f32;
                orbit_state.focus = ray
                    .and_then(|r| ray_plane(r, ground))
                    .unwrap_or(t.translation + t.rotation * Vec3::NEG_Z * 1_000.0);
            }
            if let Some(mut fc) = fc {
                fc.enabled = !orbit_state.on;
                let (yaw, pitch, _) = t.rotation.to_euler(EulerRot::YXZ);
                fc.yaw = yaw;
                fc.pitch = pitch;
            }
            if orbit_state.on {
                let f = orbit_state.focus;
                t.look_at(f, Vec3::Y);
            }
        }
        println!("camera: {}", if orbit_state.on { "orbit" } else { "fly" });
    }
    if orbit_state.on {
        let shift = keys.pressed(KeyCode::ShiftLeft) || keys.pressed(KeyCode::ShiftRight);
        let d = motion.delta;
        for (_, _, mut t, _) in &mut cams {
            let pan =
                mouse.pressed(MouseButton::Middle) || (shift && mouse.pressed(MouseButton::Left));
            if pan && d != Vec2::ZERO {
                let dist = (t.translation - orbit_state.focus).length();
                let k = dist * 0.0015;
                let right = t.rotation * Vec3::X;
                let fwd = Vec3::new(right.z, 0.0, -right.x).normalize_or_zero();
                let mv = -right * d.x * k + fwd * d.y * k;
                t.translation += mv;
                orbit_state.focus += mv;
            } else if mouse.pressed(MouseButton::Left) && d != Vec2::ZERO && !on_panel {
                orbit(&mut t, orbit_state.focus, -d.x * 0.005, -d.y * 0.005);
            }
            if wheel.delta.y != 0.0 {
                let off = t.translation - orbit_state.focus;
                let f = (1.0 - 0.1 * wheel.delta.y.clamp(-5.0, 5.0)).clamp(0.3, 3.0);
                let len = (off.length() * f).clamp(20.0, 200_000.0);
                t.translation = orbit_state.focus + off.normalize_or_zero() * len;
            }
        }
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
        // Scrubbing: T held, the cursor's place across the window picks the output time.
        if keys.pressed(KeyCode::KeyT) && mouse.pressed(MouseButton::Left) {
            if let Some((x, w)) = windows
                .iter()
                .next()
                .and_then(|w| Some((w.cursor_position()?.x, w.width())))
            {
                let f = (x / w.max(1.0)).clamp(0.0, 1.0);
                let k = ((f * (n - 1) as f32).round() as usize).min(n - 1);
                if state.time_index != Some(k) {
                    state.time_index = Some(k);
                    state.playing = false;
                }
            }
        }
        if state.playing {
            *timer += time.delta_secs();
            if *timer >= PLAY_STEP_S {
                *timer = 0.0;
                state.time_index = Some((i + 1) % n);
            }
        }
    }
    // A click (not a pan in orbit mode, not scrubbing) picks.
    let click = mouse.just_pressed(MouseButton::Left)
        && !on_panel
        && !keys.pressed(KeyCode::KeyT)
        && !(orbit_state.on
            && (keys.pressed(KeyCode::ShiftLeft) || keys.pressed(KeyCode::ShiftRight)));
    if click {
        let cursor = windows.iter().next().and_then(|w| w.cursor_position());
        if let (Some(c), Some((cam, gt, _, _))) = (cursor, cams.iter().next()) {
            if let Ok(ray) = cam.viewport_to_world(gt, c) {
                let picked = pick_ray(twin, streamer.as_deref(), ray);
                let attrs = picked.as_ref().map(|(_, a)| a.clone());
                apply_pick(&mut state, picked);
                match attrs {
                    Some(a) => {
                        let line: Vec<String> = a.iter().map(|(k, v)| format!("{k}={v}")).collect();
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
            w.title = window_title(place, twin, &state);
        }
    }
}

/// Open the interactive window on a source (returns when it is closed).
pub fn run_window(source: Source, o: &ViewOptions) -> Result<()> {
    use bevy::camera_controller::free_camera::{FreeCamera, FreeCameraPlugin};
    let shared = Shared::new(source);
    let state = initial_state(&shared, o)?;
    let title = window_title(&*shared.place(), shared.twin(), &state);
    let mut app = App::new();
    app.add_plugins(DefaultPlugins.set(WindowPlugin {
        primary_window: Some(Window {
            title,
            resolution: (1600, 1000).into(),
            ..default()
        }),
        ..default()
    }))
    .add_plugins(FreeCameraPlugin)
    .init_resource::<Orbit>();
    insert_common(&mut app, &shared, state.clone());
    crate::panel::add_panel(&mut app, None, (1600, 1000));
    let view = state.view;
    let origin = shared.place().origin();
    app.add_systems(Startup, move |mut commands: Commands| {
        commands.spawn((
            camera_bundle(origin, &view),
            FreeCamera {
                mouse_key_cursor_grab: MouseButton::Right,
                walk_speed: 150.0,
                run_speed: 900.0,
                ..default()
            },
        ));
    })
    .add_systems(Update, (crate::panel::panel_clicks, controls).chain());
    println!("{KEYS}");
    app.run();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_orbit_keeps_its_distance_and_looks_at_the_focus() {
        let focus = Vec3::new(100.0, 0.0, -50.0);
        let mut t = Transform::from_xyz(100.0, 500.0, 950.0).looking_at(focus, Vec3::Y);
        let r0 = (t.translation - focus).length();
        orbit(&mut t, focus, 0.7, 0.2);
        assert!(((t.translation - focus).length() - r0).abs() < 1e-2 * r0);
        let fwd = t.rotation * Vec3::NEG_Z;
        let to = (focus - t.translation).normalize();
        assert!(fwd.dot(to) > 0.9999);
        // Never below the focus' horizon.
        orbit(&mut t, focus, 0.0, 3.0);
        assert!(t.translation.y > focus.y);
        let ray = Ray3d::new(
            Vec3::new(0.0, 100.0, 0.0),
            Dir3::new(Vec3::new(1.0, -1.0, 0.0)).unwrap(),
        );
        let p = ray_plane(ray, 0.0).unwrap();
        assert!((p - Vec3::new(100.0, 0.0, 0.0)).length() < 1e-3);
    }
}
