"""Where raw samples come from: the sample type and the latest-sample slots."""

from rigctl.sampling.slots import (
    SAT_HIGH,
    SAT_LOW,
    LatestSlot,
    Sample,
    SampleSource,
    SampleStatus,
)

__all__ = ["SAT_HIGH", "SAT_LOW", "LatestSlot", "Sample", "SampleSource", "SampleStatus"]
