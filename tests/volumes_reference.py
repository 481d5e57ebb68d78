"""Synthetic CT volumes in every format `lnmc import` reads, and SimpleITK's patches of them.

usage: volumes_reference.py OUT_DIR SIZE SPACING

Writes under OUT_DIR/volumes/ one series per format, each a sphere of +50 HU in -800 HU at a
known LPS centre, with a non-trivial origin and spacing:
  mhd1   MetaImage .mhd + .raw, the x axis flipped (direction -1, 1, 1)
  zraw1  MetaImage .mhd + .zraw (compressed)
  mha1   MetaImage .mha, data in the header's file (LOCAL)
  nii1   NIfTI-1 .nii.gz, int16 with scl_slope 2, scl_inter -1024, sform = qform
  qform1 NIfTI-1 .nii, qform only (sform_code 0), rows (j) flipped
  nii2   NIfTI-2 .nii, float32
  a DICOM series (folder dcm1, SeriesInstanceUID 1.2.826.0.1.3680043.2.1125.1) whose file
         names and InstanceNumbers are out of spatial order, RescaleIntercept -1024
Then OUT_DIR/coords.csv (seriesuid,coordX,coordY,coordZ,diameter_mm,class): each sphere's
centre, one point of empty background per series, and one point outside its volume; and
OUT_DIR/reference.npy: SimpleITK's linear resampling of every row on lnmc's grid (rows
along +y, columns along +x in LPS, SIZE pixels SPACING mm apart, -1024 outside), read back
from the written files.
"""
import csv
import os
import random
import sys

import numpy as np
import nibabel as nib
import pydicom
import SimpleITK as sitk
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

out, size, spacing = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
vol_dir = os.path.join(out, "volumes")
os.makedirs(vol_dir, exist_ok=True)
SHAPE = (30, 40, 48)  # k, j, i (numpy order of SimpleITK arrays)
DIAMETER = 12.0


def sphere(origin, vspacing, direction, centre):
    """HU volume (k, j, i) with a sphere of DIAMETER mm at LPS `centre`."""
    k, j, i = np.meshgrid(*[np.arange(n) for n in SHAPE], indexing="ij")
    idx = np.stack([i * vspacing[0], j * vspacing[1], k * vspacing[2]], axis=-1)
    world = idx @ np.asarray(direction).T + np.asarray(origin)
    inside = np.linalg.norm(world - np.asarray(centre), axis=-1) <= DIAMETER / 2
    return np.where(inside, 50, -800).astype(np.int16)


def centre_of(origin, vspacing, direction, at=(0.55, 0.45, 0.5)):
    """An LPS point well inside the volume, off the voxel grid."""
    index = np.array([(SHAPE[2] - 1) * at[0] + 0.3, (SHAPE[1] - 1) * at[1] + 0.2, (SHAPE[0] - 1) * at[2] + 0.4])
    return np.asarray(direction) @ (index * np.asarray(vspacing)) + np.asarray(origin)


def sitk_image(array, origin, vspacing, direction):
    img = sitk.GetImageFromArray(array)
    img.SetOrigin(tuple(float(v) for v in origin))
    img.SetSpacing(tuple(float(v) for v in vspacing))
    img.SetDirection(tuple(float(v) for v in np.asarray(direction).flatten()))
    return img


rows = []


def add_rows(uid, origin, vspacing, direction, centre):
    rows.append((uid, *centre, DIAMETER, 1))
    background = centre_of(origin, vspacing, direction, at=(0.12, 0.85, 0.2))
    rows.append((uid, *background, 0.0, 0))
    far = np.asarray(origin) - np.asarray(direction) @ np.array([30.0, 30.0, 0.0])
    rows.append((uid, *far, 0.0, 0))


series_files = {}
identity = np.eye(3)
# MetaImage: flipped x, raw; compressed; LOCAL.
for uid, name, compress, direction, origin, vspacing in [
    ("mhd1", "mhd1.mhd", False, np.diag([-1.0, 1.0, 1.0]), (120.5, -80.25, -300.0), (0.8, 0.9, 1.5)),
    ("zraw1", "zraw1.mhd", True, identity, (-150.0, -140.0, -200.5), (0.7, 0.7, 2.0)),
    ("mha1", "mha1.mha", False, identity, (10.0, 20.0, 30.0), (1.0, 0.75, 1.25)),
]:
    centre = centre_of(origin, vspacing, direction)
    img = sitk_image(sphere(origin, vspacing, direction, centre), origin, vspacing, direction)
    path = os.path.join(vol_dir, name)
    sitk.WriteImage(img, path, useCompression=compress)
    if compress:
        assert os.path.exists(os.path.join(vol_dir, "zraw1.zraw")), "SimpleITK wrote no .zraw"
    series_files[uid] = path
    add_rows(uid, origin, vspacing, direction, centre)


def ras_affine(origin, vspacing, direction):
    """NIfTI's RAS affine of an LPS geometry."""
    lps = np.eye(4)
    lps[:3, :3] = np.asarray(direction) * np.asarray(vspacing)
    lps[:3, 3] = origin
    return np.diag([-1.0, -1.0, 1.0, 1.0]) @ lps


