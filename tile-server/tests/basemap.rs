//! The basemap over HTTP on the sample twin: `/basemap/tilejson.json`, PNG tiles with ETags,
//! 304 on `If-None-Match`, the disk cache, `@2x`, 204 outside the twin, 400 for bad z/x/y, and
//! concurrent cold requests (distinct tiles, and one tile asked for many times at once).
//!
//! Needs a GPU adapter (lavapipe from `scripts/setup.sh --test` will do).

mod common;

use renderer::render::Image;
use reqwest::{header, StatusCode};
use twin_core::xyz::TileId;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basemap_tiles_over_http() {
    let (addr, dir, _twin) = common::serve_sample_with_config(
        "basemap_http",
        |_| {},
        |cfg| cfg.disk_cache = cfg.twin_dir.as_ref().map(|d| d.join("cache").join("tiles")),
    );
    let c = common::http();
    let url = |p: &str| format!("http://{addr}{p}");

    let r = c.get(url("/basemap/tilejson.json")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let tj: serde_json::Value = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
    assert_eq!(tj["tilejson"], "3.0.0");
    assert_eq!(tj["tiles"][0], "/basemap/{z}/{x}/{y}.png");
    assert_eq!(
        (tj["minzoom"].as_u64(), tj["maxzoom"].as_u64()),
        (Some(10), Some(19))
    );
    let b: Vec<f64> = tj["bounds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert!(
        b[0] < 107.5785 && 107.5785 < b[2] && b[1] < 16.4695 && 16.4695 < b[3],
        "{b:?}"
    );
    assert_eq!(
        tj["attribution"].as_str(),
        tile_server::basemap::attribution(&dir).as_deref()
    );

    // A tile over the Citadel.
    let t = TileId::covering([107.5785, 16.4695, 107.5785, 16.4695], 15)[0];
    let path = format!("/basemap/{}/{}/{}.png", t.z, t.x, t.y);
    let r = c.get(url(&path)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()[header::CONTENT_TYPE], "image/png");
    assert!(r.headers()[header::CACHE_CONTROL]
        .to_str()
        .unwrap()
        .contains("max-age"));
    let etag = r.headers()[header::ETAG].to_str().unwrap().to_string();
    let bytes = r.bytes().await.unwrap();
    let img = Image::from_png(&bytes).unwrap();
    assert_eq!((img.width, img.height), (256, 256));
    assert!(
        img.rgba.chunks_exact(4).all(|p| p[3] == 255),
        "the Citadel tile has holes"
    );
    // Again: the same bytes and ETag; with the ETag, 304.
    let r = c.get(url(&path)).send().await.unwrap();
    assert_eq!(r.headers()[header::ETAG].to_str().unwrap(), etag);
    assert_eq!(r.bytes().await.unwrap(), bytes);
    let r = c
        .get(url(&path))
        .header(header::IF_NONE_MATCH, &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
    // On disk under the twin's cache folder, the same bytes.
    let rel = format!("basemap/{}/{}/{}.png", t.z, t.x, t.y);
    let mut on_disk = None;
    for _ in 0..50 {
        on_disk = std::fs::read_dir(dir.join("cache/tiles"))
            .unwrap()
            .filter_map(|e| std::fs::read(e.unwrap().path().join(&rel)).ok())
            .next();
        if on_disk.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        on_disk.as_deref(),
        Some(&bytes[..]),
        "{rel} not in cache/tiles"
    );

    // @2x.
    let r = c
        .get(url(&format!("/basemap/{}/{}/{}@2x.png", t.z, t.x, t.y)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let big = Image::from_png(&r.bytes().await.unwrap()).unwrap();
    assert_eq!((big.width, big.height), (512, 512));

    // Outside the twin: 204, nothing rendered.
    let r = c.get(url("/basemap/10/0/0.png")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    // Bad z/x/y: 400 with a message naming the tile.
    for bad in [
        "/basemap/9/0/0.png",
        "/basemap/20/0/0.png",
        "/basemap/10/1024/0.png",
        "/basemap/10/0/1024.png",
        "/basemap/10/0/abc.png",
        "/basemap/x/0/0.png",
        "/basemap/10/0/0.jpg",
        "/basemap/10/-1/0.png",
        "/basemap/255/0/0.png",
    ] {
        let r = c.get(url(bad)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{bad}");
        let body: serde_json::Value = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
        assert!(body.to_string().contains("basemap tile"), "{bad}: {body}");
    }

    // Concurrent cold requests: 12 distinct tiles at zoom 16 around the Citadel, and one cold
    // tile asked for 8 times at once (one render; the same ETag for all).
    let tiles = TileId::covering([107.570, 16.460, 107.590, 16.475], 16);
    assert!(tiles.len() >= 12, "{}", tiles.len());
    let reqs = tiles.iter().take(12).map(|t| {
        let c = c.clone();
        let u = url(&format!("/basemap/{}/{}/{}.png", t.z, t.x, t.y));
        async move { c.get(u).send().await.unwrap() }
    });
    for r in futures_util::future::join_all(reqs).await {
        assert_eq!(r.status(), StatusCode::OK);
        let img = Image::from_png(&r.bytes().await.unwrap()).unwrap();
        assert_eq!(img.width, 256);
    }
    let same = TileId::covering([107.60, 16.46, 107.60, 16.46], 17)[0];
    let u = url(&format!("/basemap/{}/{}/{}.png", same.z, same.x, same.y));
    let reqs = (0..8).map(|_| {
        let (c, u) = (c.clone(), u.clone());
        async move {
            let r = c.get(u).send().await.unwrap();
            assert_eq!(r.status(), StatusCode::OK);
            r.headers()[header::ETAG].to_str().unwrap().to_string()
        }
    });
    let tags = futures_util::future::join_all(reqs).await;
    assert!(tags.iter().all(|t| *t == tags[0]), "{tags:?}");
}
