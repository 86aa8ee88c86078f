//! Open a twin folder, build its store if needed, and ask it a few questions:
//! `cargo run -p examples --example query_twin -- data/hue`.

use geo_types::Point;
use twin_core::crs::{Crs, Transform};
use twin_core::NoProgress;
use twin_core::TwinDir;

fn main() -> anyhow::Result<()> {
    let dir = std::env::args().nth(1).unwrap_or_else(|| "data/hue".into());
    let twin_dir = TwinDir::open(dir.as_ref())?;
    if !twin_dir.store_path().exists() {
        twin_dir.build(&NoProgress)?;
    }
    let twin = twin_dir.load()?;
    for l in twin.info() {
        println!("{:<12} {:>7}", l.layer, l.count);
    }
    // Which heritage sites are within 300 m of the Flag Tower, and the 3 nearest buildings.
    let to_project = Transform::new(&Crs::wgs84(), &twin.crs)?;
    let (x, y) = to_project.apply(107.5803, 16.4663)?;
    let p = Point::new(x, y);
    for (i, d) in twin.heritage.query_radius(p, 300.0)? {
        let h = &twin.heritage.features()[i];
        println!(
            "heritage {:>6.1} m  {}",
            d,
            h.name.as_deref().unwrap_or(&h.id)
        );
    }
    for (i, d) in twin.buildings.query_nearest(p, 3)? {
        let b = &twin.buildings.features()[i];
        println!(
            "building {:>6.1} m  {} ({:.1} m, {})",
            d,
            b.id,
            b.height,
            b.height_source.label()
        );
    }
    Ok(())
}
