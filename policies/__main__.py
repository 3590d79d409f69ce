"""The DOFS policy pack: ``pulumi preview --policy-pack policies``.

Creating a ``PolicyPack`` starts the analyzer server and never returns: nothing imports
this module; tests import ``policies.catalog`` and ``policies.validators``.
"""

import sys
from pathlib import Path

# The engine runs this file from policies/; the validators read the API's routes and the
# fault variable's name from handlers/, so the repository root goes on the path.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pulumi_policy import EnforcementLevel, PolicyPack

from policies.catalog import dofs_policies

PolicyPack("dofs", dofs_policies(), enforcement_level=EnforcementLevel.MANDATORY)
