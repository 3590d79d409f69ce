"""OrderTables: the DynamoDB tables of orders and of failed orders.

A component of its own, not part of OrderWorkflow: three components (API, workflow,
queue) read and write these tables, and the data must outlive any of them. In a
stack with ``protectData`` the tables get point-in-time recovery, AWS deletion
protection and Pulumi's ``protect``, so neither ``pulumi destroy`` nor a refactor that
renames a component can delete orders.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.config import StackSettings


@dataclass
class OrderTablesArgs:
    settings: StackSettings


class OrderTables(pulumi.ComponentResource):
    orders: aws.dynamodb.Table
    failed_orders: aws.dynamodb.Table

    def __init__(self, name: str, args: OrderTablesArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("dofs:index:OrderTables", name, None, opts)
        env = args.settings.environment
        self.orders = self._table("orders", f"dofs-orders-{env}", args.settings)
        self.failed_orders = self._table("failed-orders", f"dofs-failed-orders-{env}", args.settings)
        self.register_outputs(
            {"orders_table_name": self.orders.name, "failed_orders_table_name": self.failed_orders.name}
        )

    def _table(self, name: str, table_name: str, settings: StackSettings) -> aws.dynamodb.Table:
        return aws.dynamodb.Table(
            name,
            name=table_name,
            billing_mode="PAY_PER_REQUEST",
            hash_key="order_id",
            attributes=[{"name": "order_id", "type": "S"}],
            server_side_encryption={"enabled": True},
            point_in_time_recovery={"enabled": settings.protect_data},
            deletion_protection_enabled=settings.protect_data,
            opts=pulumi.ResourceOptions(parent=self, protect=settings.protect_data),
        )
