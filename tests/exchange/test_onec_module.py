"""The 1C modules shipped in docs/1c: they parse as 1C:Enterprise language (tree-sitter-bsl), and
static checks on their syntax trees catch the defects that would lose or corrupt data in 1C.

Names the checks rely on: the mapping function `Сопоставление`, the dispatch procedure
`ЗаписатьЭлемент` (writes one item, one branch per entity), the item variable `Элемент`.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import pytest
import tree_sitter_bsl
from tree_sitter import Language, Node, Parser

from sauda.exchange.entities import SPECS
from sauda.exchange.models import Entity

DOCS = Path(__file__).resolve().parents[2] / "docs" / "1c"
PARSER = Parser(Language(tree_sitter_bsl.language()))

MAPPING = "Сопоставление"
DISPATCH = "ЗаписатьЭлемент"
ITEM = "Элемент"


# The keys of a feed item per entity, as the server's feed writes them (every key always present).
# They mirror the exchange contract (sauda.exchange.entities.SPECS plus `deleted`); see
# test_the_contract_keys_mirror_the_server.
def _keys(words: str) -> frozenset[str]:
    return frozenset(words.split())


CONTRACT_KEYS: dict[str, frozenset[str]] = {
    "companies": _keys(
        "id ref name kind email country city street house_number supplier_id supplier_ref level debt "
        "created_at deleted"
    ),
    "products": _keys("id ref external_id company_id sku name model release_date created_at deleted"),
    "customers": _keys("id ref external_id company_id name phone email created_at deleted"),
    "points": _keys("id ref external_id company_id code name city address kind is_active created_at deleted"),
    "sales": _keys(
        "id ref external_id company_id point_id point_ref product_id product_ref customer_id customer_ref "
        "quantity unit_price discount total sold_at created_at deleted"
    ),
    "receipts": _keys(
        "id ref external_id company_id point_id point_ref customer_id customer_ref kind number original_id "
        "original_ref sold_at total created_at lines payments deleted"
    ),
}
# The keys of the objects nested in an item (a receipt's lines and payments), and the variable
# the module reads each with: `Для Каждого СтрокаЧека Из Элемент.lines Цикл`.
NESTED_KEYS: dict[str, dict[str, frozenset[str]]] = {
    "receipts": {
        "lines": _keys(
            "id ref line_no external_id product_id product_ref quantity unit_price discount total "
            "returned_line_id"
        ),
        "payments": _keys("method amount"),
    },
}
NESTED_ITEM = {"lines": "СтрокаЧека", "payments": "ОплатаЧека"}
ENTITIES = [e.value for e in Entity]

# Modules of the Standard Subsystems Library (БСП): the module must work without it.
BSP_MODULES = {
    "ОбщегоНазначения",
    "ОбщегоНазначенияКлиент",
    "ОбщегоНазначенияКлиентСервер",
    "ОбщегоНазначенияСервер",
    "ОбщегоНазначенияПовтИсп",
    "ФайловаяСистема",
    "ФайловаяСистемаКлиент",
    "СтроковыеФункцииКлиентСервер",
    "УправлениеКонтактнойИнформацией",
}


@dataclass
class Module:
    path: Path

    @cached_property
    def source(self) -> bytes:
        return self.path.read_bytes()

    @cached_property
    def root(self) -> Node:
        return PARSER.parse(self.source).root_node

    def text(self, node: Node) -> str:
        return self.source[node.start_byte : node.end_byte].decode()

    def field(self, node: Node, name: str) -> str:
        """The text of a node's field (`name` of a routine or call, `type` of `Новый`...)."""
        child = node.child_by_field_name(name)
        return "" if child is None else self.text(child)

    @cached_property
    def routines(self) -> dict[str, Node]:
        return {
            self.field(n, "name"): n
            for n in self.root.children
            if n.type in ("procedure_definition", "function_definition")
        }

    def calls(self, node: Node) -> list[Node]:
        """Unqualified calls `Имя(...)` (not `Объект.Метод(...)`) under node, in source order."""
        return [n for n in _walk(node) if n.type == "method_call" and not _qualified(n)]

    def call_name(self, call: Node) -> str:
        return self.field(call, "name")

    @cached_property
    def graph(self) -> dict[str, set[str]]:
        """Which module routines each routine calls."""
        return {
            name: {self.call_name(c) for c in self.calls(node)} & self.routines.keys()
            for name, node in self.routines.items()
        }

    def reaches(self, start: str, target: str) -> bool:
        seen, todo = set(), [start]
        while todo:
            name = todo.pop()
            if name == target:
                return True
            if name not in seen:
                seen.add(name)
                todo.extend(self.graph.get(name, ()))
        return False

    def routines_reaching(self, target: str) -> set[str]:
        return {name for name in self.routines if self.reaches(name, target)}

    def routines_calling_method(self, method: str) -> set[str]:
        """Routines that call `method` (qualified or not) themselves or through module routines."""
        direct = {
            name
            for name, node in self.routines.items()
            if any(n.type == "method_call" and self.call_name(n) == method for n in _walk(node))
        }
        return {name for name in self.routines if any(self.reaches(name, d) for d in direct)}

    def strings(self, node: Node) -> list[Node]:
        return [n for n in _walk(node) if n.type == "string_content"]

    def new_expressions(self, type_name: str) -> list[Node]:
        return [
            n for n in _walk(self.root) if n.type == "new_expression" and self.field(n, "type") == type_name
        ]

    def header(self) -> list[str]:
        lines = []
        for n in self.root.children:
            if n.type != "line_comment":
                break
            lines.append(self.text(n).removeprefix("//").strip())
        return lines


