"""Verdicts under the cited threshold sets, built around their published limits."""

import pytest

from spinestab.errors import InputError
from spinestab.instability import assess, available_sets, load_threshold_set
from spinestab.instability.phantom import build_spine, transform

LEVELS = ("L3", "L4", "L5", "S1")


def exact(name=None):
    """The bundled set without the measurement-margin rule (tests of the limits alone)."""
    return load_threshold_set(name, margin=False)


def _pair(translation_mm, rom_deg, *, seg=1, depth=40.0, base_angle=2.0):
    """Flexion/extension pair whose segment ``seg`` moves by the given translation and ROM."""
    slips_f = [0.0, 0.0, 0.0]
    slips_e = [0.0, 0.0, 0.0]
    ang_f = [base_angle, base_angle, base_angle]
    ang_e = [base_angle + 6, base_angle + 6, base_angle + 6]
    slips_f[seg] = 2.0 + translation_mm
    slips_e[seg] = 2.0
    ang_e[seg] = ang_f[seg] + rom_deg
    kw = dict(levels=LEVELS, depth_mm=depth)
    return (
        build_spine(slip_mm=slips_f, angle_deg=ang_f, view="flexion", **kw),
        build_spine(slip_mm=slips_e, angle_deg=ang_e, view="extension", **kw),
    )


def test_bundled_sets_cite_sources():
    lumbar = {"white-panjabi", "white-panjabi-resting", "nordsten", "slip"}
    cervical = {"white-panjabi-cervical", "white-panjabi-cervical-resting"}
    assert set(available_sets()) == lumbar | cervical
    assert set(available_sets("lumbar")) == lumbar
    assert set(available_sets("cervical")) == cervical
    for name in available_sets():
        tset = load_threshold_set(name, region="cervical" if name in cervical else "lumbar")
        assert tset.source and tset.evidence in "VRD"
        for rule in tset.rules:
            assert rule.source and rule.evidence in ("V", "R", "D")
    assert load_threshold_set(None).name == "white-panjabi"
    assert load_threshold_set("NORDSTEN-DS").name == "nordsten"


@pytest.mark.parametrize(
    ("name", "translation", "rom", "verdict"),
    [
        # NORDSTEN-DS: slip change >= 3 mm or >= 10 deg [V, PMC10359551]
        ("nordsten", 2.9, 8.0, "stable"),
        ("nordsten", 3.0, 8.0, "unstable"),
        ("nordsten", 1.0, 10.0, "unstable"),
        ("nordsten", 1.0, 9.9, "stable"),
        # SLIP: motion > 3 mm [V, Cochrane CD012421]
        ("slip", 3.0, 8.0, "stable"),
        ("slip", 3.1, 8.0, "unstable"),
        # White & Panjabi [R]: > 4.5 mm / > 15 %; L4-L5 rotation > 20 deg; borderline band [D]
        ("white-panjabi", 4.6, 8.0, "unstable"),
        ("white-panjabi", 4.0, 8.0, "borderline"),
        ("white-panjabi", 2.0, 8.0, "stable"),
        ("white-panjabi", 1.0, 20.5, "unstable"),
        ("white-panjabi", 1.0, 19.0, "borderline"),
    ],
)
def test_verdicts_at_the_published_limits(name, translation, rom, verdict):
    # depth 40 mm: 4.6 mm = 11.5 %, so only the mm rule can make it unstable; the
    # measurement-margin rule is off here so that the published limits are tested alone
    flex, ext = _pair(translation, rom)
    tset = load_threshold_set(name, margin=False)
    rec = assess(flexion=flex, extension=ext, thresholds=tset).record("L4-L5")
    assert rec["translation_mm"] == pytest.approx(translation, abs=0.01)
    assert rec["angulation_deg"] == pytest.approx(rom, abs=0.01)
    assert rec["verdict"] == verdict == rec["dynamic_verdict"]
    if verdict != "stable":
        assert rec["reasons"] and all(verdict in r for r in rec["reasons"])
    assert rec["static_verdict"] is None


