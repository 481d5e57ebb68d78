//! NIfTI-1 and NIfTI-2 volumes (`.nii`, `.nii.gz`). The NIfTI-1 header is read by the `nifti`
//! crate; NIfTI-2, which it does not read, by the 540-byte layout of nifti2.h. The voxel →
//! world map is the sform where its code is set, else the qform (quaternion), else the
//! pixel sizes alone; NIfTI's RAS+ world is turned into the LPS of DICOM, ITK and LUNA16's
//! coordinates. `scl_slope`/`scl_inter` scale the stored values where the slope is set.

use std::io::Read;
use std::path::Path;

use super::metaimage::{narrow, MAX_VOXELS};
use super::volume::{check_geometry, Volume, Voxels};
use crate::error::{Error, Result};
use crate::files::MAX_DEFLATE_RATIO;

/// What lnmc needs of either header version.
#[derive(Debug, Clone, PartialEq)]
struct Header {
    dim: [i64; 8],
    pixdim: [f64; 8],
    datatype: i16,
    vox_offset: u64,
    slope: f64,
    inter: f64,
    qform_code: i32,
    sform_code: i32,
    quatern: [f64; 3],
    qoffset: [f64; 3],
    srow: [[f64; 4]; 3],
    big_endian: bool,
}

/// The stream of `path`, decompressed where it ends in `.gz`.
fn open(path: &Path) -> Result<Box<dyn Read>> {
    let file =
        std::fs::File::open(path).map_err(|e| Error::file(path, format!("cannot be read: {e}")))?;
    let reader = std::io::BufReader::new(file);
    Ok(match path.extension().is_some_and(|e| e == "gz") {
        true => Box::new(flate2::read::GzDecoder::new(reader)),
        false => Box::new(reader),
    })
}

pub fn read(path: &Path) -> Result<Volume> {
    let fail = |msg: String| Error::file(path, msg);
    let mut head = Vec::with_capacity(540);
    open(path)?
        .take(540)
        .read_to_end(&mut head)
        .map_err(|e| fail(format!("cannot be read as NIfTI: {e}")))?;
    let h = header(&head).map_err(&fail)?;
    let (size, voxels, bytes_per) = extent(&h).map_err(&fail)?;
    let expected = voxels * bytes_per;
    let gz = path.extension().is_some_and(|e| e == "gz");
    let on_disk = std::fs::metadata(path)
        .map_err(|e| fail(e.to_string()))?
        .len();
    if gz
        && h.vox_offset.saturating_add(expected as u64) > on_disk.saturating_mul(MAX_DEFLATE_RATIO)
    {
        return Err(fail(format!(
            "{} of gzip cannot hold the {} its header's {size:?} voxels need (deflate expands at most {MAX_DEFLATE_RATIO}:1)",
            crate::data::memory::size(on_disk),
            crate::data::memory::size(expected as u64)
        )));
    }
    if !gz && on_disk < h.vox_offset.saturating_add(expected as u64) {
        return Err(fail(format!(
            "holds {} bytes of voxels where its header's {size:?} need {expected}",
            on_disk.saturating_sub(h.vox_offset)
        )));
    }
    let mut stream = open(path)?;
    std::io::copy(&mut (&mut stream).take(h.vox_offset), &mut std::io::sink())
        .map_err(|e| fail(format!("cannot be read: {e}")))?;
    let mut bytes = Vec::with_capacity(expected);
    stream
        .take(expected as u64)
        .read_to_end(&mut bytes)
        .map_err(|e| fail(format!("cannot be read (is it gzip?): {e}")))?;
    if bytes.len() != expected {
        return Err(fail(format!(
            "holds {} bytes of voxels where its header's {size:?} need {expected}",
            bytes.len()
        )));
    }
    let (spacing, origin, direction) = geometry(&h).map_err(&fail)?;
    if let Some(why) = check_geometry(spacing, direction, origin) {
        return Err(fail(why));
    }
    Ok(Volume {
        size,
        spacing,
        origin,
        direction,
        voxels: values(&bytes, &h),
    })
}

