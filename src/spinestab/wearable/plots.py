"""Daily timeline pictures: posture ribbon, trunk inclination and prompts."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from spinestab.errors import require
from spinestab.wearable.bouts import day_index
from spinestab.wearable.posture import CLASS_NAMES

if TYPE_CHECKING:
    from spinestab.wearable.pipeline import WearableResult

__all__ = ["CLASS_COLOURS", "daily_timelines"]

CLASS_COLOURS = (
    "#d9d9d9",  # nonwear
    "#6a3d9a",  # lying
    "#e31a1c",  # sitting
    "#ff7f00",  # standing
    "#fdbf6f",  # upright_static
    "#b2df8a",  # moving
    "#33a02c",  # walking
    "#1f78b4",  # running
    "#a6cee3",  # stairs
)


def daily_timelines(result: WearableResult, out_dir: Path) -> list[Path]:
    """Write ``timeline_YYYY-MM-DD.png`` per day; return the paths.

    Each picture has the posture ribbon (one colour per class, one column per minute by
    majority), the trunk forward inclination per minute, and a mark for every prompt.
    """
    mpl = require("matplotlib", extra="wearable", feature="timeline pictures")
    mpl.use("Agg")
    plt = require("matplotlib.pyplot", extra="wearable", feature="timeline pictures")
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    n = result.posture.size
    day = day_index(n, result.start_unix_s)
    days = np.unique(day)
    cmap = ListedColormap(CLASS_COLOURS)
    paths = []
    sec_of_day = (np.int64(round(result.start_unix_s)) + np.arange(n)) % 86400
    prompt_sec = np.round(result.prompts_unix_s - result.start_unix_s).astype(np.int64)
    fig, (ax1, ax2) = plt.subplots(
        2, 1, figsize=(12, 3.6), sharex=True, gridspec_kw={"height_ratios": [1, 2.2]}
    )
    for d in days:
        sel = np.flatnonzero(day == d)
        minute = sec_of_day[sel] // 60
        codes = result.posture[sel]
        counts = np.zeros((1440, len(CLASS_NAMES)))
        np.add.at(counts, (minute, codes), 1)
        ribbon = np.where(counts.sum(axis=1) > 0, counts.argmax(axis=1), 0)
        fws = np.where(
            codes == CLASS_NAMES.index("lying"), np.nan, result.trunk_forward_deg[sel]
        )  # no forward angle while lying
        fw = np.nan_to_num(fws, nan=0.0)
        have = np.isfinite(fws)
        s_fw = np.bincount(minute, weights=fw, minlength=1440)
        c_fw = np.bincount(minute, weights=have.astype(float), minlength=1440)
        with np.errstate(invalid="ignore", divide="ignore"):
            fw_min = np.where(c_fw > 0, s_fw / c_fw, np.nan)
        ax1.cla()
        ax2.cla()
        ax1.imshow(
            ribbon[None, :],
            aspect="auto",
            cmap=cmap,
            vmin=-0.5,
            vmax=len(CLASS_NAMES) - 0.5,
            extent=(0, 24, 0, 1),
            interpolation="nearest",
        )
        ax1.set_yticks([])
        ax1.set_title(
            f"{np.datetime64(int(d), 'D')}: posture, trunk inclination, prompts", fontsize=9
        )
        hours = np.arange(1440) / 60.0
        ax2.plot(hours, fw_min, lw=0.7, color="#333333")
        for thr in (20, 60):
            ax2.axhline(thr, lw=0.5, ls="--", color="#999999")
        ps = prompt_sec[(prompt_sec >= sel[0]) & (prompt_sec <= sel[-1])]
        for p in ps:
            ax2.axvline(sec_of_day[p] / 3600.0, color="#e31a1c", lw=0.8)
        ax2.set_xlim(0, 24)
        ax2.set_ylim(-45, 120)
        ax2.set_ylabel("forward (deg)", fontsize=8)
        ax2.set_xlabel("hour (red lines: prompts)", fontsize=8)
        ax2.set_xticks(range(0, 25, 3))
        ax2.tick_params(labelsize=7)
        used = sorted(set(ribbon.tolist()))
        ax1.legend(
            handles=[Patch(color=CLASS_COLOURS[i], label=CLASS_NAMES[i]) for i in used],
            loc="upper center",
            bbox_to_anchor=(0.5, -0.05),
            ncol=len(used),
            fontsize=7,
            frameon=False,
        )
        path = out_dir / f"timeline_{np.datetime64(int(d), 'D')}.png"
        fig.savefig(path, dpi=80)
        paths.append(path)
    plt.close(fig)
    return paths
