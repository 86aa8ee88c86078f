//! Time to the first building tile from a cold server, for `scripts/bench_bytes.sh`.
//!
//! ```text
//! first_tile <n>
//! ```
//!
//! `n` synthetic buildings (`testkit::synthetic_buildings`) are served by the server library on
//! 127.0.0.1, once as an implicit tileset and once as an explicit one, each from a fresh start
//! with an empty cache (memory only). A client then fetches what a 3D Tiles viewer fetches
//! before its first building: the layer's `tileset.json`, for the implicit form the root
//! subtree, then the first tile with content (the root's, or the first one the subtree lists).
//! One line per form: `RESULT form=... tileset_json_bytes=... plan_s=... start_s=...
//! requests_s=... first_tile_s=... tiles=...`, where `first_tile_s` is from the twin in memory
//! to the tile's last byte (planning, the server's start and the requests).

use std::sync::Arc;
use std::time::Instant;
use tile_server::source::GeneratedTiles;
use tile_server::{app, bind, ServerConfig};
use tiles3d::TilesetOptions;
use twin_core::model::Imported;
use twin_core::{Crs, Twin};

type Res<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

async fn get(url: &str) -> Res<Vec<u8>> {
    scenarios::objects::install_tls_provider();
    let r = reqwest::get(url).await?;
    if !r.status().is_success() {
        return Err(format!("{url}: {}", r.status()).into());
    }
    Ok(r.bytes().await?.to_vec())
}

/// The first tile with content of an implicit root subtree, as `level/x/y`.
fn first_content(subtree: &[u8], levels: u32) -> Res<String> {
    let jl = u64::from_le_bytes(subtree[8..16].try_into()?) as usize;
    let json: serde_json::Value = serde_json::from_slice(&subtree[24..24 + jl])?;
    let bin = &subtree[24 + jl..];
    let av = &json["contentAvailability"][0];
    let n = ((1u64 << (2 * levels)) - 1) / 3;
    let first = if av.get("constant").and_then(|c| c.as_u64()) == Some(1) {
        Some(0)
    } else if let Some(v) = av.get("bitstream").and_then(|b| b.as_u64()) {
        let view = &json["bufferViews"][v as usize];
        let off = view["byteOffset"].as_u64().unwrap_or(0) as usize;
        (0..n).find(|&i| bin[off + (i / 8) as usize] >> (i % 8) & 1 == 1)
    } else {
        None
    };
    let i = first.ok_or("the root subtree has no content")?;
    let mut level = 0;
    while i >= ((1u64 << (2 * (level + 1))) - 1) / 3 {
        level += 1;
    }
    let m = i - ((1u64 << (2 * level)) - 1) / 3;
    let (mut x, mut y) = (0u64, 0u64);
    for b in 0..level {
        x |= ((m >> (2 * b)) & 1) << b;
        y |= ((m >> (2 * b + 1)) & 1) << b;
    }
    Ok(format!("{level}/{x}/{y}"))
}

/// The first content URI of an explicit tileset, depth first.
fn first_uri(t: &serde_json::Value) -> Option<String> {
    if let Some(u) = t["content"]["uri"].as_str() {
        return Some(u.to_string());
    }
    t["children"].as_array()?.iter().find_map(first_uri)
}

async fn one(twin: Arc<Twin>, implicit: bool) -> Res<()> {
    let opts = TilesetOptions {
        implicit,
        ..TilesetOptions::default()
    };
    let t0 = Instant::now();
    let source = GeneratedTiles::plan(twin.clone(), &opts, "first_tile")?;
    let tiles = source.tilesets()[0].tiles().len();
    if let Some(st) = source.tilesets()[0].implicit_stats() {
        // On stderr: the table reads stdout.
        eprintln!(
            "implicit: {} levels, {} per subtree, {tiles} tiles, at most {} features in a tile, {} tiles over the limits (straddling features)",
            st.available_levels, st.subtree_levels, st.max_tile_features, st.over_limit_tiles
        );
    }
    let plan_s = t0.elapsed().as_secs_f64();
    let cfg = ServerConfig {
        tile_opts: opts,
        ..ServerConfig::default()
    };
    let router = app(twin, Arc::new(source), &cfg).map_err(|e| format!("{e:?}"))?;
    let (addr, serve) = bind(router, "127.0.0.1:0".parse()?).await?;
    let server = tokio::spawn(serve);
    let start_s = t0.elapsed().as_secs_f64() - plan_s;
    let base = format!("http://{addr}/tiles/buildings");
    let t1 = Instant::now();
    let ts = get(&format!("{base}/tileset.json")).await?;
    let doc: serde_json::Value = serde_json::from_slice(&ts)?;
    let uri = match doc["root"].get("implicitTiling") {
        Some(it) => {
            let levels = it["subtreeLevels"].as_u64().ok_or("subtreeLevels")? as u32;
            let sub = get(&format!("{base}/subtrees/0/0/0.subtree")).await?;
            format!("{}.glb", first_content(&sub, levels)?)
        }
        None => first_uri(&doc["root"]).ok_or("no content")?,
    };
    let glb = get(&format!("{base}/{uri}")).await?;
    let requests_s = t1.elapsed().as_secs_f64();
    server.abort();
    println!(
        "RESULT form={} tileset_json_bytes={} plan_s={plan_s:.2} start_s={start_s:.2} requests_s={requests_s:.3} first_tile_s={:.2} tiles={tiles} first_uri={uri} first_bytes={}",
        if implicit { "implicit" } else { "explicit" },
        ts.len(),
        t0.elapsed().as_secs_f64(),
        glb.len()
    );
    Ok(())
}

#[tokio::main]
async fn main() -> Res<()> {
    let n: usize = std::env::args()
        .nth(1)
        .ok_or("usage: first_tile <n>")?
        .parse()?;
    let mut twin = Twin::new("synthetic", Crs::epsg(32648)?)?;
    twin.add(Imported {
        buildings: testkit::synthetic_buildings(n),
        ..Default::default()
    })?;
    let twin = Arc::new(twin);
    for implicit in [true, false] {
        one(twin.clone(), implicit).await?;
    }
    Ok(())
}
