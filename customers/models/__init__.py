"""Customers, contacts, cloud accounts, custom fields, the activity log and alerts."""

from .activity import ActivityLog, Alert
from .customer import CURRENCIES, CloudAccount, CloudProvider, Contact, Customer

__all__ = ["CURRENCIES", "ActivityLog", "Alert", "CloudAccount", "CloudProvider", "Contact", "Customer"]
