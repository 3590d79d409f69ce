"""OrderTables: the DynamoDB tables of orders and of failed orders.

A component of its own, not part of OrderWorkflow: three components (API, workflow,
queue) read and write these tables, and the data must outlive any of them. In a
stack with ``protectData`` the tables get point-in-time recovery, AWS deletion
protection and Pulumi's ``protect``, so neither ``pulumi destroy`` nor a refactor that
renames a component can delete orders.

The orders table has one global secondary index, of the orders still in flight by the
time they are due (keys only; sparse and sharded, see ``handlers.models.IN_FLIGHT_INDEX``):
the reconciler finds orders stuck in a non-terminal state through it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.config import StackSettings
from handlers.models import DUE_AT, IN_FLIGHT_INDEX, IN_FLIGHT_SHARD

ORDER_KEY = "order_id"


@dataclass
class OrderTablesArgs:
    settings: StackSettings


class OrderTables(pulumi.ComponentResource):
    orders: aws.dynamodb.Table
    failed_orders: aws.dynamodb.Table
    # The ARN IAM grants dynamodb:Query on: <orders table ARN>/index/<IN_FLIGHT_INDEX>.
    orders_in_flight_index_arn: pulumi.Output[str]

    def __init__(self, name: str, args: OrderTablesArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("dofs:index:OrderTables", name, None, opts)
        env = args.settings.environment
        self.orders = self._table(
            "orders",
            f"dofs-orders-{env}",
            args.settings,
            attributes=[
                {"name": ORDER_KEY, "type": "S"},
                {"name": IN_FLIGHT_SHARD, "type": "S"},
                {"name": DUE_AT, "type": "S"},
            ],
            # On-demand billing: the index takes no read or write capacity either.
            global_secondary_indexes=[
                {
                    "name": IN_FLIGHT_INDEX,
                    # key_schemas, not the deprecated hash_key/range_key of pulumi-aws 7.
                    "key_schemas": [
                        {"attribute_name": IN_FLIGHT_SHARD, "key_type": "HASH"},
                        {"attribute_name": DUE_AT, "key_type": "RANGE"},
                    ],
                    "projection_type": "KEYS_ONLY",
                }
            ],
        )
        self.failed_orders = self._table(
            "failed-orders",
            f"dofs-failed-orders-{env}",
            args.settings,
            attributes=[{"name": ORDER_KEY, "type": "S"}],
        )
        self.orders_in_flight_index_arn = self.orders.arn.apply(lambda arn: f"{arn}/index/{IN_FLIGHT_INDEX}")
        self.register_outputs(
            {"orders_table_name": self.orders.name, "failed_orders_table_name": self.failed_orders.name}
        )

    def _table(
        self,
        name: str,
        table_name: str,
        settings: StackSettings,
        *,
        attributes: Sequence[aws.dynamodb.TableAttributeArgsDict],
        global_secondary_indexes: Sequence[aws.dynamodb.TableGlobalSecondaryIndexArgsDict] = (),
    ) -> aws.dynamodb.Table:
        return aws.dynamodb.Table(
            name,
            name=table_name,
            billing_mode="PAY_PER_REQUEST",
            hash_key=ORDER_KEY,
            attributes=list(attributes),
            global_secondary_indexes=list(global_secondary_indexes) or None,
            server_side_encryption={"enabled": True},
            point_in_time_recovery={"enabled": settings.protect_data},
            deletion_protection_enabled=settings.protect_data,
            opts=pulumi.ResourceOptions(parent=self, protect=settings.protect_data),
        )
