"""Movement and posture from wearables: reading, posture, exposures, bouts, prompts, pictures.

Typical use::

    from spinestab.wearable import analyse, read_recording, write_outputs

    trunk = read_recording("back.cwa")
    result = analyse(trunk, read_recording("thigh.cwa"))
    write_outputs(result, "out/")

Live, many streams at once: :class:`LiveEngine` (one device: :class:`LiveMonitor`).

Heavy optional packages (pandas, pyarrow, scipy, matplotlib) come with the ``wearable``
extra and are imported where they are used.
"""

from spinestab.wearable.config import PromptConfig, WearableConfig
from spinestab.wearable.engine import EnginePrompt, LiveEngine, StepResult, StreamSetup
from spinestab.wearable.io import detect_units, read_recording, table_locations
from spinestab.wearable.live import LiveMonitor, LiveUpdate
from spinestab.wearable.outputs import write_outputs
from spinestab.wearable.pipeline import analyse
from spinestab.wearable.posture import CLASS_NAMES
from spinestab.wearable.prompts import PromptEngine, offline_prompts
from spinestab.wearable.recording import Recording, recording_from_array
from spinestab.wearable.result import WearableResult
from spinestab.wearable.stream import FeatureStream
from spinestab.wearable.stream_batch import StreamBatch

__all__ = [
    "CLASS_NAMES",
    "EnginePrompt",
    "FeatureStream",
    "LiveEngine",
    "LiveMonitor",
    "LiveUpdate",
    "PromptConfig",
    "PromptEngine",
    "Recording",
    "StepResult",
    "StreamBatch",
    "StreamSetup",
    "WearableConfig",
    "WearableResult",
    "analyse",
    "detect_units",
    "offline_prompts",
    "read_recording",
    "recording_from_array",
    "table_locations",
    "write_outputs",
]
