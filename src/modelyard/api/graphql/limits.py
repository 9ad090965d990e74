"""What one document may ask for (the system setting ``graphql.limits``), checked before
anything runs: nesting, cost, aliases, tokens and introspection.

- **Depth**: fields nested deeper than ``max_depth`` (fragments count by what they hold;
  fields under ``__schema``/``__type`` are not counted: GraphiQL's schema query nests its
  type references nine deep).
- **Cost**: each field (``__typename`` too) costs 1 plus its children's cost times the
  field's list size: its ``first`` argument (default 50) on a connection,
  :data:`LIST_SIZE` for any other list, 1 for one object. Over ``max_complexity`` the
  document is refused. A fragment is walked once per depth it is
  spread at, however often it is spread (fragments spreading the next twice, 20 deep, cost
  a walk of 20 fragments, not of a million). A ``first`` given by a variable counts its
  value, or the operation's default for it.
- **Re-entry**: a list not paged by ``first`` may not list a type already above it
  (``llmModels { provider { models ... } }``: each level would repeat the whole list below
  it, which no list size guessed for the cost bounds): GRAPHQL_TOO_COMPLEX. One object of
  such a type (a model's ``provider``) is fine.
- **Aliases**: more than ``max_aliases`` aliased fields (a batch of one field under many
  names) is refused.
- **Tokens**: the parser stops at ``max_tokens``; bracket nesting beyond
  :data:`~.nesting.MAX_NESTING` is refused before parsing (the parser would recurse into
  it; :mod:`.nesting`).
- **Introspection** (``__schema``, ``__type``; ``__typename`` is always answered) is refused
  when the setting ``graphql.introspection`` is off. It is not costed (it reads the schema,
  whose size is fixed), but a type's lists (``fields``, ``inputFields``, ``interfaces``,
  ``possibleTypes``, ``enumValues``) may not be asked again below one of them
  (``types { fields { type { fields ... } } }`` would multiply the schema by itself at each
  level; GraphiQL's schema query never does): GRAPHQL_TOO_COMPLEX.

Each refusal is one error with ``extensions.code``: GRAPHQL_TOO_DEEP, GRAPHQL_TOO_COMPLEX,
GRAPHQL_TOO_MANY_ALIASES, GRAPHQL_INTROSPECTION_DISABLED (and, from the endpoint,
GRAPHQL_NESTING_TOO_DEEP, PAYLOAD_TOO_LARGE)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SchemaMetaFieldDef,
    SelectionSetNode,
    TypeMetaFieldDef,
    VariableNode,
    get_named_type,
)
from strawberry.extensions import SchemaExtension

from modelyard.api.graphql import storable
from modelyard.api.graphql.pagination import DEFAULT_FIRST
from modelyard.registry.graphql_settings import GraphQLLimits

LIST_SIZE = 10  # what a list without `first` is assumed to hold, for the cost
INTROSPECTION_FIELDS = {"__schema": SchemaMetaFieldDef, "__type": TypeMetaFieldDef}
TYPE_LISTS = frozenset({"fields", "inputFields", "interfaces", "possibleTypes", "enumValues"})
# Where a field is: outside introspection, inside it, inside it below one of a type's lists.
_OUTSIDE, _INTROSPECTING, _LISTED = 0, 1, 2


@dataclass
class Measure:
    depth: int = 0
    cost: int = 0
    introspection: bool = False
    introspection_nested: bool = False
    reentered: str | None = None  # "models (LlmModel)": a list of a type already above it


@dataclass
class _Walk:
    schema: GraphQLSchema
    fragments: Mapping[str, FragmentDefinitionNode]
    variables: Mapping[str, Any]
    budget: int
    found: Measure = field(default_factory=Measure)
    # (fragment, depth, inside introspection, types above): its cost, walked once however
    # often spread
    costs: dict[tuple[str, int, int, frozenset[str]], int] = field(default_factory=dict)
    defaults: Mapping[str, Any] = field(default_factory=dict)  # the operation's variables'

    def selection_set(
        self,
        node: SelectionSetNode | None,
        parent: GraphQLNamedType | None,
        depth: int,
        seen: frozenset[str],
        introspecting: int = _OUTSIDE,
        above: frozenset[str] = frozenset(),
    ) -> int:
        cost = 0
        for selection in node.selections if node else ():
            if isinstance(selection, FieldNode):
                cost += self.field(selection, parent, depth, introspecting, above)
            elif isinstance(selection, InlineFragmentNode):
                cond = selection.type_condition
                inner = self.schema.get_type(cond.name.value) if cond else parent
                cost += self.selection_set(
                    selection.selection_set, inner, depth, seen, introspecting, above
                )
            elif isinstance(selection, FragmentSpreadNode):
                cost += self.spread(selection.name.value, depth, seen, introspecting, above)
            if cost > self.budget:  # stop walking a document already too costly
                break
        return cost

    def spread(
        self, name: str, depth: int, seen: frozenset[str], introspecting: int, above: frozenset[str]
    ) -> int:
        fragment = self.fragments.get(name)
        if fragment is None or name in seen:
            return 0  # validation names the unknown fragment or the cycle
        key = (name, depth, introspecting, above)
        cost = self.costs.get(key)
        if cost is None:
            inner = self.schema.get_type(fragment.type_condition.name.value)
            cost = self.selection_set(
                fragment.selection_set, inner, depth, seen | {name}, introspecting, above
            )
            self.costs[key] = cost
        return cost

    def field(
        self,
        node: FieldNode,
        parent: GraphQLNamedType | None,
        depth: int,
        introspecting: int,
        above: frozenset[str] = frozenset(),
    ) -> int:
        name = node.name.value
        if name == "__typename":
            return 1
        definition = INTROSPECTION_FIELDS.get(name)
        if definition is not None:
            self.found.introspection = True
            introspecting = _INTROSPECTING
        elif isinstance(parent, GraphQLObjectType):
            definition = parent.fields.get(name)
        if introspecting:
            return self._introspection(node, definition, parent, depth, introspecting)
        self.found.depth = max(self.found.depth, depth + 1)
        if definition is None or node.selection_set is None:
            return 1
        inner_type = get_named_type(definition.type)
        paged = parent is not None and parent.name.endswith("Connection")  # costed by `first`
        if _listed(definition.type) and inner_type.name in above and not paged:
            self.found.reentered = f"{name} ({inner_type.name})"
        size = self._size(node, definition, parent)
        inner = self.selection_set(
            node.selection_set, inner_type, depth + 1, frozenset(), above=above | {inner_type.name}
        )
        return 1 + size * inner

    def _introspection(
        self,
        node: FieldNode,
        definition: Any,
        parent: GraphQLNamedType | None,
        depth: int,
        introspecting: int,
    ) -> int:
        if parent is not None and parent.name == "__Type" and node.name.value in TYPE_LISTS:
            if introspecting == _LISTED:
                self.found.introspection_nested = True
                return 0
            introspecting = _LISTED
        if definition is not None and node.selection_set is not None:
            inner_type = get_named_type(definition.type)
            self.selection_set(node.selection_set, inner_type, depth, frozenset(), introspecting)
        return 0

    def _size(self, node: FieldNode, definition: Any, parent: GraphQLNamedType | None) -> int:
        if "first" in definition.args:
            return max(1, self._argument(node, "first", DEFAULT_FIRST))
        field_type = definition.type
        if isinstance(field_type, GraphQLNonNull):
            field_type = field_type.of_type
        if not isinstance(field_type, GraphQLList):
            return 1
        if parent is not None and parent.name.endswith("Connection"):
            return 1  # edges/nodes: the connection's `first` counted them already
        return LIST_SIZE

    def _argument(self, node: FieldNode, name: str, default: int) -> int:
        for argument in node.arguments or ():
            if argument.name.value != name:
                continue
            value = argument.value
            if isinstance(value, IntValueNode):
                return int(value.value)
            if isinstance(value, VariableNode):
                given = self.variables.get(value.name.value, self.defaults.get(value.name.value))
                if isinstance(given, int) and not isinstance(given, bool):
                    return given  # given, or the operation's default for it
        return default


def _listed(field_type: Any) -> bool:
    if isinstance(field_type, GraphQLNonNull):
        field_type = field_type.of_type
    return isinstance(field_type, GraphQLList)


def _defaults(operation: OperationDefinitionNode) -> dict[str, Any]:
    """The operation's variables' default values that are integers."""
    found: dict[str, Any] = {}
    for definition in operation.variable_definitions or ():
        if isinstance(definition.default_value, IntValueNode):
            found[definition.variable.name.value] = int(definition.default_value.value)
    return found


def _operations(document: DocumentNode) -> Iterator[OperationDefinitionNode]:
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            yield definition


def measure(
    schema: GraphQLSchema, document: DocumentNode, variables: Mapping[str, Any], budget: int
) -> Measure:
    """Depth, cost and introspection of every operation in ``document`` (the worst of
    them: the one chosen to run is among them)."""
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    walk = _Walk(schema, fragments, variables, budget)
    for operation in _operations(document):
        root = schema.get_root_type(operation.operation)
        walk.defaults = _defaults(operation)
        cost = walk.selection_set(operation.selection_set, root, 0, frozenset())
        walk.found.cost = max(walk.found.cost, cost)
    return walk.found


def aliases(document: DocumentNode) -> int:
    count = 0
    stack: list[Any] = list(document.definitions)
    while stack:
        node = stack.pop()
        if isinstance(node, FieldNode) and node.alias is not None:
            count += 1
        selection_set = getattr(node, "selection_set", None)
        if selection_set is not None:
            stack.extend(selection_set.selections)
    return count


def _error(code: str, message: str, **extra: Any) -> GraphQLError:
    return GraphQLError(message, extensions={"code": code, **extra})


def check(
    schema: GraphQLSchema,
    document: DocumentNode,
    variables: Mapping[str, Any],
    limits: GraphQLLimits,
    introspection: bool,
) -> list[GraphQLError]:
    """The limits ``document`` breaks (none: it may run)."""
    count = aliases(document)
    if count > limits.max_aliases:
        return [
            _error(
                "GRAPHQL_TOO_MANY_ALIASES",
                f"the document has {count} aliased fields; at most {limits.max_aliases}",
                limit=limits.max_aliases,
            )
        ]
    found = measure(schema, document, variables, limits.max_complexity)
    errors = []
    if found.introspection and not introspection:
        errors.append(
            _error(
                "GRAPHQL_INTROSPECTION_DISABLED",
                "introspection is turned off on this server (setting graphql.introspection)",
            )
        )
    if found.introspection_nested:
        errors.append(
            _error(
                "GRAPHQL_TOO_COMPLEX",
                "introspection lists a type's fields (or inputFields, interfaces,"
                " possibleTypes, enumValues) below another's; ask for one level at a time",
                limit=limits.max_complexity,
            )
        )
    if found.reentered is not None:
        errors.append(
            _error(
                "GRAPHQL_TOO_COMPLEX",
                f"{found.reentered} lists a type already above it (each level would repeat"
                " the whole list below it); ask for that list at the top instead",
                limit=limits.max_complexity,
            )
        )
    if found.depth > limits.max_depth:
        errors.append(
            _error(
                "GRAPHQL_TOO_DEEP",
                f"fields are nested {found.depth} deep; at most {limits.max_depth}",
                limit=limits.max_depth,
            )
        )
    if found.cost > limits.max_complexity:
        errors.append(
            _error(
                "GRAPHQL_TOO_COMPLEX",
                f"the document costs more than {limits.max_complexity} (each field 1, times"
                " the size of the lists above it); ask for fewer fields or smaller pages",
                limit=limits.max_complexity,
            )
        )
    return errors


def _unnamed(document: DocumentNode) -> list[GraphQLError]:
    """GraphQL's rule strawberry skips (it runs the first): a document of several
    operations says which one to run."""
    if sum(1 for _ in _operations(document)) < 2:
        return []
    message = "the document holds several operations: name the one to run in operationName"
    return [_error("GRAPHQL_VALIDATION_FAILED", message)]


class Limits(SchemaExtension):
    """Runs :func:`check` with the request's limits (from its :class:`Context`) before
    GraphQL's own validation; a refused document is not validated further or run. A
    document of several operations without ``operationName`` is refused too."""

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context.context
        self.execution_context.parse_options["max_tokens"] = context.limits.max_tokens
        yield

    def on_validate(self) -> Iterator[None]:
        execution = self.execution_context
        document = execution.graphql_document
        if document is not None and execution.pre_execution_errors is None:
            context = execution.context
            errors = check(
                execution.schema._schema,
                document,
                execution.variables or {},
                context.limits,
                context.introspection,
            )
            unstorable = storable.check(document, execution.variables or {})
            if unstorable is not None:
                errors.append(unstorable)
            if getattr(execution, "_provided_operation_name", None) is None:
                errors += _unnamed(document)
            if errors:
                execution.pre_execution_errors = errors
        yield


__all__ = [
    "LIST_SIZE",
    "Limits",
    "Measure",
    "aliases",
    "check",
    "measure",
]
