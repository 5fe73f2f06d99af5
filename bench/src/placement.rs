//! Where threads run: the signaller on one core, each receiver on another, as the papers place
//! them ("the threads are mapped to distinct cores"). With more receivers than free cores the run
//! goes on oversubscribed and says so in every row it produces.

/// The cores this process may use and how a run's threads are spread over them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topology {
    /// Core ids from the affinity mask, in order; empty when they cannot be read (then nothing
    /// is pinned: gem5's syscall emulation may not implement `sched_getaffinity`).
    core_ids: Vec<usize>,
    /// How many cores the run may use.
    count: usize,
}

impl Topology {
    /// The cores of this process's affinity mask.
    pub fn detect() -> Topology {
        let core_ids: Vec<usize> = core_affinity::get_core_ids()
            .unwrap_or_default()
            .into_iter()
            .map(|c| c.id)
            .collect();
        let count = if core_ids.is_empty() {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        } else {
            core_ids.len()
        };
        Topology { core_ids, count }
    }

    /// A topology of `count` cores with ids `0..count` (tests, and `--sim` when the affinity
    /// mask cannot be read).
    pub fn with_cores(count: usize) -> Topology {
        Topology {
            core_ids: (0..count).collect(),
            count: count.max(1),
        }
    }

    /// How many cores are usable.
    pub fn cores(&self) -> usize {
        self.count
    }

    /// Whether `receivers` receivers plus the signaller need more cores than there are.
    pub fn oversubscribed(&self, receivers: usize) -> bool {
        receivers + 1 > self.count
    }

    /// The core of the signaller.
    pub fn signaller_core(&self) -> Option<usize> {
        self.core_ids.first().copied()
    }

    /// The core of receiver `index`: the cores after the signaller's, round-robin; the
    /// signaller's own core only when it is the only one.
    pub fn receiver_core(&self, index: usize) -> Option<usize> {
        match self.core_ids.len() {
            0 => None,
            1 => Some(self.core_ids[0]),
            n => Some(self.core_ids[1 + index % (n - 1)]),
        }
    }
}

/// Pins the calling thread to `core`. Returns whether it is pinned; failure is tolerated (the
/// row says "not pinned") because simulators and restricted containers may refuse.
pub fn pin_current(core: Option<usize>) -> bool {
    match core {
        Some(id) => core_affinity::set_for_current(core_affinity::CoreId { id }),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receivers_avoid_the_signaller_core() {
        let t = Topology::with_cores(4);
        assert_eq!(t.signaller_core(), Some(0));
        let cores: Vec<_> = (0..5).map(|i| t.receiver_core(i)).collect();
        assert_eq!(cores, [Some(1), Some(2), Some(3), Some(1), Some(2)]);
        assert!(!t.oversubscribed(3));
        assert!(t.oversubscribed(4));
    }

    #[test]
    fn one_core_shares_it() {
        let t = Topology::with_cores(1);
        assert_eq!(t.receiver_core(3), Some(0));
        assert!(t.oversubscribed(1));
    }

    #[test]
    fn detected_topology_has_a_core() {
        let t = Topology::detect();
        assert!(t.cores() >= 1);
        // Either every role has a core to pin to, or none has.
        assert_eq!(t.signaller_core().is_some(), t.receiver_core(0).is_some());
    }
}
