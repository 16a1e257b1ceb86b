//! Training networks on an SRSA device (or the f32 reference): see
//! `docs/TRAINING.md` for what runs where and in which format.

pub mod backend;
pub mod checkpoint;
pub mod data;
pub mod fit;
pub mod im2col;
pub mod layers;
pub mod lockstep;
pub mod network;
pub mod output;
pub mod plan;
pub mod pool;
pub mod prune;
pub mod resident;
pub mod trainer;

pub use backend::{Backend, BackendError, Fixed, Float};
pub use data::{load_data, Data, DataError};
pub use fit::{Epoch, Observer, Progress};
pub use layers::TensorFormats;
pub use lockstep::{train_in_lockstep, Divergence, Lockstep};
pub use network::Arch;
pub use plan::{Format, LayerPlan, Plan, PlanError};
pub use trainer::{rounding_name, StepStats, TrainConfig, TrainError, Trainer};
