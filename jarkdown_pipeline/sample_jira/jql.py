"""The JQL subset the pipeline emits: a tokenizer, a recursive-descent parser and an evaluator.

Supported: `project` (=, !=, in, not in), `key`/`issuekey`/`id` (=, !=, in, not in),
`updated`/`created` (=, !=, <, <=, >, >=) with 'yyyy-MM-dd HH:mm' or 'yyyy-MM-dd' literals (also
with '/') read in the user's time zone; AND, OR, NOT, parentheses; ORDER BY updated, created, key,
project, id with ASC/DESC. Anything else raises JqlError with Jira's wording, which the server
answers with 400.
"""

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

_PREFIX = "Error in the JQL Query: "
_DATE_FORMATS_HINT = (
    "Valid formats include: 'yyyy/MM/dd HH:mm', 'yyyy-MM-dd HH:mm', 'yyyy/MM/dd', 'yyyy-MM-dd', "
    "or a period format e.g. '-5d', '4w 2d'."
)
_KEYWORDS = {"AND", "OR", "NOT", "IN", "ORDER", "BY", "ASC", "DESC", "IS", "EMPTY", "NULL", "WAS", "CHANGED"}
_FIELDS = {
    "project": "project",
    "key": "key",
    "issuekey": "key",
    "id": "key",
    "updated": "updated",
    "updateddate": "updated",
    "created": "created",
    "createddate": "created",
}
_OPERATORS_BY_FIELD = {
    "project": {"=", "!=", "in", "not in"},
    "key": {"=", "!=", "in", "not in"},
    "updated": {"=", "!=", "<", "<=", ">", ">="},
    "created": {"=", "!=", "<", "<=", ">", ">="},
}
_KNOWN_UNSUPPORTED_FIELDS = {
    "status",
    "assignee",
    "reporter",
    "summary",
    "description",
    "text",
    "labels",
    "priority",
    "type",
    "issuetype",
    "resolution",
    "sprint",
    "component",
    "fixversion",
    "parent",
    "creator",
    "resolved",
    "due",
    "duedate",
    "comment",
}
_SORTABLE = {
    "updated": "updated",
    "updateddate": "updated",
    "created": "created",
    "createddate": "created",
    "key": "key",
    "issuekey": "key",
    "id": "key",
    "project": "project",
}
_ISSUE_KEY = re.compile(r"^([A-Za-z][A-Za-z0-9_]*)-(\d+)$")
_DATE = re.compile(r"^(\d{4})[-/](\d{1,2})[-/](\d{1,2})(?:\s+(\d{1,2}):(\d{2}))?$")


class JqlError(ValueError):
    """Invalid or unsupported JQL; str() is the message Jira would send in errorMessages."""


@dataclass(frozen=True)
class Token:
    kind: str  # "word", "string", "op", "(", ")", ",", "eof"
    value: str
    position: int  # 1-based character

    def describe(self) -> str:
        return "EOF" if self.kind == "eof" else repr(self.value).replace('"', "'")


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch in "(),":
            tokens.append(Token(ch, ch, i + 1))
            i += 1
        elif ch in "!<>=~":
            two = text[i : i + 2]
            if two in ("!=", ">=", "<=", "!~"):
                tokens.append(Token("op", two, i + 1))
                i += 2
            elif ch == "!":
                raise JqlError(f"{_PREFIX}The character '!' is a reserved JQL character. (line 1, character {i + 1})")
            else:
                tokens.append(Token("op", ch, i + 1))
                i += 1
        elif ch in "\"'":
            start = i
            i += 1
            chars = []
            while i < len(text) and text[i] != ch:
                if text[i] == "\\" and i + 1 < len(text):
                    i += 1
                chars.append(text[i])
                i += 1
            if i >= len(text):
                raise JqlError(
                    f"{_PREFIX}Missing closing quote {ch} for the string starting at character {start + 1}. (line 1, character {start + 1})"
                )
            tokens.append(Token("string", "".join(chars), start + 1))
            i += 1
        else:
            start = i
            while i < len(text) and not text[i].isspace() and text[i] not in "(),!<>=~\"'":
                i += 1
            word = text[start:i]
            if word in ("&&", "||", "&", "|"):
                raise JqlError(
                    f"{_PREFIX}The sample Jira does not support '{word}'; use AND / OR. (line 1, character {start + 1})"
                )
            tokens.append(Token("word", word, start + 1))
    tokens.append(Token("eof", "", len(text) + 1))
    return tokens


