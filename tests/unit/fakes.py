"""In-memory stand-ins shared by the unit tests of more than one module."""

from vigil.approval import Approval
from vigil.errors import ConflictError


class MemoryApprovalStore:
    """Behaves like ``ApprovalStore``: a save must name the revision it read, or it conflicts."""

    def __init__(self) -> None:
        self.items: dict[str, Approval] = {}

    def get(self, incident_id: str) -> Approval | None:
        return self.items.get(incident_id)

    def save(self, before: Approval | None, after: Approval) -> Approval:
        current = self.items.get(after.incident_id)
        if (current.revision if current else None) != (before.revision if before else None):
            raise ConflictError("changed")
        stored = after.model_copy(update={"revision": (before.revision if before else 0) + 1})
        self.items[after.incident_id] = stored
        return stored
