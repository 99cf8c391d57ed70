//! Training (placeholder while the model builds).