@dataclass(frozen=True)
class Clause:
    field: str  # canonical: project, key, updated, created
    name: str  # as written
    operator: str  # =, !=, <, <=, >, >=, in, not in
    values: tuple[str, ...]


@dataclass(frozen=True)
class BoolOp:
    operator: str  # "and" | "or"
    parts: tuple["Node", ...]


@dataclass(frozen=True)
class Not:
    part: "Node"


Node = Clause | BoolOp | Not


@dataclass(frozen=True)
class SortItem:
    field: str
    descending: bool


@dataclass(frozen=True)
class JqlQuery:
    where: Node | None
    order_by: tuple[SortItem, ...]


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.index = 0

    @property
    def current(self) -> Token:
        return self.tokens[self.index]

    def advance(self) -> Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def is_keyword(self, *words: str, offset: int = 0) -> bool:
        token = self.tokens[min(self.index + offset, len(self.tokens) - 1)]
        return token.kind == "word" and token.value.upper() in words

    def fail(self, expectation: str) -> JqlError:
        token = self.current
        return JqlError(f"{_PREFIX}{expectation} but got {token.describe()}. (line 1, character {token.position})")

    def parse(self) -> JqlQuery:
        where = None
        if not self.is_keyword("ORDER") and self.current.kind != "eof":
            where = self.or_expr()
        order_by: tuple[SortItem, ...] = ()
        if self.is_keyword("ORDER"):
            self.advance()
            if not self.is_keyword("BY"):
                raise self.fail("Expecting 'by'")
            self.advance()
            order_by = self.sort_items()
        if self.current.kind != "eof":
            raise self.fail("Expecting either 'OR' or 'AND'" if where is not None else "Expecting a field name")
        return JqlQuery(where, order_by)

    def or_expr(self) -> Node:
        parts = [self.and_expr()]
        while self.is_keyword("OR"):
            self.advance()
            parts.append(self.and_expr())
        return parts[0] if len(parts) == 1 else BoolOp("or", tuple(parts))

    def and_expr(self) -> Node:
        parts = [self.not_expr()]
        while self.is_keyword("AND"):
            self.advance()
            parts.append(self.not_expr())
        return parts[0] if len(parts) == 1 else BoolOp("and", tuple(parts))

    def not_expr(self) -> Node:
        if self.is_keyword("NOT"):
            self.advance()
            return Not(self.not_expr())
        if self.current.kind == "(":
            self.advance()
            node = self.or_expr()
            if self.current.kind != ")":
                raise self.fail("Expecting ')'")
            self.advance()
            return node
        return self.clause()

    def clause(self) -> Clause:
        token = self.current
        if token.kind not in ("word", "string") or (token.kind == "word" and token.value.upper() in _KEYWORDS):
            raise self.fail("Expecting a field name")
        self.advance()
        name = token.value
        if self.current.kind == "(":
            raise JqlError(
                f"{_PREFIX}The sample Jira does not support JQL functions such as '{name}()'. (line 1, character {token.position})"
            )
        field = _FIELDS.get(name.lower())
        if field is None and name.lower() in _KNOWN_UNSUPPORTED_FIELDS:
            raise JqlError(
                f"{_PREFIX}the sample Jira does not support the field '{name}'; it knows project, key, updated and created."
            )
        if field is None:
            raise JqlError(f"Field '{name}' does not exist or you do not have permission to view it.")
        operator = self.operator()
        if operator not in _OPERATORS_BY_FIELD[field]:
            raise JqlError(
                f"The operator '{operator.upper() if operator.isalpha() or ' ' in operator else operator}' is not supported by the '{name}' field."
            )
        if operator in ("in", "not in"):
            values = self.value_list()
        else:
            values = (self.value(),)
        return Clause(field, name, operator, values)

    def operator(self) -> str:
        token = self.current
        if token.kind == "op":
            self.advance()
            return token.value
        if self.is_keyword("IN"):
            self.advance()
            return "in"
        if self.is_keyword("NOT") and self.is_keyword("IN", offset=1):
            self.advance()
            self.advance()
            return "not in"
        if self.is_keyword("IS", "WAS", "CHANGED"):
            word = token.value.upper()
            self.advance()
            if word == "IS" and self.is_keyword("NOT"):
                self.advance()
                word = "IS NOT"
            return word.lower()
        raise self.fail(
            "Expecting operator"
            if token.kind != "eof"
            else "Expecting operator before the end of the query. The valid operators are '=', '!=', '<', '>', '<=', '>=', '~', '!~', 'IN', 'NOT IN', 'IS' and 'IS NOT'"
        )

    def value(self) -> str:
        token = self.current
        if token.kind == "string" or (token.kind == "word" and token.value.upper() not in _KEYWORDS):
            self.advance()
            if self.current.kind == "(" and token.kind == "word":
                raise JqlError(
                    f"{_PREFIX}The sample Jira does not support JQL functions such as '{token.value}()'. (line 1, character {token.position})"
                )
            return token.value
        raise self.fail("Expecting either a value, list or function")

    def value_list(self) -> tuple[str, ...]:
        if self.current.kind != "(":
            raise self.fail("Expecting '('")
        self.advance()
        values = [self.value()]
        while self.current.kind == ",":
            self.advance()
            values.append(self.value())
        if self.current.kind != ")":
            raise self.fail("Expecting ')' or ','")
        self.advance()
        return tuple(values)

    def sort_items(self) -> tuple[SortItem, ...]:
        items = []
        while True:
            token = self.current
            if token.kind not in ("word", "string") or (token.kind == "word" and token.value.upper() in _KEYWORDS):
                raise self.fail("Expecting a field name")
            self.advance()
            field = _SORTABLE.get(token.value.lower())
            if field is None:
                raise JqlError(f"Not able to sort using field '{token.value}'.")
            descending = field in ("updated", "created")  # Jira's default order for dates is newest first
            if self.is_keyword("ASC", "DESC"):
                descending = self.advance().value.upper() == "DESC"
            items.append(SortItem(field, descending))
            if self.current.kind != ",":
                return tuple(items)
            self.advance()