def _walk(node: Node) -> Iterator[Node]:
    yield node
    for child in node.children:
        yield from _walk(child)


def _qualified(call: Node) -> bool:
    return call.prev_sibling is not None and call.prev_sibling.type == "."


def _problems(node: Node, source: bytes) -> list[str]:
    found = []
    if node.type == "ERROR" or node.is_missing:
        line = node.start_point.row + 1
        found.append(f"line {line}: {node.type} {source[node.start_byte : node.end_byte][:60]!r}")
    for child in node.children:
        found.extend(_problems(child, source))
    return found


SERVER = Module(DOCS / "ОбменСSauda.bsl")
SERVER_CALL = Module(DOCS / "ОбменСSaudaВызовСервера.bsl")
CLIENT = Module(DOCS / "ОбменСSaudaКлиент.bsl")
MODULES = [SERVER, SERVER_CALL, CLIENT]


def _parts(node: Node) -> list[Node]:
    """Named children without the keywords (the grammar names `Если`, `Тогда`... too)."""
    return [c for c in node.children if c.is_named and not c.type.endswith("_KEYWORD")]


def _branches(if_statement: Node) -> list[tuple[Node | None, list[Node]]]:
    """(condition, statements) of each branch of an `Если`; the `Иначе` branch has no condition."""
    condition, *body = [c for c in _parts(if_statement) if c.type not in ("elseif_clause", "else_clause")]
    branches: list[tuple[Node | None, list[Node]]] = [(condition, body)]
    for clause in if_statement.children:
        if clause.type == "elseif_clause":
            condition, *body = _parts(clause)
            branches.append((condition, body))
        elif clause.type == "else_clause":
            branches.append((None, _parts(clause)))
    return branches


def _entity_of(module: Module, condition: Node | None) -> str | None:
    """The entity of a branch `Если Сущность = "products" Тогда`."""
    if condition is None:
        return None
    binary = condition.named_children[0] if condition.named_children else None
    if binary is None or binary.type != "binary_expression":
        return None
    if module.field(binary, "operator") != "=":
        return None
    values = [module.text(s) for s in module.strings(binary)]
    return values[0] if len(values) == 1 and values[0] in ENTITIES else None


