//! The messages and tonic stubs generated from `proto/agent_host/runtime/v1/runtime.proto`.

tonic::include_proto!("agent_host.runtime.v1");
