"""Sign-in throttling (django-axes): after 5 failed sign-ins for one email from one client address, that
email is refused from that address for a cool-down period, with a clear message on the sign-in page.
Keyed on email *and* address, so a reverse proxy's address (every user behind it shares it, when the
proxy count is not configured) never locks everyone out together, and one attacker cannot lock a user
out from everywhere."""

from axes.backends import AxesStandaloneBackend
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.shortcuts import render


class LoginThrottleBackend(AxesStandaloneBackend):
    """django-axes' lockout check for sign-ins that come with a request (the sign-in pages). An
    authenticate() without one (a management command, a test client's login()) has no client address
    to throttle, so it is left to the next backend instead of failing."""

    def authenticate(self, request=None, *args, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, *args, **kwargs)


def cooloff_minutes() -> int:
    return int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)


def locked_out(request, original_response=None, credentials=None):
    """The sign-in page again, with the reason (HTTP 429: too many requests)."""
    form = AuthenticationForm(
        request, data=None, initial={"username": (credentials or {}).get("username", "")}
    )
    return render(
        request,
        "registration/login.html",
        {
            "form": form,
            "locked_out": True,
            "cooloff_minutes": cooloff_minutes(),
            "next": request.GET.get("next", ""),
        },
        status=429,
    )
