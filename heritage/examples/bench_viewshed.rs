//! A 1000 × 1000 viewshed: `heritage::viewshed` against `gdal_viewshed` on the same grid and
//! settings (observer at the centre, 2 m up, target 0 m, cc 0.85714). The grid is a smooth
//! synthetic terrain (sums of sines, 10 m cells, EPSG:32648) written as ESRI ASCII for GDAL.
//! Run by `scripts/bench_heritage.sh`.
//!
//!   cargo run -p heritage --example bench_viewshed

mod common;

use common::cpu_s;
use heritage::viewshed::{viewshed, Surface, ViewshedOptions};
use std::io::Write;
use std::process::Command;
use std::time::Instant;

fn main() -> anyhow::Result<()> {
    let n = 1000usize;
    let cell = 10.0;
    let z = |c: usize, r: usize| {
        let (x, y) = (c as f64 * cell, r as f64 * cell);
        20.0 + 15.0 * (x / 900.0).sin() * (y / 1300.0).cos()
            + 6.0 * (x / 210.0 + y / 330.0).sin()
            + 2.0 * (y / 75.0).sin()
    };
    let s = Surface {
        ncols: n,
        nrows: n,
        xmin: 770_000.0,
        ymax: 1_830_000.0,
        cell,
        z: (0..n * n).map(|i| Some(z(i % n, i / n))).collect(),
    };
    let tmp = std::env::temp_dir().join(format!("bench-viewshed-{}", std::process::id()));
    std::fs::create_dir_all(&tmp)?;
    let asc = tmp.join("grid.asc");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&asc)?);
    writeln!(
        f,
        "ncols {n}\nnrows {n}\nxllcorner {}\nyllcorner {}\ncellsize {cell}\nNODATA_value -9999",
        s.xmin,
        s.ymax - n as f64 * cell
    )?;
    for r in 0..n {
        let row: Vec<String> = (0..n).map(|c| format!("{:.3}", z(c, r))).collect();
        writeln!(f, "{}", row.join(" "))?;
    }
    drop(f);
    let (x, y) = s.centre(n / 2, n / 2);
    let o = ViewshedOptions::default();
    let c = cpu_s();
    let t = Instant::now();
    let v = viewshed(&s, x, y, &o)?;
    let ours = t.elapsed().as_secs_f64();
    let ours_cpu = cpu_s() - c;
    let seen = v.iter().filter(|c| **c == Some(true)).count();
    // gdal_viewshed reads a GeoTIFF (converted untimed), not the slower ASCII text.
    let tif = tmp.join("grid.tif");
    let translated = Command::new("gdal_translate")
        .args(["-q", "-of", "GTiff"])
        .arg(&asc)
        .arg(&tif)
        .status()
        .is_ok_and(|s| s.success());
    let input = if translated { &tif } else { &asc };
    let out = tmp.join("gdal.tif");
    let t = Instant::now();
    let st = Command::new("gdal_viewshed")
        .args([
            "-q",
            "-ox",
            &x.to_string(),
            "-oy",
            &y.to_string(),
            "-oz",
            "2",
            "-tz",
            "0",
            "-cc",
            "0.85714",
        ])
        .arg(input)
        .arg(&out)
        .status();
    let gdal = t.elapsed().as_secs_f64();
    println!(
        "1000 x 1000 viewshed, observer at the centre 2 m up, {} threads; {seen} cells seen",
        rayon::current_num_threads()
    );
    println!("{:<44} {:>10} {:>12}", "method", "seconds", "CPU seconds");
    println!(
        "{:<44} {:>10.3} {:>12.2}",
        "heritage::viewshed (exact line of sight)", ours, ours_cpu
    );
    match st {
        Ok(s) if s.success() => println!(
            "{:<44} {:>10.3} {:>12}",
            "gdal_viewshed (GDAL, 1 thread, GeoTIFF in)", gdal, "-"
        ),
        _ => println!("{:<44} {:>10}", "gdal_viewshed", "not run"),
    }
    let _ = std::fs::remove_dir_all(&tmp);
    Ok(())
}