def _dispatch_if(module: Module) -> Node:
    assert DISPATCH in module.routines, f"no procedure {DISPATCH}"
    candidates = [n for n in _walk(module.routines[DISPATCH]) if n.type == "if_statement"]
    best = max(
        candidates,
        key=lambda n: sum(_entity_of(module, c) is not None for c, _ in _branches(n)),
        default=None,
    )
    assert best is not None, f"{DISPATCH} has no branches by entity"
    return best


def _writers(module: Module) -> dict[str, str]:
    """entity -> the module procedure its dispatch branch calls."""
    writers = {}
    for condition, body in _branches(_dispatch_if(module)):
        entity = _entity_of(module, condition)
        if entity is None:
            continue
        called = [module.call_name(c) for s in body for c in module.calls(s)]
        defined = [name for name in called if name in module.routines]
        if defined:
            writers[entity] = defined[0]
    return writers


# --- syntax ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.path.name)
def test_the_module_has_no_syntax_errors(module: Module) -> None:
    assert _problems(module.root, module.source) == []


def test_every_bsl_file_in_docs_is_checked() -> None:
    assert {p.name for p in DOCS.glob("*.bsl")} == {m.path.name for m in MODULES}


def test_the_server_module_has_the_documented_entry_points() -> None:
    assert {
        "НовыеНастройки",
        "ПерваяЗагрузка",
        "ПолнаяЗагрузка",
        "НачатьИзменения",
        "ЗагрузитьИзменения",
        "ОтправитьЭлементы",
        "ЭлементДляSauda",
        "ЗагрузитьИзДанных",
        "ЗагрузитьИзФайла",
        MAPPING,
        DISPATCH,
    } <= SERVER.routines.keys()


@pytest.mark.parametrize(
    "broken",
    [
        "Процедура А(\n\tБ = 1;\nКонецПроцедуры\n",
        "Функция А()\n\tЕсли Б Тогда\n\t\tВозврат 1;\nКонецФункции\n",
    ],
)
def test_the_check_catches_syntax_errors(broken: str) -> None:
    source = broken.encode()
    assert _problems(PARSER.parse(source).root_node, source)


# --- every entity is written, nothing is skipped ----------------------------------------------------


def test_every_entity_has_a_mapping_entry() -> None:
    assert MAPPING in SERVER.routines, f"no mapping function {MAPPING}"
    inserted = {
        SERVER.text(s)
        for call in _walk(SERVER.routines[MAPPING])
        if call.type == "method_call" and _qualified(call) and SERVER.call_name(call) == "Вставить"
        for s in SERVER.strings(call.child_by_field_name("arguments") or call)[:1]
    }
    assert set(ENTITIES) <= inserted


def test_every_entity_has_a_writer_branch_calling_a_module_procedure() -> None:
    writers = _writers(SERVER)
    assert set(writers) == set(ENTITIES), f"entities without a writer: {set(ENTITIES) - set(writers)}"
    assert len(set(writers.values())) == len(writers), "one writer per entity"


def test_the_dispatch_raises_for_an_entity_it_cannot_write() -> None:
    otherwise = [body for condition, body in _branches(_dispatch_if(SERVER)) if condition is None]
    assert otherwise, f"{DISPATCH} has no Иначе branch"
    assert any(s.type == "rise_error_statement" for s in otherwise[0])