def test_level_specific_rotation_limit():
    # 17 deg is above the L3-L4 limit (15) but below the L4-L5 limit (20) [R]
    flex, ext = _pair(0.5, 17.0, seg=0)
    rec = assess(flexion=flex, extension=ext, thresholds=exact()).record("L3-L4")
    assert rec["verdict"] == "unstable"
    flex, ext = _pair(0.5, 17.0, seg=1)
    rec = assess(flexion=flex, extension=ext, thresholds=exact()).record("L4-L5")
    assert rec["verdict"] == "borderline"
    flex, ext = _pair(0.5, 22.0, seg=2)
    rec = assess(flexion=flex, extension=ext, thresholds=exact()).record("L5-S1")
    assert rec["verdict"] == "borderline"


def test_unknown_magnification_uses_the_pct_twin():
    # 5 mm on a 40 mm endplate = 12.5 %: unstable by mm (> 4.5) but only borderline by %
    flex, ext = _pair(5.0, 8.0)
    known = assess(flexion=flex, extension=ext, thresholds=exact()).record("L4-L5")
    assert known["verdict"] == "unstable"

    def film(ls):
        return transform(ls, units="px", pixel_spacing_mm=(1.0, 1.0), magnification_known=False)

    report = assess(flexion=film(flex), extension=film(ext), thresholds=exact())
    rec = report.record("L4-L5")
    assert rec["translation_mm"] == pytest.approx(5.0) and rec["translation_pct"] == 12.5
    assert rec["verdict"] == "borderline"
    skipped = [c for c in rec["criteria"] if c["id"] == "wp-translation-mm"]
    assert skipped[0]["met"] is None and "magnification unknown" in skipped[0]["skipped"]
    out = report.to_dict()
    assert out["magnification_known"] is False and out["preferred_measures"] == "pct"
    # NORDSTEN has no % twin: the mm criterion is applied, with the caveat in the reason
    report = assess(flexion=film(flex), extension=film(ext), thresholds=exact("nordsten"))
    rec = report.record("L4-L5")
    assert rec["verdict"] == "unstable"
    assert "not corrected for radiographic magnification" in rec["reasons"][0]


def test_low_rom_makes_stable_not_assessable():
    flex, ext = _pair(0.5, 3.0)
    report = assess(flexion=flex, extension=ext, thresholds=exact("nordsten"))
    rec = report.record("L4-L5")
    assert rec["verdict"] == "not_assessable"
    assert any(q["check"] == "low_motion" for q in rec["quality"])
    # an unstable finding stays unstable even with little motion
    flex, ext = _pair(3.5, 3.0)
    assert (
        assess(flexion=flex, extension=ext, thresholds=exact("nordsten")).record("L4-L5")["verdict"]
        == "unstable"
    )


def test_resting_film_criteria_white_panjabi():
    # resting slip > 4.5 mm [R]; 5 mm of 40 = 12.5 % (pct rule not met); magnification known
    neutral = build_spine(levels=LEVELS, slip_mm=[0, 5.0, 0], angle_deg=[6, 8, 10])
    rec = assess(neutral=neutral, thresholds=exact("white-panjabi-resting")).record("L4-L5")
    assert rec["static_verdict"] == "unstable" and rec["dynamic_verdict"] is None
    assert rec["meyerding_grade"] == 1 and rec["listhesis"] == "anterolisthesis"
    # relative angulation > 22 deg between adjacent segments [R]
    neutral = build_spine(levels=LEVELS, slip_mm=[0, 0, 0], angle_deg=[-6, 17, 5])
    rec = assess(neutral=neutral, thresholds=exact("white-panjabi-resting")).record("L4-L5")
    assert rec["relative_angulation_deg"] == pytest.approx(23.0)
    assert rec["verdict"] == "unstable"
    # the default set and NORDSTEN judge flexion-extension only: measures but no verdict, so
    # that a resting-film finding is never read as dynamic instability (CLINICAL_LOGIC.md §8)
    for name in ("white-panjabi", "nordsten"):
        rec = assess(neutral=neutral, thresholds=name).record("L4-L5")
        assert rec["verdict"] == "not_assessable" and rec["static_verdict"] is None
        assert rec["meyerding_grade"] == 0 and rec["segmental_angle_deg"] == pytest.approx(17.0)


