//! emf-rbm
pub mod compare;
pub mod data;
pub mod error;
pub mod estimate;
pub mod float;
pub mod linalg;
pub mod persist;
pub mod plot;
pub mod rbm;
pub mod rng;
pub mod train;
pub use error::{Error, Result};
pub use faer;
pub use float::Float;
pub use rbm::{GibbsSampler, Rbm, RbmParams};