/// The volume's size, voxel count and bytes a voxel, checked: one 3-D volume, each size ≥ 1,
/// no more voxels than a CT series has, a type lnmc reads.
fn extent(h: &Header) -> std::result::Result<([usize; 3], usize, usize), String> {
    let ndim = h.dim[0];
    if !(3..=7).contains(&ndim) || h.dim[4..=ndim as usize].iter().any(|&d| d > 1) {
        return Err(format!(
            "has {ndim} dimensions ({:?}): lnmc imports one 3-D volume",
            &h.dim[1..]
        ));
    }
    let size = [h.dim[1], h.dim[2], h.dim[3]];
    if size.iter().any(|&s| s < 1) {
        return Err(format!("has sizes {size:?}: each must be at least 1"));
    }
    let size = [size[0] as usize, size[1] as usize, size[2] as usize];
    let voxels = size
        .iter()
        .try_fold(1usize, |n, &s| n.checked_mul(s))
        .filter(|&n| n <= MAX_VOXELS)
        .ok_or_else(|| format!("claims {size:?} voxels, more than any CT series ({MAX_VOXELS})"))?;
    let bytes_per = match h.datatype {
        2 | 256 => 1,
        4 | 512 => 2,
        8 | 16 | 768 => 4,
        64 => 8,
        other => {
            return Err(format!(
                "datatype {other}: lnmc reads (u)int8, (u)int16, (u)int32, float32, float64"
            ))
        }
    };
    Ok((size, voxels, bytes_per))
}

/// Either header version from its first bytes.
fn header(head: &[u8]) -> std::result::Result<Header, String> {
    let le = |at: usize| i32::from_le_bytes(head[at..at + 4].try_into().expect("4 bytes"));
    let be = |at: usize| i32::from_be_bytes(head[at..at + 4].try_into().expect("4 bytes"));
    if head.len() < 348 {
        return Err("is too short for a NIfTI header".into());
    }
    match (le(0), be(0)) {
        (348, _) | (_, 348) => header1(head),
        (540, _) | (_, 540) if head.len() >= 540 => Ok(header2(head, be(0) == 540)),
        _ => Err("is not NIfTI (its first four bytes give no header size of 348 or 540)".into()),
    }
}

fn header1(head: &[u8]) -> std::result::Result<Header, String> {
    let h = nifti::NiftiHeader::from_reader(&head[..348])
        .map_err(|e| format!("is not a readable NIfTI-1 header: {e}"))?;
    let f = |v: f32| f64::from(v);
    let row = |r: [f32; 4]| [f(r[0]), f(r[1]), f(r[2]), f(r[3])];
    let mut dim = [0i64; 8];
    for (d, &v) in dim.iter_mut().zip(&h.dim) {
        *d = i64::from(v);
    }
    let mut pixdim = [0f64; 8];
    for (p, &v) in pixdim.iter_mut().zip(&h.pixdim) {
        *p = f(v);
    }
    Ok(Header {
        dim,
        pixdim,
        datatype: h.datatype,
        vox_offset: h.vox_offset.max(352.0) as u64,
        slope: f(h.scl_slope),
        inter: f(h.scl_inter),
        qform_code: i32::from(h.qform_code),
        sform_code: i32::from(h.sform_code),
        quatern: [f(h.quatern_b), f(h.quatern_c), f(h.quatern_d)],
        qoffset: [f(h.quatern_x), f(h.quatern_y), f(h.quatern_z)],
        srow: [row(h.srow_x), row(h.srow_y), row(h.srow_z)],
        big_endian: h.endianness == nifti::Endianness::Big,
    })
}

/// The NIfTI-2 layout (nifti2.h): 64-bit sizes and doubles.
fn header2(head: &[u8], big_endian: bool) -> Header {
    let b8 = |at: usize| -> [u8; 8] { head[at..at + 8].try_into().expect("8 bytes") };
    let i64_at = |at: usize| {
        if big_endian {
            i64::from_be_bytes(b8(at))
        } else {
            i64::from_le_bytes(b8(at))
        }
    };
    let f64_at = |at: usize| {
        if big_endian {
            f64::from_be_bytes(b8(at))
        } else {
            f64::from_le_bytes(b8(at))
        }
    };
    let i32_at = |at: usize| {
        let b: [u8; 4] = head[at..at + 4].try_into().expect("4 bytes");
        if big_endian {
            i32::from_be_bytes(b)
        } else {
            i32::from_le_bytes(b)
        }
    };
    let i16_at = |at: usize| {
        let b: [u8; 2] = head[at..at + 2].try_into().expect("2 bytes");
        if big_endian {
            i16::from_be_bytes(b)
        } else {
            i16::from_le_bytes(b)
        }
    };
    let mut dim = [0i64; 8];
    let mut pixdim = [0f64; 8];
    for k in 0..8 {
        dim[k] = i64_at(16 + 8 * k);
        pixdim[k] = f64_at(104 + 8 * k);
    }
    let row = |at: usize| [f64_at(at), f64_at(at + 8), f64_at(at + 16), f64_at(at + 24)];
    Header {
        dim,
        pixdim,
        datatype: i16_at(12),
        vox_offset: i64_at(168).max(544) as u64,
        slope: f64_at(176),
        inter: f64_at(184),
        qform_code: i32_at(344),
        sform_code: i32_at(348),
        quatern: [f64_at(352), f64_at(360), f64_at(368)],
        qoffset: [f64_at(376), f64_at(384), f64_at(392)],
        srow: [row(400), row(432), row(464)],
        big_endian,
    }
}

