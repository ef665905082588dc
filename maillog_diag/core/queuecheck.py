"""The log beside the queue: which mail the log says is still queued is really there, and
which queued mail the log never showed.

A recipient the log leaves held is *in the queue* when the listing has its queue id and,
where the listing names recipients, that address (compared without case); otherwise it
left the queue without a line this tool understood (or the listing was taken after the
log). A listed message whose queue id matches no held recipient is *queue only*: the log
read does not show it queued (it arrived before the log began, or its lines are missing).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from maillog_diag.core.analysis import HeldRecipient
from maillog_diag.input.queue import QueueEntry, QueueListing


@dataclass(slots=True)
class QueueComparison:
    """The held mail of a report matched against one queue listing."""

    listing: QueueListing
    source: str
    """The command run or the file read."""
    in_queue: dict[tuple[str, str], bool] = field(default_factory=dict)
    """Per held recipient, keyed by (queue id, address lower-cased)."""
    queue_only: list[QueueEntry] = field(default_factory=list)

    def held_in_queue(self, held: HeldRecipient) -> bool:
        """Whether this held recipient is in the listing."""
        return self.in_queue.get((held.queue_id, held.address.lower()), False)


def compare_queue(
    held_mail: list[HeldRecipient], listing: QueueListing, source: str
) -> QueueComparison:
    """Match every held recipient against the listing, and collect the listed messages no
    held recipient names."""
    result = QueueComparison(listing, source)
    by_id: dict[str, QueueEntry] = {}
    for entry in listing.entries:
        by_id.setdefault(entry.queue_id, entry)
    named: set[str] = set()
    for held in held_mail:
        listed = by_id.get(held.queue_id)
        found = listed is not None and (
            not listed.recipients
            or any(r.address.lower() == held.address.lower() for r in listed.recipients)
        )
        if listed is not None:
            named.add(listed.queue_id)
        result.in_queue[(held.queue_id, held.address.lower())] = found
    result.queue_only = [e for e in listing.entries if e.queue_id not in named]
    return result
