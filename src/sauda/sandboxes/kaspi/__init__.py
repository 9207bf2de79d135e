"""A local Kaspi.kz for demos, tests and the benchmark (`sauda kaspi-sandbox`): see `app`."""

from sauda.sandboxes.kaspi.app import create_sandbox
from sauda.sandboxes.kaspi.merchants import SandboxMerchant, SandboxOffer, competitor
from sauda.sandboxes.kaspi.state import SandboxState, demo_seed

__all__ = ["SandboxMerchant", "SandboxOffer", "SandboxState", "competitor", "create_sandbox", "demo_seed"]
