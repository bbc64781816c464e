"""Stick-figure pictures of every exercise and stage, as plain SVG.

The figures are language-neutral (no text inside): captions come from the translation
catalogues. Run ``python -m spinestab.care.exercises._figures`` to regenerate
``figures/*.svg``; a test checks that the files match this code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["POSES", "render_svg", "write_all"]

Point = tuple[float, float]
FLOOR = 122.0
WIDTH, HEIGHT = 240, 140


@dataclass(frozen=True)
class Pose:
    """A stick figure: head, neck, hip, two arms and two legs (far limb first)."""

    head: Point
    neck: Point
    hip: Point
    arms: tuple[tuple[Point, Point], tuple[Point, Point]]
    legs: tuple[tuple[Point, Point], tuple[Point, Point]]
    extras: tuple[tuple, ...] = field(default_factory=tuple)


def _line(a: Point, b: Point, cls: str) -> str:
    return f'<line class="{cls}" x1="{a[0]:g}" y1="{a[1]:g}" x2="{b[0]:g}" y2="{b[1]:g}"/>'


def _poly(points: list[Point], cls: str) -> str:
    pts = " ".join(f"{x:g},{y:g}" for x, y in points)
    return f'<polyline class="{cls}" points="{pts}"/>'


def _extra_wall(item: tuple) -> str:
    x = item[1]
    return f'<rect class="prop" x="{x:g}" y="10" width="8" height="{FLOOR - 10:g}"/>'


def _extra_table(item: tuple) -> str:
    x0, x1, y = item[1], item[2], item[3]
    return (
        f'<line class="propl" x1="{x0:g}" y1="{y:g}" x2="{x1:g}" y2="{y:g}"/>'
        f'<line class="propl" x1="{x0 + 4:g}" y1="{y:g}" x2="{x0 + 4:g}" '
        f'y2="{FLOOR:g}"/><line class="propl" x1="{x1 - 4:g}" y1="{y:g}" '
        f'x2="{x1 - 4:g}" y2="{FLOOR:g}"/>'
    )


def _extra_chair(item: tuple) -> str:
    x = item[1]
    return (
        f'<polyline class="propl" points="{x:g},{FLOOR:g} {x:g},92 {x + 30:g},92 '
        f'{x + 30:g},{FLOOR:g}"/><line class="propl" x1="{x:g}" y1="92" x2="{x:g}" '
        f'y2="62"/>'
    )


def _extra_arrow(item: tuple) -> str:
    (x1, y1), (x2, y2) = item[1], item[2]
    return (
        f'<line class="arrow" x1="{x1:g}" y1="{y1:g}" x2="{x2:g}" y2="{y2:g}" '
        'marker-end="url(#head)"/>'
    )


def _extra_slow(item: tuple) -> str:
    # a down arrow with three ticks: slow (3-4 s) lowering
    x, y = item[1]
    ticks = "".join(
        f'<line class="tick" x1="{x - 4:g}" y1="{y + 6 + 7 * i:g}" '
        f'x2="{x + 4:g}" y2="{y + 6 + 7 * i:g}"/>'
        for i in range(3)
    )
    return (
        f'<line class="arrow" x1="{x:g}" y1="{y:g}" x2="{x:g}" y2="{y + 30:g}" '
        f'marker-end="url(#head)"/>' + ticks
    )


def _extra_brace(item: tuple) -> str:
    x, y = item[1]
    return f'<circle class="brace" cx="{x:g}" cy="{y:g}" r="7"/>'


def _extra_breath(item: tuple) -> str:
    x, y = item[1]
    return "".join(
        f'<path class="breath" d="M{x:g},{y + 6 * i:g} q4,-3 8,0 t8,0"/>' for i in range(3)
    )


def _extra_square(item: tuple) -> str:
    x, y = item[1]
    return f'<rect class="sweep" x="{x - 7:g}" y="{y - 7:g}" width="14" height="14"/>'


def _extra_curve(item: tuple) -> str:
    (x1, y1), (x2, y2), bend = item[1], item[2], item[3]
    cx, cy = (x1 + x2) / 2, min(y1, y2) - bend
    return (
        f'<path class="arrow" d="M{x1:g},{y1:g} Q{cx:g},{cy:g} {x2:g},{y2:g}" '
        'marker-end="url(#head)"/>'
    )


def _extra_slope(item: tuple) -> str:
    return (
        f'<polygon class="prop" points="0,{FLOOR:g} {WIDTH:g},{FLOOR:g} {WIDTH:g},{FLOOR - 26:g}"/>'
    )


def _extra_motion(item: tuple) -> str:
    x, y = item[1]
    return "".join(_line((x - 14, y + 8 * i), (x - 2, y + 8 * i), "tick") for i in range(3))


def _extra_spot(item: tuple) -> str:
    x, y = item[1]
    return f'<circle class="spot" cx="{x:g}" cy="{y:g}" r="5"/>'


#: How each kind of extra (props, arrows, cues) is drawn.
_EXTRAS = {
    "wall": _extra_wall,
    "table": _extra_table,
    "chair": _extra_chair,
    "arrow": _extra_arrow,
    "slow": _extra_slow,
    "brace": _extra_brace,
    "breath": _extra_breath,
    "square": _extra_square,
    "curve": _extra_curve,
    "slope": _extra_slope,
    "motion": _extra_motion,
    "spot": _extra_spot,
}


def _extra(item: tuple) -> str:
    try:
        draw = _EXTRAS[item[0]]
    except KeyError:
        raise ValueError(f"unknown extra {item[0]}") from None
    return draw(item)


def render_svg(pose: Pose, *, title: str) -> str:
    """Render one pose as a standalone SVG document (240 x 140 user units)."""
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" role="img">',
        f"<title>{title}</title>",
        '<defs><marker id="head" viewBox="0 0 10 10" refX="8" refY="5" '
        'markerWidth="6" markerHeight="6" orient="auto-start-reverse">'
        '<path d="M0,0 L10,5 L0,10 z" fill="#c0392b"/></marker>'
        "<style>.far{stroke:#7f8c8d;stroke-width:6;stroke-linecap:round;fill:none}"
        ".near{stroke:#1f3a5f;stroke-width:7;stroke-linecap:round;stroke-linejoin:round;"
        "fill:none}.headc{fill:#1f3a5f}.floor{stroke:#95a5a6;stroke-width:2}"
        ".prop{fill:#d5dbdb}.propl{stroke:#95a5a6;stroke-width:4;fill:none}"
        ".arrow{stroke:#c0392b;stroke-width:3;fill:none}.tick{stroke:#c0392b;stroke-width:2}"
        ".brace{fill:none;stroke:#e67e22;stroke-width:3;stroke-dasharray:3 2}"
        ".breath{stroke:#2980b9;stroke-width:2;fill:none}"
        ".sweep{fill:none;stroke:#c0392b;stroke-width:2;stroke-dasharray:3 2}"
        ".spot{fill:#e67e22}</style></defs>",
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/>',
    ]
    back = [e for e in pose.extras if e[0] in ("wall", "table", "chair", "slope")]
    front = [e for e in pose.extras if e not in back]
    parts += [_extra(e) for e in back]
    parts.append(_line((0, FLOOR), (WIDTH, FLOOR), "floor"))
    (fe, fh), (ne, nh) = pose.arms
    (fk, ff), (nk, nf) = pose.legs
    parts.append(_poly([pose.neck, fe, fh], "far"))
    parts.append(_poly([pose.hip, fk, ff], "far"))
    parts.append(_line(pose.neck, pose.hip, "near"))
    parts.append(_poly([pose.hip, nk, nf], "near"))
    parts.append(_poly([pose.neck, ne, nh], "near"))
    parts.append(f'<circle class="headc" cx="{pose.head[0]:g}" cy="{pose.head[1]:g}" r="9"/>')
    parts += [_extra(e) for e in front]
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


# ------------------------------------------------------------------------------ poses
F = FLOOR


def _supine(*, head_lift: float = 0, arms=None, legs=None, hip=(100, F - 8), extras=()):
    head = (28, F - 10 - head_lift)
    neck = (42, F - 8 - head_lift * 0.6)
    arms = arms or (((60, F - 4), (78, F - 6)), ((62, F - 3), (82, F - 5)))
    legs = legs or (((130, F - 30), (150, F - 2)), ((136, F - 6), (176, F - 4)))
    return Pose(head, neck, hip, arms, legs, tuple(extras))


def _quadruped(*, arm_up=False, leg_up=False, extras=()):
    neck, hip = (62, F - 44), (132, F - 44)
    far_arm = ((62, F - 22), (62, F - 2))
    near_arm = ((38, F - 48), (14, F - 50)) if arm_up else ((64, F - 22), (64, F - 2))
    far_leg = ((132, F - 2), (168, F - 2))
    near_leg = ((166, F - 46), (200, F - 48)) if leg_up else ((134, F - 2), (170, F - 2))
    return Pose((46, F - 36), neck, hip, (far_arm, near_arm), (far_leg, near_leg), tuple(extras))


def _bridge(*, lift: float, march=False, single=False, extras=()):
    hip = (112, F - 8 - lift)
    neck = (46, F - 7)
    knee_far = (146, F - 34 - lift * 0.3)
    foot_far = (160, F - 2)
    if single:
        near = ((150, hip[1] - 10), (188, hip[1] - 20))
    elif march:
        near = ((128, hip[1] - 38), (156, hip[1] - 30))
    else:
        near = ((148, F - 32 - lift * 0.3), (162, F - 2))
    return Pose(
        (30, F - 9),
        neck,
        hip,
        (((64, F - 3), (84, F - 3)), ((66, F - 2), (88, F - 2))),
        ((knee_far, foot_far), near),
        tuple(extras),
    )


def _standing(*, x=120, lean=0.0, arms=None, legs=None, extras=()):
    neck = (x + lean, 44)
    hip = (x, 78)
    arms = arms or (((x + lean - 4, 62), (x - 2, 78)), ((x + lean + 4, 62), (x + 4, 80)))
    legs = legs or (((x - 6, 100), (x - 8, F - 1)), ((x + 6, 100), (x + 8, F - 1)))
    return Pose((x + lean * 1.3, 30), neck, hip, arms, legs, tuple(extras))


def _walk(x: float, stride: float, extras=()):
    return _standing(
        x=x,
        lean=3,
        arms=(((x - 2, 62), (x - stride * 0.5, 76)), ((x + 6, 62), (x + stride * 0.5, 74))),
        legs=(
            ((x - stride * 0.35, 100), (x - stride * 0.7, F - 1)),
            ((x + stride * 0.35, 100), (x + stride * 0.7, F - 1)),
        ),
        extras=extras,
    )


POSES: dict[str, Pose] = {
    # McGill curl-up
    "curl_up_stage0": _supine(extras=(("brace", (72, F - 16)),)),
    "curl_up_stage1": _supine(
        head_lift=8, extras=(("brace", (72, F - 16)), ("arrow", (26, F - 34), (26, F - 48)))
    ),
    "curl_up_stage2": _supine(
        head_lift=8,
        arms=(((56, F - 24), (74, F - 8)), ((58, F - 26), (78, F - 9))),
        extras=(("arrow", (56, F - 30), (56, F - 44)),),
    ),
    "curl_up_stage3": _supine(
        head_lift=8,
        arms=(((56, F - 24), (74, F - 8)), ((58, F - 26), (78, F - 9))),
        extras=(("breath", (8, F - 40)),),
    ),
    # side bridge
    "side_bridge_stage0": Pose(
        (150, 38),
        (140, 50),
        (112, 100),
        (((158, 58), (170, 50)), ((160, 60), (172, 52))),
        (((108, 112), (100, F - 1)), ((110, 112), (104, F - 1))),
        (("wall", 176),),
    ),
    "side_bridge_stage1": Pose(
        (40, F - 42),
        (52, F - 32),
        (112, F - 16),
        (((50, F - 2), (70, F - 2)), ((54, F - 2), (74, F - 2))),
        (((146, F - 2), (120, F - 2)), ((150, F - 4), (126, F - 6))),
        (("arrow", (112, F - 2), (112, F - 30)),),
    ),
    "side_bridge_stage2": Pose(
        (40, F - 46),
        (52, F - 36),
        (120, F - 22),
        (((50, F - 2), (70, F - 2)), ((54, F - 2), (74, F - 2))),
        (((160, F - 10), (196, F - 2)), ((162, F - 12), (200, F - 4))),
        (),
    ),
    "side_bridge_stage3": Pose(
        (40, F - 46),
        (52, F - 36),
        (120, F - 22),
        (((50, F - 2), (70, F - 2)), ((54, F - 2), (74, F - 2))),
        (((160, F - 10), (196, F - 2)), ((162, F - 12), (200, F - 4))),
        (("curve", (100, F - 60), (150, F - 60), 30),),
    ),
    # bird-dog
    "bird_dog_stage0": _quadruped(arm_up=True),
    "bird_dog_stage1": _quadruped(arm_up=True, leg_up=True),
    "bird_dog_stage2": _quadruped(
        arm_up=True, leg_up=True, extras=(("square", (10, F - 50)), ("square", (206, F - 48)))
    ),
    "bird_dog_stage3": _quadruped(arm_up=True, leg_up=True, extras=(("slow", (212, F - 76)),)),
    # glute bridge
    "glute_bridge_stage0": _bridge(lift=8),
    "glute_bridge_stage1": _bridge(lift=24, extras=(("arrow", (112, F - 2), (112, F - 26)),)),
    "glute_bridge_stage2": _bridge(lift=24, march=True),
    "glute_bridge_stage3": _bridge(lift=24, single=True, extras=(("slow", (96, F - 70)),)),
    # dead bug
    "dead_bug_stage0": _supine(
        arms=(((44, F - 40), (46, F - 62)), ((46, F - 40), (48, F - 62))),
        legs=(((100, F - 36), (130, F - 36)), ((130, F - 6), (166, F - 4))),
        extras=(("arrow", (140, F - 14), (172, F - 14)),),
    ),
    "dead_bug_stage1": _supine(
        arms=(((44, F - 40), (46, F - 62)), ((26, F - 24), (8, F - 20))),
        legs=(((100, F - 36), (130, F - 36)), ((134, F - 20), (166, F - 16))),
    ),
    "dead_bug_stage2": _supine(
        arms=(((44, F - 40), (46, F - 62)), ((26, F - 24), (8, F - 20))),
        legs=(((100, F - 36), (130, F - 36)), ((136, F - 14), (176, F - 10))),
    ),
    "dead_bug_stage3": _supine(
        arms=(((44, F - 40), (46, F - 62)), ((26, F - 24), (8, F - 20))),
        legs=(((100, F - 36), (130, F - 36)), ((136, F - 14), (176, F - 10))),
        extras=(("breath", (150, F - 60)), ("slow", (190, F - 50))),
    ),
    # front plank
    "front_plank_stage0": Pose(
        (44, 44),
        (58, 54),
        (130, 86),
        (((52, 70), (46, 86)), ((54, 72), (48, 88))),
        (((170, 104), (196, F - 1)), ((172, 106), (200, F - 1))),
        (("table", 20, 80, 88),),
    ),
    "front_plank_stage1": Pose(
        (36, F - 42),
        (50, F - 34),
        (120, F - 28),
        (((50, F - 2), (72, F - 2)), ((54, F - 2), (76, F - 2))),
        (((150, F - 2), (184, F - 4)), ((154, F - 2), (188, F - 6))),
        (),
    ),
    "front_plank_stage2": Pose(
        (36, F - 42),
        (50, F - 34),
        (124, F - 26),
        (((50, F - 2), (72, F - 2)), ((54, F - 2), (76, F - 2))),
        (((164, F - 14), (200, F - 2)), ((166, F - 14), (204, F - 2))),
        (),
    ),
    "front_plank_stage3": Pose(
        (36, F - 42),
        (50, F - 34),
        (124, F - 26),
        (((50, F - 2), (72, F - 2)), ((54, F - 2), (76, F - 2))),
        (((164, F - 14), (200, F - 2)), ((166, F - 28), (206, F - 34))),
        (("arrow", (214, F - 20), (214, F - 44)),),
    ),
    # specific multifidus activation (Hides approach)
    "multifidus_activation_stage0": Pose(
        (36, F - 16),
        (50, F - 14),
        (118, F - 14),
        (((70, F - 4), (92, F - 3)), ((96, F - 30), (116, F - 22))),
        (((150, F - 24), (176, F - 8)), ((152, F - 20), (180, F - 6))),
        (("spot", (112, F - 20)),),
    ),
    "multifidus_activation_stage1": _standing(
        x=112,
        arms=(((108, 62), (104, 80)), ((126, 60), (118, 76))),
        legs=(((140, 82), (140, F - 1)), ((142, 84), (144, F - 1))),
        extras=(("chair", 100), ("spot", (114, 76))),
    ),
    "multifidus_activation_stage2": _quadruped(arm_up=True, extras=(("spot", (126, F - 50)),)),
    "multifidus_activation_stage3": _standing(
        x=118,
        arms=(((114, 62), (110, 80)), ((132, 60), (124, 76))),
        extras=(("chair", 84), ("spot", (120, 76)), ("arrow", (150, 90), (150, 60))),
    ),
    # slow lowering (eccentric)
    "slow_lowering_stage0": Pose(
        (120, 40),
        (120, 54),
        (110, 88),
        (((136, 66), (150, 70)), ((138, 68), (154, 72))),
        (((136, 98), (128, F - 1)), ((140, 100), (132, F - 1))),
        (("chair", 70), ("slow", (180, 60))),
    ),
    "slow_lowering_stage1": Pose(
        (156, 48),
        (144, 56),
        (104, 74),
        (((148, 80), (150, 100)), ((150, 82), (154, 102))),
        (((106, 98), (110, F - 1)), ((108, 98), (114, F - 1))),
        (("slow", (190, 50)),),
    ),
    "slow_lowering_stage2": Pose(
        (120, 40),
        (120, 54),
        (118, 90),
        (((114, 70), (112, 88)), ((126, 70), (124, 88))),
        (((94, 104), (80, F - 1)), ((144, 96), (146, F - 1))),
        (("slow", (180, 50)),),
    ),
    "slow_lowering_stage3": Pose(
        (160, 54),
        (146, 60),
        (104, 70),
        (((146, 86), (148, 104)), ((150, 86), (152, 106))),
        (((106, 96), (108, F - 1)), ((72, 66), (40, 62))),
        (("slow", (196, 50)),),
    ),
    # walking
    "walking_stage0": _walk(100, 26),
    "walking_stage1": _walk(100, 40),
    "walking_stage2": _walk(110, 56, extras=(("motion", (70, 50)),)),
    "walking_stage3": _walk(110, 52, extras=(("slope",), ("motion", (70, 44)))),
    # movement breaks
    "movement_breaks_stage0": _standing(
        x=130, extras=(("chair", 80), ("arrow", (96, 80), (112, 60)))
    ),
    "movement_breaks_stage1": _walk(
        150, 40, extras=(("chair", 40), ("arrow", (84, 60), (116, 60)))
    ),
    "movement_breaks_stage2": Pose(
        (156, 48),
        (144, 56),
        (104, 74),
        (((140, 76), (134, 92)), ((142, 78), (136, 94))),
        (((106, 98), (110, F - 1)), ((108, 98), (114, F - 1))),
        (("curve", (160, 96), (168, 40), 10),),
    ),
    "movement_breaks_stage3": _standing(
        x=120,
        lean=-10,
        arms=(((102, 58), (114, 78)), ((106, 60), (118, 80))),
        extras=(("curve", (130, 24), (96, 20), 12),),
    ),
}


def write_all(folder: Path) -> list[Path]:
    """Write every pose to ``folder/<name>.svg`` and return the paths."""
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for name, pose in POSES.items():
        path = folder / f"{name}.svg"
        path.write_text(render_svg(pose, title=name), encoding="utf-8")
        out.append(path)
    return out


if __name__ == "__main__":  # pragma: no cover - maintenance script
    write_all(Path(__file__).with_name("figures"))
