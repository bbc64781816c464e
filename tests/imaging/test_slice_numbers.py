"""Slice numbers people read count from 1 (QA titles as the viewer's slider), on a real CT.

Truth: the slice of largest muscle area counted directly from TotalSegmentator's example
mask (numpy on the label file), and the slice count of the image's slice axis.
"""

from __future__ import annotations

import nibabel as nib
import numpy as np

from spinestab.imaging.io import slice_axis
from spinestab.imaging.labels import get_scheme
from spinestab.imaging.options import MriOptions
from spinestab.imaging.pipeline import analyse_mri

from .conftest import TS_CT, TS_SEG


def test_qa_titles_count_slices_from_one():
    result = analyse_mri(
        TS_CT, TS_SEG, options=MriOptions(labels="total", vertebrae_labels="total", qa=True)
    )
    seg = nib.load(str(TS_SEG))
    labels = np.asarray(seg.dataobj)
    axis = slice_axis(seg.affine)
    count = labels.shape[axis]
    muscles = sorted(get_scheme("total").muscles())
    area = np.moveaxis(np.isin(labels, muscles), axis, -1).reshape(-1, count).sum(axis=0)
    largest = int(np.argmax(area))
    pictures = {p.level: p for p in result.pictures}
    assert pictures["all"].slice == largest  # the index stays 0-based
    assert pictures["all"].title.endswith(f"slice {largest + 1} of {count}")
    per_slice = result.levels.levels.levels
    for level, picture in pictures.items():
        assert picture.title.endswith(f", slice {picture.slice + 1} of {count}"), picture.title
        if level != "all":
            assert per_slice[picture.slice] == level  # the picture shows a slice of its level
