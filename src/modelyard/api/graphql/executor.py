"""A faster completion of plain objects, with graphql-core's semantics.

graphql-core completes every field of every object through its general machinery
(resolve info, resolver, awaitable checks, completion): about 3 us a field, or some 70 ms
for 2,000 models of a dozen fields. Most fields are *plain*: an attribute, without
arguments or a resolver of its own. When every field selected on an object is plain,
:class:`Executor` builds the object's result directly (read the attribute, serialize the
leaf, recurse into plain objects and lists) with the sub-selection graphql-core collected
(fragments, aliases, ``@skip``/``@include`` and ``__typename`` as it has them). How
each plain field is completed is worked out once per schema (:func:`plain_types`); a list
of plain objects (a provider's 40 models) is completed in one pass, its sub-selection
collected once.

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
    GraphQLBoolean,
    GraphQLEnumType,
    GraphQLID,
    GraphQLInt,
    GraphQLLeafType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    GraphQLString,
)
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.types.base import StrawberryObjectDefinition
from strawberry.types.field import StrawberryField

DEFINITION = "strawberry-definition"
INT32 = range(-(2**31), 2**31)

Getter = Callable[[Any], Any]
# How a field's value is completed: (executor, value, the field's details) -> its result.
Complete = Callable[["Executor", Any, Any], Any]
Plan = dict[str, tuple[Getter, Complete]]  # schema field name: (getter, completion)
Selected = tuple[str, Getter, Complete, Any]  # response key, getter, completion, details


class _GiveBack(Exception):
    """The shortcut met something only the general way handles."""


def _leaf(leaf: GraphQLLeafType, required: bool) -> Complete:
    """A leaf's completion: values already in the scalar's JSON form pass straight through
    (a str for String and ID, a bool, a 32-bit int); enums remember what each member
    serializes to; anything else goes through the scalar's ``serialize``."""
    serialize = leaf.serialize

    def general(_ex: Executor, value: Any, _details: Any) -> Any:
        if value is None:
            if required:
                raise _GiveBack
            return None
        serialized = serialize(value)
        if serialized is None:
            raise _GiveBack
        return serialized

    if leaf is GraphQLString or leaf is GraphQLID:
        return lambda ex, v, d: v if type(v) is str else general(ex, v, d)
    if leaf is GraphQLBoolean:
        return lambda ex, v, d: v if type(v) is bool else general(ex, v, d)
    if leaf is GraphQLInt:
        return lambda ex, v, d: v if type(v) is int and v in INT32 else general(ex, v, d)
    if isinstance(leaf, GraphQLEnumType):
        return _remembered(general)
    return general


def _remembered(general: Complete) -> Complete:
    known: dict[Any, Any] = {}

    def member(ex: Executor, value: Any, details: Any) -> Any:
        found = known.get(value)
        if found is None:
            found = known[value] = general(ex, value, details)
        return found

    return member


def _completion(field_type: GraphQLOutputType) -> Complete:
    """How a value of ``field_type`` is completed (nulls, lists, leaves, objects)."""
    required = isinstance(field_type, GraphQLNonNull)
    inner_type = field_type.of_type if isinstance(field_type, GraphQLNonNull) else field_type
    if isinstance(inner_type, GraphQLLeafType):
        return _leaf(inner_type, required)
    inner = _completion_of(inner_type)
    if required:

        def non_null(ex: Executor, value: Any, details: Any) -> Any:
            if value is None:
                raise _GiveBack
            return inner(ex, value, details)

        return non_null
    return lambda ex, v, d: None if v is None else inner(ex, v, d)


def _completion_of(field_type: GraphQLOutputType) -> Complete:
    """The same for a value known not to be null."""
    if isinstance(field_type, GraphQLList):
        item_type = field_type.of_type
        required = isinstance(item_type, GraphQLNonNull)
        named = item_type.of_type if required else item_type
        if isinstance(named, GraphQLObjectType):
            return lambda ex, v, d: ex._objects(named, required, v, d)
        item = _completion(item_type)
        return lambda ex, v, d: [item(ex, x, d) for x in v]
    if isinstance(field_type, GraphQLObjectType):
        return lambda ex, v, d: ex._objects(field_type, True, (v,), d)[0]
    if isinstance(field_type, GraphQLLeafType):
        return _leaf(field_type, True)
    return _general  # an interface or union: graphql-core resolves the type


def _general(_ex: Executor, _value: Any, _details: Any) -> Any:
    raise _GiveBack


