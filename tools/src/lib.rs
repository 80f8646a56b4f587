//! Fabric's crypto and channel tooling, as libraries behind the `cryptogen` and
//! `configtxgen` binaries (the dev network reuses them).
