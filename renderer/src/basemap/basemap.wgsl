// The basemap's one shader: positions already in clip space (the CPU places every vertex in
// the tile's Web Mercator pixels), the vertex colour as is.

struct VertexIn {
    @location(0) pos: vec2<f32>,
    @location(1) color: vec4<f32>,
};

struct VertexOut {
    @builtin(position) clip: vec4<f32>,
    @location(0) color: vec4<f32>,
};

@vertex
fn vs(v: VertexIn) -> VertexOut {
    var o: VertexOut;
    o.clip = vec4<f32>(v.pos, 0.0, 1.0);
    o.color = v.color;
    return o;
}

@fragment
fn fs(v: VertexOut) -> @location(0) vec4<f32> {
    return v.color;
}
