"""Thresholds and options of the wearable pipeline, each with its source and evidence tag.

Evidence tags follow ``shared/clinical/CLINICAL_LOGIC.md``: [V] verified against the source,
[R] recalled from the source (check before release), [D] a design decision of this project.
Every value is a field of :class:`WearableConfig`, so any of them can be changed per call.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = ["PromptConfig", "WearableConfig"]


@dataclass(frozen=True)
class PromptConfig:
    """Options of the "keep moving" prompts.

    Attributes
    ----------
    static_limit_min : float
        A prompt falls due when a static posture (sitting, standing still, upright static)
        has lasted this long. Default 30 min: CLINICAL_LOGIC §5.7 product rule "prompt after
        ~30-45 min of continuous sitting" [D]; there is no LBP-specific evidence for an
        interval (§9 item 10), hence configurable.
    clear_move_s : float
        Movement (walking, running, stairs) that lasts this long clears the static clock.
        Default 60 s, the lower end of the 1-3-min "movement snack" of §5.7 [D].
    snooze_min : float
        After a prompt, the next one may fall due this much later if the person stays
        static. Default 30 min [D].
    quiet_start_h, quiet_end_h : float
        Local clock hours between which no prompt is sent (default 22:00-07:00) [D].
    lying_suppresses : bool
        No prompts while lying (the clock also resets when lying) [D].

    """

    static_limit_min: float = 30.0
    clear_move_s: float = 60.0
    snooze_min: float = 30.0
    quiet_start_h: float = 22.0
    quiet_end_h: float = 7.0
    lying_suppresses: bool = True

    @classmethod
    def from_plan(cls, plan: Mapping[str, object], **overrides: object) -> PromptConfig:
        """Prompt options from a plan's movement-break goal (``plan.json`` of ``spinestab plan``).

        The static limit and the snooze are the goal's ``interval_min`` (care sets it from
        the patient's own static bouts, within CLINICAL_LOGIC §5.7's 30-45 min [D]); the
        movement that clears the clock is the break's ``duration_min`` (the 1-3-min
        "movement snack" of §5.7 [D]). Quiet hours are not in a plan: defaults, or
        ``overrides``.

        Examples
        --------
        >>> plan = {"movement_breaks": {"interval_min": 45},
        ...         "exercises": [{"id": "movement_breaks",
        ...                        "dose": {"duration_min": 2, "interval_min": 45}}]}
        >>> c = PromptConfig.from_plan(plan, quiet_start_h=21.0)
        >>> c.static_limit_min, c.snooze_min, c.clear_move_s, c.quiet_start_h
        (45.0, 45.0, 120.0, 21.0)

        """
        from spinestab.errors import InputError

        goal = plan.get("movement_breaks")
        interval = goal.get("interval_min") if isinstance(goal, Mapping) else None
        if isinstance(interval, bool) or not isinstance(interval, int | float):
            raise InputError(
                "plan has no movement-break interval",
                item="movement_breaks.interval_min",
                value=interval,
                expected="a plan.json of spinestab plan",
            )
        values: dict[str, object] = {
            "static_limit_min": float(interval),
            "snooze_min": float(interval),
        }
        exercises = plan.get("exercises")
        for ex in exercises if isinstance(exercises, list) else []:
            dose = ex.get("dose") if isinstance(ex, Mapping) else None
            if ex.get("id") == "movement_breaks" and isinstance(dose, Mapping):
                minutes = dose.get("duration_min")
                if isinstance(minutes, int | float) and not isinstance(minutes, bool):
                    values["clear_move_s"] = float(minutes) * 60.0
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]

    def __post_init__(self) -> None:
        """Reject options that would make no sense (or never end: a zero snooze)."""
        from spinestab.errors import InputError

        for name, lo in (("static_limit_min", 0.0), ("snooze_min", 0.0)):
            v = getattr(self, name)
            if not (v > lo and v < float("inf")):
                raise InputError(
                    "prompt option must be a positive number of minutes",
                    item=name,
                    value=v,
                    expected="> 0",
                )
        if not (0.0 <= self.clear_move_s < float("inf")):
            raise InputError(
                "prompt option must be zero or more seconds",
                item="clear_move_s",
                value=self.clear_move_s,
                expected=">= 0",
            )
        for name in ("quiet_start_h", "quiet_end_h"):
            v = getattr(self, name)
            if not (0.0 <= v <= 24.0):
                raise InputError(
                    "quiet hours must be clock hours", item=name, value=v, expected="0 to 24"
                )


@dataclass(frozen=True)
class WearableConfig:
    """Thresholds of posture, bouts and daily summaries.

    Attributes
    ----------
    sit_thigh_deg : float
        Thigh inclination above which a person sits (thigh sensor). 45 deg: Skotte et al.
        2014, J Phys Act Health 11:76 (Acti4) [R].
    lie_trunk_deg : float
        Trunk inclination from upright above which a person lies. 65 deg [D] (between the
        sitting lean, rarely above 45 deg, and horizontal, 90 deg).
    lie_min_s : float
        Trunk-only set-up: a run above ``lie_trunk_deg`` must last this long to count as
        lying, so that bends are not called lying. 120 s [D].
    step_peak_g : float
        A step is a peak of the smoothed vertical trunk acceleration at least 0.02 g above
        its 1-s moving mean [D] (tuned on the mobgap lower-back recordings; the
        cross-validation keeps it).
    step_hz : tuple of float
        Plausible step frequencies, 1.0-3.5 Hz (60-210 steps/min) [D].
    step_regularity : float
        Consecutive step intervals may differ by at most 70 % of the longer one [D] (chosen by
        nested cross-validation on the mobgap recordings; 0.7 and 1.0 score alike there, 0.5
        loses steps of the slow, irregular gait of the MS recording).
    step_smooth_s : float
        Moving-mean window applied to the vertical acceleration before peak picking, 0.12 s
        [D] (3 samples at 25 Hz). Chosen by leave-one-recording-out and leave-one-subject-out
        cross-validation on the mobgap recordings (the same value won in every fold; the
        former 0.2 s merged the double peaks of heel strike and push-off into one broad,
        low peak on slow gait). See ``benchmarks/wearable_gait_bench.py``.
    min_steps : int
        Walking needs a sequence of at least 5 steps (two strides and more) [D]; Mobilise-D
        walking bouts need at least two consecutive strides (Kluge et al. 2021) [R].
    min_walk_s : float
        A step sequence must span at least 2.5 s from first to last step to be walking, so
        that 2-s fidgets are not [D].
    walk_merge_gap_s : float
        Walking separated by a break of at most 3 s is one bout: the Mobilise-D walking-bout
        rule (Kluge et al. 2021, Gait Posture; Micó-Amigo et al. 2023) [R].
    walk_edge_steps : int
        Steps dropped at each end of a step sequence before it is marked as walking: 1 [D].
        A Mobilise-D walking bout runs from the first to the last initial contact of its
        strides (Kluge et al. 2021 [R]; the INDIP ``MicroWB`` starts and ends on an initial
        contact [V, data.mat]); the vertical-acceleration peak of the weight shift before the
        first step and of the closing step after the last one lie outside it. Chosen in
        every fold of the cross-validation; with 0, bouts start ~1 s early and end ~1 s late
        on the Test5 straight walks.
    min_gait_fs_hz : float
        Walking and steps are reported only from recordings sampled at 5 Hz or more: the
        Nyquist rate of a 2.5 steps/s walking cadence (150 steps/min, the upper end of
        normal walking) [D]; slower recordings alias steps into noise.
    stairs_thigh_deg : float
        Trunk + thigh only: walking whose thigh inclination exceeds the median thigh
        inclination of all walking seconds by more than this is stair climbing: 4 deg, the
        ``stairs_threshold`` of acti-motus 2.4 (Acti4's stairs rule, Skotte et al. 2014)
        [R]. Acti4 compares the signed forward angle; the unsigned inclination from the
        walking reference is used here (the thigh does not lean backward in gait) [D].
    stairs_thigh_max_deg : float
        ... and stays below this many degrees above it: 30 deg, acti-motus's absolute
        ``direction_threshold`` of 40 deg less its typical walking direction of 10 deg [R].
        With a trunk sensor alone stairs are not separable (no thigh angle, no barometer)
        and count as walking.
    stairs_bout_s : int
        Stair seconds are smoothed by acti-motus's bout filter: a boolean median filter of
        ``2 * bout - 1`` seconds applied twice, bout 5 s [R].
    run_sd_g : float
        Vertical trunk acceleration SD above which walking is running, 0.6 g [D] (the thigh
        counterpart in Acti4 is 0.72 g [R]).
    move_sd_g : float
        Standing with an acceleration SD above this is "moving" rather than standing still:
        0.1 g, Skotte et al. 2014 (Acti4 stand/move threshold) [R].
    min_move_s : float
        Moving must last at least 3 s; shorter bursts are fidgets of the static posture [D].
    still_sd_g : float
        Non-wear and calibration stillness: SD per axis below 13 mg. van Hees et al. 2013,
        PLoS One 8:e61691 [R].
    nonwear_min : float
        Still for at least 60 min means non-wear: van Hees et al. 2011 (60-min window) [R];
        actipy uses 90 min [R].
    nonwear_turn_deg : float
        A still run is non-wear only while its gravity direction stays within this many
        degrees of where it started: a turn in bed or standing up splits it. 2.87 deg, van
        Hees' value-range criterion (under 50 mg per axis; GGIR ``racriter = 0.05`` g [R])
        expressed as the rotation that moves an axis by 50 mg, ``asin(0.05)``
        (:mod:`spinestab.wearable.nonwear`).
    nonwear_temp_low_c, nonwear_temp_high_c : float
        Where the device records temperature (Axivity, GENEActiv), a still run of at least
        ``nonwear_temp_min_s`` is non-wear when, over its first 5 minutes, the smoothed
        temperature stays under 26 deg C, or stays under 30 deg C while falling faster than
        ``nonwear_temp_fall_c_min``; otherwise it is worn, however long. The start criteria
        of DETACH (Vert et al. 2022, BMC Med Res Methodol 22:147; the defaults of its
        reference implementation ``nimbaldetach``: 26, 30, -0.2 deg C/min, 5 min, low-pass
        0.005 Hz) [V]; applied to the still runs of :mod:`~spinestab.wearable.nonwear` [D].
    nonwear_temp_fall_c_min : float
        -0.2 deg C per minute (DETACH) [V].
    nonwear_temp_min_s : int
        300 s: DETACH's shortest non-wear and its 5-minute look-ahead [V].
    nonwear_method : {"orientation", "still run"}
        "orientation" (default): still runs that keep their orientation, both sensors
        decided together; "still run": van Hees' rule alone, each sensor on its own (the
        former rule, for comparison).
    forward_deg : tuple of float
        Forward-inclination exposure thresholds 20/30/60/90 deg: Acti4 trunk-inclination
        output categories (Hallman et al.; Skotte 2014) [R].
    bend_deg : float
        A bend is a forward inclination that rises to 45 deg or more [D]; it ends when the
        trunk returns below ``bend_end_deg`` (30 deg) [D].
    longest_deg : float
        Longest continuous period above 60 deg forward [D] (Acti4 reports time above 60) [R].
    static_bins_min : tuple of float
        Static-bout bins <5, 5-20, 20-30, 30-60, >60 min [D].
    break_min_s : float
        A static bout ends when non-static time lasts at least 10 s [D].
    valid_day_wear_h : float
        A valid day has at least 10 h of wear: Troiano et al. 2008 (accelerometer valid-day
        rule used in NHANES) [R].
    units_tolerance : float
        Unit detection: median |a| of still seconds within 25 % of 1 g or 9.81 m/s^2 [D].
    sit_to_stand_method : {"stillness", "displacement"}
        Trunk-only sit-to-stand transfers (``info["sit_to_stand_unix_s"]``). "stillness"
        (default, cheap): a per-second rule, a still, flexed trunk that settles >= 10 deg
        more upright within 4 s [D]; it finds only transfers that start from sitting still.
        "displacement": the sample-level method of Adamowicz et al. 2020 (Sensors
        20:6618), as in scikit-digital-health's ``Sit2Stand(stillness_constraint=False)``
        [V]; it also finds transfers that start during activity, and reports their ends
        and vertical displacement (:mod:`spinestab.wearable.sit2stand`). It reads the
        recording a second time, at its full rate.
    prompts : PromptConfig
        Options of the prompt engine.

    """

    sit_thigh_deg: float = 45.0
    lie_trunk_deg: float = 65.0
    lie_min_s: float = 120.0
    step_peak_g: float = 0.02
    step_hz: tuple[float, float] = (1.0, 3.5)
    step_regularity: float = 0.7
    min_steps: int = 5
    min_walk_s: float = 2.5
    walk_merge_gap_s: float = 3.0
    walk_edge_steps: int = 1
    step_smooth_s: float = 0.12
    min_gait_fs_hz: float = 5.0
    stairs_thigh_deg: float = 4.0
    stairs_thigh_max_deg: float = 30.0
    stairs_bout_s: int = 5
    run_sd_g: float = 0.6
    move_sd_g: float = 0.1
    min_move_s: float = 3.0
    still_sd_g: float = 0.013
    nonwear_min: float = 60.0
    nonwear_turn_deg: float = 2.87
    nonwear_method: str = "orientation"
    nonwear_temp_low_c: float = 26.0
    nonwear_temp_high_c: float = 30.0
    nonwear_temp_fall_c_min: float = -0.2
    nonwear_temp_min_s: int = 300
    forward_deg: tuple[float, ...] = (20.0, 30.0, 60.0, 90.0)
    bend_deg: float = 45.0
    bend_end_deg: float = 30.0
    longest_deg: float = 60.0
    static_bins_min: tuple[float, ...] = (5.0, 20.0, 30.0, 60.0)
    break_min_s: float = 10.0
    valid_day_wear_h: float = 10.0
    units_tolerance: float = 0.25
    sit_to_stand_method: str = "stillness"
    prompts: PromptConfig = field(default_factory=PromptConfig)
