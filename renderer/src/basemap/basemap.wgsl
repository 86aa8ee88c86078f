// The basemap's shaders: positions already in clip space (the CPU places every vertex in the
// tile's Web Mercator pixels).
//
// `vs_relief`/`fs_relief` draw the relief: the hillshade's factor, interpolated over the DEM's
// grid, into an R32Float texture of the tile's pixels. `vs`/`fs` draw the tile: the vertex
// colour, multiplied by the relief's factor at the pixel for triangles marked as shaded (land
// and land use), as is for the others.

@group(0) @binding(0) var relief: texture_2d<f32>;

struct VertexIn {
    @location(0) pos: vec2<f32>,
    @location(1) color: vec4<f32>,
    @location(2) shaded: f32,
};

struct VertexOut {
    @builtin(position) clip: vec4<f32>,
    @location(0) color: vec4<f32>,
    // The same for a triangle's three vertices: flat, so that 0 and 1 stay exact.
    @location(1) @interpolate(flat, either) shaded: f32,
};

@vertex
fn vs(v: VertexIn) -> VertexOut {
    var o: VertexOut;
    o.clip = vec4<f32>(v.pos, 0.0, 1.0);
    o.color = v.color;
    o.shaded = v.shaded;
    return o;
}

@fragment
fn fs(v: VertexOut) -> @location(0) vec4<f32> {
    // The fragment's position is its pixel's centre: the relief texel of that pixel.
    let factor = textureLoad(relief, vec2<i32>(floor(v.clip.xy)), 0).r;
    return vec4<f32>(v.color.rgb * mix(1.0, factor, v.shaded), v.color.a);
}

struct ReliefIn {
    @location(0) pos: vec2<f32>,
    @location(1) factor: f32,
};

struct ReliefOut {
    @builtin(position) clip: vec4<f32>,
    @location(0) factor: f32,
};

@vertex
fn vs_relief(v: ReliefIn) -> ReliefOut {
    var o: ReliefOut;
    o.clip = vec4<f32>(v.pos, 0.0, 1.0);
    o.factor = v.factor;
    return o;
}

@fragment
fn fs_relief(v: ReliefOut) -> @location(0) vec4<f32> {
    return vec4<f32>(v.factor, 0.0, 0.0, 1.0);
}
