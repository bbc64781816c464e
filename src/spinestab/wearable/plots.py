"""Daily timeline pictures: posture ribbon, trunk inclination and prompts."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from spinestab.errors import require
from spinestab.wearable.bouts import day_index
from spinestab.wearable.posture import CLASS_NAMES

if TYPE_CHECKING:
    from spinestab.wearable.result import WearableResult

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
    majority; per 5 s on days with under 2 h of recording, which are also zoomed in), the
    trunk forward inclination, and a mark for every prompt. Time without data stays white.
    """
    mpl = require("matplotlib", extra="wearable", feature="timeline pictures")
    mpl.use("Agg")
    plt = require("matplotlib.pyplot", extra="wearable", feature="timeline pictures")
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch
    from matplotlib.ticker import FuncFormatter

    clock = FuncFormatter(lambda h, _pos: f"{int(h) % 24:02d}:{round((h % 1) * 60) % 60:02d}")

    n = result.posture.size
    # the local clock of daily.csv (the CLI's --utc-offset-h), so pictures and table agree
    off_s = round(float(result.info.get("utc_offset_h", 0.0)) * 3600.0)  # type: ignore[arg-type]
    day = day_index(n, result.start_unix_s + off_s)
    days = np.unique(day)
    cmap = ListedColormap(CLASS_COLOURS)
    paths = []
    sec_of_day = (np.int64(round(result.start_unix_s)) + off_s + np.arange(n)) % 86400
    prompt_sec = np.round(result.prompts_unix_s - result.start_unix_s).astype(np.int64)
    fig, (ax1, ax2) = plt.subplots(
        2, 1, figsize=(12, 3.6), sharex=True, gridspec_kw={"height_ratios": [1, 2.2]}
    )
    for d in days:
        sel = np.flatnonzero(day == d)
        sod = sec_of_day[sel]
        # bins of a minute; of 5 s when the day holds under 2 h of recording
        span_h = (sod[-1] - sod[0] + 1) / 3600.0
        bin_s = 60 if span_h >= 2 else 5
        nbin = 86400 // bin_s
        b = sod // bin_s
        codes = result.posture[sel]
        counts = np.zeros((nbin, len(CLASS_NAMES)))
        np.add.at(counts, (b, codes), 1)
        have_bin = counts.sum(axis=1) > 0
        ribbon = np.ma.masked_array(counts.argmax(axis=1), mask=~have_bin)  # white: no data
        fws = np.where(
            codes == CLASS_NAMES.index("lying"), np.nan, result.trunk_forward_deg[sel]
        )  # no forward angle while lying
        fw = np.nan_to_num(fws, nan=0.0)
        have = np.isfinite(fws)
        s_fw = np.bincount(b, weights=fw, minlength=nbin)
        c_fw = np.bincount(b, weights=have.astype(float), minlength=nbin)
        with np.errstate(invalid="ignore", divide="ignore"):
            fw_bin = np.where(c_fw > 0, s_fw / c_fw, np.nan)
        hours = np.arange(nbin) * bin_s / 3600.0
        if span_h >= 20:
            x0, x1 = 0.0, 24.0
        else:  # zoom on the recorded part of the day
            x0 = max(0.0, np.floor(sod[0] / 3600.0 * 4) / 4)
            x1 = min(24.0, np.ceil((sod[-1] + 1) / 3600.0 * 4) / 4)
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
        ax2.plot(hours, fw_bin, lw=0.7, color="#333333")
        for thr in (20, 60):
            ax2.axhline(thr, lw=0.5, ls="--", color="#999999")
        ps = prompt_sec[(prompt_sec >= sel[0]) & (prompt_sec <= sel[-1])]
        for p in ps:
            ax2.axvline(sec_of_day[p] / 3600.0, color="#e31a1c", lw=0.8)
        ax2.set_xlim(x0, x1)
        ax2.set_ylim(-45, 120)
        ax2.set_ylabel("forward (deg)", fontsize=8)
        ax2.set_xlabel("hour of day (red lines: prompts; white: no data)", fontsize=8)
        if x1 - x0 >= 6:
            ax2.set_xticks(range(int(x0), int(np.ceil(x1)) + 1, 3 if x1 - x0 > 12 else 1))
        ax2.xaxis.set_major_formatter(clock)
        ax2.tick_params(labelsize=7)
        used = sorted(set(np.asarray(ribbon.compressed()).tolist()))
        ax1.legend(
            handles=[Patch(color=CLASS_COLOURS[i], label=CLASS_NAMES[i]) for i in used],
            loc="upper center",
            bbox_to_anchor=(0.5, -0.05),
            ncol=max(1, len(used)),
            fontsize=7,
            frameon=False,
        )
        path = out_dir / f"timeline_{np.datetime64(int(d), 'D')}.png"
        fig.savefig(path, dpi=80)
        paths.append(path)
    plt.close(fig)
    return paths
