"""Request and response models shared by every domain."""

import types
from typing import Any, ClassVar, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, GetJsonSchemaHandler, model_validator
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema


class WriteModel(BaseModel):
    """Input model: unknown fields are refused, read-only ones with a message that says why.

    In a partial update (PATCH) a field is optional, but `null` is only a value where the model
    says so in `nullable` (e.g. clearing a customer's phone); elsewhere `null` is refused with a
    422 naming the field, and the OpenAPI schema does not offer it.
    """

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    read_only: ClassVar[dict[str, str]] = {}
    # None: every optional field accepts null (create models, where null is the default).
    nullable: ClassVar[frozenset[str] | None] = None

    @model_validator(mode="before")
    @classmethod
    def _refuse_read_only_and_null(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        for field, why in cls.read_only.items():
            if field in data:
                raise PydanticCustomError(
                    "read_only", "{field} is read-only: {why}", {"field": field, "why": why}
                )
        if cls.nullable is not None:
            for field, value in data.items():
                if value is None and field in cls.model_fields and field not in cls.nullable:
                    raise PydanticCustomError("not_nullable", "may not be null", {"field": field})
        return data

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        if cls.nullable is None:
            return json_schema
        target = handler.resolve_ref_schema(json_schema)
        for name, prop in target.get("properties", {}).items():
            if name not in cls.nullable and _is_optional(cls.model_fields[name].annotation):
                _drop_null(prop)
        return json_schema


def _is_optional(annotation: Any) -> bool:
    return get_origin(annotation) in (Union, types.UnionType) and type(None) in get_args(annotation)


def _drop_null(prop: dict[str, Any]) -> None:
    options = [o for o in prop.get("anyOf", []) if o != {"type": "null"}]
    if len(options) == 1 and "anyOf" in prop:
        del prop["anyOf"]
        prop.update(options[0])
    elif options:
        prop["anyOf"] = options
    if prop.get("default", 0) is None:
        del prop["default"]


class JobStarted(BaseModel):
    job_id: str
    status: str = "queued"
