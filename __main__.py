"""DOFS: distributed order fulfillment on AWS serverless (Pulumi program entry point)."""

import pulumi

from components.config import load_settings
from components.program import create_dofs

dofs = create_dofs(load_settings())
for output_name, value in dofs.outputs().items():
    pulumi.export(output_name, value)