/// (spacing, origin, direction) in LPS from the sform, else the qform, else pixdim.
fn geometry(h: &Header) -> std::result::Result<([f64; 3], [f64; 3], [[f64; 3]; 3]), String> {
    // The 3×4 map from (i, j, k, 1) to RAS millimetres.
    let ras: [[f64; 4]; 3] = if h.sform_code > 0 {
        h.srow
    } else if h.qform_code > 0 {
        let [b, c, d] = h.quatern;
        let a = (1.0 - (b * b + c * c + d * d)).max(0.0).sqrt();
        let r = [
            [
                a * a + b * b - c * c - d * d,
                2.0 * (b * c - a * d),
                2.0 * (b * d + a * c),
            ],
            [
                2.0 * (b * c + a * d),
                a * a + c * c - b * b - d * d,
                2.0 * (c * d - a * b),
            ],
            [
                2.0 * (b * d - a * c),
                2.0 * (c * d + a * b),
                a * a + d * d - c * c - b * b,
            ],
        ];
        let qfac = if h.pixdim[0] < 0.0 { -1.0 } else { 1.0 };
        let scale = [h.pixdim[1], h.pixdim[2], h.pixdim[3] * qfac];
        let mut m = [[0.0; 4]; 3];
        for row in 0..3 {
            for col in 0..3 {
                m[row][col] = r[row][col] * scale[col];
            }
            m[row][3] = h.qoffset[row];
        }
        m
    } else {
        [
            [h.pixdim[1], 0.0, 0.0, 0.0],
            [0.0, h.pixdim[2], 0.0, 0.0],
            [0.0, 0.0, h.pixdim[3], 0.0],
        ]
    };
    // RAS → LPS: x and y change sign.
    let sign = [-1.0, -1.0, 1.0];
    let mut spacing = [0.0; 3];
    let mut direction = [[0.0; 3]; 3];
    for axis in 0..3 {
        let column = [
            ras[0][axis] * sign[0],
            ras[1][axis] * sign[1],
            ras[2][axis] * sign[2],
        ];
        let length = column.iter().map(|v| v * v).sum::<f64>().sqrt();
        spacing[axis] = length;
        for row in 0..3 {
            direction[row][axis] = if length > 0.0 {
                column[row] / length
            } else {
                0.0
            };
        }
    }
    let origin = [
        ras[0][3] * sign[0],
        ras[1][3] * sign[1],
        ras[2][3] * sign[2],
    ];
    Ok((spacing, origin, direction))
}

/// The stored values, scaled where the header says so.
fn values(bytes: &[u8], h: &Header) -> Voxels {
    // A slope of 0 (or not finite) means "not scaled" (nifti1.h).
    let scaled = h.slope != 0.0 && h.slope.is_finite() && !(h.slope == 1.0 && h.inter == 0.0);
    if h.datatype == 4 && !scaled {
        // int16 as stored: no detour through 8 bytes a voxel.
        return Voxels::I16(
            bytes
                .chunks_exact(2)
                .map(|c| match h.big_endian {
                    true => i16::from_be_bytes([c[0], c[1]]),
                    false => i16::from_le_bytes([c[0], c[1]]),
                })
                .collect(),
        );
    }
    macro_rules! read {
        ($t:ty, $n:expr) => {
            bytes
                .chunks_exact($n)
                .map(|c| {
                    let a: [u8; $n] = c.try_into().expect("chunk");
                    f64::from(match h.big_endian {
                        true => <$t>::from_be_bytes(a),
                        false => <$t>::from_le_bytes(a),
                    })
                })
                .collect::<Vec<f64>>()
        };
    }
    let raw = match h.datatype {
        2 => bytes.iter().map(|&b| f64::from(b)).collect(),
        256 => bytes.iter().map(|&b| f64::from(b as i8)).collect(),
        4 => read!(i16, 2),
        512 => read!(u16, 2),
        8 => read!(i32, 4),
        768 => read!(u32, 4),
        16 => read!(f32, 4),
        _ => read!(f64, 8),
    };
    match scaled {
        true => narrow(raw.into_iter().map(|v| v * h.slope + h.inter).collect()),
        false => narrow(raw),
    }
}
