"""Customers, contacts, cloud accounts, custom fields, the activity log and alerts."""

from .activity import ActivityLog, Alert
from .custom_fields import CustomFieldDefinition, CustomFieldValue, FieldType
from .customer import CURRENCIES, CloudAccount, CloudProvider, Contact, Customer
from .options import TestDrive

__all__ = ["CURRENCIES", "ActivityLog", "Alert", "CloudAccount", "CloudProvider", "Contact", "Customer"]
__all__ += ["CustomFieldDefinition", "CustomFieldValue", "FieldType", "TestDrive"]
