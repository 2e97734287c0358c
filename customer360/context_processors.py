def layout(request):
    """What the top bar needs on every page: the user's reseller and role."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not user.reseller_id:
        return {}
    return {"current_reseller": user.reseller, "current_role": user.get_role_display()}
