"""``make cost``: what DOFS costs per million orders, and how many orders a second it
sustains, both from counts measured by running orders through the local stack.

Modules: ``capacity`` (DynamoDB's unit rules), ``pricing`` and ``quotas`` (the tables,
with sources), ``meter`` (the hooks that count), ``workflow`` and ``logs`` (what Step
Functions and Lambda bill and log), ``session`` (the run), ``bill`` (line items and the
ceiling), ``report`` (the tables printed), ``cli`` (the command).
"""