# NIfTI-1 gz with scaling; NIfTI-1 qform only with a flipped j axis; NIfTI-2 float.
for uid, name, direction, origin, vspacing, kind in [
    ("nii1", "nii1.nii.gz", identity, (-20.0, 35.5, -110.0), (0.9, 0.9, 1.2), "scaled"),
    ("qform1", "qform1.nii", np.diag([1.0, -1.0, 1.0]), (5.0, 60.0, 7.0), (0.8, 0.8, 1.6), "qform"),
    ("nii2", "nii2.nii", identity, (-33.0, -44.0, 55.0), (0.85, 0.95, 1.1), "nifti2"),
]:
    centre = centre_of(origin, vspacing, direction)
    hu = sphere(origin, vspacing, direction, centre)
    data = np.transpose(hu, (2, 1, 0))  # i, j, k as NIfTI stores them
    affine = ras_affine(origin, vspacing, direction)
    path = os.path.join(vol_dir, name)
    if kind == "scaled":
        raw = ((data.astype(np.int32) + 1024) // 2).astype(np.int16)
        img = nib.Nifti1Image(raw, affine)
        img.header.set_data_dtype(np.int16)
        img.header.set_slope_inter(2.0, -1024.0)
        img.set_sform(affine, code=1)
        img.set_qform(affine, code=1)
        nib.save(img, path)
    elif kind == "qform":
        img = nib.Nifti1Image(data, affine)
        img.set_qform(affine, code=1)
        img.set_sform(None, code=0)
        img.header["sform_code"] = 0
        nib.save(img, path)
    else:
        img = nib.Nifti2Image(data.astype(np.float32), affine)
        img.set_sform(affine, code=1)
        img.set_qform(affine, code=1)
        nib.save(img, path)
    series_files[uid] = path
    add_rows(uid, origin, vspacing, direction, centre)

# DICOM: axial slices, files named and numbered in shuffled order.
uid = "1.2.826.0.1.3680043.2.1125.1"
origin, vspacing, direction = (-100.0, -90.0, -250.0), (0.75, 0.75, 2.5), identity
centre = centre_of(origin, vspacing, direction)
hu = sphere(origin, vspacing, direction, centre)
dcm_dir = os.path.join(vol_dir, "dcm1")
os.makedirs(dcm_dir, exist_ok=True)
order = list(range(SHAPE[0]))
random.Random(7).shuffle(order)
for name_index, k in enumerate(order):
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = "CT"
    ds.SeriesInstanceUID = uid
    ds.StudyInstanceUID = "1.2.826.0.1.3680043.2.1125.2"
    ds.PatientID = "synthetic"
    ds.InstanceNumber = (k * 7) % SHAPE[0] + 1  # not the spatial order
    ds.ImagePositionPatient = [float(v) for v in np.asarray(origin) + np.array([0.0, 0.0, k * vspacing[2]])]
    ds.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
    ds.PixelSpacing = [vspacing[1], vspacing[0]]
    ds.SliceThickness = vspacing[2]
    ds.Rows, ds.Columns = SHAPE[1], SHAPE[2]
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
    ds.RescaleSlope, ds.RescaleIntercept = 1, -1024
    ds.PixelData = (hu[k].astype(np.int32) + 1024).astype(np.uint16).tobytes()
    ds.save_as(os.path.join(dcm_dir, f"IM{name_index:04d}.dcm"), enforce_file_format=True)
reader = sitk.ImageSeriesReader()
series_files[uid] = reader.GetGDCMSeriesFileNames(dcm_dir)
add_rows(uid, origin, vspacing, direction, centre)

with open(os.path.join(out, "coords.csv"), "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["seriesuid", "coordX", "coordY", "coordZ", "diameter_mm", "class"])
    for r in rows:
        w.writerow([r[0], *(f"{v:.6f}" for v in r[1:4]), r[4], r[5]])

# SimpleITK's patches on lnmc's grid, from the files as written.
reference = []
for uid, x, y, z, _, _ in rows:
    files = series_files[uid]
    if isinstance(files, str) and uid == "nii2":
        # SimpleITK reads no NIfTI-2: nibabel reads it, and its RAS affine becomes LPS here.
        n2 = nib.load(files)
        lps = np.diag([-1.0, -1.0, 1.0, 1.0]) @ n2.affine
        vsp = np.linalg.norm(lps[:3, :3], axis=0)
        img = sitk_image(np.transpose(np.asarray(n2.dataobj, dtype=np.float32), (2, 1, 0)), lps[:3, 3], vsp, lps[:3, :3] / vsp)
    elif isinstance(files, str):
        img = sitk.ReadImage(files, sitk.sitkFloat32)
    else:
        reader.SetFileNames(files)
        img = sitk.Cast(reader.Execute(), sitk.sitkFloat32)
    half = (size - 1) / 2
    grid = sitk.Image(size, size, 1, sitk.sitkFloat32)
    grid.SetSpacing((spacing, spacing, spacing))
    grid.SetOrigin((x - half * spacing, y - half * spacing, z))
    patch = sitk.Resample(img, grid, sitk.Transform(), sitk.sitkLinear, -1024.0, sitk.sitkFloat32)
    reference.append(sitk.GetArrayFromImage(patch)[0])
np.save(os.path.join(out, "reference.npy"), np.stack(reference).astype(np.float32))
print(len(rows))