def test_a_batch_is_acknowledged_only_after_it_is_written_and_the_mapping_checked() -> None:
    """The acknowledging function checks the mapping before its first request, writes the batch
    before the ack request in the same loop iteration, and no exception is swallowed on the way."""
    acks = [
        s for s in SERVER.strings(SERVER.root) if SERVER.text(s).endswith("/ack") or "/ack?" in SERVER.text(s)
    ]
    assert len(acks) == 1, "exactly one ack request"
    routine = next(r for r in SERVER.routines.values() if r.start_byte <= acks[0].start_byte < r.end_byte)
    requesters = SERVER.routines_calling_method("ВызватьHTTPМетод")
    writers = SERVER.routines_reaching(DISPATCH)
    mapping = SERVER.routines_reaching(MAPPING)
    calls = SERVER.calls(routine)

    ack = next(c for c in calls if c.start_byte < acks[0].start_byte < c.end_byte)
    assert SERVER.call_name(ack) in requesters
    first_request = next(c for c in calls if SERVER.call_name(c) in requesters)
    assert any(SERVER.call_name(c) in mapping for c in calls if c.start_byte < first_request.start_byte), (
        "the mapping is not checked before the first request"
    )

    def loop(node: Node) -> Node | None:
        while node.parent is not None:
            node = node.parent
            if node.type in ("for_statement", "for_each_statement", "while_statement"):
                return node
        return None

    written = [
        c
        for c in calls
        if SERVER.call_name(c) in writers and c.start_byte < ack.start_byte and loop(c) == loop(ack)
    ]
    assert written, "the batch is not written before its ack"

    on_the_way = {n for n in SERVER.routines if SERVER.reaches(SERVER.field(routine, "name"), n)}
    for name in on_the_way:
        for attempt in (n for n in _walk(SERVER.routines[name]) if n.type == "try_statement"):
            handler = attempt.children[[c.type for c in attempt.children].index("EXCEPT_KEYWORD") + 1 :]
            assert any(n.type == "rise_error_statement" for h in handler for n in _walk(h)), (
                f"{name} swallows an exception"
            )


# --- references: ref only, no custom attributes, no БСП ---------------------------------------------


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.path.name)
def test_no_custom_sauda_code_attribute(module: Module) -> None:
    code = [n for n in _walk(module.root) if n.child_count == 0 and n.type != "line_comment"]
    assert not [module.text(n) for n in code if "КодSauda" in module.text(n)]
    assert "КодSauda" not in "".join(module.text(s) for s in module.strings(module.root))


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.path.name)
def test_no_standard_subsystems_library(module: Module) -> None:
    used = {module.text(n) for n in _walk(module.root) if n.type == "identifier"} & BSP_MODULES
    assert not used


def test_external_id_is_never_parsed_as_a_uuid() -> None:
    uuids = [n for m in MODULES for n in m.new_expressions("УникальныйИдентификатор")]
    for node in uuids:
        arguments = node.child_by_field_name("arguments")
        assert arguments is None or "external_id" not in SERVER.text(arguments)
    assert any(
        n.type == "property"
        and SERVER.text(n) == "ref"
        and n.parent
        and SERVER.text(n.parent) == f"{ITEM}.ref"
        for n in _walk(SERVER.root)
    ), "references are built from Элемент.ref"


# --- platform -----------------------------------------------------------------------------------


def test_https_checks_the_server_certificate() -> None:
    connections = SERVER.new_expressions("ЗащищенноеСоединениеOpenSSL")
    assert connections
    for node in connections:
        arguments = node.child_by_field_name("arguments")
        assert arguments is not None
        assert any(
            n.type == "new_expression" and SERVER.field(n, "type") == "СертификатыУдостоверяющихЦентровОС"
            for n in _walk(arguments)
        )


def test_the_client_puts_the_file_into_temporary_storage() -> None:
    assert "НачатьПомещениеФайла" in {CLIENT.call_name(c) for c in CLIENT.calls(CLIENT.root)}


def test_the_server_call_reads_the_file_from_temporary_storage_and_the_server_module_writes_it() -> None:
    assert "ПолучитьИзВременногоХранилища" in {
        SERVER_CALL.call_name(c) for c in SERVER_CALL.calls(SERVER_CALL.root)
    }
    qualified = {
        SERVER_CALL.text(c.parent)
        for c in _walk(SERVER_CALL.root)
        if c.type == "method_call" and _qualified(c) and c.parent is not None
    }
    assert any(q.startswith("ОбменСSauda.ЗагрузитьИзДанных(") for q in qualified)


