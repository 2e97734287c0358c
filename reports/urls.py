"""URLs of the reports app. Its pages arrive with their issues; the prefix is reserved in customer360/urls.py."""

app_name = "reports"
urlpatterns = []
