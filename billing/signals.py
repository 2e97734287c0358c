"""What billing tells the apps that keep figures derived from its data, so it never calls them."""

from django.db import transaction
from django.dispatch import Signal

# Sent once the transaction that changed a reseller's usage rollups has committed (an import, or
# unmatched rows attached to their customer), with reseller_id. Reports rebuild their monthly rollup on
# it, so the dashboard reads a fresh one seconds after an import rather than at the next beat.
usage_rolled_up = Signal()


def send_usage_rolled_up(reseller_id) -> None:
    transaction.on_commit(lambda: usage_rolled_up.send(sender=None, reseller_id=reseller_id))
