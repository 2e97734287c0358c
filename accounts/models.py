"""Resellers (the tenants) and their users."""

import uuid

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.utils import timezone


class Reseller(models.Model):
    """A cloud reseller: the tenant. Every tenant-owned row carries one."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=60, unique=True)
    default_currency = models.CharField(max_length=3, default="USD")
    created_at = models.DateTimeField(default=timezone.now)
    # Shown in the header of the documents the reseller sends (quotes, invoices).
    logo = models.ImageField(
        upload_to="reseller_logos/", blank=True, help_text="PNG or JPEG, shown on quotes and invoices"
    )
    address_line1 = models.CharField("address", max_length=200, blank=True)
    address_line2 = models.CharField("address (line 2)", max_length=200, blank=True)
    city = models.CharField(max_length=100, blank=True)
    postal_code = models.CharField(max_length=20, blank=True)
    country = models.CharField(max_length=2, blank=True, help_text="ISO 3166 two-letter code")
    email = models.EmailField(blank=True, help_text="where customers write about quotes and invoices")
    phone = models.CharField(max_length=40, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    SALES = "sales", "Sales"
    BILLING = "billing", "Billing"
    VIEWER = "viewer", "Viewer"


class UserManager(BaseUserManager):
    use_in_migrations = True

    def create_user(self, email, password=None, **extra):
        if not email:
            raise ValueError("A user needs an email address")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email, password=None, **extra):
        extra.update(is_staff=True, is_superuser=True, reseller=None, role="")
        return self.create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """A person who signs in: a reseller's staff member with one role, or platform staff."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    email = models.EmailField(unique=True)
    full_name = models.CharField(max_length=150, blank=True)
    reseller = models.ForeignKey(
        Reseller, on_delete=models.CASCADE, null=True, blank=True, related_name="users"
    )
    role = models.CharField(max_length=10, choices=Role.choices, blank=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"

    class Meta:
        ordering = ["email"]
        constraints = [
            # Reseller users have a reseller and a role; only platform staff have neither.
            models.CheckConstraint(
                condition=models.Q(is_superuser=True, reseller__isnull=True, role="")
                | models.Q(is_superuser=False, reseller__isnull=False, role__in=[r.value for r in Role]),
                name="user_reseller_role_or_platform_staff",
            ),
        ]

    def __str__(self):
        return self.full_name or self.email

    @property
    def can_write(self) -> bool:
        return bool(self.reseller_id) and self.role != Role.VIEWER

    def has_role(self, *roles) -> bool:
        return self.role in roles
