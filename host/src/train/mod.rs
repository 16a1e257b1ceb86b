//! Training networks on an SRSA device (or the f32 reference): see
//! `docs/TRAINING.md` for what runs where and in which format.

pub mod backend;
pub mod checkpoint;
pub mod im2col;
pub mod layers;
pub mod network;
pub mod pool;
pub mod trainer;

pub use backend::{Backend, BackendError, Fixed, Float};
pub use layers::TensorFormats;
pub use network::Arch;
pub use trainer::{StepStats, TrainConfig, TrainError, Trainer};
