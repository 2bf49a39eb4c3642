"""Brain maps of BA: each voxel's held-out r placed in MNI space, averaged over subjects."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from brainattr.dataset import DatasetError, read_voxel_coords
from brainattr.layers import GROUPS, selected_layers
from brainattr.tables import read_encoding


def ba_volume(r: np.ndarray, voxel_ijk: np.ndarray, shape: tuple[int, int, int]) -> np.ndarray:
    """Place per-voxel values in a volume.

    Parameters
    ----------
    r : array of shape (n_voxels,)
    voxel_ijk : int array of shape (n_voxels, 3)
        0-based voxel indices.
    shape : (nx, ny, nz)

    Returns
    -------
    volume : array of shape ``shape``, NaN where no voxel was given
    """
    if len(r) != len(voxel_ijk):
        raise ValueError(f"{len(r)} values for {len(voxel_ijk)} voxel positions")
    vol = np.full(shape, np.nan)
    vol[tuple(np.asarray(voxel_ijk, dtype=int).T)] = r
    return vol


def subject_mean_map(
    values: dict[str, np.ndarray], coords: dict[str, tuple[np.ndarray, np.ndarray]]
) -> tuple[np.ndarray, np.ndarray]:
    """Mean over subjects of per-voxel values on the first subject's grid.

    Subjects on another grid (affine) are resampled to it (nearest neighbour, nilearn).

    Parameters
    ----------
    values : {subject: array (n_voxels_s,)}
    coords : {subject: (voxel_ijk (n_voxels_s, 3), affine (4, 4))}

    Returns
    -------
    volume : array (nx, ny, nz), 0 where no subject has a voxel
    affine : array (4, 4)
    """
    import nibabel as nib
    from nilearn import image

    subjects = list(values)
    affine = coords[subjects[0]][1]
    shape = tuple(int(x) for x in np.max([c[0].max(0) + 1 for c in coords.values()], axis=0))
    ref = nib.Nifti1Image(np.zeros(shape, dtype=np.float32), affine)
    vols = []
    for s in subjects:
        ijk, aff = coords[s]
        vol = ba_volume(values[s], ijk, shape)
        if not np.allclose(aff, affine):
            res, inside = (
                image.resample_to_img(
                    nib.Nifti1Image(x, aff),
                    ref,
                    interpolation="nearest",
                    force_resample=True,
                    copy_header=True,
                ).get_fdata()
                for x in (np.nan_to_num(vol, nan=0.0), np.isfinite(vol).astype(np.float32))
            )
            vol = np.where(inside > 0, res, np.nan)
        vols.append(vol)
    stack = np.stack(vols)
    counts = np.isfinite(stack).sum(axis=0)
    mean = np.where(counts > 0, np.nansum(stack, axis=0) / np.maximum(counts, 1), 0.0)
    return mean, affine


def run_brain_map(
    dataset_dir: str | Path,
    encoding_paths: dict[tuple[str, int], str],
    layers_path: str | Path,
    out_nifti: str | Path,
    png: str | Path,
    pdf: str | Path,
    title: str,
    out_sidecar: str | Path | None = None,
) -> None:
    """Workflow stage ``brain_map``: a 4D NIfTI (early, middle, late selected layers) of the
    subject-mean BA, its JSON sidecar (``out_sidecar``: what each volume is, the space, the
    subjects) and its glass-brain figure."""

    from brainattr.figures import brain_map

    chosen = selected_layers(layers_path)
    subjects = sorted({s for s, _ in encoding_paths})
    coords = {}
    for s in subjects:
        c = read_voxel_coords(dataset_dir, s)
        if c is None:
            raise DatasetError(
                f"{dataset_dir}/responses.h5: subject {s} has no voxel_ijk/affine; brain maps "
                "need voxel positions (README, 'On-disk format')"
            )
        coords[s] = c
    vols = []
    for group in GROUPS:
        r = {s: read_encoding(encoding_paths[(s, chosen[group])])["r"] for s in subjects}
        vol, affine = subject_mean_map(r, coords)
        vols.append(vol)
    labels = [f"{g} (layer {chosen[g]})" for g in GROUPS]
    img = labelled_map(np.stack(vols, axis=-1).astype(np.float32), affine, labels)
    img.to_filename(out_nifti)
    if out_sidecar is not None:
        sidecar = {
            "Description": "brain alignment (BA): held-out Pearson r of the encoding model, "
            "mean over subjects (0 where no subject has a voxel)",
            "Space": "MNI (the dataset's voxel_ijk and affine)",
            "Units": "Pearson r; voxel coordinates in mm",
            "Volumes": [
                {"index": i, "layer_group": g, "layer": int(chosen[g])}
                for i, g in enumerate(GROUPS)
            ],
            "Subjects": subjects,
        }
        Path(out_sidecar).write_text(json.dumps(sidecar, indent=2))
    brain_map(img, labels, title, png, pdf)


def labelled_map(data: np.ndarray, affine: np.ndarray, labels: list[str]):
    """A 4D NIfTI whose header says what it holds: the affine is to MNI (sform and qform code
    4, "mni"), millimetres, one volume per label (``descrip``), intent "estimate" (a map of r).

    Parameters
    ----------
    data : array of shape (x, y, z, n_volumes)
    affine : array of shape (4, 4), voxel indices to MNI millimetres
    labels : list of str, one per volume
    """
    import nibabel as nib

    img = nib.Nifti1Image(data, affine)
    img.set_sform(affine, code="mni")
    img.set_qform(affine, code="mni")
    img.header.set_xyzt_units(xyz="mm")
    img.header.set_intent("estimate", name="BA r")
    img.header["descrip"] = ("BA r: " + "; ".join(labels)).encode()[:79]
    return img