@pytest.mark.parametrize(
    ("module", "flags"),
    [
        (SERVER, "Сервер."),
        (SERVER_CALL, "Сервер, Вызов сервера."),
        (CLIENT, "Клиент (управляемое приложение)."),
    ],
    ids=["server", "server-call", "client"],
)
def test_the_header_states_the_module_flags(module: Module, flags: str) -> None:
    assert f"Флаги: {flags}" in module.header()


# --- items are read by the contract's keys ------------------------------------------------------------


def test_the_module_reads_only_keys_of_the_contract() -> None:
    """`Элемент.<key>` in a routine reached from one entity's writer is a key of that entity;
    elsewhere (the dispatch, the transaction) a key every entity has."""
    writers = _writers(SERVER) if DISPATCH in SERVER.routines else {}
    everywhere = frozenset.intersection(*CONTRACT_KEYS.values())
    wrong = []
    for name, node in SERVER.routines.items():
        entities = [e for e, writer in writers.items() if SERVER.reaches(writer, name)]
        allowed = frozenset.intersection(*(CONTRACT_KEYS[e] for e in entities)) if entities else everywhere
        for prop in (n for n in _walk(node) if n.type == "property"):
            owner = prop.prev_sibling.prev_sibling if prop.prev_sibling else None
            if owner is not None and SERVER.text(owner) == ITEM and SERVER.text(prop) not in allowed:
                wrong.append(f"{name}: {ITEM}.{SERVER.text(prop)}")
    assert wrong == []


def _reads(owner: str) -> list[tuple[str, str]]:
    """(routine, key) of every `<owner>.<key>` in the server module."""
    reads = []
    for name, node in SERVER.routines.items():
        for prop in (n for n in _walk(node) if n.type == "property"):
            access = prop.prev_sibling.prev_sibling if prop.prev_sibling else None
            if access is not None and SERVER.text(access) == owner:
                reads.append((name, SERVER.text(prop)))
    return reads


def test_nested_objects_are_read_by_their_contract_keys() -> None:
    """A loop over `Элемент.lines` names its object `СтрокаЧека` (over payments, `ОплатаЧека`),
    and reads only the keys a line (a payment) has."""
    for loop in (n for n in _walk(SERVER.root) if n.type == "for_each_statement"):
        variable, source = (c for c in loop.children if c.type in ("identifier", "expression"))
        for part, item in NESTED_ITEM.items():
            if SERVER.text(source) == f"{ITEM}.{part}":
                assert SERVER.text(variable) == item, f"a loop over {ITEM}.{part} names its object {item}"
    for part, item in NESTED_ITEM.items():
        allowed = frozenset().union(*(nested[part] for nested in NESTED_KEYS.values() if part in nested))
        reads = _reads(item)
        assert reads, f"{part} are never read"
        assert [f"{name}: {item}.{key}" for name, key in reads if key not in allowed] == []


def test_the_contract_covers_every_entity() -> None:
    assert set(CONTRACT_KEYS) == set(ENTITIES)


def test_the_contract_keys_mirror_the_server() -> None:
    if not all("ref" in spec.keys for spec in SPECS.values()):
        pytest.skip("the server's feed has no `ref` yet in this tree")
    assert {e.value: frozenset(spec.keys) | {"deleted"} for e, spec in SPECS.items()} == CONTRACT_KEYS
    nested = {
        e.value: {key: frozenset(parts.keys) for key, parts in spec.parts.items()}
        for e, spec in SPECS.items()
        if spec.parts
    }
    assert nested == NESTED_KEYS
    assert {part for parts in NESTED_KEYS.values() for part in parts} == set(NESTED_ITEM)
