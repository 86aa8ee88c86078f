//! Generate the Huế sample twin into a folder from the OpenStreetMap extract:
//! `cargo run -p sample-twin -- data/hue [path/to/hue.osm.pbf]` (default
//! `../shared/data/hue/hue.osm.pbf` beside the repository).

use std::path::PathBuf;

fn main() -> anyhow::Result<()> {
    let dir = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "data/hue".into()));
    let osm = std::env::args()
        .nth(2)
        .map(PathBuf::from)
        .unwrap_or_else(sample_twin::default_osm_path);
    let (paths, counts) = sample_twin::write_to(&dir, &osm)?;
    for p in &paths {
        let size = std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
        println!("{:>10} bytes  {}", size, p.display());
    }
    println!(
        "{} buildings, {} heritage sites, {} road links, {} water features, {} land use areas, {} sensors, DEM {} x {}",
        counts.buildings, counts.heritage, counts.roads, counts.water, counts.landuse, counts.sensors, counts.dem.0, counts.dem.1
    );
    let kinds: Vec<String> = counts
        .landuse_kinds
        .iter()
        .map(|(k, n)| format!("{k} {n}"))
        .collect();
    println!("land use: {}", kinds.join(", "));
    Ok(())
}
