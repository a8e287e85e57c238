"""View tests share the model tests' Qt set-up (the offscreen platform)."""

import tests.models.conftest  # noqa: F401
