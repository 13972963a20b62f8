//! Classical ops, one concept per module, each a forward/backward pair.
pub mod activation;
pub mod adam;
pub mod attention;
pub mod chunk_pool;
pub mod conv1d;
pub mod dropout;
pub mod gated;
pub mod linear;
pub mod loss;
pub mod matvec;
pub mod norm;
pub mod scan;
pub mod scan_channels;
pub mod target_cnn;

mod fastmath;
mod simd;

#[cfg(test)]
pub(crate) mod testutil;
