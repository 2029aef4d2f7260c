from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from psycopg_pool import ConnectionPool

from rmm_alerts import config, db
from rmm_alerts.providers.ninjaone import clear_token_cache
from rmm_alerts.simulator import NinjaOneSim, TacticalSim
from tests.support.admin_api import Api, aws_env
from tests.support.wire import Wire
from tests.support.world import Tenant, make_tenant

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


@pytest.fixture
def lambda_env(monkeypatch: pytest.MonkeyPatch, database_url: str) -> Iterator[str]:
    """The environment a deployed function gets, pointed at this test's database."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    config.cached.cache_clear()
    db.reset_pool()
    yield database_url
    db.reset_pool()
    config.cached.cache_clear()


@pytest.fixture
def world(conn: Any) -> Tenant:
    """A tenant whose organization "2" maps to its client (override per module for more)."""
    w = make_tenant(conn)
    w.map_org("2")
    return w


@pytest.fixture
def api(conn: Any, lambda_env: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    """The admin API as tenant A's admin, with Scheduler and Secrets Manager mocked."""
    with aws_env(monkeypatch):
        yield Api(make_tenant(conn))


@pytest.fixture
def other(conn: Any, api: Api) -> Tenant:
    """Tenant B, for isolation checks."""
    return make_tenant(conn, name="Other MSP")


# -- loopback RMM fakes (rmm_alerts.simulator); reuse them for anything that talks to an RMM ----


@pytest.fixture
def ninja() -> Iterator[NinjaOneSim]:
    """A fresh NinjaOne fake (credentials sim-client / sim-client-secret); webhooks off until a test
    turns ``send_webhooks`` on and one is registered. The process-wide token cache starts empty."""
    clear_token_cache()
    with NinjaOneSim() as sim:
        assert isinstance(sim, NinjaOneSim)
        sim.send_webhooks = False
        yield sim


@pytest.fixture
def tactical() -> Iterator[TacticalSim]:
    """A fresh TacticalRMM fake (API key sim-api-key); webhooks off."""
    with TacticalSim() as sim:
        assert isinstance(sim, TacticalSim)
        sim.send_webhooks = False
        yield sim


@pytest.fixture
def wire() -> Iterator[Wire]:
    """Round trips counted on the wire (libpq's trace) of the connections ``counting_pool`` opens."""
    w = Wire()
    yield w
    w.close()


@pytest.fixture
def counting_pool(database_url: str, wire: Wire) -> Iterator[ConnectionPool[Any]]:
    """A one-connection pool whose connection ``wire`` traces."""
    settings = config.load(config.DatabaseSettings, {"DATABASE_URL": database_url})
    pool = db.create_pool(settings, max_size=1, configure=wire.attach)
    pool.open(wait=True)
    yield pool
    pool.close()
