"""Demo patients run through profile, triage and plan once, for the report tests."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

DEMO = Path(__file__).resolve().parents[2] / "src" / "spinestab" / "data" / "demo_patients"


def pango_available() -> bool:
    try:
        import weasyprint  # noqa: F401
    except OSError:
        return False
    return True


needs_pdf = pytest.mark.skipif(not pango_available(), reason="WeasyPrint needs Pango")


@pytest.fixture(scope="session")
def planned():
    """name -> (profile, triage, plan or None) for the bundled demo patients."""
    from spinestab.care import load_patient_dir, load_rules, prescribe, triage

    rules = load_rules()
    out = {}
    for folder in sorted(DEMO.iterdir()):
        profile = load_patient_dir(folder, rules=rules)
        tri = triage(profile, rules=rules, jurisdiction="NICE")
        out[folder.name] = (profile, tri, prescribe(profile, tri, rules=rules))
    return out


def pdf_pages_text(pdf: bytes) -> list[str]:
    import io

    from pypdf import PdfReader

    return [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]


def render_png(pdf_path: Path, out_prefix: Path, *, resolution: int = 40) -> list[Path]:
    """Render every page with poppler's pdftoppm; return the PNGs."""
    exe = shutil.which("pdftoppm")
    if exe is None:
        pytest.fail("pdftoppm (poppler-utils) is missing; .ci/run installs it")
    subprocess.run(
        [exe, "-r", str(resolution), "-png", str(pdf_path), str(out_prefix)],
        check=True,
        capture_output=True,
    )
    return sorted(out_prefix.parent.glob(out_prefix.name + "*.png"))