def parse_jql(text: str) -> JqlQuery:
    """Parse a JQL string; JqlError names the problem (and position, for syntax errors)."""
    if len(text) > 10_000:
        raise JqlError("The JQL query is too long.")
    return _Parser(text).parse()


def parse_date_literal(value: str, zone: ZoneInfo, field_name: str) -> datetime:
    """'yyyy-MM-dd HH:mm' or 'yyyy-MM-dd' (or with '/') as an instant in the user's zone."""
    match = _DATE.match(value.strip())
    if match is None:
        if re.match(r"^[-+]?\d+[wdhm]", value.strip()):
            raise JqlError(
                f"{_PREFIX}relative date '{value}' for field '{field_name}' is not supported by the sample Jira; use 'yyyy-MM-dd HH:mm'."
            )
        raise JqlError(f"Date value '{value}' for field '{field_name}' is invalid. {_DATE_FORMATS_HINT}")
    year, month, day, hour, minute = (int(g) if g is not None else 0 for g in match.groups())
    try:
        local = datetime(year, month, day, hour, minute, tzinfo=zone)
    except ValueError:
        raise JqlError(f"Date value '{value}' for field '{field_name}' is invalid. {_DATE_FORMATS_HINT}") from None
    return local


@dataclass(frozen=True)
class IssueFacts:
    """What the evaluator needs to know about an issue."""

    id: int
    key: str
    project_key: str
    updated: datetime
    created: datetime


def _key_sort(key: str) -> tuple[str, int]:
    project, _, number = key.rpartition("-")
    return (project, int(number) if number.isdigit() else 0)