def _plain_fields(gql_type: GraphQLObjectType) -> Plan:
    """The fields of ``gql_type`` that are plain attributes (no resolver, no arguments).
    A type that checks what its objects are (``is_type_of``: one implementing an
    interface) has none: the shortcut would skip the check."""
    definition = (gql_type.extensions or {}).get(DEFINITION)
    if not isinstance(definition, StrawberryObjectDefinition) or gql_type.is_type_of:
        return {}
    plan: Plan = {}
    for name, gql_field in gql_type.fields.items():
        field = (gql_field.extensions or {}).get(DEFINITION)
        if (
            not isinstance(field, StrawberryField)
            or field.base_resolver is not None
            or field.arguments
            or field.permission_classes
            or field.extensions
            or gql_field.args
        ):
            continue
        plan[name] = (attrgetter(field.python_name), _completion(gql_field.type))
    return plan


def plain_types(schema: GraphQLSchema) -> dict[str, Plan]:
    """The plain fields of every object type of ``schema`` that has any."""
    plans: dict[str, Plan] = {}
    for name, gql_type in schema.type_map.items():
        if isinstance(gql_type, GraphQLObjectType) and not name.startswith("__"):
            plan = _plain_fields(gql_type)
            if plan:
                plans[name] = plan
    return plans


class Executor(StrawberryGraphQLCoreExecutionContext):
    """graphql-core's execution, with plain objects completed by the shortcut. The plans
    are set on the class by :func:`install` once the schema is built."""

    plans: dict[str, Plan] = {}
    lists: dict[GraphQLList[Any], Complete] = {}  # a list field's completion, made once

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # this request's sub-selections, by the identity of graphql-core's grouped field set
        self.selections: dict[int, tuple[Any, list[Selected] | None]] = {}

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

    def complete_list_value(
        self,
        return_type: GraphQLList[GraphQLOutputType],
        field_details_list: Any,
        info: Any,
        path: Any,
        result: Any,
        position_context: Any,
    ) -> Any:
        """A list a resolver returned (a provider's models): plain objects in one pass."""
        if isinstance(result, list | tuple):
            try:
                complete = self.lists.get(return_type)
                if complete is None:
                    complete = self.lists[return_type] = _completion_of(return_type)
                return complete(self, result, field_details_list)
            except Exception:  # noqa: S110 - the general way reports it properly
                pass
        return super().complete_list_value(
            return_type, field_details_list, info, path, result, position_context
        )

    def _object(self, type_name: str, plan: Plan, source: Any, grouped: Any) -> dict[str, Any]:
        return {
            key: complete(self, getter(source), details)
            for key, getter, complete, details in self._selection(type_name, plan, grouped)
        }

    def _objects(
        self, named: GraphQLObjectType, required: bool, items: Any, details: Any
    ) -> list[Any]:
        """Plain objects of one type, their sub-selection collected once."""
        plan = self.plans.get(named.name)
        if plan is None:
            raise _GiveBack
        grouped, deferred, _ = self.collect_subfields(named, details)
        if deferred:
            raise _GiveBack
        fields = self._selection(named.name, plan, grouped)
        out: list[Any] = []
        for item in items:
            if item is None:
                if required:
                    raise _GiveBack
                out.append(None)
            else:
                out.append({k: c(self, g(item), d) for k, g, c, d in fields})
        return out

    def _selection(self, type_name: str, plan: Plan, grouped: Any) -> list[Selected]:
        """What to read and how to complete it for each response key of ``grouped``
        (graphql-core collects a sub-selection once per type and field nodes, so this is
        worked out once per request for each)."""
        found = self.selections.get(id(grouped))
        if found is None or found[0] is not grouped:
            found = self.selections[id(grouped)] = (grouped, _selected(type_name, plan, grouped))
        if found[1] is None:  # a field with a resolver: graphql-core runs the object
            raise _GiveBack
        return found[1]


def _selected(type_name: str, plan: Plan, grouped: Any) -> list[Selected] | None:
    fields: list[Selected] = []
    for key, details in grouped.items():
        name = details[0].node.name.value
        if name == "__typename":
            fields.append((key, lambda _: type_name, _TYPENAME, details))
            continue
        entry = plan.get(name)
        if entry is None:
            return None
        fields.append((key, entry[0], entry[1], details))
    return fields


def _TYPENAME(_ex: Executor, value: Any, _details: Any) -> Any:
    return value


def install(schema: GraphQLSchema) -> type[Executor]:
    Executor.plans = plain_types(schema)
    Executor.lists = {}
    return Executor


__all__ = ["Executor", "install", "plain_types"]
