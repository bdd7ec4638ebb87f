"""Pydantic models of the JSON API: they validate requests and are the source of the OpenAPI document."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from screening.engine.normalize import (
    PartialDate,
    check_birth_date,
    check_crossing_time,
    normalize_document,
    parse_crossing_dob,
    parse_timestamp,
    to_utc,
)

MAX_BATCH = 1000

Alpha3 = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
Text120 = Annotated[str, StringConstraints(max_length=120)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="before")
    @classmethod
    def _no_nul(cls, v: Any) -> Any:
        """Refuse, not strip, a NUL: it means a corrupt record, and a changed external_id breaks idempotency."""
        if isinstance(v, str) and "\x00" in v:
            raise PydanticCustomError("nul_character", "contains a NUL character (\\u0000); send the text without it")
        return v


# Error codes (the `code` of a per-item error) for dates; see docs/api.md.
NOT_A_TIMESTAMP = "not_a_timestamp"
DATE_OUT_OF_RANGE = "date_out_of_range"


def _now(info: ValidationInfo) -> datetime:
    ctx = info.context or {}
    return ctx.get("now") or datetime.now(UTC)


class CrossingIn(_Model):
    """One crossing as a border system recorded it. A name or a document number is required."""

    external_id: Annotated[str, StringConstraints(min_length=1, max_length=100)] = Field(
        description="The border system's own id; (client, external_id) is unique, so resending is safe.")
    border_post: Annotated[str, StringConstraints(max_length=120)] | None = Field(
        None, description="Post code or name (any case); may be omitted by a client bound to one post.")
    direction: Literal["entry", "exit"]
    crossed_at: AwareDatetime = Field(description="ISO 8601 with an offset, e.g. 2026-03-01T08:15:00+02:00; "
                                                  "from 1900 to one day after the time of sending.")
    surname: Text120 = ""
    given_names: Annotated[str, StringConstraints(max_length=160)] = ""
    sex: Literal["M", "F", "X"] | None = None
    date_of_birth: Annotated[str, StringConstraints(pattern=r"^[0-9]{4}(-[0-9]{2}(-[0-9]{2})?)?$")] | None = Field(
        None, description="YYYY-MM-DD, YYYY-MM or YYYY (as precisely as known), not in the future. A day that "
                          "does not exist (2001-02-29) is kept to the month, with a data-quality remark.")
    date_of_birth_estimated: bool = Field(False, description="The year is an estimate (age given by the traveller).")
    nationality: Alpha3 | None = None
    document_type: Annotated[str, StringConstraints(max_length=20)] | None = None
    document_number: Annotated[str, StringConstraints(max_length=40)] | None = None
    document_country: Alpha3 | None = None
    address: Annotated[str, StringConstraints(max_length=300)] | None = None
    purpose: Text120 | None = None
    vehicle_registration: Annotated[str, StringConstraints(max_length=20)] | None = None
    travel_group: Annotated[str, StringConstraints(max_length=64)] | None = Field(
        None, description="Any id shared by people who crossed together (same vehicle, same family).")
    guardian_relation: Literal["parent", "legal_guardian", "relative", "none"] | None = Field(
        None, description="For a minor: how the accompanying adult is related (\"none\": travelling without a "
                          "parent or guardian); null when not recorded.")
    guardian_document_number: Annotated[str, StringConstraints(max_length=40)] | None = Field(
        None, description="For a minor: the accompanying adult's document number, which links the adult's "
                          "crossing in the same travel group.")
    consent_document: bool = Field(False, description="For a minor: a parental consent letter was seen.")

    @field_validator("border_post", "sex", "date_of_birth", "nationality", "document_type", "document_number",
                     "document_country", "address", "purpose", "vehicle_registration", "travel_group",
                     "guardian_relation", "guardian_document_number", mode="before")
    @classmethod
    def _empty_is_unknown(cls, v: Any) -> Any:
        """Border systems send "" for an unknown value; it means the same as null."""
        return None if isinstance(v, str) and not v.strip() else v

    @field_validator("date_of_birth", mode="before")
    @classmethod
    def _ascii_date(cls, v: Any) -> Any:
        if isinstance(v, str) and any(ch.isdigit() and not ch.isascii() for ch in v):
            raise PydanticCustomError(NOT_A_TIMESTAMP, "has non-ASCII digits (e.g. full-width); write it with 0-9")
        return v

    @field_validator("crossed_at", mode="before")
    @classmethod
    def _timestamp_text(cls, v: Any) -> Any:
        """Text only: a lax parser takes 1700000000 as epoch seconds, a guess about units and zone."""
        if isinstance(v, datetime):
            return v
        try:
            parse_timestamp(v)
        except ValueError as exc:
            if isinstance(v, str) and "outside the years" in str(exc):
                raise PydanticCustomError(DATE_OUT_OF_RANGE, str(exc)) from None
            if isinstance(v, str) and "no offset" in str(exc):
                return v  # pydantic's own message about the missing offset
            if isinstance(v, str) and "is not an ISO 8601" in str(exc):
                return v  # pydantic's own, more precise, parse error
            raise PydanticCustomError(NOT_A_TIMESTAMP, str(exc)) from None
        return v

    @field_validator("crossed_at")
    @classmethod
    def _sane_time(cls, v: datetime, info: ValidationInfo) -> datetime:
        try:
            at = to_utc(v)
            check_crossing_time(at, _now(info))
        except ValueError as exc:
            raise PydanticCustomError(DATE_OUT_OF_RANGE, str(exc)) from None
        return at

    @field_validator("date_of_birth")
    @classmethod
    def _real_date(cls, v: str | None, info: ValidationInfo) -> str | None:
        if v:
            try:
                dob, _ = parse_crossing_dob(v)  # 2001-02-29 is kept to the month, not refused
            except ValueError as exc:
                raise PydanticCustomError("invalid_date", str(exc)) from None
            try:
                check_birth_date(dob, _now(info).date())
            except ValueError as exc:
                raise PydanticCustomError(DATE_OUT_OF_RANGE, str(exc)) from None
        return v or None

    @model_validator(mode="after")
    def _name_or_document(self) -> CrossingIn:
        if not (self.surname or self.given_names) and not normalize_document(self.document_number):
            raise ValueError("a name (surname or given_names) or a document_number is required")
        if self.date_of_birth_estimated and self.date_of_birth and len(self.date_of_birth) != 4:
            raise ValueError("an estimated date of birth is a year only (YYYY)")
        return self

    def partial_dob(self) -> PartialDate | None:
        if not self.date_of_birth:
            return None
        d, _ = parse_crossing_dob(self.date_of_birth)
        return PartialDate(d.year, precision="estimated") if self.date_of_birth_estimated else d

    def quality_remarks(self) -> list[str]:
        """Data-quality remarks found while reading the item (an impossible day of birth)."""
        if not self.date_of_birth:
            return []
        _, remark = parse_crossing_dob(self.date_of_birth)
        return [remark] if remark else []


class PostFlagIn(_Model):
    """A flag a post node raised offline against its watchlist, sent with the crossing it was raised on."""

    external_id: Annotated[str, StringConstraints(min_length=1, max_length=100)] = Field(
        description="The external_id of a crossing in the same batch.")
    person_id: int = Field(ge=1, le=2**31 - 1, description="Headquarters' id of the person of interest.")
    score: float = Field(ge=0, le=1)
    raised_at: AwareDatetime
    features: list[dict[str, Any]] = Field(default_factory=list, max_length=50)


class CrossingBatch(_Model):
    """Up to 1,000 crossings. Each item is judged on its own: one bad item never rejects the others."""

    crossings: list[dict[str, Any]] = Field(min_length=1, max_length=MAX_BATCH,
                                            json_schema_extra={"items": {"$ref": "#/components/schemas/CrossingIn"}})
    post_flags: list[PostFlagIn] = Field(
        default_factory=list, max_length=5 * MAX_BATCH,
        description="Post nodes only (a client bound to a post that forwards what it captured offline): the "
                    "flags it raised. Headquarters re-screens every crossing itself and adds a post's flag it "
                    "did not raise, unless the pair was judged not the same person.")


class PostDecisionIn(_Model):
    """A decision an officer made at a post node on a flag, forwarded to headquarters."""

    external_id: Annotated[str, StringConstraints(min_length=1, max_length=100)] = Field(
        description="The external_id under which the post forwarded the crossing.")
    person_id: int = Field(ge=1, le=2**31 - 1)
    decision: Literal["acknowledge", "escalate", "confirm", "not_same_person"]
    officer: Annotated[str, StringConstraints(min_length=1, max_length=80)]
    reason: Annotated[str, StringConstraints(max_length=2000)] = ""
    decided_at: AwareDatetime
    from_status: Literal["new", "acknowledged", "escalated", "confirmed", "not_same_person"] = "new"

    @model_validator(mode="after")
    def _reason(self) -> PostDecisionIn:
        if self.decision != "acknowledge" and not self.reason:
            raise ValueError("reason is required for this decision")
        return self


class PostDecisionBatch(_Model):
    decisions: list[PostDecisionIn] = Field(min_length=1, max_length=MAX_BATCH)


class FieldError(BaseModel):
    field: str
    message: str
    code: str | None = Field(None, description="In batch results: why, for machines (e.g. date_out_of_range, "
                                               "not_a_timestamp, nul_character, invalid_date); see docs/api.md.")


class FeatureOut(BaseModel):
    name: str
    score: float | None
    weight: float
    verdict: str
    explanation: str
    contribution: float


class FlagOut(BaseModel):
    id: int
    kind: str
    crossing_id: int
    person_id: int | None
    border_post: str
    score: float
    priority: Literal["urgent", "high", "normal"]
    status: str
    alert_kind: str | None
    discreet: bool
    restricted: bool = Field(description="Need to know: true when the alert does not name this client; reason, "
                                         "explanations and features are then empty")
    reason: str
    action: str
    contact: str = Field(description="Whom to call about the alert (need to know)")
    expected_action: str = Field(description="The action with whom to call, as one sentence")
    explanations: list[str]
    features: list[FeatureOut]
    created_at: datetime


class ItemResultOut(BaseModel):
    index: int
    external_id: str | None
    status: Literal["accepted", "duplicate", "rejected"]
    crossing_id: int | None = None
    flags: list[FlagOut] = []
    errors: list[FieldError] = []


class BatchResultOut(BaseModel):
    accepted: int
    duplicates: int
    rejected: int
    results: list[ItemResultOut]


class CrossingOut(BaseModel):
    id: int
    source: str
    external_id: str
    border_post: str
    direction: str
    crossed_at: datetime
    surname: str
    given_names: str
    sex: str | None
    date_of_birth: str | None
    nationality: str | None
    document_type: str | None
    document_number: str | None
    document_country: str | None
    address: str | None
    purpose: str | None
    vehicle_registration: str | None
    travel_group: str | None
    guardian_relation: str | None
    guardian_document_number: str | None
    consent_document: bool
    quality_issues: list[str]
    flags: list[FlagOut]


class FlagList(BaseModel):
    flags: list[FlagOut]


class ReviewIn(_Model):
    """An officer's decision. A reason is required for every decision except acknowledge."""

    decision: Literal["acknowledge", "escalate", "confirm", "not_same_person"]
    officer: Annotated[str, StringConstraints(min_length=1, max_length=60)] = Field(
        description="Who decided, as the border system knows them (a name or staff number).")
    reason: Annotated[str, StringConstraints(max_length=2000)] = ""

    @model_validator(mode="after")
    def _reason(self) -> ReviewIn:
        if self.decision != "acknowledge" and not self.reason:
            raise ValueError("reason is required for this decision")
        return self


