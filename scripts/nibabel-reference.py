#!/usr/bin/python3
"""Writes test/fixtures/nibabel-reference.json: what nibabel (Debian python3-nibabel)
reads from the NIfTI files in ../shared/data, converted to ITK's LPS convention.
The data tests compare comboseg's reader against it. Run: /usr/bin/python3 scripts/nibabel-reference.py"""
import json, glob, os
import numpy as np
import nibabel as nib

root = os.path.join(os.path.dirname(__file__), '..', '..', 'shared', 'data')
out = {}
for path in sorted(glob.glob(os.path.join(root, '**', '*.nii*'), recursive=True) + glob.glob(os.path.join(root, '**', '*.hdr'), recursive=True)):
    rel = os.path.relpath(path, root)
    try:
        img = nib.load(path)
        data = np.asanyarray(img.dataobj, dtype=np.float64) if not np.iscomplexobj(img.dataobj) else None
    except Exception as e:
        out[rel] = {'error': type(e).__name__}
        continue
    if data is None or not hasattr(img, 'affine') or data.ndim > 3 and any(s > 1 for s in data.shape[3:]) or img.get_data_dtype().names:
        out[rel] = {'skip': 'not a 3-D scalar volume', 'shape': list(img.shape)}
        continue
    data = data.reshape(data.shape[:3] + (1,) * (3 - data.ndim))
    A = img.affine
    M = A[:3, :3]
    zooms = np.sqrt((M ** 2).sum(axis=0))
    R = M / zooms
    flip = np.diag([-1, -1, 1])
    flat = data.reshape(-1, order='F')  # x fastest, as ITK stores it
    idx = [0, len(flat) // 3, len(flat) // 2, (2 * len(flat)) // 3, len(flat) - 1]
    out[rel] = {
        'size': list(data.shape[:3]),
        'spacing': [float(z) for z in zooms],
        'origin': [float(v) for v in flip @ A[:3, 3]],
        'direction': [float(v) for v in (flip @ R).reshape(-1)],
        'min': float(data.min()), 'max': float(data.max()), 'mean': float(data.mean()), 'sum': float(data.sum()),
        'samples': {str(i): float(flat[i]) for i in idx},
        'qform_code': int(img.header['qform_code']) if 'qform_code' in img.header else None,
        'sform_code': int(img.header['sform_code']) if 'sform_code' in img.header else None,
    }
dest = os.path.join(os.path.dirname(__file__), '..', 'test', 'fixtures', 'nibabel-reference.json')
with open(dest, 'w') as f:
    json.dump(out, f, indent=1, sort_keys=True)
print(f'{len(out)} files -> {dest}')
