//! Seeded, portable randomness that echolab owns.
//!
//! candle's CPU device cannot be seeded, and generic RNG crates may change
//! their algorithms between versions; every random number that can change an
//! artifact's bytes therefore comes from here. The generator is
//! *counter-based*: a value is a pure function of a key and a counter, so a
//! stream keyed by `(stage, step, prompt, sample)` gives the same numbers
//! whatever the batch size, the thread count or the order of evaluation.
//!
//! The mixing function is SplitMix64's finaliser (Steele, Lea and Flood,
//! 2014), applied to `key + counter * golden_gamma`; it passes BigCrush when
//! used this way and is trivially portable.

mod stream;

pub use stream::Stream;