def test_listhesis_floor():
    # below 3 mm (magnification known) no listhesis is called: grade 0 [D]
    neutral = build_spine(levels=LEVELS, slip_mm=[0, 2.9, 3.0])
    report = assess(neutral=neutral)
    assert report.record("L4-L5")["meyerding_grade"] == 0
    assert report.record("L4-L5")["listhesis"] == "none"
    assert report.record("L5-S1")["meyerding_grade"] == 1


def test_custom_threshold_file(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text(
        "sets:\n  clinic:\n    title: Clinic rule\n    source: local protocol 2025\n"
        "    evidence: D\n    rules:\n"
        "      - {id: c1, measure: translation_pct, op: '>=', value: 10, verdict: unstable,"
        " evidence: D, source: local protocol}\n"
    )
    tset = load_threshold_set(str(path))
    assert tset.name == "clinic"
    flex, ext = _pair(4.0, 8.0)  # 10 %
    assert assess(flexion=flex, extension=ext, thresholds=tset).record("L4-L5")["verdict"] == (
        "unstable"
    )


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ("sets: {}\n", "no sets"),
        ("sets:\n  a: {title: t, source: s, evidence: D, rules: []}\n", "no rules"),
        (
            "sets:\n  a: {title: t, evidence: D, rules: [{id: x, measure: slip_pct, op: '>',"
            " value: 1, verdict: unstable, evidence: D, source: s}]}\n",
            "source missing",
        ),
        (
            "sets:\n  a: {title: t, source: s, evidence: D, rules: [{id: x, measure: slip_pct,"
            " op: '>', value: 1, verdict: unstable, source: s}]}\n",
            "evidence tag",
        ),
        (
            "sets:\n  a: {title: t, source: s, evidence: D, rules: [{id: x, measure: wobble,"
            " op: '>', value: 1, verdict: unstable, evidence: D, source: s}]}\n",
            "unknown measure",
        ),
        (
            "sets:\n  a: {title: t, source: s, evidence: D, rules: [{id: x, measure: slip_pct,"
            " op: '<', value: 1, verdict: unstable, evidence: D, source: s}]}\n",
            "comparison",
        ),
        (
            "sets:\n  a: {title: t, source: s, evidence: D, rules: [{id: x, measure: slip_pct,"
            " op: '>', value: -1, verdict: unstable, evidence: D, source: s}]}\n",
            "negative",
        ),
        (
            "sets:\n  a: {title: t, source: s, evidence: D, rules: [{id: x, measure: slip_pct,"
            " op: '>', value: 1, verdict: odd, evidence: D, source: s}]}\n",
            "unknown verdict",
        ),
        ("sets: [1\n", "cannot parse"),
    ],
)
def test_bad_threshold_files(tmp_path, body, words):
    path = tmp_path / "t.yaml"
    path.write_text(body)
    with pytest.raises(InputError) as info:
        load_threshold_set(path=path)
    assert words in str(info.value)


def test_unknown_set_lists_the_known_ones():
    with pytest.raises(InputError) as info:
        load_threshold_set("frymoyer")
    assert "white-panjabi" in str(info.value) and "nordsten" in str(info.value)


def test_dynamic_needs_both_views():
    flex, _ = _pair(1.0, 8.0)
    with pytest.raises(InputError, match="both flexion and extension"):
        assess(flexion=flex)
    with pytest.raises(InputError, match="no landmarks"):
        assess()
    with pytest.raises(InputError, match="was given as neutral"):
        assess(neutral=flex)


