"""The one tenancy mechanism: every tenant-owned model is reached through a reseller-scoped queryset.

Shape of NetBox's RestrictedQuerySet, keyed on the current reseller instead of a permission:

* The current reseller lives in a context variable, set by `tenant_scope()`: the middleware opens it
  for each request of a reseller user, Celery tasks and management commands open it explicitly.
* `TenantModel.objects` returns querysets that apply `reseller_id = <current reseller>` when they are
  evaluated (not when they are built), so querysets declared at import time (form fields, class
  attributes) are scoped by whoever evaluates them.
* Deny by default: evaluating a tenant queryset with no scope raises `TenantScopeError`. Code that
  must see every reseller (the platform admin site, data migrations) says so with `platform_scope()`.
"""

import contextvars
import uuid
from contextlib import contextmanager

from django.db import models

_PLATFORM = "platform"
_scope: contextvars.ContextVar = contextvars.ContextVar("customer360_reseller_scope", default=None)


class TenantScopeError(RuntimeError):
    """A tenant-owned table was queried with no reseller in scope."""


@contextmanager
def tenant_scope(reseller):
    """Scope every tenant query inside the block to one reseller (a Reseller or its id)."""
    reseller_id = getattr(reseller, "pk", reseller)
    if reseller_id is None:
        raise TenantScopeError("tenant_scope() needs a reseller")
    token = _scope.set(reseller_id)
    try:
        yield
    finally:
        _scope.reset(token)


@contextmanager
def platform_scope():
    """Open every reseller's rows: platform staff in the admin site, and nothing else by default."""
    token = _scope.set(_PLATFORM)
    try:
        yield
    finally:
        _scope.reset(token)


def current_reseller_id():
    """The reseller in scope, or None under platform scope. Raises when nothing is in scope."""
    value = _scope.get()
    if value is None:
        raise TenantScopeError("no reseller in scope")
    return None if value == _PLATFORM else value


def in_platform_scope() -> bool:
    return _scope.get() == _PLATFORM


def each_reseller_scope():
    """For periodic tasks: yields each reseller's id with that reseller's scope open around the body."""
    from accounts.models import Reseller  # Reseller is platform data, not tenant-scoped

    for reseller_id in Reseller.objects.order_by("pk").values_list("pk", flat=True).iterator():
        with tenant_scope(reseller_id):
            yield reseller_id


def reseller_of(model, pk):
    """For tasks handed a row id: the reseller that owns the row (None when it is gone), looked up
    with the platform scope opened visibly, so the task can then open that reseller's scope."""
    with platform_scope():
        row = model.objects.filter(pk=pk).values("reseller_id").first()
    return row and row["reseller_id"]


class TenantQuerySet(models.QuerySet):
    """A queryset that only ever reads and writes the rows of the reseller in scope."""

    def _scoped(self):
        scope = _scope.get()
        if scope is None:
            raise TenantScopeError(
                f"{self.model.__name__} was queried with no reseller in scope; "
                "open tenant_scope(reseller) (or platform_scope() for platform staff)"
            )
        clone = super()._chain()
        if scope != _PLATFORM:
            clone.query.add_q(models.Q(reseller_id=scope))
        # The scoped clone is a plain QuerySet, so evaluating it does not scope again.
        clone.__class__ = models.QuerySet
        return clone

    # Every way Django runs SQL for a queryset goes through one of these.
    def _fetch_all(self):
        if self._result_cache is None:
            scoped = self._scoped()
            scoped._fetch_all()
            self._result_cache = scoped._result_cache
            self._prefetch_done = scoped._prefetch_done
        if self._prefetch_related_lookups and not self._prefetch_done:
            self._prefetch_related_objects()

    def iterator(self, chunk_size=None):
        return self._scoped().iterator(chunk_size=chunk_size)

    def count(self):
        if self._result_cache is not None:
            return len(self._result_cache)
        return self._scoped().count()

    def exists(self):
        if self._result_cache is not None:
            return bool(self._result_cache)
        return self._scoped().exists()

    def contains(self, obj):
        return self._scoped().contains(obj)

    def aggregate(self, *args, **kwargs):
        return self._scoped().aggregate(*args, **kwargs)

    def update(self, **kwargs):
        return self._scoped().update(**kwargs)

    update.alters_data = True

    def delete(self):
        return self._scoped().delete()

    delete.alters_data = True

    def explain(self, *args, **kwargs):
        return self._scoped().explain(*args, **kwargs)

    def resolve_expression(self, *args, **kwargs):
        # Used as a subquery (`field__in=Customer.objects.filter(...)`): scope the inner query too.
        return self._scoped().resolve_expression(*args, **kwargs)

    def sql_with_params(self):
        """The scoped query's SQL and parameters, for a raw statement that reads it as a subquery."""
        return self._scoped().query.sql_with_params()

    def bulk_create(self, objs, *args, **kwargs):
        reseller_id = current_reseller_id()
        for obj in objs:
            _check_reseller(obj, reseller_id)
        return super().bulk_create(objs, *args, **kwargs)


def _check_reseller(obj, reseller_id):
    if obj.reseller_id is None and reseller_id is not None:
        obj.reseller_id = reseller_id
    if reseller_id is not None and obj.reseller_id != reseller_id:
        raise TenantScopeError(f"refusing to write a {obj.__class__.__name__} of another reseller")
    if obj.reseller_id is None:
        raise TenantScopeError(f"{obj.__class__.__name__} has no reseller")


TenantManager = models.Manager.from_queryset(TenantQuerySet)


class TenantModel(models.Model):
    """Base of every tenant-owned model: carries its reseller and a UUID for URLs."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    reseller = models.ForeignKey(
        "accounts.Reseller", on_delete=models.CASCADE, editable=False, related_name="+"
    )

    objects = TenantManager()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        _check_reseller(self, current_reseller_id())
        super().save(*args, **kwargs)

    def full_clean(self, *args, **kwargs):
        if self.reseller_id is None:
            self.reseller_id = current_reseller_id()
        super().full_clean(*args, **kwargs)
