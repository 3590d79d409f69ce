"""Run the policy pack's validators offline, as the engine would: resources built by hand,
or every resource the real program declares under Pulumi's mocks (``record_program``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pulumi_policy import (
    Policy,
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from local.recorded_program import ProgramRun, RecordedResource
from policies.catalog import dofs_policies


def urn(stack: str, typ: str, name: str, parent_type: str = "") -> str:
    qualified = f"{parent_type}${typ}" if parent_type else typ
    return f"urn:pulumi:{stack}::dofs::{qualified}::{name}"


def options() -> PolicyResourceOptions:
    return PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [])


def default_config(policy: Policy) -> dict[str, Any]:
    """The config the engine hands a policy when the stack sets none: its schema's defaults."""
    schema = policy.config_schema.properties if policy.config_schema else {}
    return {key: spec["default"] for key, spec in schema.items() if "default" in spec}


@dataclass
class Violations:
    found: list[tuple[str, str, str | None]] = field(default_factory=list)

    def reporter(self, policy: str, subject: str) -> Callable[[str, str | None], None]:
        def report(message: str, urn: str | None = None) -> None:
            self.found.append((policy, message, urn or subject))

        return report

    def messages(self) -> list[str]:
        return [message for _, message, _ in self.found]


def resource_args(
    typ: str,
    props: Mapping[str, Any],
    stack: str = "dev",
    name: str = "r",
    config: Mapping[str, Any] | None = None,
) -> ResourceValidationArgs:
    return ResourceValidationArgs(typ, props, urn(stack, typ, name), name, options(), None, config)


def policy_resource(
    typ: str,
    props: Mapping[str, Any],
    stack: str = "dev",
    name: str = "r",
    **dependencies: list[PolicyResource],
) -> PolicyResource:
    return PolicyResource(
        typ, props, urn(stack, typ, name), name, options(), None, None, [], dict(dependencies)
    )


def check_resource(validate: Callable[..., Any], args: ResourceValidationArgs) -> list[str]:
    violations = Violations()
    validate(args, violations.reporter("test", args.urn))
    return violations.messages()


def check_stack(
    validate: Callable[..., Any], resources: list[PolicyResource], config: Mapping[str, Any] | None = None
) -> list[str]:
    violations = Violations()
    validate(StackValidationArgs(resources, config), violations.reporter("test", "stack"))
    return violations.messages()


# --- the real program ----------------------------------------------------------------


def _dependencies(resource: RecordedResource, run: ProgramRun) -> dict[str, list[RecordedResource]]:
    """The engine's property dependencies, rebuilt: an input equal to another resource's id
    (or to one of its ``...Id`` outputs, like a REST API's ``rootResourceId``) depends on it.
    A resource's own ``name`` is never a dependency, even where another resource's id is the
    same text (a function and its role are both ``dofs-<function>-<stack>``)."""
    by_value: dict[str, RecordedResource] = {}
    for other in run.resources:
        if other is resource:
            continue
        by_value.setdefault(other.id, other)
        for key, value in other.outputs.items():
            if key.endswith("Id") and isinstance(value, str):
                by_value.setdefault(value, other)
    return {
        key: [by_value[value]]
        for key, value in resource.inputs.items()
        if key != "name" and isinstance(value, str) and value in by_value
    }


def program_resources(run: ProgramRun) -> list[PolicyResource]:
    """Every resource of the run as a stack policy sees it: outputs as props."""
    made: dict[int, PolicyResource] = {}

    def make(resource: RecordedResource) -> PolicyResource:
        if id(resource) not in made:
            dependencies = {
                key: [make(d) for d in deps] for key, deps in _dependencies(resource, run).items()
            }
            made[id(resource)] = PolicyResource(
                resource.type,
                resource.outputs,
                urn(run.stack, resource.type, resource.name, resource.parent_type),
                resource.name,
                options(),
                None,
                None,
                [d for deps in dependencies.values() for d in deps],
                dependencies,
            )
        return made[id(resource)]

    return [make(r) for r in run.resources if not r.type.startswith("dofs:index:")]


def run_pack(run: ProgramRun) -> list[tuple[str, str, str | None]]:
    """Every violation the pack reports against the program's resources."""
    violations = Violations()
    resources = program_resources(run)
    for policy in dofs_policies():
        config = default_config(policy)
        if isinstance(policy, ResourceValidationPolicy):
            for resource in run.resources:
                subject = urn(run.stack, resource.type, resource.name, resource.parent_type)
                args = ResourceValidationArgs(
                    resource.type, resource.inputs, subject, resource.name, options(), None, config
                )
                policy.validate(args, violations.reporter(policy.name, subject))
        elif isinstance(policy, StackValidationPolicy):
            policy.validate(StackValidationArgs(resources, config), violations.reporter(policy.name, "stack"))
    return violations.found
