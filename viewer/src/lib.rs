//! The huetwin desktop viewer (`twin-viewer`), on bevy: the twin in 3D from its folder
//! (terrain, buildings coloured by height, use, heritage zone or flood depth, heritage sites,
//! roads by v/c with closed roads marked, the water surface of a flood run through its output
//! times), a sun with shadows, camera presets and a fly camera, picking, and headless export of
//! a screenshot or a numbered frame sequence.
//!
//! - [`scene`]: what is drawn, built on the CPU from the twin through `twin-core` and the
//!   `renderer` crate's layer meshes (the floating origin, colours, picking);
//! - [`presets`]: the named views;
//! - [`stream`]: a server's 3D Tiles streamed (its own traversal, glTF content with feature
//!   ids and properties);
//! - [`app`]: the bevy app, headless ([`app::Headless`]) or in a window ([`app::run_window`]).

pub mod app;
pub mod error;
pub mod panel;
pub mod presets;
pub mod scene;
pub mod stream;

pub use error::{Result, ViewerError};

use std::path::Path;

/// Write the frames of a flood run's animation headless: one PNG per output time,
/// `frame_00001.png`, … in `dir`; returns the files written.
pub fn write_frames(
    scene: scene::ViewerScene,
    o: &app::ViewOptions,
    width: u32,
    height: u32,
    dir: &Path,
) -> Result<Vec<std::path::PathBuf>> {
    let n = scene.flood.as_ref().map_or(0, |r| r.times.len());
    if n == 0 {
        return Err(ViewerError::invalid(
            "--frames",
            "needs a flood run with depth snapshots (--flood DIR)",
        ));
    }
    std::fs::create_dir_all(dir).map_err(|source| ViewerError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut h = app::Headless::new(scene, o, width, height)?;
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        h.set_time_index(Some(i));
        let pic = h.capture()?;
        let path = dir.join(format!("frame_{:05}.png", i + 1));
        write_png(&path, &pic)?;
        out.push(path);
    }
    Ok(out)
}

/// Write a picture as PNG.
pub fn write_png(path: &Path, pic: &renderer::render::Image) -> Result<()> {
    let bytes = pic
        .to_png()
        .map_err(|e| ViewerError::scene(path.display(), e))?;
    std::fs::write(path, bytes).map_err(|source| ViewerError::Io {
        path: path.to_path_buf(),
        source,
    })
}