class ErrorOut(BaseModel):
    error: str
    message: str
    errors: list[FieldError] = []


# --- OpenAPI 3 document, generated from the models above ---------------------------------------------

def _error_responses(*codes: int) -> dict[str, Any]:
    text = {400: "Body is not JSON", 401: "Missing or invalid token", 403: "Not allowed for this client",
            404: "Not found", 422: "Invalid input; `errors` names each field"}
    return {str(c): {"description": text[c], "content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/ErrorOut"}}}} for c in codes}


def _ok(ref: str, description: str) -> dict[str, Any]:
    return {"200": {"description": description,
                    "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}}}}


def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3.1 document: every schema comes from the pydantic models that validate requests."""
    from pydantic.json_schema import models_json_schema

    models = [CrossingIn, CrossingBatch, BatchResultOut, CrossingOut, FlagList, FlagOut, ReviewIn, ErrorOut]
    _, top = models_json_schema([(m, "validation" if m in (CrossingIn, CrossingBatch, ReviewIn) else "serialization")
                                 for m in models], ref_template="#/components/schemas/{model}")
    components = top.get("$defs", {})
    id_param = {"in": "path", "required": True, "schema": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "Tsela border screening API", "version": "1.0.0",
                 "description": "Crossings in, flags out. Authenticate with `Authorization: Bearer <token>` "
                                "(`flask --app tip_cases api-tokens create`)."},
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearer": []}],
        "components": {"schemas": components,
                       "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "paths": {
            "/crossings": {"post": {
                "operationId": "createCrossings",
                "summary": "Store and screen a batch of up to 1,000 crossings",
                "description": "Each item is accepted (with the flags raised for it), a duplicate of a crossing "
                               "already stored under the same external_id, or rejected with field errors. "
                               "Same Idempotency-Key and same body replays the first answer; "
                               "same key with another body is a 422.",
                "parameters": [{"in": "header", "name": "Idempotency-Key", "required": False,
                                "schema": {"type": "string", "minLength": 1, "maxLength": 200}}],
                "requestBody": {"required": True, "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/CrossingBatch"}}}},
                "responses": {**_ok("BatchResultOut", "One result per item, in order"),
                              **_error_responses(400, 401, 403, 422)},
            }},
            "/crossings/{crossing_id}": {"get": {
                "operationId": "getCrossing", "summary": "One crossing this client submitted, with its flags",
                "parameters": [{"name": "crossing_id", **id_param}],
                "responses": {**_ok("CrossingOut", "The crossing"), **_error_responses(401, 403, 404)},
            }},
            "/flags": {"get": {
                "operationId": "listFlags", "summary": "Flags of this client's post, newest first",
                "parameters": [
                    {"in": "query", "name": "post", "required": False, "schema": {"type": "string", "maxLength": 16}},
                    {"in": "query", "name": "status", "required": False,
                     "schema": {"type": "string", "enum": ["new", "acknowledged", "escalated", "confirmed",
                                                           "not_same_person"]}},
                    {"in": "query", "name": "since", "required": False,
                     "schema": {"type": "string", "format": "date-time"}},
                    {"in": "query", "name": "limit", "required": False,
                     "schema": {"type": "integer", "minimum": 1, "maximum": 1000}},
                ],
                "responses": {**_ok("FlagList", "Flags"), **_error_responses(401, 403, 422)},
            }},
            "/flags/{flag_id}/review": {"post": {
                "operationId": "reviewFlag", "summary": "Record the officer's decision on a flag",
                "parameters": [{"name": "flag_id", **id_param}],
                "requestBody": {"required": True, "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/ReviewIn"}}}},
                "responses": {**_ok("FlagOut", "The flag after the decision"),
                              **_error_responses(400, 401, 403, 404, 422)},
            }},
        },
    }
