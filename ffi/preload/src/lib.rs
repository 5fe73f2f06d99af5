//! `LD_PRELOAD` replacement for glibc's `pthread_cond_*`.
