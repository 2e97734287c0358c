import pytest
from django.test import Client

from accounts.models import Role
from customer360.rls import connect_as
from customer360.tenancy import tenant_scope

from .factories import DEFAULT_PASSWORD, ResellerFactory, UserFactory


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix):
    """The test database is created and migrated by the tables' owner (as `migrate` is)..."""
    from django.db import connections

    for connection in connections.all():
        connect_as(connection, "C360_OWNER")


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """...and every test then runs as the application's role, under row-level security, so the whole
    suite exercises the database backstop (customer360.rls). seed_demo's reset TRUNCATEs inside a
    test's transaction, where the connection cannot switch to the owner: only the test database lets
    the app role TRUNCATE."""
    from django.db import connections

    with django_db_blocker.unblock():
        for connection in connections.all():
            app_role = connection.settings_dict["C360_APP"]["USER"]
            if app_role != connection.settings_dict["C360_OWNER"]["USER"]:
                with connection.cursor() as cursor:
                    cursor.execute(f"GRANT TRUNCATE ON ALL TABLES IN SCHEMA public TO {app_role}")
            connect_as(connection, "C360_APP")
    yield
    with django_db_blocker.unblock():
        for connection in connections.all():
            connect_as(connection, "C360_OWNER")


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
def shop(reseller, settings):
    """A reseller's marketplace with a customer to buy for (tests/marketplace/factories_orders.Shop);
    provisioning succeeds at once."""
    from .marketplace.factories_orders import Shop

    settings.C360_SIMULATED_PROVIDER_DELAY = 0
    settings.C360_SIMULATED_FAILURE_RATE = 0
    return Shop(reseller)


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
