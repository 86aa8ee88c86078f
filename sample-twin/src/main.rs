//! Generate the Huế sample twin (SYNTHETIC data from public facts) into a folder:
//! `cargo run -p sample-twin -- data/hue`.

use std::path::PathBuf;

fn main() -> anyhow::Result<()> {
    let dir = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "data/hue".into()));
    let (paths, counts) = sample_twin::write_to(&dir)?;
    for p in &paths {
        let size = std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
        println!("{:>10} bytes  {}", size, p.display());
    }
    println!(
        "{} buildings, {} heritage sites, {} road links, {} water features, {} sensors, DEM {} x {}",
        counts.buildings, counts.heritage, counts.roads, counts.water, counts.sensors, counts.dem.0, counts.dem.1
    );
    Ok(())
}
