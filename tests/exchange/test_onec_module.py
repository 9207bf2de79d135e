"""The 1C common module shipped in docs/1c parses as 1C:Enterprise language (tree-sitter-bsl)."""

from pathlib import Path

import pytest
import tree_sitter_bsl
from tree_sitter import Language, Node, Parser

MODULE = Path(__file__).resolve().parents[2] / "docs" / "1c" / "ОбменСSauda.bsl"
PARSER = Parser(Language(tree_sitter_bsl.language()))


def _problems(node: Node, source: bytes) -> list[str]:
    found = []
    if node.type == "ERROR" or node.is_missing:
        line = node.start_point.row + 1
        found.append(f"line {line}: {node.type} {source[node.start_byte : node.end_byte][:60]!r}")
    for child in node.children:
        found.extend(_problems(child, source))
    return found


def test_the_module_has_no_syntax_errors() -> None:
    source = MODULE.read_bytes()
    tree = PARSER.parse(source)
    assert _problems(tree.root_node, source) == []
    names = {
        source[n.child_by_field_name("name").start_byte : n.child_by_field_name("name").end_byte].decode()
        for n in tree.root_node.children
        if n.type in ("procedure_definition", "function_definition")
    }
    assert {"ПолнаяЗагрузка", "ЗагрузитьИзменения", "ОтправитьЭлементы", "ЗагрузитьИзФайла"} <= names


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
