//! Challenges (being written).
