"""The output sink interface: the loop hands it the commands of this tick."""

from __future__ import annotations

import abc

from rigctl.core.patterns import Commands


class OutputSink(abc.ABC):
    """Something that shows the warning state to the therapist.

    ``apply`` runs inside the 200 Hz tick: it must only write what changed and
    must never raise (a failing part is counted in ``faults`` and the others
    keep warning).
    """

    faults: int = 0

    @abc.abstractmethod
    def apply(self, cmd: Commands) -> None: ...

    @abc.abstractmethod
    def close(self) -> None:
        """All outputs off (green too: a stopped controller is not protecting anyone)."""

    def status(self) -> dict[str, object]:
        return {"faults": self.faults}
