//! C ABI of nemo.
