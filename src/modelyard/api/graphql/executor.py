"""A faster completion of plain objects, with graphql-core's semantics.

graphql-core completes every field through its general machinery (resolve info, resolver,
awaitable checks, completion): about 3 us a field, some 70 ms for 2,000 models. Most fields
are *plain*: an attribute, without arguments or a resolver of its own. :class:`Executor`
completes an object's plain fields directly (read the attribute, serialize the leaf,
recurse into plain objects and lists) with the sub-selection graphql-core collected
(fragments, aliases, ``@skip``/``@include``, ``__typename``), and leaves only the fields
with a resolver (relations through dataloaders) to graphql-core, merging both in the
selection's order. How each plain field completes is worked out once per schema, each
sub-selection's split once per request; a list of plain objects (a provider's models) is
completed in one pass.

Anything the shortcut does not expect (a null in a non-null field, a value a scalar cannot
serialize, an interface) gives the object or list back to graphql-core, which completes it
the general way and reports any error with its path; the shortcut only reads attributes,
so starting again costs nothing but time. tests/api/graphql/test_executor_shortcut.py
checks that it takes the models of seed 001's query."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from operator import attrgetter
from typing import Any, cast

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
    get_named_type,
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
        self.splits: dict[int, tuple[Any, _Split]] = {}

    def execute_collected_subfields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Any,
        grouped_field_set: Any,
        new_defer_usages: Sequence[Any],
        position_context: Any,
    ) -> Any:
        """An object's plain fields by the shortcut; graphql-core runs the others (fields
        with a resolver) and the two are merged in the selection's order."""
        plan = self.plans.get(parent_type.name)
        if plan is not None and not new_defer_usages and position_context is None:
            split = self._split(parent_type.name, plan, grouped_field_set)
            try:
                plain = {k: c(self, g(source_value), d) for k, g, c, d in split.plain}
            except Exception:  # the general way reports it properly
                plain = None
            if plain is not None and split.rest is None:
                return plain
            if plain is not None and split.rest is not None:
                rest = super().execute_collected_subfields(
                    parent_type, source_value, path, split.rest, new_defer_usages, None
                )
                if self.is_awaitable(rest):
                    return _merged_later(split.order, plain, rest)
                return _merged(split.order, plain, cast("dict[str, Any]", rest))
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
        """A list a resolver returned (a provider's models): plain objects in one pass.
        Only lists of objects: a resolver may return a list of awaitables, which an
        object's getter cannot read (it gives back) but a scalar might pass through."""
        if isinstance(result, list | tuple) and isinstance(
            get_named_type(return_type), GraphQLObjectType
        ):
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
        """What to read and how to complete it for each response key of ``grouped``, when
        every selected field is plain (else it gives back)."""
        split = self._split(type_name, plan, grouped)
        if split.rest is not None:  # a field with a resolver: graphql-core runs the object
            raise _GiveBack
        return split.plain

    def _split(self, type_name: str, plan: Plan, grouped: Any) -> _Split:
        """``grouped`` split into its plain fields and the rest (graphql-core collects a
        sub-selection once per type and field nodes, so this is worked out once per
        request for each)."""
        found = self.splits.get(id(grouped))
        if found is None or found[0] is not grouped:
            found = self.splits[id(grouped)] = (grouped, _split(type_name, plan, grouped))
        return found[1]


@dataclass(frozen=True)
class _Split:
    plain: list[Selected]
    rest: dict[str, Any] | None  # the fields graphql-core executes (None: there are none)
    order: tuple[str, ...]  # every response key, in the selection's order


def _split(type_name: str, plan: Plan, grouped: Any) -> _Split:
    plain: list[Selected] = []
    rest: dict[str, Any] = {}
    for key, details in grouped.items():
        name = details[0].node.name.value
        entry = plan.get(name)
        if name == "__typename":
            plain.append((key, lambda _: type_name, _TYPENAME, details))
        elif entry is None:
            rest[key] = details
        else:
            plain.append((key, entry[0], entry[1], details))
    return _Split(plain, rest or None, tuple(grouped))


def _merged(order: tuple[str, ...], plain: dict[str, Any], rest: dict[str, Any]) -> Any:
    return {k: plain[k] if k in plain else rest[k] for k in order if k in plain or k in rest}


async def _merged_later(
    order: tuple[str, ...], plain: dict[str, Any], rest: Awaitable[dict[str, Any]]
) -> Any:
    return _merged(order, plain, await rest)


def _TYPENAME(_ex: Executor, value: Any, _details: Any) -> Any:
    return value


def install(schema: GraphQLSchema) -> type[Executor]:
    Executor.plans = plain_types(schema)
    Executor.lists = {}
    return Executor


__all__ = ["Executor", "install", "plain_types"]
