//! The pixels the Dataset tab shows, read before they are drawn. The dashboard leaves a file's
//! pixels in the file (a 6 GB set opens in well under a second), so showing a patch means a
//! read: done on a worker (`Effect::LoadPatches`), its answer a `Message::Patches`, and until
//! then the panel says "reading…". Drawing only looks up what is here. A set held in memory
//! is copied at once: that is no read, and its first frame needs no second one.

use std::collections::{HashMap, HashSet, VecDeque};

use crate::data::Dataset;

/// One patch's raw pixels (height × width, the file's units) and their range and mean.
#[derive(Debug, Clone, PartialEq)]
pub struct Patch {
    pub pixels: Vec<f32>,
    pub min: f32,
    pub max: f32,
    pub mean: f64,
}

impl Patch {
    pub fn of(pixels: Vec<f32>) -> Patch {
        let (min, max, mean) = crate::data::stats(&pixels);
        Patch {
            pixels,
            min,
            max,
            mean,
        }
    }
}

/// A patch as read, or why it could not be (the file may have changed since it was opened).
pub type Loaded = std::result::Result<Patch, String>;

/// The patches a request asked for, read from `data`: what the worker runs.
pub fn load(data: &Dataset, indices: &[usize]) -> Vec<(usize, Loaded)> {
    indices
        .iter()
        .map(|&i| (i, data.patch(i).map(Patch::of).map_err(|e| e.to_string())))
        .collect()
}

/// Patches kept: the shown one and its neighbours many times over, a few MB at 64×64.
const KEEP: usize = 512;

/// The patches read so far (the oldest dropped past `KEEP`) and those asked for.
#[derive(Default)]
pub struct PatchCache {
    loaded: HashMap<usize, Loaded>,
    /// Loaded indices, oldest first.
    order: VecDeque<usize>,
    asked: HashSet<usize>,
}

/// What a panel can draw of a patch.
pub enum Shown<'a> {
    Reading,
    Pixels(&'a Patch),
    Unreadable(&'a str),
}

impl PatchCache {
    pub fn get(&self, index: usize) -> Shown<'_> {
        match self.loaded.get(&index) {
            Some(Ok(patch)) => Shown::Pixels(patch),
            Some(Err(why)) => Shown::Unreadable(why),
            None => Shown::Reading,
        }
    }

    /// Of `wanted`, those neither here nor asked for, now counted as asked for. A set in
    /// memory is copied here and none is returned.
    pub fn ask(&mut self, data: &Dataset, wanted: impl IntoIterator<Item = usize>) -> Vec<usize> {
        let new: Vec<usize> = wanted
            .into_iter()
            .filter(|i| !self.loaded.contains_key(i) && !self.asked.contains(i))
            .collect();
        if data.in_memory() {
            let loaded = load(data, &new);
            self.take(loaded);
            return Vec::new();
        }
        self.asked.extend(new.iter().copied());
        new
    }

    /// Takes in what a read found.
    pub fn take(&mut self, patches: Vec<(usize, Loaded)>) {
        for (index, patch) in patches {
            self.asked.remove(&index);
            if self.loaded.insert(index, patch).is_none() {
                self.order.push_back(index);
            }
        }
        while self.order.len() > KEEP {
            if let Some(old) = self.order.pop_front() {
                self.loaded.remove(&old);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> crate::data::synth::Options {
        crate::data::synth::Options {
            n: 8,
            seed: 1,
            ..Default::default()
        }
    }

    #[test]
    fn a_set_in_memory_is_copied_at_once_and_a_file_is_asked_for_once() {
        let data = crate::data::synth::in_memory(&options(), "unused.hdf5".as_ref());
        let mut cache = PatchCache::default();
        assert!(cache.ask(&data, [0, 1]).is_empty());
        match cache.get(1) {
            Shown::Pixels(p) => assert_eq!(p.pixels, data.patch(1).unwrap()),
            _ => panic!("patch 1 not copied"),
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("set.hdf5");
        crate::data::synth::write(&path, &options()).unwrap();
        let lazy = crate::data::reader::open(&path).unwrap();
        let mut cache = PatchCache::default();
        assert!(matches!(cache.get(3), Shown::Reading));
        assert_eq!(cache.ask(&lazy, [2, 3]), [2, 3]);
        assert_eq!(cache.ask(&lazy, [3, 4]), [4], "3 asked for twice");
        assert!(matches!(cache.get(3), Shown::Reading), "read while asking");
        cache.take(load(&lazy, &[3]));
        match cache.get(3) {
            Shown::Pixels(p) => assert_eq!(p.pixels, data.patch(3).unwrap()),
            _ => panic!("patch 3 not taken in"),
        }
        // A read that failed says why, and is not asked for again.
        cache.take(load(&lazy, &[99]));
        assert!(matches!(cache.get(99), Shown::Unreadable(w) if w.contains("99")));
        assert!(cache.ask(&lazy, [99]).is_empty());
    }

    #[test]
    fn the_oldest_patches_go_past_the_limit() {
        let data = crate::data::synth::in_memory(&options(), "unused.hdf5".as_ref());
        let mut cache = PatchCache::default();
        let one = data.patch(0).unwrap();
        cache.take(
            (0..KEEP + 3)
                .map(|i| (i, Ok(Patch::of(one.clone()))))
                .collect(),
        );
        assert!(
            matches!(cache.get(2), Shown::Reading),
            "kept past the limit"
        );
        assert!(matches!(cache.get(3), Shown::Pixels(_)));
        assert_eq!(cache.loaded.len(), KEEP);
    }
}
