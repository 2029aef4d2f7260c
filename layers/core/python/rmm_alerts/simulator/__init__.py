"""Loopback fakes of the NinjaOne and TacticalRMM APIs: the tests' RMMs and ``rmm-alerts dev``'s
built-in simulator.

Real HTTP servers on 127.0.0.1, stateful, shaped like the real APIs (docs/polling.md), with fault injection
(:meth:`SimServer.fail`) and webhooks they send themselves. Drive them in-process
(``sim.fire(...)``, ``sim.clear(...)``, ``sim.resets``, ``sim.resolves``) or, when another process
runs them, over ``POST <sim url>/_sim/<fire|clear|state|webhooks>`` (``rmm-alerts sim ...``).
"""

from rmm_alerts.simulator.ninjaone import NinjaOneSim
from rmm_alerts.simulator.server import Fault, Reply, Request, SimServer
from rmm_alerts.simulator.tactical import TacticalSim

__all__ = ["Fault", "NinjaOneSim", "Reply", "Request", "SimServer", "TacticalSim"]
