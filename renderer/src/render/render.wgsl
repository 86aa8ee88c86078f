// The one shader of the pictures: positions through the camera's matrix, Lambert lighting
// (ambient + sun) when the vertex has a normal, the vertex colour as is when it has none
// (roads, water).

struct Uniforms {
    view_proj: mat4x4<f32>,
    // xyz: unit vector towards the sun; w: ambient share.
    light: vec4<f32>,
};

@group(0) @binding(0) var<uniform> u: Uniforms;

struct VertexIn {
    @location(0) pos: vec3<f32>,
    @location(1) normal: vec3<f32>,
    @location(2) color: vec4<f32>,
};

struct VertexOut {
    @builtin(position) clip: vec4<f32>,
    @location(0) normal: vec3<f32>,
    @location(1) color: vec4<f32>,
};

@vertex
fn vs(v: VertexIn) -> VertexOut {
    var o: VertexOut;
    o.clip = u.view_proj * vec4<f32>(v.pos, 1.0);
    o.normal = v.normal;
    o.color = v.color;
    return o;
}

@fragment
fn fs(v: VertexOut) -> @location(0) vec4<f32> {
    let len = length(v.normal);
    var shade = 1.0;
    if (len > 0.5) {
        let n = v.normal / len;
        shade = u.light.w + (1.0 - u.light.w) * max(dot(n, u.light.xyz), 0.0);
    }
    return vec4<f32>(v.color.rgb * shade, v.color.a);
}
