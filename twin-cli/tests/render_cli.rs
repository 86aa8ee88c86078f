//! `twin render` end to end on a small valley twin made here, flooded by `twin flood` into
//! `<twin>/runs/r1`: the PNG decodes with the size asked for and shows water; bad arguments
//! fail with a clear message and a non-zero exit code.
//!
//! Needs a GPU adapter (a GPU, or Mesa's software Vulkan: mesa-vulkan-drivers); without one
//! the render test fails with the renderer's message.

use renderer::render::Image;
mod common;

#[test]
fn render_writes_a_png_and_refuses_bad_arguments() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("valley");
    std::fs::create_dir_all(&dir).unwrap();
    common::valley_twin(&dir);
    let sc = tmp.path().join("rise.toml");
    std::fs::write(
        &sc,
        "name = \"west stage to 1.5 m\"\nduration_s = 1200\noutput_interval_s = 600\n\n[[stage]]\nedge = \"west\"\nseries = [[0, 0.0], [600, 1.5]]\n",
    )
    .unwrap();
    let d = dir.to_str().unwrap();
    let run = dir.join("runs/r1");
    let (ok, out) = common::twin_cli(&[
        "flood",
        d,
        sc.to_str().unwrap(),
        "--out",
        run.to_str().unwrap(),
    ]);
    assert!(ok, "{out}");

    // By run id, with a snapshot time.
    let pic = tmp.path().join("pic.png");
    let p = pic.to_str().unwrap();
    let (ok, out) = common::twin_cli(&[
        "render",
        d,
        "--scenario",
        "r1",
        "--time",
        "1200",
        "--camera",
        "map",
        "--size",
        "320x200",
        "--out",
        p,
    ]);
    assert!(ok, "{out}");
    assert!(out.contains("wrote") && out.contains("320x200"), "{out}");
    // Issue 17: no stray lines from Mesa's Vulkan layer looking for a Wayland display.
    assert!(!out.contains("XDG_RUNTIME_DIR"), "{out}");
    let bytes = std::fs::read(&pic).unwrap();
    // The size from the PNG header itself (IHDR: width, height big-endian at bytes 16..24)...
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    assert_eq!(&bytes[12..16], b"IHDR");
    let w = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    let h = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
    assert_eq!((w, h), (320, 200));
    // ...and from a full decode; the flooded valley floor shows blue.
    let img = Image::from_png(&bytes).unwrap();
    assert_eq!((img.width, img.height), (320, 200));
    let blue = img
        .rgba
        .chunks_exact(4)
        .filter(|p| i32::from(p[2]) - i32::from(p[0]) > 30)
        .count();
    assert!(blue > 1000, "only {blue} water pixels");

    // A perspective view by folder path, with a traffic result.
    let traffic = tmp.path().join("traffic");
    std::fs::create_dir_all(&traffic).unwrap();
    std::fs::write(traffic.join("links.csv"), "road_id,vc\nx,0.7\n").unwrap();
    let pic2 = tmp.path().join("persp.png");
    let (ok, out) = common::twin_cli(&[
        "render",
        d,
        "--scenario",
        run.to_str().unwrap(),
        "--traffic",
        traffic.to_str().unwrap(),
        "--camera",
        "persp:745200,1819500,300,0,35,50",
        "--size",
        "200x120",
        "--out",
        pic2.to_str().unwrap(),
    ]);
    assert!(ok, "{out}");
    let img = Image::from_png(&std::fs::read(&pic2).unwrap()).unwrap();
    assert_eq!((img.width, img.height), (200, 120));

    // Bad arguments: a clear message and a failure exit code.
    let cases: [(&[&str], &str); 5] = [
        (&["--camera", "persp:1,2"], "--camera"),
        (&["--camera", "orbit"], "citadel"),
        (&["--size", "big"], "WIDTHxHEIGHT"),
        (&["--scenario", "no-such-run"], "runs/no-such-run"),
        (&["--scenario", "r1", "--time", "999"], "depth_0000999s.tif"),
    ];
    for (extra, needle) in cases {
        let mut args = vec!["render", d, "--out", p];
        args.extend_from_slice(extra);
        let (ok, err) = common::twin_cli(&args);
        assert!(!ok, "{args:?} succeeded");
        assert!(err.contains(needle), "{args:?}: {err}");
    }
}
