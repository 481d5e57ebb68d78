//! Neighbouring slices as input channels (`--context K`): each patch is given with the K − 1
//! slices of its own nodule nearest it, in the file's row order (files keep a nodule's slices
//! in order: the upstream file, `lnmc import`, lidc-dev). At a nodule's ends the nearest slice
//! repeats, so a nodule of one slice gives K copies of it.

use super::Dataset;

/// Most slices a patch may be given with.
pub const MAX: usize = 15;

/// Whether `k` is a context size lnmc takes: odd (the patch in the middle), 1 to `MAX`.
pub fn check(k: usize) -> std::result::Result<(), String> {
    match k % 2 == 1 && k <= MAX {
        true => Ok(()),
        false => Err(format!(
            "odd (the patch in the middle of its neighbours) and at most {MAX}"
        )),
    }
}

/// The nodule ids context can be built from, or why there are none: the file's own, imported
/// or user-given ids, or inferred groups judged reliable.
pub fn nodule_ids(data: &Dataset) -> std::result::Result<&[i64], String> {
    let Some(ids) = data.groups.as_deref() else {
        return Err("has no nodule ids to find a patch's neighbouring slices by (add nodule_id, `lnmc import` the image tree, `lnmc groups --from ids.csv`, or run `lnmc groups` and use them if judged reliable)".into());
    };
    if !data.groups_are_nodules {
        return Err("has patient ids but no nodule ids: a patient's slices may belong to several nodules, so neighbouring slices cannot be told".into());
    }
    if let Some(doubt) = &data.group_doubt {
        return Err(format!(
            "has only inferred nodule groups, judged {doubt}: neighbours drawn from them could be other nodules'"
        ));
    }
    Ok(ids)
}

/// For every row, the K rows it is given with (row-major, N × K): its nodule's slices at
/// offsets −(K−1)/2 … (K−1)/2 in row order, clamped to the nodule's first and last.
pub fn neighbours(ids: &[i64], k: usize) -> Vec<usize> {
    use std::collections::HashMap;
    let mut rows: HashMap<i64, Vec<usize>> = HashMap::new();
    for (row, &id) in ids.iter().enumerate() {
        rows.entry(id).or_default().push(row);
    }
    let half = (k / 2) as i64;
    let mut position = vec![0usize; ids.len()];
    for members in rows.values() {
        for (p, &row) in members.iter().enumerate() {
            position[row] = p;
        }
    }
    let mut out = Vec::with_capacity(ids.len() * k);
    for (row, id) in ids.iter().enumerate() {
        let members = &rows[id];
        let last = members.len() as i64 - 1;
        for offset in -half..=half {
            let p = (position[row] as i64 + offset).clamp(0, last);
            out.push(members[p as usize]);
        }
    }
    out
}

/// Each nodule's rows in order, for looking up one patch's neighbours at a time (the
/// dashboard), built once.
#[derive(Debug, Clone, Default)]
pub struct Nodules {
    rows: std::collections::HashMap<i64, Vec<usize>>,
    ids: Vec<i64>,
}

impl Nodules {
    pub fn of(ids: &[i64]) -> Nodules {
        let mut rows: std::collections::HashMap<i64, Vec<usize>> = Default::default();
        for (row, &id) in ids.iter().enumerate() {
            rows.entry(id).or_default().push(row);
        }
        Nodules {
            rows,
            ids: ids.to_vec(),
        }
    }

    /// The rows patch `index` is given with for context `k`, as `neighbours` gives them.
    pub fn rows_of(&self, index: usize, k: usize) -> Vec<usize> {
        let Some(members) = self.ids.get(index).and_then(|id| self.rows.get(id)) else {
            return vec![index; k];
        };
        let at = members.binary_search(&index).unwrap_or(0) as i64;
        let (half, last) = ((k / 2) as i64, members.len() as i64 - 1);
        (-half..=half)
            .map(|o| members[(at + o).clamp(0, last) as usize])
            .collect()
    }
}

/// The rows patch `index` is given with: `neighbours` for one row, without building the table.
pub fn rows_of(ids: &[i64], index: usize, k: usize) -> Vec<usize> {
    let members: Vec<usize> = (0..ids.len()).filter(|&r| ids[r] == ids[index]).collect();
    let at = members.iter().position(|&r| r == index).unwrap_or(0) as i64;
    let (half, last) = ((k / 2) as i64, members.len() as i64 - 1);
    (-half..=half)
        .map(|o| members[(at + o).clamp(0, last) as usize])
        .collect()
}

/// The raw pixels of patch `index` and its neighbours, slice after slice (K × H × W): what a
/// network of context `k` is given for it.
pub fn stack(data: &Dataset, index: usize, k: usize) -> crate::error::Result<Vec<f32>> {
    if k == 1 {
        return data.patch(index);
    }
    let ids = nodule_ids(data).map_err(|why| {
        crate::error::Error::file(
            &data.path,
            format!("a network of {k} slices: the file {why}"),
        )
    })?;
    let mut out = Vec::with_capacity(k * data.pixels());
    for row in rows_of(ids, index, k) {
        out.extend(data.patch(row)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neighbours_stay_in_their_nodule_and_repeat_at_its_ends() {
        // Nodule 7 has rows 0, 1, 2 and 5; nodule 3 rows 3 and 4; nodule 9 row 6 alone.
        let ids = [7, 7, 7, 3, 3, 7, 9];
        assert_eq!(neighbours(&ids, 1), vec![0, 1, 2, 3, 4, 5, 6]);
        let three = neighbours(&ids, 3);
        let rows: Vec<&[usize]> = three.chunks(3).collect();
        assert_eq!(rows[0], [0, 0, 1]);
        assert_eq!(rows[2], [1, 2, 5], "row 5 is nodule 7's next slice");
        assert_eq!(rows[3], [3, 3, 4]);
        assert_eq!(rows[5], [2, 5, 5]);
        assert_eq!(rows[6], [6, 6, 6]);
        let five = neighbours(&ids, 5);
        assert_eq!(&five[5..10], [0, 0, 1, 2, 5]);
        for k in [1, 3, 5] {
            let table = neighbours(&ids, k);
            let nodules = Nodules::of(&ids);
            for row in 0..ids.len() {
                assert_eq!(rows_of(&ids, row, k), &table[row * k..(row + 1) * k]);
                assert_eq!(nodules.rows_of(row, k), &table[row * k..(row + 1) * k]);
            }
        }
    }

    #[test]
    fn only_odd_sizes_up_to_the_limit() {
        assert!(check(1).is_ok() && check(3).is_ok() && check(MAX).is_ok());
        assert!(check(2).is_err() && check(0).is_err() && check(MAX + 2).is_err());
    }
}
