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

/// Each nodule's rows in order, and each row's place among them: the one lookup behind the
/// network's input (`neighbours`), the dashboard's and the explainer's, built once.
#[derive(Debug, Clone, Default)]
pub struct Nodules {
    members: Vec<Vec<usize>>,
    /// (nodule, position among its rows) of each row.
    place: Vec<(usize, usize)>,
}

impl Nodules {
    pub fn of(ids: &[i64]) -> Nodules {
        let (at, nodules) = super::groups::numbered(ids);
        let mut members = vec![Vec::new(); nodules];
        let place = at
            .iter()
            .enumerate()
            .map(|(row, &k)| {
                members[k].push(row);
                (k, members[k].len() - 1)
            })
            .collect();
        Nodules { members, place }
    }

    /// The rows patch `index` is given with for context `k`: its nodule's slices at offsets
    /// −(K−1)/2 … (K−1)/2 in row order, clamped to the nodule's first and last.
    pub fn rows_of(&self, index: usize, k: usize) -> Vec<usize> {
        let (nodule, at) = self.place[index];
        let members = &self.members[nodule];
        let (half, last) = ((k / 2) as i64, members.len() as i64 - 1);
        (-half..=half)
            .map(|o| members[(at as i64 + o).clamp(0, last) as usize])
            .collect()
    }
}

/// For every row, the K rows it is given with (row-major, N × K).
pub fn neighbours(ids: &[i64], k: usize) -> Vec<usize> {
    let nodules = Nodules::of(ids);
    (0..ids.len())
        .flat_map(|row| nodules.rows_of(row, k))
        .collect()
}

/// The raw pixels of `rows` (a patch and its neighbours), slice after slice (K × H × W): what
/// a network of context K is given for the patch.
pub fn stack(data: &Dataset, rows: &[usize]) -> crate::error::Result<Vec<f32>> {
    let mut out = Vec::with_capacity(rows.len() * data.pixels());
    for &row in rows {
        out.extend(data.patch(row)?);
    }
    Ok(out)
}

/// Each nodule's rows in order, or why the file cannot tell them (`nodule_ids`): built once a
/// file by whoever asks for rows more than once (the dashboard).
pub type Lookup = std::result::Result<Nodules, String>;

pub fn lookup(data: &Dataset) -> Lookup {
    nodule_ids(data).map(Nodules::of)
}

/// The rows each of `indices` is given with by a network of context `k` (each patch alone for
/// one slice, whatever the lookup holds); the file named with the reason when it cannot tell
/// neighbours.
pub fn rows_for(
    lookup: &Lookup,
    data: &Dataset,
    indices: &[usize],
    k: usize,
) -> crate::error::Result<Vec<Vec<usize>>> {
    match (k, lookup) {
        (1, _) => Ok(indices.iter().map(|&i| vec![i]).collect()),
        (_, Ok(nodules)) => Ok(indices.iter().map(|&i| nodules.rows_of(i, k)).collect()),
        (_, Err(why)) => Err(crate::error::Error::file(
            &data.path,
            format!("a network of {k} slices: the file {why}"),
        )),
    }
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
        // Against the plainest statement of the rule: scan for the nodule's rows each time.
        let by_scan = |index: usize, k: usize| -> Vec<usize> {
            let members: Vec<usize> = (0..ids.len()).filter(|&r| ids[r] == ids[index]).collect();
            let at = members.iter().position(|&r| r == index).unwrap() as i64;
            let (half, last) = ((k / 2) as i64, members.len() as i64 - 1);
            (-half..=half)
                .map(|o| members[(at + o).clamp(0, last) as usize])
                .collect()
        };
        for k in [1, 3, 5] {
            let table = neighbours(&ids, k);
            for row in 0..ids.len() {
                assert_eq!(by_scan(row, k), &table[row * k..(row + 1) * k]);
            }
        }
    }

    #[test]
    fn only_odd_sizes_up_to_the_limit() {
        assert!(check(1).is_ok() && check(3).is_ok() && check(MAX).is_ok());
        assert!(check(2).is_err() && check(0).is_err() && check(MAX + 2).is_err());
    }
}
