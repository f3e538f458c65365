//! One style for every user-facing configuration.
//!
//! A configuration (`TrainConfig`, `SolverOptions`, `AisConfig`, `IsingConfig`, ...) is a
//! plain serde struct with public fields, a `Default` (or named presets such as
//! `SolverOptions::converged()`), and a `validate()` that checks every field. It is written
//! either as a struct literal or with its checked builder, `X::builder().field(v).build()`,
//! whose `build()` calls `validate()`. Every function that consumes a configuration calls
//! `validate()` first, so an invalid value is always an
//! [`Error::InvalidParameter`](crate::Error::InvalidParameter) naming the field, never a
//! panic and never a silent clamp, however the value was built (`tests/options.rs` checks it
//! for every configuration and its consumers).
//!
//! ```
//! use emf_rbm::estimate::ais::AisConfig;
//! assert!(AisConfig::builder().runs(1).build().is_err()); // an interval needs 2 runs
//! let cfg = AisConfig::builder().runs(50).seed(3).build().unwrap();
//! assert_eq!((cfg.runs, cfg.seed), (50, 3));
//! ```

/// A checked builder for a configuration struct with a `Default` and a `validate()`: the
/// builder starts from the default, has one setter per listed field, and `build()` validates.
macro_rules! checked_builder {
    ($(#[$doc:meta])* $builder:ident for $cfg:ident { $($(#[$m:meta])* $field:ident: $t:ty),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Debug)]
        pub struct $builder {
            cfg: $cfg,
        }

        impl $cfg {
            /// A builder starting from the defaults; `build()` checks every value.
            pub fn builder() -> $builder {
                $builder { cfg: $cfg::default() }
            }
        }

        impl $builder {
            $(
                $(#[$m])*
                pub fn $field(mut self, value: $t) -> Self {
                    self.cfg.$field = value;
                    self
                }
            )*

            /// Checks and returns the configuration.
            pub fn build(self) -> $crate::error::Result<$cfg> {
                self.cfg.validate()?;
                Ok(self.cfg)
            }
        }
    };
}
pub(crate) use checked_builder;
