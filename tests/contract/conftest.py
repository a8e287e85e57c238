from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from .cases import CASES, Target


@pytest.fixture(params=CASES, ids=[case.id for case in CASES])
async def target(request: pytest.FixtureRequest) -> AsyncIterator[Target]:
    async with request.param.open(request) as opened:
        yield opened
