def is_platform_staff(user) -> bool:
    """Platform staff: superusers that belong to no reseller (they run the whole platform's admin)."""
    return bool(user.is_active and user.is_superuser and not user.reseller_id)
