"""The physics: working media, reservoirs, GKSL generators, continuous engines and their NESS.

Units hbar = k_B = 1.  Heat J_a > 0 flows from reservoir a into the medium; output power P > 0
leaves the medium as work (definitions and sign rules: docs/physics.md).
"""

from engines.batch import Batch, BatchResult
from engines.checks import ModelValidityWarning, ThermodynamicsWarning, UserCodeError, WorkbenchError
from engines.engine import Engine, SteadyState
from engines.generators import Drive, Generator, build_generator
from engines.media import Composite, Custom, HarmonicOscillator, Levels, Medium, Qubit, Spin, SpinChain
from engines.options import Options
from engines.reservoirs import BosonicBath, ChannelReservoir, FermionicLead, Reservoir, SqueezedBath
from engines.validity import Validity, validity

__all__ = [
    "Batch",
    "BatchResult",
    "BosonicBath",
    "ChannelReservoir",
    "Composite",
    "Custom",
    "Drive",
    "Engine",
    "FermionicLead",
    "Generator",
    "HarmonicOscillator",
    "Levels",
    "Medium",
    "ModelValidityWarning",
    "Options",
    "Qubit",
    "Reservoir",
    "Spin",
    "SpinChain",
    "SqueezedBath",
    "SteadyState",
    "ThermodynamicsWarning",
    "UserCodeError",
    "Validity",
    "WorkbenchError",
    "build_generator",
    "validity",
]