# --- measurement margin (CLINICAL_LOGIC.md §4.3: values within the 1-3 mm / 2-5 deg
# inter-observer error of a threshold are borderline; bundled defaults 1 mm / 2 deg [D]) ---


def test_bundled_margin_is_cited_and_the_lower_end_of_the_stated_error():
    tset = load_threshold_set("nordsten")
    assert tset.margin is not None
    assert (tset.margin.mm, tset.margin.deg) == (1.0, 2.0)  # §4.3: about 1-3 mm, 2-5 deg
    assert tset.margin.evidence == "D" and "§4.3" in tset.margin.source
    assert tset.margin.pct == "from_mm"  # §4.3 gives no % margin: a conversion, tagged [D]
    assert tset.to_dict()["measurement_margin"]["sides"] == "both"
    assert exact("nordsten").margin is None


@pytest.mark.parametrize(
    ("name", "translation", "rom", "verdict"),
    [
        # NORDSTEN >= 3 mm / >= 10 deg with a 1 mm / 2 deg margin on both sides
        ("nordsten", 1.9, 6.0, "stable"),
        ("nordsten", 2.0, 6.0, "borderline"),  # 1.0 mm below the limit: on the margin
        ("nordsten", 2.9, 6.0, "borderline"),
        ("nordsten", 3.9, 6.0, "borderline"),  # met, but within the margin above
        ("nordsten", 4.1, 6.0, "unstable"),
        ("nordsten", 0.5, 7.9, "stable"),
        ("nordsten", 0.5, 8.0, "borderline"),
        ("nordsten", 0.5, 11.9, "borderline"),
        ("nordsten", 0.5, 12.1, "unstable"),
        # SLIP > 3 mm
        ("slip", 1.9, 6.0, "stable"),
        ("slip", 3.5, 6.0, "borderline"),
        ("slip", 4.1, 6.0, "unstable"),
        # White & Panjabi > 4.5 mm (and > 15 % = 6 mm of 40 mm, margin 2.5 % = 1 mm there)
        ("white-panjabi", 5.4, 6.0, "borderline"),
        ("white-panjabi", 5.6, 6.0, "unstable"),
        ("white-panjabi", 1.0, 21.9, "borderline"),  # L4-L5 rotation limit 20 deg
        ("white-panjabi", 1.0, 22.1, "unstable"),
    ],
)
def test_values_within_the_margin_are_borderline(name, translation, rom, verdict):
    flex, ext = _pair(translation, rom)
    rec = assess(flexion=flex, extension=ext, thresholds=name).record("L4-L5")
    assert rec["verdict"] == verdict
    near = [c for c in rec["criteria"] if c.get("outcome") == "borderline" and not c["met"]]
    if verdict == "borderline" and name != "white-panjabi":
        # the reason names the value, the limit, the margin and both sources
        text = " ".join(rec["reasons"])
        assert "measurement margin" in text and "§4.3" in text
        assert all(r.startswith("borderline:") for r in rec["reasons"])
        assert any(c["margin"] in (1.0, 2.0) for c in rec["criteria"])
    if verdict == "stable":
        assert not near


def test_margin_below_only_keeps_met_rules_unstable(tmp_path):
    path = tmp_path / "below.yaml"
    path.write_text(
        "measurement_margin: {mm: 1.0, deg: 2.0, pct: null, sides: below, evidence: D,"
        " source: local review}\n"
        "sets:\n  n:\n    title: t\n    source: s\n    evidence: D\n    rules:\n"
        "      - {id: t, measure: translation_mm, op: '>=', value: 3, verdict: unstable,"
        " evidence: D, source: s}\n"
    )
    tset = load_threshold_set(path=path)
    for translation, verdict in ((1.9, "stable"), (2.5, "borderline"), (3.2, "unstable")):
        flex, ext = _pair(translation, 6.0)
        assert (
            assess(flexion=flex, extension=ext, thresholds=tset).record("L4-L5")["verdict"]
            == verdict
        ), translation


