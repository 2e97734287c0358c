import pytest
from django.test import Client

from accounts.models import Role
from customer360.tenancy import tenant_scope

from .factories import DEFAULT_PASSWORD, ResellerFactory, UserFactory


@pytest.fixture
def reseller(db):
    return ResellerFactory(name="Acme Cloud", slug="acme")


@pytest.fixture
def other_reseller(db):
    return ResellerFactory(name="Globex Cloud", slug="globex")


@pytest.fixture
def make_client(db):
    """make_client(reseller, role) -> a Client signed in as a new user of that reseller and role."""

    def make(reseller, role=Role.OWNER):
        user = UserFactory(reseller=reseller, role=role)
        client = Client()
        assert client.login(email=user.email, password=DEFAULT_PASSWORD)
        client.user = user
        return client

    return make


@pytest.fixture
def owner_client(make_client, reseller):
    return make_client(reseller, Role.OWNER)


@pytest.fixture
def in_scope():
    """in_scope(reseller): a context manager for reading tenant rows in a test's assertions."""
    return tenant_scope


@pytest.fixture(autouse=True, scope="session")
def private_task_queue():
    """Tasks of this test run go to a queue of its own, so two runs sharing one Redis (developers, CI)
    never consume each other's tasks."""
    import os

    from customer360.celery import app

    before = app.conf.task_default_queue
    app.conf.task_default_queue = f"customer360-tests-{os.getpid()}"
    yield
    app.conf.task_default_queue = before
