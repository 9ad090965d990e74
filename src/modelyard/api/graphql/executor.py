"""A faster completion of plain objects, with graphql-core's semantics.

graphql-core completes every field of every object through its general machinery
(resolve info, resolver, awaitable checks, completion): about 3 us a field, or some 70 ms
for 2,000 models of a dozen fields. Most fields are *plain*: an attribute, without
arguments or a resolver of its own. When every field selected on an object is plain,
:class:`Executor` builds the object's result directly (read the attribute, serialize the
leaf, recurse into plain objects and lists) with the sub-selection graphql-core collected
(fragments, aliases, ``@skip``/``@include`` and ``__typename`` as it has them).

Anything the shortcut does not expect (a selected field with a resolver, such as a
relation through a dataloader; a null in a non-null field; a value a scalar cannot
serialize) makes it give the object back to graphql-core, which completes it the general
way (its plain children still take the shortcut) and reports any error with its path. The
shortcut only reads attributes, so starting again costs nothing but time.
tests/api/graphql compares both ways' answers on the same documents."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from operator import attrgetter
from typing import Any

from graphql import (
    GraphQLLeafType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    is_leaf_type,
)
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.types.base import StrawberryObjectDefinition

DEFINITION = "strawberry-definition"

Getter = Callable[[Any], Any]
Plan = dict[str, tuple[Getter, GraphQLOutputType]]  # schema field name: (getter, its type)


class _GiveBack(Exception):
    """The shortcut met something only the general way handles."""


def _plain_fields(gql_type: GraphQLObjectType) -> Plan:
    """The fields of ``gql_type`` that are plain attributes (no resolver, no arguments)."""
    definition = (gql_type.extensions or {}).get(DEFINITION)
    if not isinstance(definition, StrawberryObjectDefinition):
        return {}
    plan: Plan = {}
    by_name = {f.python_name: f for f in definition.fields}
    for name, gql_field in gql_type.fields.items():
        python_name = getattr(gql_field, "python_name", None) or name
        field = by_name.get(python_name)
        if (
            field is None
            or field.base_resolver is not None
            or field.arguments
            or field.permission_classes
            or field.extensions
            or gql_field.args
        ):
            continue
        plan[name] = (attrgetter(python_name), gql_field.type)
    return plan


def plain_types(schema: GraphQLSchema) -> dict[str, Plan]:
    """The plain fields of every object type of ``schema`` that has any."""
    plans: dict[str, Plan] = {}
    for name, gql_type in schema.type_map.items():
        if isinstance(gql_type, GraphQLObjectType) and not name.startswith("__"):
            plan = _plain_fields(gql_type)
            if plan is not None:
                plans[name] = plan
    return plans


class Executor(StrawberryGraphQLCoreExecutionContext):
    """graphql-core's execution, with plain objects completed by the shortcut. The plans
    are set on the class by :func:`install` once the schema is built."""

    plans: dict[str, Plan] = {}

    def execute_collected_subfields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Any,
        grouped_field_set: Any,
        new_defer_usages: Sequence[Any],
        position_context: Any,
    ) -> Any:
        plan = self.plans.get(parent_type.name)
        if plan is not None and not new_defer_usages:
            try:
                return self._object(parent_type.name, plan, source_value, grouped_field_set)
            except Exception:  # noqa: S110 - the general way reports it properly
                pass
        return super().execute_collected_subfields(
            parent_type, source_value, path, grouped_field_set, new_defer_usages, position_context
        )

    def _object(self, type_name: str, plan: Plan, source: Any, grouped: Any) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key, details in grouped.items():
            name = details[0].node.name.value
            if name == "__typename":
                result[key] = type_name
                continue
            entry = plan.get(name)
            if entry is None:  # a field with a resolver: graphql-core runs it
                raise _GiveBack
            getter, field_type = entry
            result[key] = self._value(field_type, getter(source), details)
        return result

    def _value(self, field_type: GraphQLOutputType, value: Any, details: Any) -> Any:
        if isinstance(field_type, GraphQLNonNull):
            if value is None:
                raise _GiveBack
            field_type = field_type.of_type
        elif value is None:
            return None
        if isinstance(field_type, GraphQLList):
            item_type = field_type.of_type
            return [self._value(item_type, item, details) for item in value]
        if is_leaf_type(field_type):
            assert isinstance(field_type, GraphQLLeafType)
            serialized = field_type.serialize(value)
            if serialized is None:
                raise _GiveBack
            return serialized
        assert isinstance(field_type, GraphQLObjectType)
        plan = self.plans.get(field_type.name)
        if plan is None:
            raise _GiveBack
        grouped = self.collect_subfields(field_type, details)[0]
        return self._object(field_type.name, plan, value, grouped)


def install(schema: GraphQLSchema) -> type[Executor]:
    Executor.plans = plain_types(schema)
    return Executor


__all__ = ["Executor", "install", "plain_types"]