class BoundQuery:
    """A parsed query checked against the site (projects, keys) and the user's time zone."""

    def __init__(
        self,
        query: JqlQuery,
        zone: ZoneInfo,
        project_exists: Callable[[str], str | None],
        issue_exists: Callable[[str], bool] | None,
    ) -> None:
        self.query = query
        self.zone = zone
        self._project_exists = project_exists
        self._issue_exists = issue_exists
        self._predicate = self._compile(query.where) if query.where is not None else (lambda facts: True)

    def _compile(self, node: Node) -> Callable[[IssueFacts], bool]:
        if isinstance(node, BoolOp):
            parts = [self._compile(p) for p in node.parts]
            if node.operator == "and":
                return lambda facts: all(p(facts) for p in parts)
            return lambda facts: any(p(facts) for p in parts)
        if isinstance(node, Not):
            inner = self._compile(node.part)
            return lambda facts: not inner(facts)
        return self._compile_clause(node)

    def _compile_clause(self, clause: Clause) -> Callable[[IssueFacts], bool]:
        negate = clause.operator in ("!=", "not in")
        if clause.field == "project":
            keys = set()
            for value in clause.values:
                key = self._project_exists(value)
                if key is None:
                    raise JqlError(f"The value '{value}' does not exist for the field '{clause.name}'.")
                keys.add(key)
            return (lambda f: f.project_key not in keys) if negate else (lambda f: f.project_key in keys)
        if clause.field == "key":
            keys, ids = set(), set()
            for value in clause.values:
                if value.isdigit():
                    ids.add(int(value))
                    continue
                if not _ISSUE_KEY.match(value):
                    raise JqlError(f"The issue key '{value}' for field '{clause.name}' is invalid.")
                if self._issue_exists is not None and not self._issue_exists(value):
                    raise JqlError(f"An issue with key '{value}' does not exist for field '{clause.name}'.")
                keys.add(value.upper())
            if negate:
                return lambda f: f.key not in keys and f.id not in ids
            return lambda f: f.key in keys or f.id in ids
        bound = parse_date_literal(clause.values[0], self.zone, clause.name)
        attribute = clause.field
        compare = {
            "=": lambda a: a == bound,
            "!=": lambda a: a != bound,
            "<": lambda a: a < bound,
            "<=": lambda a: a <= bound,
            ">": lambda a: a > bound,
            ">=": lambda a: a >= bound,
        }[clause.operator]
        return lambda f: compare(getattr(f, attribute))

    def matches(self, facts: IssueFacts) -> bool:
        return self._predicate(facts)

    def _conjuncts(self) -> list[Clause]:
        """The clauses every match must satisfy: those AND-ed at the top (through nested ANDs)."""
        pending = [self.query.where] if self.query.where is not None else []
        clauses = []
        while pending:
            node = pending.pop()
            if isinstance(node, BoolOp) and node.operator == "and":
                pending.extend(node.parts)
            elif isinstance(node, Clause):
                clauses.append(node)
        return clauses

    def updated_bounds(self) -> tuple[datetime | None, datetime | None]:
        """Inclusive bounds on ``updated`` that every match lies within (None: open); a superset, for an index."""
        low = high = None
        for clause in self._conjuncts():
            if clause.field != "updated" or clause.operator == "!=":
                continue
            moment = parse_date_literal(clause.values[0], self.zone, clause.name)
            if clause.operator in (">", ">=", "="):
                low = moment if low is None else max(low, moment)
            if clause.operator in ("<", "<=", "="):
                high = moment if high is None else min(high, moment)
        return low, high

    def key_candidates(self) -> set[str] | None:
        """Keys and ids (as text) one of which every match has, from a top-level key clause; else None."""
        for clause in self._conjuncts():
            if clause.field == "key" and clause.operator in ("=", "in"):
                return {value.upper() for value in clause.values}
        return None

    def sort(self, issues: Sequence[IssueFacts]) -> list[IssueFacts]:
        """Order as ORDER BY says (stable, ties by id); without ORDER BY, newest issue first."""
        ordered = sorted(issues, key=lambda f: f.id, reverse=not self.query.order_by)
        for item in reversed(self.query.order_by):
            if item.field == "key":
                key_fn = lambda f: _key_sort(f.key)  # noqa: E731
            elif item.field == "project":
                key_fn = lambda f: f.project_key  # noqa: E731
            else:
                key_fn = (lambda attr: lambda f: getattr(f, attr))(item.field)
            ordered.sort(key=key_fn, reverse=item.descending)
        return ordered


def bind_jql(
    text: str,
    zone: ZoneInfo,
    project_exists: Callable[[str], str | None],
    issue_exists: Callable[[str], bool] | None = None,
    require_bounded: bool = True,
) -> BoundQuery:
    """Parse and check a query. `project_exists` maps a value to a project key (None: unknown)."""
    query = parse_jql(text)
    if require_bounded and query.where is None:
        raise JqlError("Unbounded JQL queries are not allowed here. Please add a search restriction to your query.")
    return BoundQuery(query, zone, project_exists, issue_exists)
