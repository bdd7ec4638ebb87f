"""Reading a scanned or pasted MRZ for the capture form: one answer for the page and its JSON endpoint.

MRZ readers at the posts type the zone as keystrokes. The page reads it as the last line ends (JSON,
no reload) or on "Read MRZ" (a full round trip without JavaScript); both come here, so a bad check
digit is worded the same way and never accepted silently.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

from screening.engine.mrz import parse_mrz
from screening.engine.phrases import say

# Said with `say` so that the page can translate them (views call phrases.translate); str() stays English.
_FIELD_NAMES = {"document_number": say("document number"), "date_of_birth": say("date of birth"),
                "expiry_date": say("expiry date"), "optional_data": say("optional data"),
                "composite": say("whole zone")}


@dataclass
class MrzReading:
    format: str | None
    fields: dict[str, str] = field(default_factory=dict)  # capture form field name -> value
    errors: list[str] = field(default_factory=list)  # the zone could not be read
    check_digit_errors: list[str] = field(default_factory=list)  # read, but a check digit disagrees

    @property
    def message(self) -> str:
        if self.errors:
            return say("The MRZ could not be read. Scan the document again.")
        if self.check_digit_errors:
            return say("Check digits do not match. Compare the fields with the document before saving.")
        return say("MRZ read ({format}); check digits valid. Check the fields against the document.",
                   format=self.format)

    def as_json(self, tr: Callable[[str], str] = str) -> dict:
        """The answer for the capture page; `tr` says each sentence in the reader's language."""
        return {"ok": not self.errors and not self.check_digit_errors, "format": self.format,
                "fields": self.fields, "errors": [tr(e) for e in self.errors],
                "check_digit_errors": [tr(e) for e in self.check_digit_errors], "message": tr(self.message)}


def read_mrz(text: str, *, today: date) -> MrzReading:
    """The capture form's fields from a TD1, TD2 or TD3 zone, with each problem as a sentence."""
    result = parse_mrz(text or "", today=today)
    if result.errors:
        return MrzReading(result.format, errors=list(result.errors))
    fields = {"surname": result.surname or "", "given_names": result.given_names or "", "sex": result.sex or "",
              "date_of_birth": str(result.date_of_birth) if result.date_of_birth else "",
              "nationality": result.nationality or "", "document_type": result.document_type or "",
              "document_number": result.document_number or "", "document_country": result.issuing_country or ""}
    problems = []
    for entry in result.check_digit_errors:
        name = entry.split(":", 1)[0]
        problems.append(say("Check digit wrong: {field}. Compare with the document before saving.",
                            field=_FIELD_NAMES.get(name, name.replace("_", " "))))
    return MrzReading(result.format, fields, check_digit_errors=problems)
