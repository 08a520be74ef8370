//! Compiles `proto/agent_host/runtime/v1/runtime.proto` with protox (a protobuf compiler in
//! Rust, so building needs no `protoc`) and generates the tonic client and server.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto_root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../proto");
    let file = proto_root.join("agent_host/runtime/v1/runtime.proto");
    println!("cargo:rerun-if-changed={}", file.display());
    let descriptors = protox::compile([&file], [&proto_root])?;
    tonic_prost_build::configure().compile_fds(descriptors)?;
    Ok(())
}
