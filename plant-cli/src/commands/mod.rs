//! One module per subcommand: its arguments and its `run`.

pub mod checkpoint;
pub mod embed;
pub mod keygen;
pub mod migrate;
pub mod revalidate;
pub mod seed;
pub mod token;
pub mod transfer;
pub mod verify;
pub mod witness;