def test_pct_margin_is_converted_with_the_endplate_depth(tmp_path):
    # only a % rule (> 15 %): margin 1 mm of a 40 mm endplate = 2.5 %
    path = tmp_path / "pct.yaml"
    path.write_text(
        "measurement_margin: {mm: 1.0, deg: 2.0, pct: from_mm, evidence: D, source: s}\n"
        "sets:\n  p:\n    title: t\n    source: s\n    evidence: D\n    rules:\n"
        "      - {id: p, measure: translation_pct, op: '>', value: 15, verdict: unstable,"
        " evidence: D, source: s}\n"
    )
    tset = load_threshold_set(path=path)

    def film(ls, spacing=(1.0, 1.0)):
        return transform(ls, units="px", pixel_spacing_mm=spacing, magnification_known=False)

    for translation, verdict in ((4.8, "stable"), (5.0, "borderline"), (7.0, "borderline")):
        flex, ext = _pair(translation, 6.0)  # 12.0, 12.5, 17.5 %
        rec = assess(flexion=film(flex), extension=film(ext), thresholds=tset).record("L4-L5")
        assert rec["verdict"] == verdict, translation
        assert rec["criteria"][0]["margin"] == pytest.approx(2.5)
    # pixels without a spacing: no mm, so no % margin, and the criterion says why
    flex, ext = _pair(5.0, 6.0)
    rec = assess(
        flexion=transform(flex, units="px", magnification_known=False),
        extension=transform(ext, units="px", magnification_known=False),
        thresholds=tset,
    ).record("L4-L5")
    assert rec["verdict"] == "stable"
    assert "no mm scale" in rec["criteria"][0]["margin_note"]


def test_margin_off_in_a_file_and_bad_margin_blocks(tmp_path):
    body = (
        "sets:\n  n:\n    title: t\n    source: s\n    evidence: D\n    rules:\n"
        "      - {id: t, measure: translation_mm, op: '>=', value: 3, verdict: unstable,"
        " evidence: D, source: s}\n"
    )
    off = tmp_path / "off.yaml"
    off.write_text("measurement_margin: off\n" + body)
    assert load_threshold_set(path=off).margin is None
    for block, words in (
        ("measurement_margin: {mm: 1, sides: above, evidence: D, source: s}\n", "sides"),
        ("measurement_margin: {mm: 1, evidence: D}\n", "source missing"),
        ("measurement_margin: {mm: -1, evidence: D, source: s}\n", "negative"),
        ("measurement_margin: {mm: 1, pct: twice, evidence: D, source: s}\n", "% margin"),
        ("measurement_margin: {mm: 1, source: s}\n", "evidence tag"),
    ):
        bad = tmp_path / "bad.yaml"
        bad.write_text(block + body)
        with pytest.raises(InputError) as info:
            load_threshold_set(path=bad)
        assert words in str(info.value) and "measurement_margin" in str(info.value)


@pytest.mark.parametrize("name", ["white-panjabi", "white-panjabi-resting", "nordsten", "slip"])
def test_verdicts_are_only_the_four_documented_values(name):
    seen = set()
    for translation in (0.0, 1.5, 2.5, 3.0, 4.0, 5.0, 8.0):
        for rom in (2.0, 9.0, 14.0, 26.0):
            flex, ext = _pair(translation, rom)
            neutral = build_spine(levels=LEVELS, slip_mm=[0, translation, 0], angle_deg=[6, 8, 10])
            report = assess(neutral=neutral, flexion=flex, extension=ext, thresholds=name)
            for rec in report.levels:
                assert rec["verdict"] in ("stable", "borderline", "unstable", "not_assessable")
                assert rec["reasons"], rec
                seen.add(rec["verdict"])
    assert {"borderline", "unstable"} <= seen
