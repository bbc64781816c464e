"""Catalogues per domain (spinestab.core.i18n) and the shared muscle-quality types."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest

from spinestab.core.i18n import Translator, catalogue
from spinestab.core.results import (
    MUSCLE_QUALITY_COLUMNS,
    MUSCLE_QUALITY_REQUIRED,
    MuscleQuality,
    MuscleRow,
)
from spinestab.errors import InputError

DEMO = Path(__file__).resolve().parents[2] / "src" / "spinestab" / "data" / "demo_patients"


def test_each_domain_has_its_own_catalogue_in_every_language():
    for domain in ("care", "wearable"):
        en, de = catalogue(domain, "en"), catalogue(domain, "de")
        assert en and set(en) == set(de)
    assert "prompt.keep_moving" in catalogue("wearable", "en")
    assert "prompt.keep_moving" not in catalogue("care", "en")
    assert "ui.title" not in catalogue("wearable", "en")
    assert Translator("wearable", "en")("prompt.keep_moving").startswith("Time to move")


def test_unknown_language_is_a_clear_error():
    with pytest.raises(InputError, match="no translation catalogue"):
        Translator("care", "fr")


def test_wearable_no_longer_needs_care_for_its_prompt(tmp_path):
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from spinestab.core.i18n import Translator\n"
        "import spinestab.wearable.pipeline\n"
        "Translator('wearable', 'de')('prompt.keep_moving')\n"
        "print(sorted(m for m in sys.modules if m.startswith('spinestab.care')))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_muscle_quality_columns_equal_the_bundled_table_and_mri_writer():
    from spinestab.imaging.muscle import MUSCLE_COLUMNS

    assert MUSCLE_COLUMNS == MUSCLE_QUALITY_COLUMNS
    assert len(MUSCLE_QUALITY_COLUMNS) == 21
    assert MUSCLE_QUALITY_COLUMNS[-2:] == ("label_value", "flags")
    assert set(MUSCLE_QUALITY_REQUIRED) <= set(MUSCLE_QUALITY_COLUMNS)
    # the demo table (an older, shorter export) holds the first columns in the same order
    with (DEMO / "functional_high_risk" / "muscle_quality.csv").open() as handle:
        header = next(csv.reader(handle))
    assert tuple(header) == MUSCLE_QUALITY_COLUMNS[: len(header)]


def test_muscle_row_defaults_and_container():
    row = MuscleRow(muscle="multifidus", side="left", level="L4", fat_fraction_pct=12.5)
    assert math.isnan(row.csa_max_mm2) and row.flags == "" and row.n_slices == 0
    assert list(row.as_dict()) == list(MUSCLE_QUALITY_COLUMNS)
    summary = MuscleRow(muscle="multifidus", side="left", level="all")
    quality = MuscleQuality(
        rows=(summary, row, MuscleRow(muscle="psoas", side="right", level="L3"))
    )
    assert quality.levels() == ("L3", "L4")
    assert quality.muscles() == ("multifidus", "psoas")
    assert summary.is_summary and not row.is_summary
    assert quality.of_muscle("multifidus") == (summary, row)
    with pytest.raises(KeyError):
        quality.row("multifidus", "right", "L4")
    with pytest.raises(TypeError):
        MuscleRow("multifidus", "left", "L4")  # keyword-only: no silent column shift
